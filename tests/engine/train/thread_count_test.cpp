// A CPU run (an MLP, a ResNet) gives the same bits on any OpenMP thread count, so
// train.adapt_threads may change the count between steps: sprout's kernels split work,
// never sums, by thread, and BLAS calls keep the count set at the start
// (kernels::cpu::set_blas_threads).
#include <omp.h>

#include <random>

#include "engine/core/threads.h"
#include "engine/train/train_testing.h"
#include "kernels/cpu/gemm.h"

namespace sprout::train {
namespace {

using Json = nlohmann::json;

// Restores OpenMP's and BLAS's thread counts when a test ends.
class ThreadCountTest : public TrainTest {
 protected:
  void TearDown() override {
    omp_set_num_threads(omp_before_);
    kernels::cpu::set_blas_threads(blas_before_);
    TrainTest::TearDown();
  }
  // A sparse MLP whose dense last layer is large enough for BLAS to split it.
  Json config() {
    const std::string path = (dir_ / "c.json").string();
    std::ofstream(path) << Json{{"model", {{"name", "mlp"}, {"hidden", {256}}}},
                                {"data", {{"name", "synthetic"}, {"workers", 0},
                                          {"options", {{"shape", {256}}, {"classes", 128}, {"size", 256}}}}},
                                {"train", {{"epochs", 2}, {"batch_size", 64}, {"adapt_threads", false}}},
                                {"sparsity", {{"method", "rigl"}, {"density", 0.3}, {"update_every", 2}, {"last_layer_dense", true}}}}
                               .dump();
    return load_config(path, {});
  }
  // A sparse ResNet-18 (imagenet stem: strided and 7x7 convolutions, max pooling,
  // fused BatchNorm) on two small batches.
  Json resnet() {
    const std::string path = (dir_ / "r.json").string();
    std::ofstream(path) << Json{{"model", {{"name", "resnet18"}, {"width", 0.25}}},
                                {"data", {{"name", "synthetic"}, {"workers", 0},
                                          {"options", {{"shape", {3, 64, 64}}, {"classes", 10}, {"size", 16}}}}},
                                {"train", {{"epochs", 1}, {"batch_size", 8}, {"adapt_threads", false}}},
                                {"sparsity", {{"method", "rigl"}, {"density", 0.2}, {"update_every", 1}}}}
                               .dump();
    return load_config(path, {});
  }
  // The model file of a run whose OpenMP count is `omp` after set_cpu_threads(2), with
  // BLAS held at that start count (or following OpenMP when not `hold_blas`).
  std::string run(const std::string& name, int omp, bool hold_blas = true, bool conv = false) {
    set_cpu_threads(2);
    if (!hold_blas) kernels::cpu::set_blas_threads(0);
    omp_set_num_threads(omp);  // what adapt_cpu_threads does under load
    Trainer t(conv ? resnet() : config(), Device::cpu(), (dir_ / name).string(), true);
    t.fit();
    return bytes_of(dir_ / name / "model.safetensors");
  }
  const int omp_before_ = omp_get_max_threads(), blas_before_ = kernels::cpu::blas_threads();
};

// Whether this BLAS sums C = A B (the last layer's size) differently on 1 and 2 threads.
bool blas_depends_on_threads() {
  const int64_t m = 64, n = 128, k = 256;
  std::vector<float> a(m * k), b(k * n), c1(m * n), c2(m * n);
  std::mt19937 g(3);
  std::normal_distribution<float> d;
  for (float& v : a) v = d(g);
  for (float& v : b) v = d(g);
  kernels::cpu::set_blas_threads(0);
  omp_set_num_threads(1);
  kernels::cpu::gemm<float>(false, false, m, n, k, 1.f, a.data(), k, b.data(), n, 0.f, c1.data(), n);
  omp_set_num_threads(2);
  kernels::cpu::gemm<float>(false, false, m, n, k, 1.f, a.data(), k, b.data(), n, 0.f, c2.data(), n);
  return c1 != c2;
}

TEST_F(ThreadCountTest, AdaptingTheCountLeavesTheResult) {
  const std::string two = run("two", 2), one = run("one", 1);
  ASSERT_FALSE(two.empty());
  EXPECT_TRUE(one == two) << "the model trained on one OpenMP thread differs from the one on two";
}

TEST_F(ThreadCountTest, AConvNetGivesTheSameBitsToo) {
  const std::string two = run("two", 2, true, true), one = run("one", 1, true, true);
  ASSERT_FALSE(two.empty());
  EXPECT_TRUE(one == two) << "the ResNet trained on one OpenMP thread differs from the one on two";
}

// The workload above reaches BLAS's threading: without the held count the bits move,
// so the test above would catch a BLAS call that follows OpenMP's count.
TEST_F(ThreadCountTest, WithoutAHeldBlasCountTheBitsMove) {
  if (!kernels::cpu::have_openblas() || !blas_depends_on_threads())
    GTEST_SKIP() << "this BLAS gives the same bits on 1 and 2 threads: nothing to hold";
  const std::string two = run("two", 2, false), one = run("one", 1, false);
  ASSERT_FALSE(two.empty());
  EXPECT_FALSE(one == two);
}

}  // namespace
}  // namespace sprout::train
