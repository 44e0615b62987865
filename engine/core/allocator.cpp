// CPU allocations are 64-byte aligned heap blocks; CUDA allocations come from a
// caching allocator (engine/core/block_cache.h over cudaMalloc) so the steady state of
// a training loop makes no driver calls.
#include "engine/core/allocator.h"

#include <cstdlib>
#include <mutex>
#include <string>

#include "engine/core/block_cache.h"
#include "engine/core/error.h"
#include "kernels/cuda/runtime.h"

namespace sprout {

const char* mem_category_name(MemCategory c) {
  static const char* names[] = {"weights", "indices", "gradients", "optimizer",
                                "activations", "workspace", "data", "other"};
  return names[(int)c];
}

namespace {

struct Ledger {
  std::mutex mu;
  MemStats s;
  void add(MemCategory c, int64_t bytes) {
    std::lock_guard<std::mutex> g(mu);
    int i = (int)c;
    s.current[i] += bytes;
    s.total_current += bytes;
    if (s.current[i] > s.peak[i]) s.peak[i] = s.current[i];
    if (s.total_current > s.total_peak) s.total_peak = s.total_current;
  }
};

Ledger& ledger(DeviceType t) {
  static Ledger cpu, cuda;
  return t == DeviceType::CPU ? cpu : cuda;
}

// SPROUT_CUDA_ALLOC_EXACT=1: every tensor its own exact-size cudaMalloc, freed at once,
// so compute-sanitizer sees each tensor's true bounds (slow; for checking only).
bool exact_allocations() {
  const char* v = std::getenv("SPROUT_CUDA_ALLOC_EXACT");
  return v && v[0] != '\0' && std::string(v) != "0";
}

BlockCache& cuda_cache() {
  // Never destroyed: outlives static tensors.
  static BlockCache* c = new BlockCache(
      BlockCache::Device{[](size_t bytes) { return kernels::cuda::device_malloc(bytes); },
                         [](void* p) { kernels::cuda::device_free(p); }, [] { kernels::cuda::synchronize(); }},
      exact_allocations());
  return *c;
}

// CPU tensors of at least this size (glibc's default mmap threshold) come from a cache
// too: glibc maps them fresh on every allocation, so each training step paid a page
// fault (and the kernel's zeroing) per 4 KiB of every activation and gradient.
constexpr size_t kCpuCacheMin = size_t(128) << 10;

// AddressSanitizer builds (GCC's macro, clang's feature test) give every CPU tensor its
// own allocation, so the sanitizer sees each one's bounds and lifetime.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAsan = true;
#else
constexpr bool kAsan = false;
#endif
#else
constexpr bool kAsan = false;
#endif

BlockCache& cpu_cache() {
  const bool exact = kAsan;
  static BlockCache* c = new BlockCache(
      BlockCache::Device{[](size_t bytes) { return std::aligned_alloc(64, (bytes + 63) / 64 * 64); },
                         [](void* p) { std::free(p); }, [] {}},
      exact);
  return *c;
}

thread_local MemCategory tl_category = MemCategory::Other;

}  // namespace

void* Allocator::allocate(size_t bytes, Device dev, MemCategory cat) {
  if (bytes == 0) bytes = 1;
  void* p = nullptr;
  if (dev.is_cpu()) {
    p = bytes >= kCpuCacheMin ? cpu_cache().get(bytes) : std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!p)
      throw OutOfMemory(detail::concat("out of memory: cannot allocate ", bytes,
                                       " bytes on cpu for ", mem_category_name(cat)));
  } else {
    std::string why = kernels::cuda::unavailable_reason();
    SPROUT_CHECK(why.empty(), "cannot allocate on ", dev.str(), ": ", why);
    p = cuda_cache().get(bytes);
    if (!p)
      throw OutOfMemory(detail::concat("out of memory: cannot allocate ", bytes,
                                       " bytes on ", dev.str(), " for ", mem_category_name(cat)));
  }
  ledger(dev.type).add(cat, (int64_t)bytes);
  return p;
}

void Allocator::deallocate(void* p, size_t bytes, Device dev, MemCategory cat) {
  if (!p) return;
  if (bytes == 0) bytes = 1;
  if (dev.is_cpu()) {
    if (bytes >= kCpuCacheMin) cpu_cache().put(p);
    else std::free(p);
  } else {
    cuda_cache().put(p);
  }
  ledger(dev.type).add(cat, -(int64_t)bytes);
}

MemStats Allocator::stats(DeviceType t) {
  Ledger& l = ledger(t);
  std::lock_guard<std::mutex> g(l.mu);
  MemStats s = l.s;
  BlockCache& cache = t == DeviceType::CUDA ? cuda_cache() : cpu_cache();
  s.cached = cache.cached_bytes();
  s.device_mallocs = cache.device_mallocs();
  return s;
}

void Allocator::reset_peaks(DeviceType t) {
  Ledger& l = ledger(t);
  std::lock_guard<std::mutex> g(l.mu);
  l.s.peak = l.s.current;
  l.s.total_peak = l.s.total_current;
}

bool Allocator::cpu_caching() { return !cpu_cache().exact(); }

void Allocator::empty_cache() {
  cpu_cache().release_all();
  if (kernels::cuda::compiled()) cuda_cache().release_all();
}

MemCategory current_mem_category() { return tl_category; }
MemoryScope::MemoryScope(MemCategory c) : saved_(tl_category) { tl_category = c; }
MemoryScope::~MemoryScope() { tl_category = saved_; }

}  // namespace sprout
