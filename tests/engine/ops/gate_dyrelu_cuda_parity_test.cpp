// The gate and DyReLU CUDA kernels against their CPU twins (float32): forward values
// and every gradient, at odd sizes, a one-channel case and a single block gate.
// Skipped, saying why, where no GPU answers.
#include "engine/ops/dyrelu.h"
#include "engine/ops/gate.h"
#include "testing.h"

namespace sprout {
namespace {

// Runs f on the CPU and on the GPU with the same inputs; compares the output and the
// gradient of every input under a random output weighting.
void expect_parity(const std::function<Tensor(const std::vector<Tensor>&)>& f, const std::vector<Tensor>& host,
                   double tol = 1e-5) {
  if (!cuda_available()) GTEST_SKIP() << "no GPU: " << cuda_unavailable_reason();
  std::vector<Tensor> cpu, gpu;
  for (const Tensor& t : host) {
    cpu.push_back(t.clone().set_requires_grad(true));
    gpu.push_back(t.to(Device::cuda()).set_requires_grad(true));
  }
  Tensor yc = f(cpu), yg = f(gpu);
  EXPECT_LT(testing::rel_error(yg, yc), tol);
  Tensor w = testing::randn(yc.shape(), 77, DType::F32);
  yc.backward(w);
  yg.backward(w.to(Device::cuda()));
  for (size_t i = 0; i < host.size(); ++i) {
    ASSERT_TRUE(cpu[i].grad().defined() && gpu[i].grad().defined()) << "input " << i;
    EXPECT_LT(testing::rel_error(gpu[i].grad(), cpu[i].grad()), tol) << "input " << i;
  }
}

TEST(GateDyReluCudaParity, Gate) {
  auto f = [](const std::vector<Tensor>& in) { return ops::gate(in[0], in[1]); };
  expect_parity(f, {testing::randn({5, 7, 3, 3}, 1, DType::F32), testing::randn({7}, 2, DType::F32)});
  expect_parity(f, {testing::randn({9, 13}, 3, DType::F32), testing::randn({13}, 4, DType::F32)});
  expect_parity(f, {testing::randn({4, 1, 5, 5}, 5, DType::F32), testing::randn({1}, 6, DType::F32)});
  expect_parity(f, {testing::randn({3, 6, 2, 2}, 7, DType::F32), Tensor::full({1}, 0.4, DType::F32)});
}

TEST(GateDyReluCudaParity, ChannelScale) {
  auto f = [](const std::vector<Tensor>& in) { return ops::channel_scale(in[0], in[1]); };
  expect_parity(f, {testing::randn({3, 5, 4, 4}, 8, DType::F32), testing::randn({1}, 9, DType::F32)});
  expect_parity(f, {testing::randn({3, 5, 4, 4}, 10, DType::F32), testing::randn({5}, 11, DType::F32)});
}

TEST(GateDyReluCudaParity, Regularizers) {
  for (double t : {1.2, 0.9}) {
    auto pol = [t](const std::vector<Tensor>& in) { return ops::polarization({in[0], in[1]}, t); };
    expect_parity(pol, {testing::randn({1000}, 12, DType::F32), testing::randn({37}, 13, DType::F32)});
  }
  auto dens = [](const std::vector<Tensor>& in) { return ops::gate_density_penalty({in[0], in[1]}, 0.3); };
  expect_parity(dens, {testing::randn({513}, 14, DType::F32), testing::randn({1}, 15, DType::F32)});
}

TEST(GateDyReluCudaParity, DyRelu) {
  for (double beta : {1.0, 0.35}) {
    auto f = [beta](const std::vector<Tensor>& in) { return ops::dyrelu(in[0], in[1], beta); };
    expect_parity(f, {testing::randn({6, 11}, 16, DType::F32), testing::randn({6, 44}, 17, DType::F32)});
    expect_parity(f, {testing::randn({3, 5, 7, 7}, 18, DType::F32), testing::randn({3, 20}, 19, DType::F32)});
    expect_parity(f, {testing::randn({2, 1, 3, 3}, 20, DType::F32), testing::randn({2, 4}, 21, DType::F32)});
  }
}

}  // namespace
}  // namespace sprout
