// reshape: a view forward, the inverse view backward.
#include "engine/ops/shape.h"

#include "engine/autograd/node.h"

namespace sprout::ops {

Tensor reshape(const Tensor& x, const Shape& shape) {
  Tensor out = x.view(shape);
  if (autograd::needs_grad({&x})) {
    Shape s = x.shape();
    autograd::record(out, std::make_shared<autograd::FunctionNode>("reshape", [s](const Tensor& g) {
      return std::vector<Tensor>{g.view(s)};
    }), {&x});
  }
  return out;
}

}  // namespace sprout::ops
