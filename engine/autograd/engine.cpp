// The backward pass: topological order by dependency counting (Kahn), one call per
// node, gradient sums per node, saved tensors freed as soon as a node has run.
#include <unordered_map>

#include "engine/autograd/node.h"
#include "engine/core/dispatch.h"
#include "engine/core/error.h"
#include "kernels/cpu/elementwise.h"

namespace sprout::autograd {

namespace {
thread_local bool tl_grad_enabled = true;

// acc += g, elementwise on acc's device: a leaf's gradient arriving again.
void accumulate_(Tensor& acc, const Tensor& g) {
  check_same(acc, g, "gradient accumulation");
  SPROUT_CHECK(acc.numel() == g.numel(), "gradient accumulation: ", shape_str(acc.shape()), " and ",
               shape_str(g.shape()));
  if (acc.is_cuda()) {
    check_cuda_f32(acc, "gradient accumulation");
    SPROUT_ON_CUDA(kernels::cuda::axpy(1.0f, g.data<float>(), acc.data<float>(), acc.numel(), stream()));
    return;
  }
  dispatch_float(acc.dtype(), "gradient accumulation", [&](auto t) {
    using T = decltype(t);
    kernels::cpu::axpy<T>((T)1, g.data<T>(), acc.data<T>(), acc.numel());
  });
}

// a + b into a new tensor: two gradients of one node summed.
Tensor sum_of(const Tensor& a, const Tensor& b) {
  check_same(a, b, "gradient sum");
  SPROUT_CHECK(a.numel() == b.numel(), "gradient sum: ", shape_str(a.shape()), " and ", shape_str(b.shape()));
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
  if (a.is_cuda()) {
    check_cuda_f32(a, "gradient sum");
    SPROUT_ON_CUDA(kernels::cuda::add(a.data<float>(), b.data<float>(), out.data<float>(), a.numel(), stream()));
    return out;
  }
  dispatch_float(a.dtype(), "gradient sum", [&](auto t) {
    using T = decltype(t);
    kernels::cpu::add<T>(a.data<T>(), b.data<T>(), out.data<T>(), a.numel());
  });
  return out;
}

std::shared_ptr<Node> edge_for(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return nullptr;
  if (t.grad_fn()) return t.grad_fn();
  TensorImpl* impl = t.impl();
  if (!impl->grad_accumulator)
    impl->grad_accumulator = std::make_shared<AccumulateGrad>(t.impl_ptr());
  return impl->grad_accumulator;
}
}  // namespace

bool grad_enabled() { return tl_grad_enabled; }
NoGradGuard::NoGradGuard() : saved_(tl_grad_enabled) { tl_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { tl_grad_enabled = saved_; }
EnableGradGuard::EnableGradGuard() : saved_(tl_grad_enabled) { tl_grad_enabled = true; }
EnableGradGuard::~EnableGradGuard() { tl_grad_enabled = saved_; }

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
  if (!tl_grad_enabled) return false;
  for (const Tensor* t : inputs)
    if (t && t->defined() && t->requires_grad()) return true;
  return false;
}

void record(Tensor& out, std::shared_ptr<Node> node, const std::vector<const Tensor*>& inputs) {
  node->next.clear();
  for (const Tensor* t : inputs) node->next.push_back(Edge{t ? edge_for(*t) : nullptr});
  out.impl()->grad_fn = std::move(node);
  out.impl()->requires_grad = true;
}

void record(Tensor& out, std::shared_ptr<Node> node, std::initializer_list<const Tensor*> inputs) {
  record(out, std::move(node), std::vector<const Tensor*>(inputs));
}

std::vector<Tensor> AccumulateGrad::apply(const Tensor& g) {
  auto leaf = leaf_.lock();
  if (!leaf) return {};
  Tensor l(leaf);
  SPROUT_CHECK(g.numel() == l.numel(), "gradient of ", shape_str(g.shape()), " for leaf ",
               shape_str(l.shape()));
  if (!leaf->grad) {
    Tensor copy = g.to(g.device(), MemCategory::Gradients).view(l.shape());
    leaf->grad = copy.impl_ptr();
  } else {
    Tensor acc(leaf->grad);
    accumulate_(acc, g.view(acc.shape()));
  }
  return {};
}

void run_backward(const Tensor& root, const Tensor& grad_output) {
  SPROUT_CHECK(root.requires_grad(), "backward() on a tensor that does not require grad");
  std::shared_ptr<Node> start = edge_for(root);
  // Count, for every node, how many edges point at it.
  std::unordered_map<Node*, int> deps;
  std::vector<Node*> stack{start.get()};
  deps[start.get()] = 0;
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (auto& e : n->next) {
      if (!e.fn) continue;
      auto it = deps.find(e.fn.get());
      if (it == deps.end()) {
        deps[e.fn.get()] = 1;
        stack.push_back(e.fn.get());
      } else {
        ++it->second;
      }
    }
  }
  std::unordered_map<Node*, Tensor> grads;
  grads[start.get()] = grad_output;
  std::vector<std::shared_ptr<Node>> ready{start};
  while (!ready.empty()) {
    std::shared_ptr<Node> n = ready.back();
    ready.pop_back();
    Tensor g = grads[n.get()];
    grads.erase(n.get());
    std::vector<Tensor> in_grads;
    if (g.defined()) in_grads = n->apply(g);
    n->release();
    for (size_t i = 0; i < n->next.size(); ++i) {
      auto& e = n->next[i];
      if (!e.fn) continue;
      if (i < in_grads.size() && in_grads[i].defined()) {
        auto it = grads.find(e.fn.get());
        if (it == grads.end()) grads[e.fn.get()] = in_grads[i];
        else it->second = sum_of(it->second, in_grads[i]);
      }
      if (--deps[e.fn.get()] == 0) ready.push_back(e.fn);
    }
  }
}

}  // namespace sprout::autograd

namespace sprout {
void Tensor::backward() const {
  SPROUT_CHECK(numel() == 1, "backward() without a gradient needs a scalar, got ",
               shape_str(shape()));
  autograd::NoGradGuard ng;
  MemoryScope ms(MemCategory::Activations);
  autograd::run_backward(*this, Tensor::full(shape(), 1.0, dtype(), device()));
}
void Tensor::backward(const Tensor& g) const {
  autograd::NoGradGuard ng;
  MemoryScope ms(MemCategory::Activations);
  autograd::run_backward(*this, g);
}
}  // namespace sprout
