// Datasets by name, for configs and the CLI: "fashion-mnist", "mnist", "cifar10",
// "cifar100", "imagenet", "synthetic". Each declares the options it reads from the
// config's data.options (dataset_option_info); an unknown key, a wrong type or a value
// out of range is an error naming the key, so a typo in a config is caught at load.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "engine/core/options.h"

namespace sprout::data {

// split: "train" or "test" ("val" is accepted for imagenet; synthetic ignores it
// except that "test" draws from another seed). Options per name, with their defaults:
//   fashion-mnist, mnist: flatten (false: [1, 28, 28]), mean, std (published statistics)
//   cifar10, cifar100:    augment (true), padding (4), check_counts (true), mean, std
//                         (3 numbers), coarse (cifar100 only: 20 superclasses)
//   imagenet:             image_size (224), resize_size (0: image_size / 0.875), augment,
//                         scaled_decode (true), max_pixels (2^26: a larger JPEG header is
//                         skipped with a warning), scale [0.08, 1], ratio [0.75, 1.3333],
//                         mean, std (3 numbers)
//   synthetic:            shape ([3, 224, 224]), classes (1000), size (50000), seed (0),
//                         noise (1.0)
// A list of 3 (mean, std) or 2 (scale, ratio) numbers may be given as one number.
DatasetPtr make_dataset(const std::string& name, const std::string& root, const std::string& split,
                        const nlohmann::json& options = nlohmann::json::object());

std::vector<std::string> dataset_names();

// One sample's shape and the class count from the options alone (no file is read).
train::DataSpec describe_dataset(const std::string& name, const nlohmann::json& options);

// The options a data set reads from data.options, with defaults and help.
std::vector<OptionInfo> dataset_option_info(const std::string& name);

// Registers every data set once into the engine's registry (train::data_sets()), so
// the Trainer opens them by data.name; later calls do nothing.
void register_data_sets();

}  // namespace sprout::data
