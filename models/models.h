// Model registry: builds a model by name from the "model" section of a run config.
// mlp (hidden sizes from config), cnn (a small conv net), and the ResNet/VGG family.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "engine/core/shape.h"
#include "engine/nn/module.h"

namespace sprout::models {

// `model_cfg` is the config's "model" object; sample_shape is one input sample's shape.
nn::ModulePtr build(const nlohmann::json& model_cfg, const Shape& sample_shape, int num_classes);

nn::ModulePtr mlp(int64_t in, const std::vector<int64_t>& hidden, int64_t classes);

}  // namespace sprout::models
