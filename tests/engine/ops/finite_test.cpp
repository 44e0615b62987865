// The non-finite flag: clear on finite data, the lowest mark wins, NaN and both
// infinities count, integer tensors never do; float64 on the CPU; and the CUDA kernel
// against its CPU twin at odd sizes (skipped, saying why, without a GPU).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "engine/core/error.h"
#include "engine/ops/finite.h"
#include "testing.h"

namespace sprout {
namespace {

using testing::devices_under_test;

constexpr float kInf = std::numeric_limits<float>::infinity();

Tensor floats(const std::vector<float>& v, Device dev) {
  return Tensor::from_vector(v, {(int64_t)v.size()}).to(dev);
}

// The flag after marking each of `xs` with its index.
int64_t flag_after(const std::vector<std::vector<float>>& xs, Device dev) {
  Tensor flag = ops::make_finite_flag(dev);
  for (size_t i = 0; i < xs.size(); ++i) ops::mark_non_finite(floats(xs[i], dev), (int64_t)i, flag);
  return ops::read_flag(flag);
}

class Finite : public ::testing::TestWithParam<Device> {
 protected:
  void SetUp() override { SPROUT_SKIP_IF_NO_DEVICE(GetParam()); }
};

TEST_P(Finite, TheLowestMarkOfANonFiniteTensorWins) {
  const Device dev = GetParam();
  EXPECT_EQ(flag_after({{1, -2, 3e38f}, {0}}, dev), -1);
  EXPECT_EQ(flag_after({{1, 2}, {3, std::nanf("")}, {kInf}}, dev), 1);
  EXPECT_EQ(flag_after({{1}, {2}, {-kInf, 0}}, dev), 2);
  EXPECT_EQ(flag_after({{}, {1}}, dev), -1);
  // A later, lower mark still lowers the flag.
  Tensor flag = ops::make_finite_flag(dev);
  ops::mark_non_finite(floats({kInf}, dev), 9, flag);
  ops::mark_non_finite(floats({std::nanf("")}, dev), 4, flag);
  ops::mark_non_finite(floats({kInf}, dev), 6, flag);
  EXPECT_EQ(ops::read_flag(flag), 4);
}

// One bad value anywhere in a large tensor, at the first, a middle and the last index.
TEST_P(Finite, FindsOneBadValueInALargeTensor) {
  const Device dev = GetParam();
  const int64_t n = 1000003;
  for (int64_t at : {int64_t{0}, n / 2 + 17, n - 1}) {
    std::vector<float> v((size_t)n, 0.5f);
    v[(size_t)at] = std::nanf("");
    EXPECT_EQ(flag_after({v}, dev), 0) << "at " << at;
  }
  EXPECT_EQ(flag_after({std::vector<float>((size_t)n, -1.f)}, dev), -1);
}

TEST_P(Finite, IntegerTensorsAreAlwaysFinite) {
  const Device dev = GetParam();
  Tensor flag = ops::make_finite_flag(dev);
  ops::mark_non_finite(Tensor::zeros({5}, DType::I32, dev), 0, flag);
  EXPECT_EQ(ops::read_flag(flag), -1);
}

INSTANTIATE_TEST_SUITE_P(Devices, Finite, ::testing::ValuesIn(devices_under_test()), testing::device_param_name);

TEST(FiniteCpu, Float64AndArgumentChecks) {
  Tensor flag = ops::make_finite_flag(Device::cpu());
  Tensor d = Tensor::from_vector(std::vector<double>{1.0, std::numeric_limits<double>::infinity()}, {2});
  ops::mark_non_finite(d, 3, flag);
  EXPECT_EQ(ops::read_flag(flag), 3);
  EXPECT_THROW(ops::mark_non_finite(d, -1, flag), Error);
  EXPECT_THROW(ops::mark_non_finite(d, 0, Tensor::zeros({2}, DType::I64)), Error);
}

// The CUDA kernel against its CPU twin: the same flag for the same tensors and marks.
TEST(FiniteCudaParity, SameFlagAsTheCpu) {
  SPROUT_SKIP_IF_NO_DEVICE(Device::cuda());
  for (int64_t n : {1, 31, 257, 65537}) {
    for (int64_t bad : {int64_t{-1}, int64_t{0}, n - 1}) {
      std::vector<float> v((size_t)n);
      for (int64_t i = 0; i < n; ++i) v[(size_t)i] = (float)(i % 13) - 6.f;
      if (bad >= 0) v[(size_t)bad] = bad % 2 ? kInf : std::nanf("");
      const std::vector<std::vector<float>> xs{std::vector<float>((size_t)n, 1.f), v, v};
      EXPECT_EQ(flag_after(xs, Device::cuda()), flag_after(xs, Device::cpu())) << "n " << n << " bad " << bad;
    }
  }
}

}  // namespace
}  // namespace sprout
