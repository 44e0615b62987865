// The training loop's own options and the config assembled from every component's.
#include "engine/train/options.h"

#include <sstream>

#include "engine/core/error.h"
#include "engine/io/config.h"
#include "engine/optim/registry.h"
#include "engine/sparsity/registry.h"
#include "engine/train/data_source.h"

namespace sprout::train {

using Json = nlohmann::json;

const Options<TrainOptions>& train_options() {
  static const Options<TrainOptions> o = Options<TrainOptions>()
      .integer("epochs", &TrainOptions::epochs, 5, Range::closed(1, 1e6), "passes over the training set")
      .integer("batch_size", &TrainOptions::batch_size, 128, Range::closed(1, 1e7),
               "samples per step on each rank (data-parallel runs: the global batch is this x ranks)")
      .integer("seed", &TrainOptions::seed, 0, Range::closed(0, 9.0e15),
               "seeds initialisation, data order, augmentation and the sparsity method")
      .integer("max_steps", &TrainOptions::max_steps, 0, Range::at_least(0), "stop after this many steps (0: no limit)")
      .integer("eval_batch_size", &TrainOptions::eval_batch_size, 1000, Range::closed(1, 1e7),
               "samples per evaluation batch")
      .number("label_smoothing", &TrainOptions::label_smoothing, 0.0, Range::closed_open(0, 1),
              "cross-entropy label smoothing")
      .integer("log_every", &TrainOptions::log_every, 100, Range::at_least(1),
               "steps between progress lines and metrics (each reads the loss back)")
      .flag("checkpoint_every_epoch", &TrainOptions::checkpoint_every_epoch, true,
            "write checkpoint.safetensors after every epoch (else only at the end)")
      .integer("threads", &TrainOptions::threads, 0, Range::closed(0, 4096), "CPU threads (0: OpenMP's default)")
      .flag("adapt_threads", &TrainOptions::adapt_threads, true,
            "CPU: between steps, run one thread fewer per core other processes keep busy (a shared "
            "machine slows a run by its fair share, not by every barrier; BLAS keeps the starting "
            "count, so results do not depend on the load)")
      .text("checkpoint_activations", &TrainOptions::checkpoint_activations, "none", {"none", "blocks"},
            "blocks: keep only each residual block's input and recompute the block in backward");
  return o;
}

const Options<DataOptions>& data_options() {
  static const Options<DataOptions> o = Options<DataOptions>()
      .text("name", &DataOptions::name, "fashion-mnist", {}, "the data set")
      .text("root", &DataOptions::root, "/usr/share/datasets/fashion-mnist", {}, "folder holding its files")
      .integer("workers", &DataOptions::workers, 2, Range::closed(0, 256), "loader threads (0: load on the caller)")
      .integer("prefetch", &DataOptions::prefetch, 4, Range::closed(1, 1024), "batches prepared ahead");
  return o;
}

namespace {

// Each section through its owners' declared options: types, ranges and choices checked
// now, before any data is read.
void check_sections(const Json& cfg) {
  train_options().read(cfg["train"], "train.");
  const DataOptions d = data_options().read(cfg["data"], "data.");
  check_options(cfg["data"]["options"], data_sets().at(d.name).options, "data.options.");
  const auto& model = models().at(cfg["model"]["name"].get<std::string>());
  check_options(cfg["model"], model.options, "model.");
  const auto& opt = optim::optimizers().at(cfg["optimizer"]["name"].get<std::string>());
  check_options(cfg["optimizer"], opt.options, "optimizer.");
  const auto& sch = optim::schedules().at(cfg["schedule"]["name"].get<std::string>());
  check_options(cfg["schedule"], sch.options, "schedule.");
  sparsity::read_sparsify_options(cfg["sparsity"]);
  const auto& method = sparsity::methods().at(cfg["sparsity"]["method"].get<std::string>());
  check_options(cfg["sparsity"], method.options, "sparsity.");
}

}  // namespace

Json default_config() {
  Json model = registry_defaults(models(), "model", {}, Json{{"name", "mlp"}});
  Json data = option_defaults(data_options().info());
  data["options"] = Json::object();
  return Json{{"model", model},
              {"data", data},
              {"train", option_defaults(train_options().info())},
              {"optimizer", optim::optimizer_defaults()},
              {"schedule", optim::schedule_defaults()},
              {"sparsity", sparsity::sparsity_defaults()}};
}

Json load_config(const std::string& path, const std::vector<std::string>& overrides) {
  Json cfg = io::load_config(path, overrides, default_config());
  try {
    check_sections(cfg);
  } catch (const Error& e) {
    if (path.empty()) throw;
    SPROUT_FAIL(path, ": ", e.what());
  }
  return cfg;
}

namespace {

template <class R>
std::string describe_registry(const R& r, const std::string& name, const std::vector<OptionInfo>& common) {
  std::ostringstream s;
  if (name.empty()) {
    s << r.key() << ":\n";
    for (const auto& e : r.entries()) s << "  " << e.name << "  " << e.help << "\n";
    if (!common.empty()) s << "options every entry shares:\n" << option_help(common);
    return s.str();
  }
  const auto& e = r.at(name);
  s << r.key() << " = " << e.name << ": " << e.help << "\n";
  if (!common.empty()) s << "shared options:\n" << option_help(common);
  if (!e.options.empty()) s << e.name << " options:\n" << option_help(e.options);
  return s.str();
}

}  // namespace

std::string describe_options(const std::string& section, const std::string& name) {
  if (section == "train") return "train:\n" + option_help(train_options().info());
  if (section == "sparsity") return describe_registry(sparsity::methods(), name, sparsity::common_options());
  if (section == "optimizer") return describe_registry(optim::optimizers(), name, {});
  if (section == "schedule") return describe_registry(optim::schedules(), name, {});
  if (section == "model") return describe_registry(models(), name, {});
  if (section == "data") return describe_registry(data_sets(), name, data_options().info());
  SPROUT_FAIL("config --show: unknown section '", section,
              "' (train, data, model, optimizer, schedule, sparsity)");
}

}  // namespace sprout::train
