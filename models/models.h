// The model zoo: mlp, cnn, resnet18/34/50, vgg16/19, registered by name (with the
// options each declares) into the engine's model registry, train::models().
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/core/shape.h"
#include "engine/nn/module.h"

namespace sprout::models {

// Registers every model once; later calls do nothing.
void register_models();

// `model_cfg` is the config's "model" object; sample_shape is one input sample's shape.
nn::ModulePtr build(const nlohmann::json& model_cfg, const Shape& sample_shape, int num_classes);

// Linear-ReLU blocks on `in` features; samples of any shape are flattened first.
nn::ModulePtr mlp(int64_t in, const std::vector<int64_t>& hidden, int64_t classes);

}  // namespace sprout::models
