// CUDA runtime for the engine: device memory, copies, the compute stream, and the copy
// stream and events that let batch uploads overlap it.
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

void memset_bytes(void* p, int value, size_t bytes) {
  if (bytes) SPROUT_CUDA_CHECK(cudaMemsetAsync(p, value, bytes, stream()));
}

void memset_zero(void* p, size_t bytes) {
  if (bytes) SPROUT_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, stream()));
}

// A non-blocking stream, or nullptr without a usable GPU, so CPU code paths that carry
// a stream argument along never touch the driver.
static cudaStream_t make_stream() {
  if (!unavailable_reason().empty()) return nullptr;
  cudaStream_t st;
  SPROUT_CUDA_CHECK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  return st;
}

cudaStream_t stream() {
  static cudaStream_t s = make_stream();
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

cudaStream_t copy_stream() {
  static cudaStream_t s = make_stream();
  return s;
}

void copy_to_device_async(void* dst, const void* pinned_src, size_t bytes, cudaStream_t s) {
  if (bytes) SPROUT_CUDA_CHECK(cudaMemcpyAsync(dst, pinned_src, bytes, cudaMemcpyHostToDevice, s));
}

void stream_synchronize(cudaStream_t s) { SPROUT_CUDA_CHECK(cudaStreamSynchronize(s)); }

cudaEvent_t event_create() {
  cudaEvent_t e;
  SPROUT_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  return e;
}

void event_destroy(cudaEvent_t e) noexcept {
  if (e && cudaEventDestroy(e) != cudaSuccess) cudaGetLastError();
}

void event_record(cudaEvent_t e, cudaStream_t s) { SPROUT_CUDA_CHECK(cudaEventRecord(e, s)); }

bool event_query(cudaEvent_t e) {
  cudaError_t err = cudaEventQuery(e);
  if (err == cudaErrorNotReady) {
    // Not an error: clear it so the next launch check on this thread does not see it.
    cudaGetLastError();
    return false;
  }
  SPROUT_CUDA_CHECK(err);
  return true;
}

void event_synchronize(cudaEvent_t e) { SPROUT_CUDA_CHECK(cudaEventSynchronize(e)); }

void stream_wait_event(cudaStream_t s, cudaEvent_t e) { SPROUT_CUDA_CHECK(cudaStreamWaitEvent(s, e, 0)); }

}  // namespace sprout::kernels::cuda
