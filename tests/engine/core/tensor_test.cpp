// engine/core: the allocator's per-category counters against the bytes allocated, the
// RNG's stream and moments, and tensor views and slices against hand-written values.
#include "testing.h"

namespace sprout {
namespace {

TEST(Allocator, CountsCurrentAndPeakPerCategory) {
  MemStats before = Allocator::stats(DeviceType::CPU);
  {
    Tensor w = Tensor::empty({1000}, DType::F32, Device::cpu(), MemCategory::Weights);
    Tensor a = Tensor::empty({500}, DType::F64, Device::cpu(), MemCategory::Activations);
    MemStats mid = Allocator::stats(DeviceType::CPU);
    EXPECT_EQ(mid.cur(MemCategory::Weights) - before.cur(MemCategory::Weights), 4000);
    EXPECT_EQ(mid.cur(MemCategory::Activations) - before.cur(MemCategory::Activations), 4000);
  }
  MemStats after = Allocator::stats(DeviceType::CPU);
  EXPECT_EQ(after.cur(MemCategory::Weights), before.cur(MemCategory::Weights));
  EXPECT_GE(after.pk(MemCategory::Weights), before.cur(MemCategory::Weights) + 4000);
}

// Large CPU tensors are reused from the cache (no fresh pages each step), while the
// per-category counters still follow the live tensors only; empty_cache hands the
// blocks back.
TEST(Allocator, LargeCpuTensorsReuseCachedBlocks) {
  if (!Allocator::cpu_caching()) GTEST_SKIP() << "AddressSanitizer builds give every CPU tensor its own allocation";
  const void* first;
  {
    Tensor a = Tensor::empty({1 << 20}, DType::F32, Device::cpu(), MemCategory::Activations);  // 4 MiB
    first = a.raw_data();
  }
  const MemStats mid = Allocator::stats(DeviceType::CPU);
  EXPECT_GE(mid.cached, 4 << 20);
  Tensor b = Tensor::empty({(1 << 20) - 1000}, DType::F32, Device::cpu(), MemCategory::Activations);
  EXPECT_EQ(b.raw_data(), first);  // a slightly smaller tensor takes the same block
  const MemStats after = Allocator::stats(DeviceType::CPU);
  EXPECT_EQ(after.device_mallocs, mid.device_mallocs);
  EXPECT_EQ(after.cur(MemCategory::Activations) - mid.cur(MemCategory::Activations), ((1 << 20) - 1000) * 4);
  b = Tensor();
  // An MLP's activation (batch 128 x 1000 floats, 500 KiB) is large enough too.
  const void* act;
  { act = Tensor::empty({128, 1000}, DType::F32, Device::cpu()).raw_data(); }
  const int64_t mallocs = Allocator::stats(DeviceType::CPU).device_mallocs;
  EXPECT_EQ(Tensor::empty({128, 1000}, DType::F32, Device::cpu()).raw_data(), act);
  EXPECT_EQ(Allocator::stats(DeviceType::CPU).device_mallocs, mallocs);
  Allocator::empty_cache();
  EXPECT_EQ(Allocator::stats(DeviceType::CPU).cached, 0);
}

TEST(Allocator, MemoryScopeSetsDefaultCategory) {
  MemStats before = Allocator::stats(DeviceType::CPU);
  MemoryScope s(MemCategory::Optimizer);
  Tensor t = Tensor::zeros({10, 10});
  EXPECT_EQ(t.category(), MemCategory::Optimizer);
  EXPECT_EQ(Allocator::stats(DeviceType::CPU).cur(MemCategory::Optimizer) -
                before.cur(MemCategory::Optimizer), 400);
}

TEST(Rng, SameSeedSameStream) {
  Rng a(42), b(42), c(43);
  for (int i = 0; i < 100; ++i) {
    uint64_t x = a.next_u64();
    EXPECT_EQ(x, b.next_u64());
    (void)c;
  }
  EXPECT_NE(Rng(42).next_u64(), Rng(43).next_u64());
  // State round trip.
  Rng d(7);
  d.next_u64();
  auto st = d.state();
  uint64_t want = d.next_u64();
  Rng e(0);
  e.set_state(st);
  EXPECT_EQ(e.next_u64(), want);
}

TEST(Rng, NormalHasUnitMoments) {
  Rng r(1);
  double s = 0, s2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) { double v = r.normal(); s += v; s2 += v * v; }
  EXPECT_NEAR(s / n, 0.0, 0.01);
  EXPECT_NEAR(s2 / n, 1.0, 0.01);
}

TEST(Tensor, ViewSharesStorage) {
  Tensor t = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor v = t.view({3, 2});
  v.data<float>()[5] = 60;
  EXPECT_EQ(t.data<float>()[5], 60);
  EXPECT_THROW(t.view({4}), Error);
  EXPECT_THROW(t.data<double>(), Error);
}

TEST(Tensor, SliceIsAWindowOfRows) {
  Tensor t = Tensor::from_vector<float>({0, 1, 2, 3, 4, 5, 6, 7}, {4, 2});
  Tensor s = t.slice(1, 2);
  EXPECT_EQ(s.shape(), (Shape{2, 2}));
  EXPECT_EQ(s.to_vector<float>(), (std::vector<float>{2, 3, 4, 5}));
  s.copy_from(Tensor::from_vector<float>({9, 9, 9, 9}, {2, 2}));  // writes through
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{0, 1, 9, 9, 9, 9, 6, 7}));
  EXPECT_EQ(t.slice(4, 0).numel(), 0);
  EXPECT_THROW(t.slice(3, 2), Error);
  EXPECT_THROW(t.slice(-1, 1), Error);
}

}  // namespace
}  // namespace sprout
