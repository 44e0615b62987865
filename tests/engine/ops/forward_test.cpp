// Forward values of the CNN ops against naive reference loops written here, batch
// norm's running-statistic updates, argument checks, workspace bounds, and the nn
// modules built on the ops.
#include "testing.h"

#include <cmath>
#include <limits>

#include "engine/autograd/node.h"
#include "engine/nn/conv_layers.h"
#include "engine/ops/batchnorm.h"
#include "engine/ops/conv.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/im2col.h"
#include "engine/ops/pool.h"
#include "kernels/cpu/im2col.h"

namespace sprout {
namespace {

using testing::randn;

// Direct convolution: y[n,o,i,j] = b[o] + sum_{c,p,q} x[n,c,i*s-pad+p, j*s-pad+q] w[o,c,p,q].
std::vector<double> conv_reference(const Tensor& x, const Tensor& w, const Tensor& b,
                                   int64_t s, int64_t pad) {
  int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  int64_t O = w.size(0), kh = w.size(2), kw = w.size(3);
  int64_t Ho = (H + 2 * pad - kh) / s + 1, Wo = (W + 2 * pad - kw) / s + 1;
  const double* xp = x.data<double>();
  const double* wp = w.data<double>();
  std::vector<double> y((size_t)(N * O * Ho * Wo));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t i = 0; i < Ho; ++i)
        for (int64_t j = 0; j < Wo; ++j) {
          double acc = b.defined() ? b.data<double>()[o] : 0.0;
          for (int64_t c = 0; c < C; ++c)
            for (int64_t p = 0; p < kh; ++p)
              for (int64_t q = 0; q < kw; ++q) {
                int64_t h = i * s - pad + p, v = j * s - pad + q;
                if (h < 0 || h >= H || v < 0 || v >= W) continue;
                acc += xp[((n * C + c) * H + h) * W + v] * wp[((o * C + c) * kh + p) * kw + q];
              }
          y[(size_t)(((n * O + o) * Ho + i) * Wo + j)] = acc;
        }
  return y;
}

void expect_all_near(const Tensor& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.numel(), (int64_t)want.size());
  for (int64_t i = 0; i < got.numel(); ++i)
    ASSERT_NEAR(testing::as_double(got, i), want[(size_t)i], tol * std::max(1.0, std::fabs(want[(size_t)i])))
        << "element " << i;
}

struct ConvCase { int64_t n, c, h, w, o, k, stride, pad; };

class ConvForward : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvForward, MatchesDirectLoop) {
  ConvCase p = GetParam();
  Tensor x = randn({p.n, p.c, p.h, p.w}, 1), w = randn({p.o, p.c, p.k, p.k}, 2), b = randn({p.o}, 3);
  Tensor y = ops::conv2d(x, w, b, p.stride, p.pad);
  int64_t Ho = (p.h + 2 * p.pad - p.k) / p.stride + 1, Wo = (p.w + 2 * p.pad - p.k) / p.stride + 1;
  EXPECT_EQ(y.shape(), (Shape{p.n, p.o, Ho, Wo}));
  expect_all_near(y, conv_reference(x, w, b, p.stride, p.pad), 1e-12);
  // No bias, float32.
  Tensor yf = ops::conv2d(x.to_dtype(DType::F32), w.to_dtype(DType::F32), Tensor(), p.stride, p.pad);
  expect_all_near(yf, conv_reference(x, w, Tensor(), p.stride, p.pad), 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Shapes, ConvForward, ::testing::Values(
    ConvCase{2, 3, 7, 5, 4, 3, 1, 1}, ConvCase{3, 2, 9, 8, 5, 3, 2, 1},
    ConvCase{1, 4, 6, 7, 3, 5, 2, 2}, ConvCase{2, 5, 11, 9, 6, 1, 1, 0},
    ConvCase{2, 3, 8, 8, 4, 1, 2, 0}, ConvCase{1, 2, 3, 3, 2, 3, 1, 0},
    ConvCase{2, 3, 16, 16, 8, 7, 2, 3}));

TEST(ConvForward, ManyChunksStayInsideTheWorkspaceBudget) {
  // 9 + 1 floats of workspace per output pixel and image: 210 images of 64x64 need
  // two chunks under the 64 MiB cap.
  Tensor x = randn({210, 1, 64, 64}, 4), w = randn({1, 1, 3, 3}, 5), b = randn({1}, 6);
  MemStats before = Allocator::stats(DeviceType::CPU);
  Allocator::reset_peaks(DeviceType::CPU);
  Tensor y = ops::conv2d(x, w, b, 1, 1);
  MemStats after = Allocator::stats(DeviceType::CPU);
  int64_t ws_peak = after.pk(MemCategory::Workspace) - before.cur(MemCategory::Workspace);
  EXPECT_GT(ws_peak, 0);
  EXPECT_LE(ws_peak, (int64_t)ops::conv_workspace_bytes());
  EXPECT_EQ(after.cur(MemCategory::Workspace), before.cur(MemCategory::Workspace));
  expect_all_near(y, conv_reference(x, w, b, 1, 1), 1e-12);
}

TEST(ConvForward, RejectsBadShapes) {
  Tensor x = randn({1, 3, 5, 5}, 7);
  EXPECT_THROW(ops::conv2d(x, randn({2, 4, 3, 3}, 8), Tensor()), Error);      // channels
  EXPECT_THROW(ops::conv2d(x, randn({2, 3, 7, 7}, 9), Tensor()), Error);      // kernel > input
  EXPECT_THROW(ops::conv2d(x, randn({2, 3, 3, 3}, 10), randn({3}, 11)), Error);  // bias
  EXPECT_THROW(ops::conv2d(x, randn({2, 3, 3, 3}, 10), Tensor(), 0), Error);  // stride
  EXPECT_THROW(ops::conv2d(randn({3, 5, 5}, 12), randn({2, 3, 3, 3}, 10), Tensor()), Error);
}

TEST(ConvForward, NoGraphUnderNoGrad) {
  Tensor x = randn({1, 2, 4, 4}, 13), w = randn({3, 2, 3, 3}, 14);
  x.set_requires_grad(true);
  w.set_requires_grad(true);
  autograd::NoGradGuard ng;
  Tensor y = ops::conv2d(x, w, Tensor(), 1, 1);
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(y.grad_fn(), nullptr);
}

TEST(Im2col, FoldIsTheAdjointOfUnfold) {
  // <im2col(x), c> == <x, col2im(c)> for every geometry: the backward pass relies on it.
  for (int64_t stride : {1, 2, 3})
    for (int64_t pad : {0, 1, 2}) {
      int64_t N = 2, C = 3, H = 7, W = 6, k = 3;
      int64_t Ho = kernels::cpu::conv_out_size(H, k, stride, pad);
      int64_t Wo = kernels::cpu::conv_out_size(W, k, stride, pad);
      Tensor x = randn({N, C, H, W}, 15), c = randn({C * k * k, N * Ho * Wo}, 16);
      Tensor cols = Tensor::zeros(c.shape(), DType::F64), folded = Tensor::zeros(x.shape(), DType::F64);
      kernels::cpu::im2col_batch(x.data<double>(), N, C, H, W, k, k, stride, pad, cols.data<double>());
      kernels::cpu::col2im_batch(c.data<double>(), N, C, H, W, k, k, stride, pad, folded.data<double>());
      double lhs = 0, rhs = 0;
      for (int64_t i = 0; i < c.numel(); ++i) lhs += cols.data<double>()[i] * c.data<double>()[i];
      for (int64_t i = 0; i < x.numel(); ++i) rhs += x.data<double>()[i] * folded.data<double>()[i];
      EXPECT_NEAR(lhs, rhs, 1e-9 * std::max(1.0, std::fabs(lhs))) << "stride " << stride << " pad " << pad;
      // The single-image form is the batched one with N = 1.
      Tensor one = Tensor::zeros({C * k * k, Ho * Wo}, DType::F64);
      kernels::cpu::im2col(x.data<double>(), C, H, W, k, k, stride, pad, one.data<double>());
      for (int64_t r = 0; r < C * k * k; ++r)
        for (int64_t j = 0; j < Ho * Wo; ++j)
          ASSERT_EQ(one.data<double>()[r * Ho * Wo + j], cols.data<double>()[r * N * Ho * Wo + j]);
    }
}

TEST(BatchNorm, TrainForwardAndRunningStats) {
  int64_t N = 3, C = 2, H = 2, W = 3, M = N * H * W;
  Tensor x = randn({N, C, H, W}, 17), g = randn({C}, 18), b = randn({C}, 19);
  Tensor rm = Tensor::zeros({C}, DType::F64), rv = Tensor::full({C}, 1.0, DType::F64);
  Tensor y = ops::batch_norm2d(x, g, b, rm, rv, true, 0.1, 1e-5);
  std::vector<double> want((size_t)x.numel()), means, unbiased;
  const double* xp = x.data<double>();
  for (int64_t c = 0; c < C; ++c) {
    double s = 0, ss = 0;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < H * W; ++i) s += xp[(n * C + c) * H * W + i];
    double mean = s / M;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < H * W; ++i) ss += std::pow(xp[(n * C + c) * H * W + i] - mean, 2);
    double var = ss / M;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < H * W; ++i) {
        int64_t k = (n * C + c) * H * W + i;
        want[(size_t)k] = (xp[k] - mean) / std::sqrt(var + 1e-5) * g.data<double>()[c] + b.data<double>()[c];
      }
    means.push_back(mean);
    unbiased.push_back(ss / (M - 1));
    EXPECT_NEAR(rm.data<double>()[c], 0.1 * mean, 1e-12);
    EXPECT_NEAR(rv.data<double>()[c], 0.9 + 0.1 * unbiased.back(), 1e-12);
  }
  expect_all_near(y, want, 1e-12);
  // A second step moves the running statistics again from where they are.
  ops::batch_norm2d(x, g, b, rm, rv, true, 0.1, 1e-5);
  for (int64_t c = 0; c < C; ++c) {
    EXPECT_NEAR(rm.data<double>()[c], 0.9 * 0.1 * means[c] + 0.1 * means[c], 1e-12);
    EXPECT_NEAR(rv.data<double>()[c], 0.9 * (0.9 + 0.1 * unbiased[c]) + 0.1 * unbiased[c], 1e-12);
  }
}

TEST(BatchNorm, EvalUsesRunningStatsAndLeavesThem) {
  Tensor x = randn({2, 3, 2, 2}, 20), g = randn({3}, 21), b = randn({3}, 22);
  Tensor rm = randn({3}, 23), rv = Tensor::from_vector<double>({0.5, 2.0, 1.5}, {3});
  Tensor rm0 = rm.clone(), rv0 = rv.clone();
  Tensor y = ops::batch_norm2d(x, g, b, rm, rv, false, 0.1, 1e-5);
  std::vector<double> want((size_t)x.numel());
  for (int64_t i = 0; i < x.numel(); ++i) {
    int64_t c = (i / 4) % 3;
    want[(size_t)i] = (x.data<double>()[i] - rm.data<double>()[c]) /
                          std::sqrt(rv.data<double>()[c] + 1e-5) * g.data<double>()[c] + b.data<double>()[c];
  }
  expect_all_near(y, want, 1e-12);
  expect_all_near(rm, rm0.to_vector<double>(), 0);
  expect_all_near(rv, rv0.to_vector<double>(), 0);
}

TEST(BatchNorm, RejectsBadArguments) {
  Tensor x = randn({2, 3, 2, 2}, 24);
  EXPECT_THROW(ops::batch_norm2d(x, randn({2}, 25), Tensor(), Tensor(), Tensor(), true), Error);
  EXPECT_THROW(ops::batch_norm2d(x, Tensor(), Tensor(), Tensor(), Tensor(), false), Error);
  EXPECT_THROW(ops::batch_norm2d(randn({1, 3, 1, 1}, 26), Tensor(), Tensor(), Tensor(), Tensor(), true), Error);
}

// Naive pooling: max over the window (padding never wins), or the window sum / k^2.
std::vector<double> pool_reference(const Tensor& x, int64_t k, int64_t s, int64_t pad, bool max) {
  int64_t P = x.size(0) * x.size(1), H = x.size(2), W = x.size(3);
  int64_t Ho = (H + 2 * pad - k) / s + 1, Wo = (W + 2 * pad - k) / s + 1;
  std::vector<double> y;
  for (int64_t p = 0; p < P; ++p)
    for (int64_t i = 0; i < Ho; ++i)
      for (int64_t j = 0; j < Wo; ++j) {
        double acc = max ? -std::numeric_limits<double>::infinity() : 0.0;
        for (int64_t a = 0; a < k; ++a)
          for (int64_t b = 0; b < k; ++b) {
            int64_t h = i * s - pad + a, w = j * s - pad + b;
            if (h < 0 || h >= H || w < 0 || w >= W) continue;
            double v = x.data<double>()[(p * H + h) * W + w];
            acc = max ? std::max(acc, v) : acc + v;
          }
        y.push_back(max ? acc : acc / (double)(k * k));
      }
  return y;
}

TEST(Pooling, MaxAndAvgMatchNaiveLoops) {
  struct Case { int64_t h, w, k, s, pad; };
  for (Case c : {Case{4, 6, 2, 2, 0}, Case{7, 5, 3, 2, 1}, Case{5, 5, 3, 1, 1}, Case{9, 8, 3, 3, 0},
                 Case{6, 7, 5, 2, 2}, Case{7, 6, 1, 2, 0}, Case{9, 9, 1, 3, 0}}) {
    Tensor x = randn({2, 3, c.h, c.w}, 27);
    expect_all_near(ops::max_pool2d(x, c.k, c.s, c.pad), pool_reference(x, c.k, c.s, c.pad, true), 0);
    expect_all_near(ops::avg_pool2d(x, c.k, c.s, c.pad), pool_reference(x, c.k, c.s, c.pad, false), 1e-12);
  }
}

TEST(Pooling, MaxPoolPropagatesNaN) {
  Tensor x = Tensor::from_vector<float>({1, NAN, 3, 2}, {1, 1, 2, 2});
  Tensor y = ops::max_pool2d(x, 2, 2);
  EXPECT_TRUE(std::isnan(y.data<float>()[0]));
  // The first NaN of a window is its maximum, so the gradient goes there (PyTorch's rule).
  Tensor x2 = Tensor::from_vector<float>({1, NAN, NAN, 2}, {1, 1, 2, 2});
  x2.set_requires_grad(true);
  ops::sum(ops::max_pool2d(x2, 2, 2)).backward();
  const float* g = x2.grad().data<float>();
  EXPECT_EQ(g[0], 0.f);
  EXPECT_EQ(g[1], 1.f);
  EXPECT_EQ(g[2], 0.f);
  EXPECT_EQ(g[3], 0.f);
}

TEST(Pooling, MaxPoolTiesGoToTheFirstElementOfTheWindow) {
  // All zeros, k 3, stride 2, pad 1 on 5 x 5: each window's first in-plane element wins.
  Tensor x = Tensor::zeros({1, 1, 5, 5}, DType::F32, Device::cpu());
  x.set_requires_grad(true);
  ops::sum(ops::max_pool2d(x, 3, 2, 1)).backward();
  std::vector<float> want(25, 0.f);
  for (int h : {0, 1, 3})
    for (int w : {0, 1, 3}) want[(size_t)(h * 5 + w)] = 1.f;
  EXPECT_EQ(x.grad().to_vector<float>(), want);
}

TEST(Pooling, DefaultStrideIsKernelAndPadIsChecked) {
  Tensor x = randn({1, 1, 6, 6}, 28);
  EXPECT_EQ(ops::max_pool2d(x, 3).shape(), (Shape{1, 1, 2, 2}));
  EXPECT_THROW(ops::max_pool2d(x, 3, 1, 2), Error);  // pad > k / 2
  EXPECT_THROW(ops::avg_pool2d(x, 7), Error);         // window larger than the input
}

TEST(Pooling, GlobalAvgPool) {
  Tensor x = randn({2, 3, 4, 5}, 29);
  Tensor y = ops::global_avg_pool(x);
  ASSERT_EQ(y.shape(), (Shape{2, 3}));
  for (int64_t p = 0; p < 6; ++p) {
    double s = 0;
    for (int64_t i = 0; i < 20; ++i) s += x.data<double>()[p * 20 + i];
    EXPECT_NEAR(y.data<double>()[p], s / 20, 1e-12);
  }
}

TEST(ConvLayers, Conv2dInitAndParameters) {
  nn::Conv2d conv(3, 8, 3, 2, 1);
  auto params = conv.parameters();
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0].name, "weight");
  EXPECT_EQ(params[1].name, "bias");
  EXPECT_EQ(conv.weight.shape(), (Shape{8, 3, 3, 3}));
  EXPECT_EQ(conv.weight.category(), MemCategory::Weights);
  EXPECT_TRUE(conv.weight.requires_grad());
  double bound = 1.0 / std::sqrt(27.0), mx = 0;
  for (float v : conv.weight.to_vector<float>()) mx = std::max(mx, (double)std::fabs(v));
  EXPECT_LE(mx, bound);
  EXPECT_GT(mx, 0.8 * bound);  // 216 draws reach near the bound
  for (float v : conv.bias.to_vector<float>()) EXPECT_LE(std::fabs(v), bound);
  Tensor y = conv.forward(randn({2, 3, 9, 9}, 30, DType::F32));
  EXPECT_EQ(y.shape(), (Shape{2, 8, 5, 5}));
  nn::Conv2d nobias(4, 2, 1, 1, 0, false);
  EXPECT_EQ(nobias.parameters().size(), 1u);
}

TEST(ConvLayers, BatchNorm2dModesAndBuffers) {
  nn::BatchNorm2d bn(3);
  EXPECT_EQ(bn.weight.to_vector<float>(), std::vector<float>(3, 1.f));
  EXPECT_EQ(bn.bias.to_vector<float>(), std::vector<float>(3, 0.f));
  auto bufs = bn.buffers();
  ASSERT_EQ(bufs.size(), 2u);
  EXPECT_EQ(bufs[0].first, "running_mean");
  EXPECT_EQ(bufs[1].first, "running_var");
  Tensor x = ops::conv2d(randn({4, 3, 3, 3}, 31, DType::F32), randn({3, 3, 1, 1}, 32, DType::F32), Tensor());
  Tensor y = bn.forward(x);  // training: batch statistics, buffers move
  EXPECT_NE(bn.running_mean.to_vector<float>(), std::vector<float>(3, 0.f));
  std::vector<float> y_v = y.to_vector<float>();
  double s = 0;
  for (int64_t i = 0; i < 9; ++i) s += y_v[(size_t)i] + y_v[(size_t)(27 + i)] + y_v[(size_t)(54 + i)] + y_v[(size_t)(81 + i)];
  EXPECT_NEAR(s / 36, 0.0, 1e-5);  // channel 0 normalised to mean 0
  bn.eval();
  std::vector<float> rm = bn.running_mean.to_vector<float>();
  bn.forward(x);
  EXPECT_EQ(bn.running_mean.to_vector<float>(), rm);
}

TEST(ConvLayers, PoolingModules) {
  Tensor x = randn({2, 3, 8, 8}, 33, DType::F32);
  EXPECT_EQ(nn::MaxPool2d(2).forward(x).shape(), (Shape{2, 3, 4, 4}));
  EXPECT_EQ(nn::MaxPool2d(3, 2, 1).forward(x).shape(), (Shape{2, 3, 4, 4}));
  EXPECT_EQ(nn::AvgPool2d(4).forward(x).shape(), (Shape{2, 3, 2, 2}));
  EXPECT_EQ(nn::GlobalAvgPool().forward(x).shape(), (Shape{2, 3}));
}

}  // namespace
}  // namespace sprout
