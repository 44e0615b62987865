// VGG-16/19 with batch norm for CIFAR (32x32 inputs): 3x3 conv-BN-ReLU stacks and
// max pools, then a single Linear(512, classes) on the 1x1 map; and a small CNN for
// quick jobs on 28x28 or 32x32 images.
#include <cmath>

#include "engine/core/error.h"
#include "engine/nn/conv_layers.h"
#include "engine/nn/init.h"
#include "engine/nn/layers.h"
#include "models/resnet.h"

namespace sprout::models {

nn::ModulePtr vgg(int depth, int64_t num_classes, int64_t in_channels) {
  std::vector<int64_t> cfg;  // 0 = max pool
  if (depth == 16) cfg = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0};
  else if (depth == 19) cfg = {64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512, 512, 0};
  else SPROUT_FAIL("vgg depth ", depth, " not supported (16, 19)");
  auto features = std::make_shared<nn::Sequential>();
  int64_t in = in_channels;
  for (int64_t c : cfg) {
    if (c == 0) { features->add(std::make_shared<nn::MaxPool2d>(2, 2, 0)); continue; }
    auto cv = std::make_shared<nn::Conv2d>(in, c, 3, 1, 1, true);
    cv->reset_normal(std::sqrt(2.0 / (double)(c * 9)), nn::init_rng());  // kaiming_normal_, fan_out
    features->add(cv);
    features->add(std::make_shared<nn::BatchNorm2d>(c));
    features->add(std::make_shared<nn::ReLU>());
    in = c;
  }
  auto model = std::make_shared<nn::Sequential>();
  model->add("features", features);
  model->add("pool", std::make_shared<nn::GlobalAvgPool>());
  model->add("classifier", std::make_shared<nn::Linear>(512, num_classes));
  return model;
}

nn::ModulePtr small_cnn(int64_t in_channels, int64_t image_size, int64_t num_classes) {
  auto m = std::make_shared<nn::Sequential>();
  m->add(std::make_shared<nn::Conv2d>(in_channels, 32, 3, 1, 1));
  m->add(std::make_shared<nn::ReLU>());
  m->add(std::make_shared<nn::MaxPool2d>(2));
  m->add(std::make_shared<nn::Conv2d>(32, 64, 3, 1, 1));
  m->add(std::make_shared<nn::ReLU>());
  m->add(std::make_shared<nn::MaxPool2d>(2));
  m->add(std::make_shared<nn::Flatten>());
  int64_t side = image_size / 4;
  m->add(std::make_shared<nn::Linear>(64 * side * side, 128));
  m->add(std::make_shared<nn::ReLU>());
  m->add(std::make_shared<nn::Linear>(128, num_classes));
  return m;
}

}  // namespace sprout::models
