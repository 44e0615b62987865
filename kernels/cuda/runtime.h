// The CUDA runtime as sprout's engine sees it: raw memory, copies, the stream and
// device queries, with no CUDA header. runtime.cu implements it on CUDA builds;
// runtime_stub.cpp reports "built without CUDA" elsewhere.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

struct CUstream_st;
typedef struct CUstream_st* cudaStream_t;

namespace sprout::kernels::cuda {

bool compiled();
// Empty string when a GPU answers; otherwise why not.
std::string unavailable_reason();
// nullptr when the device is out of memory (the caller frees its cache and retries).
void* device_malloc(size_t bytes);
void device_free(void* p);
// kind: 0 host->device, 1 device->host, 2 device->device. Asynchronous on stream()
// unless the host side is pageable; device->host synchronises.
void copy(void* dst, const void* src, size_t bytes, int kind);
void memset_zero(void* p, size_t bytes);
// The compute stream every launch uses.
cudaStream_t stream();
void synchronize();
void mem_get_info(size_t* free_bytes, size_t* total_bytes);
std::string device_name();
// Pinned host memory for staging batches.
void* host_pinned_malloc(size_t bytes);
void host_pinned_free(void* p);

}  // namespace sprout::kernels::cuda
