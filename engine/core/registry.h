// One registry shape for every named component (sparsity methods, optimizers,
// schedules, models, data sets): name -> factory + declared options + one line of help.
// Adding a component is its own file plus one registration line.
#pragma once
#include <map>
#include <string>
#include <utility>
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

// A section's defaults {name: default}: `base` (keys no component declares, such as
// the entry name), then `shared` (options every entry reads), then every entry's own.
// A key declared more than once must agree on default, type and range; an error names
// the key and both owners.
template <class R>
nlohmann::json registry_defaults(const R& r, const std::string& section, const std::vector<OptionInfo>& shared,
                                 nlohmann::json base = nlohmann::json::object()) {
  std::map<std::string, std::pair<std::string, OptionInfo>> first;  // key -> (owner, declaration)
  auto add = [&](const std::string& owner, const OptionInfo& o) {
    auto [it, added] = first.emplace(o.name, std::make_pair(owner, o));
    const OptionInfo& was = it->second.second;
    SPROUT_CHECK(added || same_declaration(was, o), section, ".", o.name, " is declared twice differently: ",
                 it->second.first, " has ", was.type, " = ", was.default_value.dump(), " ", was.range, ", ", owner,
                 " has ", o.type, " = ", o.default_value.dump(), " ", o.range);
  };
  for (const auto& o : shared) add("the shared options", o);
  for (const auto& e : r.entries())
    for (const auto& o : e.options) add(e.name, o);
  for (const auto& [name, owned] : first) base[name] = owned.second.default_value;
  return base;
}

}  // namespace sprout
