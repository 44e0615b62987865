// Gradient growth on the GPU against the CPU: exact tiled growth and sampled growth pick
// the same positions from the same factors and seeds (CSR and BSR, with drops, with and
// without tie noise, tiles of one row up to the whole layer). The factors are small
// integers, so every gradient entry is exact on both devices whatever their summation
// order, and the comparison is of decisions, not of rounding.
#include <gtest/gtest.h>

#include "engine/ops/grow.h"
#include "engine/sparse/matrix.h"
#include "testing.h"

namespace sprout::ops {
namespace {

struct Layer {
  sparse::SparseParameter p;
  Tensor gt, xt, keep;
  int64_t kept = 0;
};

Tensor small_integers(int64_t rows, int64_t cols, Rng& rng) {
  std::vector<float> v((size_t)(rows * cols));
  for (auto& x : v) x = (float)((int)(rng.uniform() * 5.0) - 2);
  return Tensor::from_vector<float>(v, {rows, cols});
}

Layer make_layer(int64_t rows, int64_t cols, int64_t n, int block, double density, uint64_t seed) {
  Rng rng(seed);
  Layer l;
  const int64_t gr = (rows + block - 1) / block, gc = (cols + block - 1) / block;
  const int64_t nnzb = (int64_t)(density * (double)(gr * gc));
  l.p = block == 1 ? sparse::make_parameter(sparse::CsrMatrix::random(rows, cols, nnzb, rng))
                   : sparse::make_parameter(sparse::BsrMatrix::random(rows, cols, block, nnzb, rng));
  l.gt = small_integers(rows, n, rng);
  l.xt = small_integers(cols, n, rng);
  std::vector<uint8_t> keep((size_t)nnzb);
  for (auto& v : keep) { v = rng.uniform() < 0.7; l.kept += v; }
  l.keep = Tensor::from_vector<uint8_t>(keep, {nnzb});
  return l;
}

Layer on_gpu(const Layer& l) {
  Layer g = l;
  g.p.to(Device::cuda());
  g.gt = l.gt.to(Device::cuda());
  g.xt = l.xt.to(Device::cuda());
  g.keep = l.keep.to(Device::cuda());
  return g;
}

TEST(GrowCuda, TiledEqualsCpu) {
  SPROUT_SKIP_IF_NO_DEVICE(Device::cuda());
  struct Case { int64_t rows, cols, n; int block; double density; int64_t k; };
  for (const Case& c : {Case{37, 53, 5, 1, 0.2, 40}, Case{700, 900, 12, 1, 0.05, 20000},
                        Case{301, 157, 9, 4, 0.3, 150}, Case{513, 1, 4, 1, 0.5, 100}}) {
    SCOPED_TRACE(::testing::Message() << c.rows << "x" << c.cols << " block " << c.block);
    const Layer l = make_layer(c.rows, c.cols, c.n, c.block, c.density, (uint64_t)(c.rows + c.cols));
    const Layer g = on_gpu(l);
    for (int64_t budget : {c.cols * 4 * c.block * 28, int64_t(1) << 30})
      for (std::optional<uint64_t> tie : {std::optional<uint64_t>(), std::optional<uint64_t>(42)}) {
        const auto cpu = grow_exact_tiled(l.p, l.gt, l.xt, c.k, l.keep, l.kept, tie, budget).to_vector<int64_t>();
        const Tensor gpu = grow_exact_tiled(g.p, g.gt, g.xt, c.k, g.keep, g.kept, tie, budget);
        EXPECT_TRUE(gpu.is_cuda());
        EXPECT_EQ(gpu.to(Device::cpu()).to_vector<int64_t>(), cpu);
      }
  }
}

TEST(GrowCuda, SampledEqualsCpu) {
  SPROUT_SKIP_IF_NO_DEVICE(Device::cuda());
  for (int block : {1, 4}) {
    SCOPED_TRACE(::testing::Message() << "block " << block);
    const Layer l = make_layer(400, 500, 10, block, 0.1, 31 + block);
    const Layer g = on_gpu(l);
    for (int64_t c : {1, 3, 10}) {
      const auto cpu = grow_sampled(l.p, l.gt, l.xt, 200 / block, l.keep, l.kept, 7, c, 99, 1 << 20)
                           .to_vector<int64_t>();
      const Tensor gpu = grow_sampled(g.p, g.gt, g.xt, 200 / block, g.keep, g.kept, 7, c, 99, 1 << 20);
      EXPECT_EQ(gpu.to(Device::cpu()).to_vector<int64_t>(), cpu) << "c = " << c;
    }
  }
}

}  // namespace
}  // namespace sprout::ops
