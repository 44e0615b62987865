// Device queries: what this build and machine offer, and the device names users type.
#include "engine/core/device.h"

#include "engine/core/error.h"
#include "kernels/cuda/runtime.h"

namespace sprout {

bool cuda_compiled() { return kernels::cuda::compiled(); }
bool cuda_available() { return kernels::cuda::compiled() && kernels::cuda::unavailable_reason().empty(); }
std::string cuda_unavailable_reason() {
  return kernels::cuda::compiled() ? kernels::cuda::unavailable_reason()
                                   : std::string("sprout was built without CUDA");
}
void cuda_synchronize() { if (cuda_available()) kernels::cuda::synchronize(); }

Device parse_device(const std::string& s) {
  if (s == "cpu") return Device::cpu();
  if (s == "auto") return cuda_available() ? Device::cuda() : Device::cpu();
  if (s == "cuda" || s.rfind("cuda:", 0) == 0) {
    // One GPU per process: CUDA_VISIBLE_DEVICES chooses which one is cuda:0.
    SPROUT_CHECK(s == "cuda" || s == "cuda:0", "device '", s,
                 "': sprout runs on one GPU, cuda:0; pick it with CUDA_VISIBLE_DEVICES");
    SPROUT_CHECK(cuda_available(), "device '", s, "' requested but ", cuda_unavailable_reason());
    return Device::cuda(0);
  }
  SPROUT_FAIL("unknown device '", s, "' (expected auto, cpu, cuda or cuda:0)");
}

std::string device_name(Device d) {
  if (d.is_cpu()) return "cpu";
  return kernels::cuda::device_name();
}

bool device_memory(Device d, size_t* free_bytes, size_t* total_bytes) {
  if (!d.is_cuda() || !cuda_available()) return false;
  kernels::cuda::mem_get_info(free_bytes, total_bytes);
  return true;
}

}  // namespace sprout
