// Every byte sprout allocates goes through here, tagged with a category, so the
// memory report can say exactly what weights, indices, gradients, optimizer state,
// activations and workspace cost, on the CPU and on the GPU.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/core/device.h"

namespace sprout {

enum class MemCategory : uint8_t {
  Weights, Indices, Gradients, Optimizer, Activations, Workspace, Data, Other
};
constexpr int kNumMemCategories = 8;
const char* mem_category_name(MemCategory c);

struct MemStats {
  std::array<int64_t, kNumMemCategories> current{};
  std::array<int64_t, kNumMemCategories> peak{};
  int64_t total_current = 0;
  int64_t total_peak = 0;
  int64_t cached = 0;         // bytes held by the cache, free for reuse (CPU: tensors of 1 MiB and more)
  int64_t device_mallocs = 0; // allocations the cache asked of the system / driver (flat in steady state)
  int64_t cur(MemCategory c) const { return current[(int)c]; }
  int64_t pk(MemCategory c) const { return peak[(int)c]; }
};

class Allocator {
 public:
  // Throws OutOfMemory naming the bytes and category when the device has no room.
  static void* allocate(size_t bytes, Device dev, MemCategory cat);
  static void deallocate(void* p, size_t bytes, Device dev, MemCategory cat);
  static MemStats stats(DeviceType t);
  // Peaks restart from the current figures.
  static void reset_peaks(DeviceType t);
  // Whether large CPU tensors are cached (off in AddressSanitizer builds).
  static bool cpu_caching();
  // Returns cached blocks to the system (CPU) and the driver (CUDA).
  static void empty_cache();
};

// The category new tensors get unless one is passed explicitly. Ops allocate their
// outputs in the current category, so a training loop sets it once per phase.
MemCategory current_mem_category();
class MemoryScope {
 public:
  explicit MemoryScope(MemCategory c);
  ~MemoryScope();
  MemoryScope(const MemoryScope&) = delete;
  MemoryScope& operator=(const MemoryScope&) = delete;
 private:
  MemCategory saved_;
};

}  // namespace sprout
