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
cudaStream_t stream() { return nullptr; }
void synchronize() {}
void mem_get_info(size_t* f, size_t* t) { *f = *t = 0; }
std::string device_name() { return "none"; }
void* host_pinned_malloc(size_t) { throw std::runtime_error(kReason); }
void host_pinned_free(void*) {}

}  // namespace sprout::kernels::cuda
