// CUDA runtime for the engine: device memory, copies, the compute stream.
#include <cuda_runtime.h>

#include <mutex>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/runtime.h"

namespace sprout::kernels::cuda {

bool compiled() { return true; }

std::string unavailable_reason() {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return std::string("no usable CUDA device: ") + cudaGetErrorString(e);
  }
  if (n == 0) return "no CUDA device present";
  return "";
}

void* device_malloc(size_t bytes) {
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, bytes);
  if (e == cudaErrorMemoryAllocation) {
    cudaGetLastError();
    return nullptr;
  }
  SPROUT_CUDA_CHECK(e);
  return p;
}

void device_free(void* p) { SPROUT_CUDA_CHECK(cudaFree(p)); }

void copy(void* dst, const void* src, size_t bytes, int kind) {
  if (bytes == 0) return;
  cudaMemcpyKind k = kind == 0 ? cudaMemcpyHostToDevice
                   : kind == 1 ? cudaMemcpyDeviceToHost : cudaMemcpyDeviceToDevice;
  SPROUT_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, k, stream()));
  if (kind == 1) SPROUT_CUDA_CHECK(cudaStreamSynchronize(stream()));
}

void memset_zero(void* p, size_t bytes) {
  if (bytes) SPROUT_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, stream()));
}

// nullptr without a usable GPU, so CPU code paths that carry a stream argument along
// never touch the driver.
cudaStream_t stream() {
  static cudaStream_t s = []() -> cudaStream_t {
    if (!unavailable_reason().empty()) return nullptr;
    cudaStream_t st;
    SPROUT_CUDA_CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
    return st;
  }();
  return s;
}

void synchronize() { SPROUT_CUDA_CHECK(cudaStreamSynchronize(stream())); }

void mem_get_info(size_t* f, size_t* t) { SPROUT_CUDA_CHECK(cudaMemGetInfo(f, t)); }

std::string device_name() {
  cudaDeviceProp p;
  SPROUT_CUDA_CHECK(cudaGetDeviceProperties(&p, 0));
  return p.name;
}

void* host_pinned_malloc(size_t bytes) {
  void* p = nullptr;
  SPROUT_CUDA_CHECK(cudaMallocHost(&p, bytes));
  return p;
}

void host_pinned_free(void* p) { SPROUT_CUDA_CHECK(cudaFreeHost(p)); }

}  // namespace sprout::kernels::cuda
