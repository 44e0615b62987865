// ResNets as torchvision builds them (v1.5: the stride sits on the 3x3 conv of a
// bottleneck), initialised like torchvision: convs kaiming_normal(fan_out, relu),
// BatchNorm gamma 1 / beta 0, fc PyTorch's Linear default. Blocks call their children
// through the child list, so a sparsifier that swaps a Conv2d for a SparseConv2d is
// seen by the forward pass. By default every BatchNorm that a ReLU follows (with the
// residual add between them at a block's end) runs fused (ops::batch_norm_act2d), so
// backward keeps one tensor per conv; the modules and their names stay torchvision's.
// Under nn::CheckpointMode::Blocks each residual block is checkpointed.
#include "models/resnet.h"

#include <cmath>

#include "engine/core/error.h"
#include "engine/nn/checkpoint.h"
#include "engine/nn/conv_layers.h"
#include "engine/nn/init.h"
#include "engine/nn/layers.h"
#include "engine/ops/batchnorm.h"
#include "engine/ops/elementwise.h"

namespace sprout::models {

namespace {

using nn::ModulePtr;

std::shared_ptr<nn::Conv2d> conv(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad) {
  auto c = std::make_shared<nn::Conv2d>(in, out, k, stride, pad, /*bias=*/false);
  c->reset_normal(std::sqrt(2.0 / (double)(out * k * k)), nn::init_rng());  // kaiming_normal_, fan_out
  return c;
}

// relu(bn(x) + residual): through the fused op, with the BatchNorm module's parameters,
// buffers and mode; as separate ops when a method has wrapped the BatchNorm (polarize's
// gates follow it), so the wrapper still runs.
Tensor bn_act(nn::Module& m, const Tensor& x, const Tensor& residual) {
  if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(&m))
    return ops::batch_norm_act2d(x, residual, bn->weight, bn->bias, bn->running_mean, bn->running_var,
                                 bn->training(), /*relu=*/true, bn->momentum, bn->eps);
  Tensor h = m.forward(x);
  return ops::relu(residual.defined() ? ops::add(h, residual) : h);
}

// Children in a fixed order; forward looks them up by index.
class Block : public nn::Module {
 public:
  Block(int64_t in, int64_t planes, int64_t stride, bool bottleneck, bool fused)
      : bottleneck_(bottleneck), fused_(fused) {
    int64_t out = planes * (bottleneck ? 4 : 1);
    if (bottleneck) {
      register_module("conv1", conv(in, planes, 1, 1, 0));
      register_module("bn1", std::make_shared<nn::BatchNorm2d>(planes));
      register_module("conv2", conv(planes, planes, 3, stride, 1));
      register_module("bn2", std::make_shared<nn::BatchNorm2d>(planes));
      register_module("conv3", conv(planes, out, 1, 1, 0));
      register_module("bn3", std::make_shared<nn::BatchNorm2d>(out));
    } else {
      register_module("conv1", conv(in, planes, 3, stride, 1));
      register_module("bn1", std::make_shared<nn::BatchNorm2d>(planes));
      register_module("conv2", conv(planes, planes, 3, 1, 1));
      register_module("bn2", std::make_shared<nn::BatchNorm2d>(planes));
    }
    if (stride != 1 || in != out) {
      auto ds = std::make_shared<nn::Sequential>();
      ds->add(conv(in, out, 1, stride, 0));
      ds->add(std::make_shared<nn::BatchNorm2d>(out));
      register_module("downsample", ds);
      has_downsample_ = true;
    }
  }
  Tensor forward(const Tensor& x) override {
    if (fused_) return forward_fused(x);
    auto& ch = children();
    Tensor h = ops::relu(ch[1].second->forward(ch[0].second->forward(x)));
    h = ch[3].second->forward(ch[2].second->forward(h));
    size_t next = 4;
    if (bottleneck_) {
      h = ch[5].second->forward(ch[4].second->forward(ops::relu(h)));
      next = 6;
    }
    Tensor identity = has_downsample_ ? ch[next].second->forward(x) : x;
    return ops::relu(ops::add(h, identity));
  }
  std::string type_name() const override { return bottleneck_ ? "Bottleneck" : "BasicBlock"; }

 private:
  // conv -> fused BN + ReLU for all but the last conv, whose BatchNorm takes the
  // residual add and the final ReLU.
  Tensor forward_fused(const Tensor& x) {
    auto& ch = children();
    const size_t last = bottleneck_ ? 4 : 2;
    Tensor h = x;
    for (size_t i = 0; i < last; i += 2) h = bn_act(*ch[i + 1].second, ch[i].second->forward(h), Tensor());
    h = ch[last].second->forward(h);
    Tensor identity = has_downsample_ ? ch[last + 2].second->forward(x) : x;
    return bn_act(*ch[last + 1].second, h, identity);
  }

  bool bottleneck_, fused_;
  bool has_downsample_ = false;
};

class ResNet : public nn::Module {
 public:
  ResNet(int depth, int64_t classes, const std::string& stem, int64_t in_ch, double width, bool fused)
      : fused_(fused) {
    std::vector<int> blocks;
    bool bottleneck = depth >= 50;
    if (depth == 18) blocks = {2, 2, 2, 2};
    else if (depth == 34 || depth == 50) blocks = {3, 4, 6, 3};
    else SPROUT_FAIL("resnet depth ", depth, " not supported (18, 34, 50)");
    SPROUT_CHECK(stem == "imagenet" || stem == "cifar", "model.stem '", stem,
                 "' (expected imagenet or cifar)");
    auto w = [&](int64_t c) { return std::max<int64_t>(1, (int64_t)((double)c * width + 0.5)); };
    int64_t in = w(64);
    imagenet_stem_ = stem == "imagenet";
    if (imagenet_stem_) register_module("conv1", conv(in_ch, in, 7, 2, 3));
    else register_module("conv1", conv(in_ch, in, 3, 1, 1));
    register_module("bn1", std::make_shared<nn::BatchNorm2d>(in));
    register_module("relu", std::make_shared<nn::ReLU>());
    if (imagenet_stem_) register_module("maxpool", std::make_shared<nn::MaxPool2d>(3, 2, 1));
    int64_t planes[4] = {w(64), w(128), w(256), w(512)};
    for (int s = 0; s < 4; ++s) {
      auto layer = std::make_shared<nn::Sequential>();
      for (int b = 0; b < blocks[(size_t)s]; ++b) {
        int64_t stride = (b == 0 && s > 0) ? 2 : 1;
        layer->add(std::make_shared<Block>(in, planes[s], stride, bottleneck, fused));
        in = planes[s] * (bottleneck ? 4 : 1);
      }
      register_module("layer" + std::to_string(s + 1), layer);
    }
    register_module("avgpool", std::make_shared<nn::GlobalAvgPool>());
    register_module("fc", std::make_shared<nn::Linear>(in, classes));
  }
  Tensor forward(const Tensor& x) override {
    const bool blocks = nn::checkpoint_mode() == nn::CheckpointMode::Blocks;
    Tensor h = x;
    for (auto& [name, m] : children()) {
      if (fused_ && name == "bn1") h = bn_act(*m, h, Tensor());
      else if (fused_ && name == "relu") continue;  // done by bn1
      else if (blocks && name.rfind("layer", 0) == 0)
        for (auto& child : m->children()) h = nn::checkpoint(child.second, h);
      else h = m->forward(h);
    }
    return h;
  }
  std::string type_name() const override { return "ResNet"; }

 private:
  bool imagenet_stem_ = true;
  bool fused_;
};

}  // namespace

nn::ModulePtr resnet(int depth, int64_t num_classes, const std::string& stem, int64_t in_channels,
                     double width, bool fused_bn_relu) {
  return std::make_shared<ResNet>(depth, num_classes, stem, in_channels, width, fused_bn_relu);
}

}  // namespace sprout::models
