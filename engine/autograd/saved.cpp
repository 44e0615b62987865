// SavedTensor and the recomputation flag.
#include "engine/autograd/saved.h"

#include "engine/core/error.h"

namespace sprout::autograd {

namespace {
thread_local bool tl_recomputing = false;
}

SavedTensor::SavedTensor(const Tensor& x) {
  if (!x.defined()) return;
  if (x.grad_fn() && x.grad_fn()->can_rebuild()) {
    producer_ = x.grad_fn();
    shape_ = x.shape();
  } else {
    t_ = x.detach();
  }
}

Tensor SavedTensor::get() const {
  if (!producer_) return t_;
  Tensor t = producer_->rebuild();
  SPROUT_CHECK(t.defined() && t.numel() == shape_numel(shape_), "backward: node ", producer_->name(),
               " rebuilt ", t.defined() ? shape_str(t.shape()) : std::string("nothing"), " for a saved ",
               shape_str(shape_));
  return t.shape() == shape_ ? t : t.view(shape_);
}

bool recomputing() { return tl_recomputing; }
RecomputeGuard::RecomputeGuard() : saved_(tl_recomputing) { tl_recomputing = true; }
RecomputeGuard::~RecomputeGuard() { tl_recomputing = saved_; }

}  // namespace sprout::autograd
