// Bounded parsing of user JSON, and checked merging of a config over its defaults.
#include "engine/io/config.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "engine/core/error.h"

namespace sprout::io {

size_t line_too_deep(const std::string& text, int max_depth) {
  size_t line = 1;
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (c == '\n') ++line;
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return line;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return 0;
}

Json parse_json(const std::string& text, const std::string& where) {
  if (size_t line = line_too_deep(text, kMaxJsonDepth))
    SPROUT_FAIL(where, ": JSON nested deeper than ", kMaxJsonDepth, " levels at line ", line);
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {  // parse errors, and numbers out of range (1e999)
    SPROUT_FAIL("malformed JSON in ", where, ": ", e.what());
  }
}

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
  if (line_too_deep(text, kMaxJsonDepth))
    SPROUT_FAIL("--set ", key, ": JSON nested deeper than ", kMaxJsonDepth, " levels");
  Json value = Json::parse(text, nullptr, false);
  if (value.is_discarded()) value = text;
  // Build {"a": {"b": value}} and merge it with the same checks as a file.
  Json patch = value;
  std::vector<std::string> parts;
  std::stringstream ss(key);
  for (std::string p; std::getline(ss, p, '.');) parts.push_back(p);
  if (parts.size() > (size_t)kMaxJsonDepth)
    SPROUT_FAIL("--set: key nested deeper than ", kMaxJsonDepth, " levels");
  // A key inside a free-form section (data.options.image_size) sets that one option:
  // the patch carries the section as it is with the key changed, so the others stay.
  // The section itself (data.options={...}) is replaced whole.
  size_t last = parts.size();
  for (size_t i = 0; i + 1 < parts.size(); ++i)
    if (parts[i] == "options") {
      const Json* at = &cfg;
      for (size_t j = 0; j <= i && at; ++j) at = at->is_object() && at->contains(parts[j]) ? &(*at)[parts[j]] : nullptr;
      if (!at || !at->is_object()) break;
      Json section = *at, *slot = &section;
      for (size_t j = i + 1; j + 1 < parts.size(); ++j) slot = &(*slot)[parts[j]];
      (*slot)[parts.back()] = value;
      patch = section;
      last = i + 1;
      break;
    }
  for (size_t i = last; i-- > 0;) patch = Json{{parts[i], patch}};
  merge_checked(cfg, patch, "--set " + key);
}

Json load_config(const std::string& path, const std::vector<std::string>& overrides, const Json& defaults) {
  Json cfg = defaults;
  if (!path.empty()) {
    std::ifstream f(path);
    if (!f.good()) SPROUT_FAIL("cannot read config ", path, ": ", std::strerror(errno));
    std::stringstream buf;
    buf << f.rdbuf();
    merge_checked(cfg, parse_json(buf.str(), path), path);
  }
  for (const auto& o : overrides) apply_override(cfg, o);
  return cfg;
}

}  // namespace sprout::io
