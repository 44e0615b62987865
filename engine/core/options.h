// Typed options. A component (method, optimizer, schedule, model, data set, trainer)
// declares each option it reads beside its code, bound to a field of its own struct,
// with type, default, range and help. read() turns a config section into that struct
// once, checking each value; info() is what `sprout config --show` prints and what the
// config's defaults are built from.
#pragma once
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

namespace sprout {

// An interval for numbers, open or closed at each end.
struct Range {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false, hi_open = false;
  static Range any() { return {}; }
  static Range at_least(double lo) { return {lo, std::numeric_limits<double>::infinity(), false, false}; }
  static Range above(double lo) { return {lo, std::numeric_limits<double>::infinity(), true, false}; }
  static Range closed(double lo, double hi) { return {lo, hi, false, false}; }
  static Range open_closed(double lo, double hi) { return {lo, hi, true, false}; }
  static Range closed_open(double lo, double hi) { return {lo, hi, false, true}; }
  bool contains(double v) const;
  std::string str() const;  // "(0, 1]", ">= 1", "" for any
};

// One declared option as text and JSON, for help and for the config's defaults.
struct OptionInfo {
  std::string name, type, help;
  nlohmann::json default_value;
  std::string range;  // "(0, 1]", "one of: csr, bsr", or empty
  // Throws, naming prefix + name, unless `value` has the declared type and range.
  std::function<void(const nlohmann::json& value, const std::string& prefix)> check;
};

// Checked conversions used by Options<S>; `key` names the option in errors
// ("sparsity.density must be in (0, 1], got 1.5").
namespace option_check {
bool flag(const nlohmann::json& v, const std::string& key);
int64_t integer(const nlohmann::json& v, const std::string& key, const Range& r);
double number(const nlohmann::json& v, const std::string& key, const Range& r);
std::string text(const nlohmann::json& v, const std::string& key, const std::vector<std::string>& choices);
std::vector<int64_t> integers(const nlohmann::json& v, const std::string& key, const Range& r);
std::vector<double> numbers(const nlohmann::json& v, const std::string& key, const Range& r);
// Exactly `n` numbers, or one number standing for all n.
std::vector<double> numbers_n(const nlohmann::json& v, const std::string& key, size_t n, const Range& r);
std::string choices_str(const std::vector<std::string>& choices);
// `x` as a T (int, uint64_t, float, ...); an error naming `key` when it does not fit.
[[noreturn]] void fail_out_of_range(const std::string& key, const nlohmann::json& v);
template <class T>
T narrow(int64_t x, const std::string& key) {
  if ((std::is_unsigned<T>::value && x < 0) || (int64_t)(T)x != x) fail_out_of_range(key, x);
  return (T)x;
}
template <class T>
T narrow(double x, const std::string& key) {
  if (!std::isfinite((T)x)) fail_out_of_range(key, x);
  return (T)x;
}
// The shortest decimal that reads back as `v`, as a double: a float default shows as
// 0.286 in help and config, not 0.28600001335144043, and converts back to the same float.
double decimal(float v);
inline double decimal(double v) { return v; }
// An error unless `section` is null or an object whose keys are all in `known`.
void known(const nlohmann::json& section, const std::string& where, const std::vector<std::string>& known);
}  // namespace option_check

template <class S>
class Options {
 public:
  Options& flag(const char* name, bool S::*f, bool def, const char* help) {
    return add({name, "bool", help, def, "", {}}, [f, name](S& s, const nlohmann::json& v, const std::string& p) {
      s.*f = option_check::flag(v, p + name);
    }, [f, def](S& s) { s.*f = def; });
  }
  // Into any integer field (int, int64_t, uint64_t, ...) of S or of a base of S; a value
  // in `r` that the field cannot hold is an error too.
  template <class T, class B>
  Options& integer(const char* name, T B::*f, int64_t def, Range r, const char* help) {
    static_assert(std::is_integral<T>::value && std::is_base_of<B, S>::value, "an integer field of S");
    option_check::narrow<T>(def, name);
    return add({name, "int", help, def, r.str(), {}}, [f, name, r](S& s, const nlohmann::json& v, const std::string& p) {
      s.*f = option_check::narrow<T>(option_check::integer(v, p + name, r), p + name);
    }, [f, def](S& s) { s.*f = (T)def; });
  }
  // Into a float or double field of S or of a base of S.
  template <class T, class B>
  Options& number(const char* name, T B::*f, typename std::common_type<T>::type def, Range r, const char* help) {
    static_assert(std::is_floating_point<T>::value && std::is_base_of<B, S>::value, "a float or double field of S");
    return add({name, "number", help, option_check::decimal(def), r.str(), {}},
               [f, name, r](S& s, const nlohmann::json& v, const std::string& p) {
                 s.*f = option_check::narrow<T>(option_check::number(v, p + name, r), p + name);
               }, [f, def](S& s) { s.*f = def; });
  }
  Options& text(const char* name, std::string S::*f, std::string def, std::vector<std::string> choices,
                const char* help) {
    OptionInfo i{name, "string", help, def, choices.empty() ? "" : option_check::choices_str(choices), {}};
    return add(std::move(i), [f, name, choices](S& s, const nlohmann::json& v, const std::string& p) {
      s.*f = option_check::text(v, p + name, choices);
    }, [f, def](S& s) { s.*f = def; });
  }
  Options& integers(const char* name, std::vector<int64_t> S::*f, std::vector<int64_t> def, Range r,
                    const char* help) {
    return add({name, "int list", help, def, r.str(), {}}, [f, name, r](S& s, const nlohmann::json& v, const std::string& p) {
      s.*f = option_check::integers(v, p + name, r);
    }, [f, def](S& s) { s.*f = def; });
  }
  Options& numbers(const char* name, std::vector<double> S::*f, std::vector<double> def, Range r,
                   const char* help) {
    return add({name, "number list", help, def, r.str(), {}}, [f, name, r](S& s, const nlohmann::json& v, const std::string& p) {
      s.*f = option_check::numbers(v, p + name, r);
    }, [f, def](S& s) { s.*f = def; });
  }
  // Exactly `n` numbers (3 channels, a [min, max] pair); one number stands for all n.
  Options& numbers_n(const char* name, std::vector<double> S::*f, std::vector<double> def, size_t n, Range r,
                     const char* help) {
    return add({name, std::to_string(n) + " numbers", help, def, r.str(), {}},
               [f, name, n, r](S& s, const nlohmann::json& v, const std::string& p) {
                 s.*f = option_check::numbers_n(v, p + name, n, r);
               }, [f, def](S& s) { s.*f = def; });
  }

  // The struct with every declared option taken from `section` (defaults for absent
  // keys). Keys the component does not declare are left to their own owners.
  // `prefix` names the section in errors ("sparsity.").
  S read(const nlohmann::json& section, const std::string& prefix) const {
    S s{};
    for (const auto& e : entries_) {
      auto it = section.is_object() ? section.find(e.info.name) : section.end();
      if (section.is_object() && it != section.end()) e.set(s, *it, prefix);
      else e.reset(s);
    }
    return s;
  }
  // The defaults alone.
  S defaults() const { return read(nlohmann::json::object(), ""); }
  // For a section the component owns alone (a data set's data.options): an error
  // unless every key is declared, naming the key and the known ones ("unknown option
  // 'flaten' for dataset 'mnist' (known: flatten, mean, std)", where = "dataset 'mnist'").
  void check_known(const nlohmann::json& section, const std::string& where) const {
    std::vector<std::string> names;
    for (const auto& e : entries_) names.push_back(e.info.name);
    option_check::known(section, where, names);
  }
  std::vector<OptionInfo> info() const {
    std::vector<OptionInfo> out;
    for (const auto& e : entries_) out.push_back(e.info);
    return out;
  }

 private:
  struct Entry {
    OptionInfo info;
    std::function<void(S&, const nlohmann::json&, const std::string&)> set;
    std::function<void(S&)> reset;
  };
  Options& add(OptionInfo i, std::function<void(S&, const nlohmann::json&, const std::string&)> set,
               std::function<void(S&)> reset) {
    i.check = [set](const nlohmann::json& v, const std::string& prefix) {
      S scratch{};
      set(scratch, v, prefix);
    };
    entries_.push_back({std::move(i), std::move(set), std::move(reset)});
    return *this;
  }
  std::vector<Entry> entries_;
};

// Options as one JSON object {name: default} (the config's defaults) and as lines of
// help text ("  density  number  0.1  (0, 1]  fraction of weights kept").
nlohmann::json option_defaults(const std::vector<OptionInfo>& opts);
// Same default (an integer stays an integer), type and range: what two declarations of
// one key must agree on.
bool same_declaration(const OptionInfo& a, const OptionInfo& b);
// Checks every declared option present in `section` (others are left to their owners).
void check_options(const nlohmann::json& section, const std::vector<OptionInfo>& opts, const std::string& prefix);
std::string option_help(const std::vector<OptionInfo>& opts);

}  // namespace sprout
