// The CUDA runtime as sprout's engine sees it: raw memory, copies, the compute and copy
// streams, events and device queries, with no CUDA header. runtime.cu implements it on
// CUDA builds; runtime_stub.cpp reports "built without CUDA" elsewhere.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

struct CUstream_st;
typedef struct CUstream_st* cudaStream_t;
struct CUevent_st;
typedef struct CUevent_st* cudaEvent_t;

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
// Every byte of [p, p + bytes) set to `value`, queued on the compute stream.
void memset_bytes(void* p, int value, size_t bytes);
// The compute stream every launch uses.
cudaStream_t stream();
void synchronize();
void mem_get_info(size_t* free_bytes, size_t* total_bytes);
std::string device_name();
// Pinned host memory for staging batches.
void* host_pinned_malloc(size_t bytes);
void host_pinned_free(void* p);

// A second non-blocking stream, made on first use, so uploads overlap the compute stream;
// nullptr without a usable GPU. It is ordered against stream() only through events.
cudaStream_t copy_stream();
// Queues a host->device copy out of pinned memory on `s`; the host never waits for it.
void copy_to_device_async(void* dst, const void* pinned_src, size_t bytes, cudaStream_t s);
void stream_synchronize(cudaStream_t s);
// Events (timing off) let one stream wait for another without the host.
cudaEvent_t event_create();
// Never throws, as destructors call it; a pending event is released once it completes.
void event_destroy(cudaEvent_t e) noexcept;
void event_record(cudaEvent_t e, cudaStream_t s);
// True once the work recorded before `e` has completed, or if `e` was never recorded;
// never blocks.
bool event_query(cudaEvent_t e);
void event_synchronize(cudaEvent_t e);
// Work queued on `s` from now on runs after the work recorded before `e`.
void stream_wait_event(cudaStream_t s, cudaEvent_t e);

}  // namespace sprout::kernels::cuda
