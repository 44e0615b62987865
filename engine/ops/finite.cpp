// The non-finite flag: checked arguments, then the CPU or CUDA kernel.
#include "engine/ops/finite.h"

#include "engine/core/dispatch.h"
#include "engine/ops/deferred.h"
#include "kernels/cpu/finite.h"

namespace sprout::ops {

Tensor make_finite_flag(Device dev) { return make_verdict(dev); }

void mark_non_finite(const Tensor& x, int64_t mark, const Tensor& flag) {
  SPROUT_CHECK(flag.defined() && flag.dtype() == DType::I64 && flag.numel() == 1,
               "mark_non_finite: a flag is one int64");
  SPROUT_CHECK(x.defined() && x.device() == flag.device(), "mark_non_finite: tensor on ",
               x.defined() ? x.device().str() : "nothing", ", flag on ", flag.device().str());
  SPROUT_CHECK(mark >= 0, "mark_non_finite: mark ", mark, " is negative");
  if (x.dtype() != DType::F32 && x.dtype() != DType::F64) return;
  if (x.is_cuda()) {
    check_cuda_f32(x, "mark_non_finite");
    SPROUT_ON_CUDA(kernels::cuda::mark_non_finite(x.data<float>(), x.numel(), (unsigned long long)mark,
                                                  reinterpret_cast<unsigned long long*>(flag.data<int64_t>()),
                                                  stream()));
    return;
  }
  dispatch_float(x.dtype(), "mark_non_finite", [&](auto t) {
    using T = decltype(t);
    kernels::cpu::mark_non_finite<T>(x.data<T>(), x.numel(), (uint64_t)mark,
                                     reinterpret_cast<uint64_t*>(flag.data<int64_t>()));
  });
}

int64_t read_flag(const Tensor& flag) {
  SPROUT_CHECK(flag.defined() && flag.dtype() == DType::I64 && flag.numel() == 1, "read_flag: a flag is one int64");
  return flag.is_cuda() ? flag.to_vector<int64_t>()[0] : flag.data<int64_t>()[0];
}

}  // namespace sprout::ops
