// Checked option conversions and option help text.
#include "engine/core/options.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "engine/core/error.h"

namespace sprout {

bool Range::contains(double v) const {
  if (lo_open ? !(v > lo) : !(v >= lo)) return false;
  if (hi_open ? !(v < hi) : !(v <= hi)) return false;
  return true;
}

static std::string num_str(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

std::string Range::str() const {
  bool has_lo = std::isfinite(lo), has_hi = std::isfinite(hi);
  if (!has_lo && !has_hi) return "";
  if (!has_hi) return (lo_open ? "> " : ">= ") + num_str(lo);
  if (!has_lo) return (hi_open ? "< " : "<= ") + num_str(hi);
  return (lo_open ? "(" : "[") + num_str(lo) + ", " + num_str(hi) + (hi_open ? ")" : "]");
}

namespace option_check {

// A config error: the message alone, without the condition and source location that
// SPROUT_CHECK adds (the message names the key; the fix is the config's).
#define OPTION_CHECK(cond, ...)            \
  do {                                     \
    if (!(cond)) SPROUT_FAIL(__VA_ARGS__); \
  } while (0)

bool flag(const nlohmann::json& v, const std::string& key) {
  OPTION_CHECK(v.is_boolean(), key, " must be true or false, got ", v.dump());
  return v.get<bool>();
}

static double checked_number(const nlohmann::json& v, const std::string& key, const Range& r) {
  OPTION_CHECK(v.is_number(), key, " must be a number, got ", v.dump());
  double x = v.get<double>();
  OPTION_CHECK(std::isfinite(x), key, " must be finite, got ", v.dump());
  if (!r.contains(x)) {
    std::string rs = r.str();
    bool interval = !rs.empty() && (rs[0] == '(' || rs[0] == '[');
    SPROUT_FAIL(key, " must be ", interval ? "in " : "", rs, ", got ", v.dump());
  }
  return x;
}

int64_t integer(const nlohmann::json& v, const std::string& key, const Range& r) {
  OPTION_CHECK(v.is_number_integer() || (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>()),
               key, " must be an integer, got ", v.dump());
  double x = checked_number(v, key, r);
  OPTION_CHECK(std::fabs(x) < 9.0e15, key, " is out of range, got ", v.dump());
  return v.is_number_integer() ? v.get<int64_t>() : (int64_t)x;
}

double number(const nlohmann::json& v, const std::string& key, const Range& r) {
  return checked_number(v, key, r);
}

std::string choices_str(const std::vector<std::string>& choices) {
  std::string s = "one of: ";
  for (size_t i = 0; i < choices.size(); ++i) s += (i ? ", " : "") + choices[i];
  return s;
}

std::string text(const nlohmann::json& v, const std::string& key, const std::vector<std::string>& choices) {
  OPTION_CHECK(v.is_string(), key, " must be a string, got ", v.dump());
  std::string s = v.get<std::string>();
  if (choices.empty()) return s;
  for (const auto& c : choices)
    if (c == s) return s;
  SPROUT_FAIL(key, " must be ", choices_str(choices), ", got '", s, "'");
}

std::vector<int64_t> integers(const nlohmann::json& v, const std::string& key, const Range& r) {
  OPTION_CHECK(v.is_array(), key, " must be a list of integers, got ", v.dump());
  std::vector<int64_t> out;
  for (size_t i = 0; i < v.size(); ++i) out.push_back(integer(v[i], key + "[" + std::to_string(i) + "]", r));
  return out;
}

std::vector<double> numbers(const nlohmann::json& v, const std::string& key, const Range& r) {
  OPTION_CHECK(v.is_array(), key, " must be a list of numbers, got ", v.dump());
  std::vector<double> out;
  for (size_t i = 0; i < v.size(); ++i) out.push_back(number(v[i], key + "[" + std::to_string(i) + "]", r));
  return out;
}

std::vector<double> numbers_n(const nlohmann::json& v, const std::string& key, size_t n, const Range& r) {
  if (v.is_number()) return std::vector<double>(n, number(v, key, r));
  OPTION_CHECK(v.is_array() && v.size() == n, key, " must be a number or a list of ", n, " numbers, got ", v.dump());
  return numbers(v, key, r);
}

void fail_out_of_range(const std::string& key, const nlohmann::json& v) {
  SPROUT_FAIL(key, " is out of range, got ", v.dump());
}

double decimal(float v) {
  if (!std::isfinite(v)) return v;
  char buf[32];
  for (int digits = 1; digits < 9; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, (double)v);
    if (std::strtof(buf, nullptr) == v) return std::strtod(buf, nullptr);
  }
  return v;  // the float's exact value
}

void known(const nlohmann::json& section, const std::string& where, const std::vector<std::string>& known) {
  OPTION_CHECK(section.is_object() || section.is_null(), "options for ", where, " must be a JSON object, got ",
               section.dump());
  if (section.is_null()) return;
  for (auto it = section.begin(); it != section.end(); ++it) {
    if (std::find(known.begin(), known.end(), it.key()) != known.end()) continue;
    std::string list;
    for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
    SPROUT_FAIL("unknown option '", it.key(), "' for ", where, " (known: ", list, ")");
  }
}

#undef OPTION_CHECK

}  // namespace option_check

bool same_declaration(const OptionInfo& a, const OptionInfo& b) {
  return a.default_value == b.default_value &&
         a.default_value.is_number_float() == b.default_value.is_number_float() && a.type == b.type &&
         a.range == b.range;
}

void check_options(const nlohmann::json& section, const std::vector<OptionInfo>& opts, const std::string& prefix) {
  if (!section.is_object()) return;
  for (const auto& o : opts) {
    auto it = section.find(o.name);
    if (it != section.end() && o.check) o.check(*it, prefix);
  }
}

nlohmann::json option_defaults(const std::vector<OptionInfo>& opts) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& o : opts) j[o.name] = o.default_value;
  return j;
}

std::string option_help(const std::vector<OptionInfo>& opts) {
  size_t w = 4;
  for (const auto& o : opts) w = std::max(w, o.name.size());
  std::ostringstream s;
  for (const auto& o : opts) {
    s << "  " << o.name << std::string(w + 2 - o.name.size(), ' ') << o.type << " = " << o.default_value.dump();
    if (!o.range.empty()) s << "  " << o.range;
    s << "\n      " << o.help << "\n";
  }
  return s.str();
}

}  // namespace sprout
