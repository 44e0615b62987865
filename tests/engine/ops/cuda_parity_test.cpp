// CUDA kernels against their CPU twins: every op with a CUDA kernel runs forward and
// backward on both devices at odd sizes and must agree to 1e-5 (relative to the
// largest value) in float32. Each test skips, saying why, when no GPU answers.
#include "ops_testing.h"

#include "engine/ops/batchnorm.h"
#include "engine/ops/conv.h"
#include "engine/ops/deferred.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/loss.h"
#include "engine/ops/gemm.h"
#include "engine/ops/pool.h"
#include "engine/optim/optimizer.h"

namespace sprout {
namespace {

using testing::randn;
using testing::rel_error;
using testing::run_op;
using Inputs = std::vector<Tensor>;
using OpFn = std::function<Tensor(const Inputs&)>;

constexpr double kTol = 1e-5;

Tensor randf(const Shape& s, uint64_t seed) { return randn(s, seed, DType::F32); }

void expect_parity(const OpFn& f, const Inputs& inputs, double tol = kTol) {
  testing::OpResult cpu = run_op(f, inputs, Device::cpu());
  testing::OpResult gpu = run_op(f, inputs, Device::cuda());
  ASSERT_EQ(cpu.out.shape(), gpu.out.shape());
  EXPECT_LE(rel_error(gpu.out, cpu.out), tol) << "forward";
  for (size_t i = 0; i < inputs.size(); ++i) {
    ASSERT_EQ(cpu.grads[i].defined(), gpu.grads[i].defined()) << "gradient of input " << i;
    if (cpu.grads[i].defined()) {
      EXPECT_LE(rel_error(gpu.grads[i], cpu.grads[i]), tol) << "gradient of input " << i;
    }
  }
}

class CudaParity : public ::testing::Test {
 protected:
  void SetUp() override { SPROUT_SKIP_IF_NO_DEVICE(Device::cuda()); }
};

TEST_F(CudaParity, Elementwise) {
  expect_parity([](const Inputs& x) { return ops::add(x[0], x[1]); }, {randf({37, 13}, 1), randf({37, 13}, 2)});
  expect_parity([](const Inputs& x) { return ops::mul(x[0], x[1]); }, {randf({37, 13}, 3), randf({37, 13}, 4)});
  expect_parity([](const Inputs& x) { return ops::scale(x[0], -0.37); }, {randf({1001}, 5)});
  expect_parity([](const Inputs& x) { return ops::add_bias(x[0], x[1]); }, {randf({5, 7, 3, 3}, 6), randf({7}, 7)});
  expect_parity([](const Inputs& x) { return ops::add_bias(x[0], x[1]); }, {randf({9, 1}, 8), randf({1}, 9)});
  expect_parity([](const Inputs& x) { return ops::relu(x[0]); }, {randf({3, 333}, 10)});
  expect_parity([](const Inputs& x) { return ops::sum(x[0]); }, {randf({1001}, 11)});
  expect_parity([](const Inputs& x) { return ops::mean(x[0]); }, {randf({17, 19}, 12)});
}

TEST_F(CudaParity, MatmulAndLinear) {
  expect_parity([](const Inputs& x) { return ops::matmul(x[0], x[1]); }, {randf({17, 33}, 13), randf({33, 9}, 14)});
  expect_parity([](const Inputs& x) { return ops::matmul(x[0], x[1]); }, {randf({1, 5}, 15), randf({5, 1}, 16)});
  expect_parity([](const Inputs& x) { return ops::linear(x[0], x[1], x[2]); },
                {randf({13, 31}, 17), randf({7, 31}, 18), randf({7}, 19)});
  expect_parity([](const Inputs& x) { return ops::linear(x[0], x[1], Tensor()); },
                {randf({13, 31}, 20), randf({7, 31}, 21)});
  // An empty inner dimension gives zeros, as on the CPU.
  for (Device d : {Device::cpu(), Device::cuda()}) {
    Tensor z = ops::matmul(Tensor::zeros({4, 0}, DType::F32, d), Tensor::zeros({0, 3}, DType::F32, d));
    EXPECT_EQ(z.to_vector<float>(), std::vector<float>(12, 0.f)) << d.str();
  }
}

TEST_F(CudaParity, CrossEntropy) {
  std::vector<int32_t> lab;
  for (int i = 0; i < 19; ++i) lab.push_back((i * 7) % 11);
  Tensor labels = Tensor::from_vector<int32_t>(lab, {19});
  for (double eps : {0.0, 0.1})
    expect_parity([eps](const Inputs& x) { return ops::cross_entropy(x[0], x[1], eps); },
                  {randf({19, 11}, 22), labels});
  // count_correct reads one integer back; both devices must agree.
  Tensor logits = randf({19, 11}, 23);
  EXPECT_EQ(ops::count_correct(logits, labels),
            ops::count_correct(logits.to(Device::cuda()), labels.to(Device::cuda())));
  // A label outside [0, C): the CPU refuses at once, the GPU at the next deferred check.
  lab[3] = 11;
  Tensor bad = Tensor::from_vector<int32_t>(lab, {19});
  EXPECT_THROW(ops::cross_entropy(logits, bad, 0.0), Error);
  Tensor loss = ops::cross_entropy(logits.to(Device::cuda()), bad.to(Device::cuda()), 0.0);
  EXPECT_TRUE(std::isnan(loss.item()));
  EXPECT_THROW(ops::check_deferred(), Error);
  EXPECT_NO_THROW(ops::check_deferred());
}

struct ConvCase { int64_t n, c, h, w, o, k, stride, pad; };

void conv_parity(ops::ConvAlgo algo) {
  ops::ConvAlgo saved = ops::cuda_conv_algo();
  ops::set_cuda_conv_algo(algo);
  for (ConvCase p : {ConvCase{2, 3, 7, 5, 5, 3, 1, 1}, ConvCase{3, 5, 9, 11, 7, 3, 2, 1},
                     ConvCase{1, 4, 6, 7, 3, 5, 2, 2}, ConvCase{3, 7, 5, 5, 9, 1, 1, 0},
                     ConvCase{2, 3, 9, 9, 4, 1, 2, 0}, ConvCase{4, 16, 15, 13, 24, 3, 2, 1},
                     ConvCase{1, 1, 3, 3, 1, 3, 1, 0}}) {
    SCOPED_TRACE(::testing::Message() << "N" << p.n << " C" << p.c << " " << p.h << "x" << p.w
                                      << " O" << p.o << " k" << p.k << " s" << p.stride << " p" << p.pad);
    expect_parity([p](const Inputs& x) { return ops::conv2d(x[0], x[1], x[2], p.stride, p.pad); },
                  {randf({p.n, p.c, p.h, p.w}, 24), randf({p.o, p.c, p.k, p.k}, 25), randf({p.o}, 26)});
    expect_parity([p](const Inputs& x) { return ops::conv2d(x[0], x[1], Tensor(), p.stride, p.pad); },
                  {randf({p.n, p.c, p.h, p.w}, 27), randf({p.o, p.c, p.k, p.k}, 28)});
  }
  ops::set_cuda_conv_algo(saved);
}

TEST_F(CudaParity, Conv2dIm2col) { conv_parity(ops::ConvAlgo::Im2col); }

TEST_F(CudaParity, Conv2dCudnn) {
  if (!ops::cudnn_compiled()) GTEST_SKIP() << "sprout was built without cuDNN";
  conv_parity(ops::ConvAlgo::Cudnn);
}

TEST_F(CudaParity, BatchNormTrainAndRunningStats) {
  for (Shape s : {Shape{3, 5, 7, 3}, Shape{2, 3, 1, 1}, Shape{1, 2, 9, 11}}) {
    int64_t C = s[1];
    Tensor rm = randf({C}, 29), rv = Tensor::full({C}, 1.5, DType::F32);
    Tensor rm_gpu = rm.to(Device::cuda()), rv_gpu = rv.to(Device::cuda());
    // run_op runs the CPU first, then the GPU: each device updates its own buffers.
    bool on_gpu = false;
    expect_parity([&](const Inputs& x) {
      Tensor m = on_gpu ? rm_gpu : rm, v = on_gpu ? rv_gpu : rv;
      on_gpu = true;
      return ops::batch_norm2d(x[0], x[1], x[2], m, v, true, 0.1, 1e-5);
    }, {randf(s, 30), randf({C}, 31), randf({C}, 32)});
    EXPECT_LE(rel_error(rm_gpu, rm), kTol);
    EXPECT_LE(rel_error(rv_gpu, rv), kTol);
  }
}

TEST_F(CudaParity, BatchNormEval) {
  Tensor rm = randf({5}, 33), rv = Tensor::from_vector<float>({0.5f, 1.f, 2.f, 0.1f, 3.f}, {5});
  expect_parity([&](const Inputs& x) {
    return ops::batch_norm2d(x[0], x[1], x[2], rm.to(x[0].device()), rv.to(x[0].device()), false);
  }, {randf({3, 5, 4, 3}, 34), randf({5}, 35), randf({5}, 36)});
  expect_parity([&](const Inputs& x) {
    return ops::batch_norm2d(x[0], Tensor(), Tensor(), Tensor(), Tensor(), true);
  }, {randf({3, 5, 4, 3}, 37)});
}

TEST_F(CudaParity, Pooling) {
  struct Case { Shape s; int64_t k, stride, pad; };
  for (Case c : {Case{{3, 5, 11, 9}, 3, 2, 1}, Case{{2, 3, 8, 7}, 2, 2, 0}, Case{{1, 2, 5, 5}, 3, 1, 1},
                 Case{{2, 2, 13, 13}, 5, 3, 2}}) {
    expect_parity([c](const Inputs& x) { return ops::max_pool2d(x[0], c.k, c.stride, c.pad); }, {randf(c.s, 38)});
    expect_parity([c](const Inputs& x) { return ops::avg_pool2d(x[0], c.k, c.stride, c.pad); }, {randf(c.s, 39)});
  }
  expect_parity([](const Inputs& x) { return ops::global_avg_pool(x[0]); }, {randf({3, 7, 5, 3}, 40)});
  expect_parity([](const Inputs& x) { return ops::global_avg_pool(x[0]); }, {randf({2, 3, 33, 31}, 41)});
}

TEST_F(CudaParity, SmallConvNetStep) {
  std::vector<int32_t> lab{1, 0, 2};
  Tensor labels = Tensor::from_vector<int32_t>(lab, {3});
  expect_parity([](const Inputs& in) {
    Tensor h = ops::conv2d(in[0], in[1], Tensor(), 1, 1);
    h = ops::relu(ops::batch_norm2d(h, in[2], in[3], Tensor(), Tensor(), true));
    h = ops::max_pool2d(h, 3, 2, 1);
    h = ops::global_avg_pool(ops::conv2d(h, in[4], in[5], 2, 1));
    return ops::cross_entropy(ops::linear(h, in[6], Tensor()), in[7], 0.1);
  }, {randf({3, 3, 9, 9}, 42), randf({6, 3, 3, 3}, 43), randf({6}, 44), randf({6}, 45),
      randf({8, 6, 3, 3}, 46), randf({8}, 47), randf({3, 8}, 48), labels});
}

// Three optimizer steps on both devices from the same weights and gradients.
template <class MakeOpt>
void optimizer_parity(MakeOpt make, double lr) {
  Tensor w0 = randf({1001}, 49), g0 = randf({1001}, 50);
  std::vector<Tensor> result;
  for (Device d : {Device::cpu(), Device::cuda()}) {
    Tensor w = w0.to(d);
    w.set_requires_grad(true);
    w.set_grad(g0.to(d));
    std::vector<nn::ParamRef> params{nn::ParamRef{"w", &w, nullptr}};
    auto opt = make(params);
    for (int i = 0; i < 3; ++i) opt->step(lr);
    result.push_back(w.to(Device::cpu()));
    for (Tensor* st : opt->state_of(0)) result.push_back(st->to(Device::cpu()));
  }
  size_t half = result.size() / 2;
  for (size_t i = 0; i < half; ++i) EXPECT_LE(rel_error(result[half + i], result[i]), kTol) << "tensor " << i;
}

TEST_F(CudaParity, SgdUpdate) {
  for (bool nesterov : {false, true})
    optimizer_parity([nesterov](std::vector<nn::ParamRef> p) {
      return std::make_unique<optim::Sgd>(p, optim::SgdOptions{0.9, 5e-4, nesterov});
    }, 0.1);
  optimizer_parity([](std::vector<nn::ParamRef> p) {
    return std::make_unique<optim::Sgd>(p, optim::SgdOptions{0.0, 0.0, false});
  }, 0.05);
}

TEST_F(CudaParity, AdamWUpdate) {
  optimizer_parity([](std::vector<nn::ParamRef> p) {
    return std::make_unique<optim::AdamW>(p, optim::AdamWOptions{0.9, 0.999, 1e-8, 0.01});
  }, 1e-3);
}

}  // namespace
}  // namespace sprout
