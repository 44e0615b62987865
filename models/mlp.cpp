// The multilayer perceptron of the SET/RigL papers' Fashion-MNIST experiments:
// Linear-ReLU blocks, children named 0, 1, 2... like torch.nn.Sequential.
#include "engine/nn/layers.h"
#include "models/models.h"

namespace sprout::models {

nn::ModulePtr mlp(int64_t in, const std::vector<int64_t>& hidden, int64_t classes) {
  auto seq = std::make_shared<nn::Sequential>();
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
