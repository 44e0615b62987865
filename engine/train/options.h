// The options the training loop owns (the config's "train" section and the common
// keys of "data" and "model"), and the whole config: defaults assembled from every
// component's declared options, a file merged over them with checks that name the key.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/core/options.h"

namespace sprout::train {

struct TrainOptions {
  int64_t epochs = 5, batch_size = 128, seed = 0, max_steps = 0, eval_batch_size = 1000;
  double label_smoothing = 0.0;
  int64_t log_every = 100;
  bool checkpoint_every_epoch = true;
  int64_t threads = 0;
  bool adapt_threads = false;
  std::string checkpoint_activations = "none";  // nn::parse_checkpoint_mode
};
const Options<TrainOptions>& train_options();

struct DataOptions {
  std::string name, root;
  int64_t workers = 2, prefetch = 4;
};
const Options<DataOptions>& data_options();

// Every key a config may hold, with its default: each section from the options its
// components declare (models and data sets as registered so far).
nlohmann::json default_config();
// Reads a config file (none when `path` is empty), merges it over default_config(),
// applies `key=value` overrides, and checks each section against its components'
// declared types and ranges. Throws sprout::Error naming the file and key.
nlohmann::json load_config(const std::string& path, const std::vector<std::string>& overrides);
// The options of one component, by section and name ("sparsity", "rigl"), with
// defaults and help: what `sprout config --show` prints. Empty name: the section's
// components and their one-line help.
std::string describe_options(const std::string& section, const std::string& name);

}  // namespace sprout::train
