// The multilayer perceptron of the SET/RigL papers' Fashion-MNIST experiments:
// Linear-ReLU blocks, children named 0, 1, 2... like torch.nn.Sequential. It flattens
// each sample first (a view), so image data sets need no model-specific layout.
#include "engine/nn/layers.h"
#include "engine/ops/shape.h"
#include "models/models.h"

namespace sprout::models {

namespace {

class Mlp : public nn::Sequential {
 public:
  Tensor forward(const Tensor& x) override {
    if (x.dim() <= 2) return nn::Sequential::forward(x);
    return nn::Sequential::forward(ops::reshape(x, {x.size(0), x.numel() / std::max<int64_t>(1, x.size(0))}));
  }
};

}  // namespace

nn::ModulePtr mlp(int64_t in, const std::vector<int64_t>& hidden, int64_t classes) {
  auto seq = std::make_shared<Mlp>();
  int64_t prev = in;
  for (int64_t h : hidden) {
    seq->add(std::make_shared<nn::Linear>(prev, h));
    seq->add(std::make_shared<nn::ReLU>());
    prev = h;
  }
  seq->add(std::make_shared<nn::Linear>(prev, classes));
  return seq;
}

}  // namespace sprout::models
