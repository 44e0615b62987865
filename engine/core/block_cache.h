// The caching policy of the CUDA allocator, apart from the driver so it is tested on the
// CPU: sizes are rounded (512 B small, 2 MiB large), a freed block goes to a free list,
// and a request takes the smallest free block that fits with little waste (exactly its
// rounded size when small, at most a quarter more when large), so tensors that shrink a
// little (a pruned layer) reuse the old blocks. Only when no block fits does it call the
// device; when that fails it returns every cached block (after a sync) and tries once more.
// In exact mode (for compute-sanitizer, which can only see the bounds the driver knows)
// every request is its own device allocation of exactly its size, freed at once on put.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>

namespace sprout {

class BlockCache {
 public:
  struct Device {
    std::function<void*(size_t)> malloc;  // null when out of memory
    std::function<void(void*)> free;
    std::function<void()> synchronize;    // before cached blocks go back to the device
  };
  explicit BlockCache(Device d, bool exact = false) : dev_(std::move(d)), exact_(exact) {}

  static size_t round(size_t bytes);
  // A block of at least `bytes`, or null when the device has no room even after the
  // cache was returned to it.
  void* get(size_t bytes);
  // Gives back a block from get().
  void put(void* p);
  // Returns every cached (free) block to the device.
  void release_all();

  int64_t cached_bytes() const;
  int64_t device_mallocs() const;
  bool exact() const { return exact_; }

 private:
  Device dev_;
  const bool exact_;
  mutable std::mutex mu_;
  std::multimap<size_t, void*> free_;         // block size -> free block
  std::unordered_map<void*, size_t> size_of_;  // every block the device gave, free or in use
  int64_t cached_ = 0, mallocs_ = 0;
};

}  // namespace sprout
