// Datasets by name, for configs and the CLI: "fashion-mnist", "mnist", "cifar10",
// "cifar100", "imagenet", "synthetic". Options are a JSON object; unknown keys are
// errors so a typo in a config is caught at load.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace sprout::data {

// split: "train" or "test" ("val" is accepted for imagenet; synthetic ignores it
// except that "test" draws from another seed). Options per name:
//   fashion-mnist, mnist: flatten (bool, true), mean, std (numbers)
//   cifar10, cifar100:    augment (true), padding (4), check_counts (true), mean, std
//                         (3 numbers), coarse (cifar100: 20 superclasses)
//   imagenet:             image_size (224), resize_size (image_size / 0.875), augment,
//                         scaled_decode (true), scale [0.08, 1], ratio [0.75, 1.3333],
//                         mean, std (3 numbers)
//   synthetic:            shape ([3, 224, 224]), classes (1000), size (50000), seed (0),
//                         noise (1.0)
DatasetPtr make_dataset(const std::string& name, const std::string& root, const std::string& split,
                        const nlohmann::json& options = nlohmann::json::object());

std::vector<std::string> dataset_names();

}  // namespace sprout::data
