// One registry shape for every named component (sparsity methods, optimizers,
// schedules, models, data sets): name -> factory + declared options + one line of help.
// Adding a component is its own file plus one registration line.
#pragma once
#include <string>
#include <vector>

#include "engine/core/error.h"
#include "engine/core/options.h"

namespace sprout {

template <class Factory>
class Registry {
 public:
  struct Entry {
    std::string name, help;
    Factory make;
    std::vector<OptionInfo> options;
  };
  // `key` is the config key that picks an entry ("sparsity.method"), for errors.
  explicit Registry(std::string key) : key_(std::move(key)) {}

  void add(Entry e) {
    SPROUT_CHECK(find(e.name) == nullptr, key_, ": '", e.name, "' registered twice");
    entries_.push_back(std::move(e));
  }
  const Entry* find(const std::string& name) const {
    for (const auto& e : entries_)
      if (e.name == name) return &e;
    return nullptr;
  }
  const Entry& at(const std::string& name) const {
    const Entry* e = find(name);
    if (!e) SPROUT_FAIL(key_, ": unknown '", name, "' (known: ", names_str(), ")");
    return *e;
  }
  std::vector<std::string> names() const {
    std::vector<std::string> n;
    for (const auto& e : entries_) n.push_back(e.name);
    return n;
  }
  std::string names_str() const {
    std::string s;
    for (const auto& e : entries_) s += (s.empty() ? "" : ", ") + e.name;
    return s;
  }
  const std::vector<Entry>& entries() const { return entries_; }
  const std::string& key() const { return key_; }

 private:
  std::string key_;
  std::vector<Entry> entries_;
};

// Every entry's options in one JSON object {name: default} over `base` (the section's
// defaults); entries that share a key must agree on its default.
template <class R>
nlohmann::json registry_defaults(const R& r, const std::string& section, nlohmann::json base) {
  for (const auto& e : r.entries())
    for (const auto& o : e.options) {
      SPROUT_CHECK(!base.contains(o.name) || base[o.name] == o.default_value, section, ".", o.name,
                   " has two defaults: ", base[o.name].dump(), " and ", o.default_value.dump());
      base[o.name] = o.default_value;
    }
  return base;
}

}  // namespace sprout
