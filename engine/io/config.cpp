// Checked merging of a config over its defaults.
#include "engine/io/config.h"

#include <fstream>
#include <sstream>

#include "engine/core/error.h"

namespace sprout::io {

static const char* type_name(const Json& j) {
  if (j.is_boolean()) return "boolean";
  if (j.is_number()) return "number";
  if (j.is_string()) return "string";
  if (j.is_array()) return "array";
  if (j.is_object()) return "object";
  return "null";
}

void merge_checked(Json& base, const Json& user, const std::string& where, const std::string& prefix) {
  SPROUT_CHECK(user.is_object(), where, ": ", prefix.empty() ? "top level" : prefix,
               " must be an object");
  for (auto it = user.begin(); it != user.end(); ++it) {
    std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (!base.contains(it.key())) SPROUT_FAIL(where, ": unknown key '", key, "'");
    Json& b = base[it.key()];
    const Json& u = it.value();
    if (it.key() == "options" && b.is_object()) {
      // A free-form section ("data.options"): its owner validates the keys.
      SPROUT_CHECK(u.is_object(), where, ": key '", key, "' must be an object");
      b = u;
      continue;
    }
    if (b.is_object()) {
      merge_checked(b, u, where, key);
      continue;
    }
    bool ok = (b.is_number() && u.is_number() && !u.is_boolean()) ||
              (b.is_boolean() && u.is_boolean()) || (b.is_string() && u.is_string()) ||
              (b.is_array() && u.is_array());
    if (!ok) SPROUT_FAIL(where, ": key '", key, "' must be a ", type_name(b), ", got ", type_name(u));
    if (b.is_number_integer() && !u.is_number_integer())
      SPROUT_FAIL(where, ": key '", key, "' must be an integer, got ", u.dump());
    b = u;
  }
}

void apply_override(Json& cfg, const std::string& assignment) {
  auto eq = assignment.find('=');
  SPROUT_CHECK(eq != std::string::npos && eq > 0, "--set '", assignment, "': expected key=value");
  std::string key = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  Json value = Json::parse(text, nullptr, false);
  if (value.is_discarded()) value = text;
  // Build {"a": {"b": value}} and merge it with the same checks as a file.
  Json patch = value;
  std::vector<std::string> parts;
  std::stringstream ss(key);
  for (std::string p; std::getline(ss, p, '.');) parts.push_back(p);
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) patch = Json{{*it, patch}};
  merge_checked(cfg, patch, "--set " + key);
}

Json load_config(const std::string& path, const std::vector<std::string>& overrides, const Json& defaults) {
  Json cfg = defaults;
  if (!path.empty()) {
    std::ifstream f(path);
    SPROUT_CHECK(f.good(), "cannot read config ", path);
    std::stringstream buf;
    buf << f.rdbuf();
    Json user;
    try {
      user = Json::parse(buf.str());
    } catch (const Json::parse_error& e) {
      SPROUT_FAIL("malformed JSON in ", path, ": ", e.what());
    }
    merge_checked(cfg, user, path);
  }
  for (const auto& o : overrides) apply_override(cfg, o);
  return cfg;
}

}  // namespace sprout::io
