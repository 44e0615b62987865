// `sprout config`: the options every component declares, with defaults, ranges and
// help (`--show rigl`, `--show sparsity`), or the whole default config (`--defaults`).
#include <cstdio>

#include "apps/commands.h"
#include "engine/core/error.h"
#include "engine/optim/registry.h"
#include "engine/sparsity/registry.h"
#include "engine/train/data_source.h"
#include "engine/train/options.h"

namespace sprout::app {

namespace {

const char* const kSections[] = {"train", "data", "model", "optimizer", "schedule", "sparsity"};

// The section whose registry holds `name`, or "" when none does.
std::string section_of(const std::string& name) {
  if (sparsity::methods().find(name)) return "sparsity";
  if (optim::optimizers().find(name)) return "optimizer";
  if (optim::schedules().find(name)) return "schedule";
  if (train::models().find(name)) return "model";
  if (train::data_sets().find(name)) return "data";
  return "";
}

}  // namespace

int run_config(const ConfigArgs& a) {
  if (a.defaults || a.show.empty()) {
    std::printf("%s\n", train::default_config().dump(2).c_str());
    return 0;
  }
  for (const char* s : kSections)
    if (a.show == s) {
      std::printf("%s", train::describe_options(s, "").c_str());
      return 0;
    }
  const std::string section = section_of(a.show);
  SPROUT_CHECK(!section.empty(), "config --show: '", a.show,
               "' is no section (train, data, model, optimizer, schedule, sparsity) and no registered "
               "method, optimizer, schedule, model or data set");
  std::printf("%s", train::describe_options(section, a.show).c_str());
  return 0;
}

}  // namespace sprout::app
