// GradientSync against a recording communicator: buckets pack small gradients into one
// collective and hand every element back where it came from; a sparse layer sends its
// nnz values while dense DDP would send rows x cols; the growth hook sees the reduced
// dense gradient (and the per-rank gradient-factor hook is dropped); the structure hash
// tells structures apart and the check rehashes a layer whose structure was replaced.
#include <gtest/gtest.h>

#include "engine/dist/gradient_sync.h"
#include "engine/sparse/parameter.h"
#include "testing.h"

namespace sprout {
namespace {

// Two "ranks": the other one's tensor is this one's plus 2 everywhere, so the mean is
// x + 1. Records each collective's length; host reductions are identities.
class FakeTwoRanks : public dist::Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 2; }
  std::string backend() const override { return "fake"; }
  void all_reduce_mean(const Tensor& t) override {
    calls.push_back(t.numel());
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] += 1.0f;
  }
  void all_reduce(double*, int64_t, dist::ReduceOp) override {}
  void all_reduce(uint64_t* v, int64_t n, dist::ReduceOp) override {
    if (flip_hashes)
      for (int64_t i = 0; i < n; i += 2) v[i] ^= 1;  // another rank's first hash differs
  }
  [[noreturn]] void abort(int) override { std::abort(); }
  std::vector<int64_t> calls;
  bool flip_hashes = false;
};

Tensor grad_of(Tensor& t, float start) {
  t.set_requires_grad(true);
  Tensor g = Tensor::empty(t.shape(), DType::F32);
  for (int64_t i = 0; i < g.numel(); ++i) g.data<float>()[i] = start + (float)i;
  t.set_grad(g);
  return g;
}

sparse::SparseParameter diagonal(int64_t n, int64_t shift) {
  Tensor dense = Tensor::zeros({n, n}, DType::F32);
  for (int64_t i = 0; i < n; ++i) dense.data<float>()[i * n + (i + shift) % n] = 1.0f + (float)i;
  return sparse::make_parameter(sparse::CsrMatrix::from_dense(dense));
}

TEST(GradientSync, BucketsPackSmallGradientsAndReturnEveryElement) {
  Tensor a = Tensor::zeros({3, 4}), b = Tensor::zeros({5}), big = Tensor::zeros({40});
  std::vector<Tensor> grads{grad_of(a, 0), grad_of(b, 100), grad_of(big, 200)};
  std::vector<nn::ParamRef> params{{"a", &a, nullptr}, {"b", &b, nullptr}, {"big", &big, nullptr}};
  FakeTwoRanks comm;
  dist::GradientSync sync(comm, 20 * sizeof(float));  // a and b share a bucket; big goes alone
  sync.all_reduce_gradients(params);
  EXPECT_EQ(comm.calls, (std::vector<int64_t>{17, 40}));
  const float starts[3] = {0, 100, 200};
  for (size_t p = 0; p < 3; ++p) {
    const Tensor g = params[p].tensor->grad();
    for (int64_t i = 0; i < g.numel(); ++i) ASSERT_EQ(g.data<float>()[i], starts[p] + (float)i + 1.0f) << p << " " << i;
  }
  int64_t steps = 0;
  const dist::ReduceBytes sent = sync.take_bytes(&steps);
  EXPECT_EQ(steps, 1);
  EXPECT_EQ(sent.gradients, 57 * 4);
  EXPECT_EQ(sent.collectives, 2);
}

TEST(GradientSync, SparseLayersSendNonzerosAndGrowthSeesTheMeanDenseGradient) {
  sparse::SparseParameter w = diagonal(8, 1);  // 8 of 64 entries
  Tensor bias = Tensor::zeros({8});
  grad_of(w.values, 0);
  grad_of(bias, 0);
  std::vector<nn::ParamRef> params{{"w", &w.values, &w}, {"bias", &bias, nullptr}};
  const dist::ReduceBytes b = dist::gradient_bytes(params);
  EXPECT_EQ(b.gradients, (8 + 8) * 4);
  EXPECT_EQ(b.dense_ddp, (64 + 8) * 4);
  FakeTwoRanks comm;
  dist::GradientSync sync(comm);
  float seen = 0;
  w.dense_grad_hook = [&](const Tensor& g) { seen = g.data<float>()[5]; };
  w.grad_factors_hook = [&](const sparse::GradFactors&) { seen = -1; };  // this rank's alone
  sync.wrap_dense_grad_hooks(params);
  EXPECT_FALSE(w.grad_factors_hook) << "growth would rank this rank's own gradient";
  Tensor dense = Tensor::full({8, 8}, 3.0, DType::F32);
  w.dense_grad_hook(dense);
  EXPECT_EQ(seen, 4.0f);
  EXPECT_EQ(comm.calls, (std::vector<int64_t>{64}));
}

TEST(GradientSync, StructureCheckNamesTheLayerThatDiffers) {
  sparse::SparseParameter w = diagonal(6, 1), v = diagonal(6, 1);
  EXPECT_EQ(dist::structure_hash(w), dist::structure_hash(v));
  v = diagonal(6, 2);
  EXPECT_NE(dist::structure_hash(w), dist::structure_hash(v));
  std::vector<nn::ParamRef> params{{"layer1.weight", &w.values, &w}, {"layer2.weight", &v.values, &v}};
  FakeTwoRanks comm;
  dist::GradientSync sync(comm);
  sync.check_topology(params, 0);  // the same everywhere
  comm.flip_hashes = true;
  try {
    sync.check_topology(params, 6);
    FAIL() << "a differing structure passed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sparse layer layer1.weight has a different structure on different ranks "
                                         "after step 7"), std::string::npos) << e.what();
  }
}

TEST(GradientSync, TheCheckRehashesAReplacedStructure) {
  sparse::SparseParameter w = diagonal(6, 1);
  std::vector<nn::ParamRef> params{{"w", &w.values, &w}};
  struct Capture : FakeTwoRanks {
    void all_reduce(uint64_t* v, int64_t, dist::ReduceOp) override { last = v[0]; }
    uint64_t last = 0;
  } comm;
  dist::GradientSync sync(comm);
  sync.check_topology(params, 0);
  const uint64_t before = comm.last;
  w = diagonal(6, 3);  // what a topology edit does: new structure tensors
  sync.check_topology(params, 1);
  EXPECT_NE(comm.last, before);
  EXPECT_EQ(comm.last, dist::structure_hash(w));
}

}  // namespace
}  // namespace sprout
