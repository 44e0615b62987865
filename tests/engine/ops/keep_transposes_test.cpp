// Which layers keep their transposed structure between steps (sparse::KeepTransposes):
// counted with sparse::transposes_built() over two backward passes of the same
// structure, for a linear layer and a 1x1 convolution, in every mode; the modes parse
// from their config names.
#include "engine/ops/spmm.h"
#include "engine/sparse/transpose.h"
#include "sparse_testing.h"

namespace sprout {
namespace {

using namespace testing;

struct Mode {
  sparse::KeepTransposes old = sparse::keep_transposes();
  explicit Mode(sparse::KeepTransposes k) { sparse::set_keep_transposes(k); }
  ~Mode() { sparse::set_keep_transposes(old); }
};

// Transposes built by two forward + backward passes of a linear layer (linear) or a
// column product, as a 1x1 convolution runs it.
int64_t built_over_two_steps(sparse::KeepTransposes k, bool linear) {
  Mode m(k);
  sparse::SparseParameter p = make_param(edge_mask("t", 9, 13, 0.3, 1), 1, DType::F32, 2, nullptr);
  const int64_t before = sparse::transposes_built();
  for (int step = 0; step < 2; ++step) {
    Tensor x = linear ? randn({4, 13}, 3, DType::F32) : randn({2, 13, 6}, 3, DType::F32);
    x.set_requires_grad(true);
    Tensor y = linear ? ops::sparse_linear(x, p, Tensor()) : ops::sparse_matmul_cols(p, x);
    y.backward(randn(y.shape(), 4, DType::F32));
    EXPECT_TRUE(x.grad().defined());
  }
  return sparse::transposes_built() - before;
}

TEST(KeepTransposes, AutoKeepsLinearLayersAndRebuildsConvolutions) {
  using K = sparse::KeepTransposes;
  EXPECT_EQ(built_over_two_steps(K::Auto, true), 1);
  EXPECT_EQ(built_over_two_steps(K::Auto, false), 2);
  EXPECT_EQ(built_over_two_steps(K::All, true), 1);
  EXPECT_EQ(built_over_two_steps(K::All, false), 1);
  EXPECT_EQ(built_over_two_steps(K::None, true), 2);
  EXPECT_EQ(built_over_two_steps(K::None, false), 2);
}

TEST(KeepTransposes, ModesParseFromTheirNames) {
  EXPECT_EQ(sparse::keep_transposes_from("auto"), sparse::KeepTransposes::Auto);
  EXPECT_EQ(sparse::keep_transposes_from("all"), sparse::KeepTransposes::All);
  EXPECT_EQ(sparse::keep_transposes_from("none"), sparse::KeepTransposes::None);
  EXPECT_THROW(sparse::keep_transposes_from("true"), Error);
}

}  // namespace
}  // namespace sprout
