// The one place that knows CPU from CUDA. Engine code checks its arguments, then
// call SPROUT_ON_CUDA(...) for the CUDA kernel or a CPU kernel through
// dispatch_float for float32/float64. On builds without CUDA the CUDA branch
// throws a clear error instead of failing to link.
#pragma once
#include <utility>

#include "engine/core/error.h"
#include "engine/core/tensor.h"
#include "kernels/cuda/runtime.h"

#if SPROUT_WITH_CUDA
#include "kernels/cuda/kernels.h"
#define SPROUT_ON_CUDA(...) do { __VA_ARGS__; } while (0)
#else
#define SPROUT_ON_CUDA(...) SPROUT_FAIL("this op needs CUDA, but sprout was built without CUDA")
#endif

namespace sprout {

template <class F>
void dispatch_float(DType dt, const char* op, F&& f) {
  if (dt == DType::F32) f(float{});
  else if (dt == DType::F64) f(double{});
  else SPROUT_FAIL(op, ": unsupported dtype ", dtype_name(dt));
}

inline void check_same(const Tensor& a, const Tensor& b, const char* op) {
  SPROUT_CHECK(a.defined() && b.defined(), op, ": undefined tensor");
  SPROUT_CHECK(a.device() == b.device(), op, ": tensors on ", a.device().str(), " and ",
               b.device().str());
  SPROUT_CHECK(a.dtype() == b.dtype(), op, ": dtypes ", dtype_name(a.dtype()), " and ",
               dtype_name(b.dtype()));
}

inline void check_cuda_f32(const Tensor& t, const char* op) {
  SPROUT_CHECK(t.dtype() == DType::F32, op, " on CUDA supports float32 only, got ",
               dtype_name(t.dtype()));
}

// The compute stream every CUDA launch of the engine uses.
inline cudaStream_t stream() { return kernels::cuda::stream(); }

}  // namespace sprout
