// CUDA runtime stand-in for builds without CUDA: every query says so, every
// allocation fails with that reason.
#include <stdexcept>

#include "kernels/cuda/runtime.h"

namespace sprout::kernels::cuda {

static const char* kReason = "sprout was built without CUDA";
bool compiled() { return false; }
std::string unavailable_reason() { return kReason; }
void* device_malloc(size_t) { throw std::runtime_error(kReason); }
void device_free(void*) {}
void copy(void*, const void*, size_t, int) { throw std::runtime_error(kReason); }
void memset_zero(void*, size_t) { throw std::runtime_error(kReason); }
void memset_bytes(void*, int, size_t) { throw std::runtime_error(kReason); }
cudaStream_t stream() { return nullptr; }
void synchronize() {}
void mem_get_info(size_t* f, size_t* t) { *f = *t = 0; }
std::string device_name() { return "none"; }
void* host_pinned_malloc(size_t) { throw std::runtime_error(kReason); }
void host_pinned_free(void*) {}
cudaStream_t copy_stream() { return nullptr; }
void copy_to_device_async(void*, const void*, size_t, cudaStream_t) { throw std::runtime_error(kReason); }
void stream_synchronize(cudaStream_t) {}
cudaEvent_t event_create() { throw std::runtime_error(kReason); }
void event_destroy(cudaEvent_t) noexcept {}
void event_record(cudaEvent_t, cudaStream_t) { throw std::runtime_error(kReason); }
bool event_query(cudaEvent_t) { return true; }
void event_synchronize(cudaEvent_t) {}
void stream_wait_event(cudaStream_t, cudaEvent_t) { throw std::runtime_error(kReason); }

}  // namespace sprout::kernels::cuda
