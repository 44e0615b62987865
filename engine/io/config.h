// Checked JSON configs: a document merged over defaults, where every key must exist in
// the defaults (unknown keys are errors naming the key), every value must have the
// default's type, and `--set a.b=value` overrides one key. The defaults themselves
// come from the components' declared options (engine/train/options.h).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sprout::io {

using Json = nlohmann::json;

// Reads a config file (none when `path` is empty), merges it over `defaults`, applies
// overrides ("a.b=v"; v parsed as JSON when it parses, else taken as a string).
// Throws sprout::Error naming the file and key on any problem.
Json load_config(const std::string& path, const std::vector<std::string>& overrides, const Json& defaults);
// Merges `user` over `base`, checking keys and types; `where` prefixes error messages.
void merge_checked(Json& base, const Json& user, const std::string& where, const std::string& prefix = "");
void apply_override(Json& cfg, const std::string& assignment);

}  // namespace sprout::io
