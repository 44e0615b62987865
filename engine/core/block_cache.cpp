// Free lists by size with a bounded best fit.
#include "engine/core/block_cache.h"

namespace sprout {

size_t BlockCache::round(size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (bytes <= (1u << 20)) return (bytes + 511) / 512 * 512;
  return (bytes + (2u << 20) - 1) / (2u << 20) * (2u << 20);
}

void* BlockCache::get(size_t bytes) {
  const size_t want = exact_ ? (bytes ? bytes : 1) : round(bytes);
  const size_t most = want <= (1u << 20) ? want : want + want / 4;
  if (!exact_) {
    std::lock_guard<std::mutex> g(mu_);
    auto it = free_.lower_bound(want);
    if (it != free_.end() && it->first <= most) {
      void* p = it->second;
      cached_ -= (int64_t)it->first;
      free_.erase(it);
      return p;
    }
  }
  void* p = dev_.malloc(want);
  if (!p) {
    release_all();
    p = dev_.malloc(want);
  }
  if (!p) return nullptr;
  std::lock_guard<std::mutex> g(mu_);
  size_of_[p] = want;
  ++mallocs_;
  return p;
}

void BlockCache::put(void* p) {
  if (!p) return;
  std::lock_guard<std::mutex> g(mu_);
  auto it = size_of_.find(p);
  if (it == size_of_.end()) return;  // not ours: nothing to cache
  if (exact_) {
    dev_.synchronize();  // queued work may still use the block
    dev_.free(p);
    size_of_.erase(it);
    return;
  }
  free_.emplace(it->second, p);
  cached_ += (int64_t)it->second;
}

void BlockCache::release_all() {
  std::lock_guard<std::mutex> g(mu_);
  if (free_.empty()) return;
  dev_.synchronize();  // queued work may still use a cached block
  for (auto& [size, p] : free_) {
    dev_.free(p);
    size_of_.erase(p);
  }
  free_.clear();
  cached_ = 0;
}

int64_t BlockCache::cached_bytes() const {
  std::lock_guard<std::mutex> g(mu_);
  return cached_;
}

int64_t BlockCache::device_mallocs() const {
  std::lock_guard<std::mutex> g(mu_);
  return mallocs_;
}

}  // namespace sprout
