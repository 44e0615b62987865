// ResNet-18/34/50 with torchvision's structure and parameter names (conv1, bn1,
// layer1.0.conv1, ..., fc), an ImageNet stem (7x7/2 conv + 3x3/2 max pool) or a CIFAR
// stem (3x3/1 conv, no pool); VGG-16/19 for CIFAR; a small CNN.
#pragma once
#include <string>

#include "engine/nn/module.h"

namespace sprout::models {

// depth 18, 34 or 50; stem "imagenet" or "cifar"; width multiplies every channel count;
// fused_bn_relu runs each BatchNorm + ReLU pair as one op (the same values and gradients,
// half the kept activations; false: separate BatchNorm, add and ReLU ops).
nn::ModulePtr resnet(int depth, int64_t num_classes, const std::string& stem = "imagenet",
                     int64_t in_channels = 3, double width = 1.0, bool fused_bn_relu = true);
nn::ModulePtr vgg(int depth, int64_t num_classes, int64_t in_channels = 3);
nn::ModulePtr small_cnn(int64_t in_channels, int64_t image_size, int64_t num_classes);

}  // namespace sprout::models
