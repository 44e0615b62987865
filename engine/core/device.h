// Where a tensor lives. CUDA is always a valid value; whether a GPU is usable is
// answered at run time by cuda_available().
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace sprout {

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }
  static Device cpu() { return Device{DeviceType::CPU, 0}; }
  static Device cuda(int i = 0) { return Device{DeviceType::CUDA, i}; }
};

// True when sprout was built with CUDA and a GPU answers.
bool cuda_available();
// True when sprout was built with CUDA (whether or not a GPU is present).
bool cuda_compiled();
// Why CUDA is not available ("built without CUDA", the driver's error string, ...).
std::string cuda_unavailable_reason();
// Parses "cpu", "cuda", "cuda:0", "auto" (cuda when available, else cpu). One GPU per
// process: CUDA_VISIBLE_DEVICES chooses which one is cuda:0.
Device parse_device(const std::string& s);
// Blocks until all work queued on the current CUDA stream is done (no-op on CPU builds).
void cuda_synchronize();
// "cpu", or the GPU's name.
std::string device_name(Device d);
// Free and total bytes of a CUDA device; false (nothing written) for the CPU.
bool device_memory(Device d, size_t* free_bytes, size_t* total_bytes);

}  // namespace sprout
