// The CUDA allocator's caching policy on a fake device: reuse without device calls in a
// steady state, bounded best fit, sizes remembered per block, and a full release (after
// a sync) before a failed allocation is retried; and the exact mode compute-sanitizer uses.
#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

#include "engine/core/block_cache.h"

namespace sprout {
namespace {

struct FakeDevice {
  explicit FakeDevice(int64_t bytes) : capacity(bytes) {}
  // Blocks still cached when a test ends go with the device, as device memory goes with
  // its context (the cache itself never frees at exit).
  ~FakeDevice() {
    for (void* p : live) std::free(p);
  }
  int64_t capacity, used = 0, mallocs = 0, frees = 0, syncs = 0;
  std::set<void*> live;
  std::unordered_map<void*, size_t> sizes;
  BlockCache::Device device() {
    return {[this](size_t b) -> void* {
              if (used + (int64_t)b > capacity) return nullptr;
              void* p = std::malloc(b);
              used += (int64_t)b;
              ++mallocs;
              live.insert(p);
              sizes[p] = b;
              return p;
            },
            [this](void* p) {
              ++frees;
              used -= (int64_t)sizes[p];
              live.erase(p);
              std::free(p);
            },
            [this] { ++syncs; }};
  }
};

constexpr size_t MiB = 1u << 20;

TEST(BlockCache, RoundsSmallAndLargeSizes) {
  EXPECT_EQ(BlockCache::round(0), 512u);
  EXPECT_EQ(BlockCache::round(1), 512u);
  EXPECT_EQ(BlockCache::round(513), 1024u);
  EXPECT_EQ(BlockCache::round(MiB), MiB);
  EXPECT_EQ(BlockCache::round(MiB + 1), 2 * MiB);
  EXPECT_EQ(BlockCache::round(5 * MiB), 6 * MiB);
}

TEST(BlockCache, SteadyStateMakesNoDeviceCalls) {
  FakeDevice d(1 << 30);
  BlockCache c(d.device());
  for (int step = 0; step < 5; ++step) {
    void* a = c.get(1000);
    void* b = c.get(3 * MiB);
    void* w = c.get(100);
    c.put(w);
    c.put(b);
    c.put(a);
  }
  EXPECT_EQ(d.mallocs, 3);
  EXPECT_EQ(c.device_mallocs(), 3);
  EXPECT_EQ(c.cached_bytes(), (int64_t)(1024 + 4 * MiB + 512));
}

TEST(BlockCache, BestFitWithinAQuarterForLargeBlocks) {
  FakeDevice d(1 << 30);
  BlockCache c(d.device());
  void* big = c.get(10 * MiB);   // 10 MiB block
  c.put(big);
  EXPECT_EQ(c.get(9 * MiB), big);  // 10 <= 10 + 2.5: reused (a slightly pruned layer)
  c.put(big);
  void* small = c.get(6 * MiB);  // 10 > 6 + 1.5: a new block
  EXPECT_NE(small, big);
  c.put(small);
  // A reused block keeps its own size: given back, it serves a 10 MiB request again.
  EXPECT_EQ(c.get(10 * MiB), big);
  c.put(big);
  // Small sizes match exactly.
  void* s1 = c.get(1024);
  c.put(s1);
  EXPECT_NE(c.get(512), s1);
  EXPECT_EQ(d.mallocs, 4);  // 10 MiB, 6 MiB, 1 KiB, 512 B
}

TEST(BlockCache, ReleasesTheCacheBeforeGivingUp) {
  FakeDevice d(8 * (int64_t)MiB);
  BlockCache c(d.device());
  void* a = c.get(4 * MiB);
  void* b = c.get(2 * MiB);
  c.put(a);
  c.put(b);  // 6 MiB cached, 2 MiB free on the device
  void* x = c.get(5 * MiB);  // 6 MiB: no cached fit, 2 MiB left on the device: release, retry
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(d.syncs, 1);
  EXPECT_EQ(d.frees, 2);
  EXPECT_EQ(c.cached_bytes(), 0);
  EXPECT_EQ(c.get(16 * MiB), nullptr);  // larger than the device
  c.put(x);
  c.release_all();
  EXPECT_TRUE(d.live.empty());
  EXPECT_EQ(d.used, 0);
}

}  // namespace
}  // namespace sprout

namespace sprout {
namespace {

// SPROUT_CUDA_ALLOC_EXACT's mode, for compute-sanitizer: each request its own device
// allocation of exactly its size, freed (after a sync) as soon as it is put back.
TEST(BlockCache, ExactModeAllocatesExactSizesAndFreesAtOnce) {
  FakeDevice d(1 << 30);
  BlockCache c(d.device(), /*exact=*/true);
  EXPECT_TRUE(c.exact());
  for (int step = 0; step < 3; ++step) {
    void* a = c.get(1000);
    void* b = c.get(3 * MiB + 7);
    void* z = c.get(0);
    EXPECT_EQ(d.sizes[a], 1000u);
    EXPECT_EQ(d.sizes[b], 3 * MiB + 7);
    EXPECT_EQ(d.sizes[z], 1u);
    EXPECT_EQ(d.used, (int64_t)(1000 + 3 * MiB + 7 + 1));
    c.put(a);
    c.put(b);
    c.put(z);
    EXPECT_EQ(d.used, 0);
    EXPECT_TRUE(d.live.empty());
  }
  EXPECT_EQ(d.mallocs, 9);  // no reuse
  EXPECT_EQ(d.frees, 9);
  EXPECT_EQ(d.syncs, 9);    // every free waits for queued work first
  EXPECT_EQ(c.cached_bytes(), 0);
  EXPECT_EQ(c.device_mallocs(), 9);
}

}  // namespace
}  // namespace sprout
