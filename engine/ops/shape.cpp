// reshape: a view forward, the inverse view backward. A reshape of an output its
// producer can rebuild (saved.h) can be rebuilt too, so a consumer that keeps the
// reshaped tensor keeps nothing new.
#include "engine/ops/shape.h"

#include "engine/autograd/node.h"

namespace sprout::ops {

namespace {

struct ReshapeNode : autograd::Node {
  ReshapeNode(Shape in, Shape out) : in_shape(std::move(in)), out_shape(std::move(out)) {}
  std::vector<Tensor> apply(const Tensor& g) override { return {g.view(in_shape)}; }
  const char* name() const override { return "reshape"; }
  bool can_rebuild() const override { return !next.empty() && next[0].fn && next[0].fn->can_rebuild(); }
  Tensor rebuild() const override { return next[0].fn->rebuild().view(out_shape); }
  Shape in_shape, out_shape;
};

}  // namespace

Tensor reshape(const Tensor& x, const Shape& shape) {
  Tensor out = x.view(shape);
  if (autograd::needs_grad({&x}))
    autograd::record(out, std::make_shared<ReshapeNode>(x.shape(), out.shape()), {&x});
  return out;
}

}  // namespace sprout::ops
