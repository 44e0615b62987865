// Checked JSON configs: a document merged over defaults, where every key must exist in
// the defaults (unknown keys are errors naming the key), every value must have the
// default's type, and `--set a.b=value` overrides one key. The defaults themselves
// come from the components' declared options (engine/train/options.h). JSON from users
// is read through parse_json, which bounds its nesting before the parser sees it.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sprout::io {

using Json = nlohmann::json;

// Deeper nesting than any config needs; far below what would exhaust the stack of the
// recursive code that copies, compares and prints JSON.
constexpr int kMaxJsonDepth = 64;

// Parses JSON text from a user (a config file, a --set value); `where` names it in
// errors. Malformed text, and arrays and objects nested deeper than kMaxJsonDepth, are
// errors naming `where` and the line.
Json parse_json(const std::string& text, const std::string& where);
// The 1-based line of the first bracket nested deeper than `max_depth`, or 0 when none.
size_t line_too_deep(const std::string& text, int max_depth);

// Reads a config file (none when `path` is empty), merges it over `defaults`, applies
// overrides ("a.b=v"; v parsed as JSON when it parses, else taken as a string).
// Throws sprout::Error naming the file and key on any problem.
Json load_config(const std::string& path, const std::vector<std::string>& overrides, const Json& defaults);
// Merges `user` over `base`, checking keys and types; `where` prefixes error messages.
void merge_checked(Json& base, const Json& user, const std::string& where, const std::string& prefix = "");
void apply_override(Json& cfg, const std::string& assignment);

}  // namespace sprout::io
