// The SDDMM op of engine/ops/sddmm.*: sddmm_into, plain and accumulating, CSR and BSR,
// one matrix or a batch, against x y^T sampled at the stored entries by loops written
// here over row_ptr / col_idx (float64 on the CPU; float32 on CUDA).
#include "engine/ops/sddmm.h"
#include "sparse_testing.h"

namespace sprout {
namespace {

using namespace testing;

// out[e] for every stored value: sum over the batch of dot(x[row], y[col]), 0 in a BSR
// block's overhang. x [rows, n] or [B, rows, n], y [cols, n] or [B, cols, n], on the CPU.
std::vector<double> sampled_product(const sparse::SparseParameter& p, const Tensor& x, const Tensor& y) {
  const bool batched = x.dim() == 3;
  const int64_t batch = batched ? x.size(0) : 1, n = x.size(x.dim() - 1);
  const int64_t bs = p.block;
  auto row_ptr = p.row_ptr.to_vector<int32_t>();
  auto col_idx = p.col_idx.to_vector<int32_t>();
  std::vector<double> out((size_t)p.values.numel(), 0.0);
  for (int64_t br = 0; br + 1 < (int64_t)row_ptr.size(); ++br)
    for (int64_t e = row_ptr[(size_t)br]; e < row_ptr[(size_t)br + 1]; ++e)
      for (int64_t i = 0; i < bs; ++i)
        for (int64_t j = 0; j < bs; ++j) {
          const int64_t r = br * bs + i, c = (int64_t)col_idx[(size_t)e] * bs + j;
          if (r >= p.rows || c >= p.cols) continue;
          double s = 0;
          for (int64_t b = 0; b < batch; ++b)
            for (int64_t k = 0; k < n; ++k)
              s += as_double(x, (b * p.rows + r) * n + k) * as_double(y, (b * p.cols + c) * n + k);
          out[(size_t)(e * bs * bs + i * bs + j)] = s;
        }
  return out;
}

Tensor as_tensor(const std::vector<double>& v) { return Tensor::from_vector<double>(v, {(int64_t)v.size()}); }

class Sddmm : public ::testing::TestWithParam<Device> {};

TEST_P(Sddmm, MatchesDenseProductAtStoredEntries) {
  const Device dev = GetParam();
  SPROUT_SKIP_IF_NO_DEVICE(dev);
  const DType dt = dev.is_cpu() ? DType::F64 : DType::F32;
  for (const MaskCase& m : mask_cases())
    for (int block : {1, 4, 7})
      for (int64_t batch : {0, 3}) {  // 0: x and y are single matrices
        SCOPED_TRACE(m.name + " block " + std::to_string(block) + " batch " + std::to_string(batch));
        const int64_t n = 13;
        sparse::SparseParameter p = make_param(m, block, dt, 81, nullptr);
        Shape xs = batch ? Shape{batch, m.rows, n} : Shape{m.rows, n};
        Shape ys = batch ? Shape{batch, m.cols, n} : Shape{m.cols, n};
        Tensor x = randn(xs, 82, dt), y = randn(ys, 83, dt);
        const std::vector<double> want = sampled_product(p, x, y);
        const int64_t nnz = p.values.numel();
        Tensor prior = randn({nnz}, 84, dt);
        std::vector<double> want_acc = want;
        for (int64_t e = 0; e < nnz; ++e) want_acc[(size_t)e] += as_double(prior, e);
        p.to(dev);
        // Overwriting: what was in `out` (random here) must not leak into the result.
        Tensor out = randn({nnz}, 85, dt, dev);
        ops::sddmm_into(p, x.to(dev), y.to(dev), out);
        EXPECT_LE(rel_error(out, as_tensor(want)), tol_for(dt));
        // Accumulating: the product is added to what is there.
        Tensor acc = prior.to(dev);
        ops::sddmm_into(p, x.to(dev), y.to(dev), acc, true);
        EXPECT_LE(rel_error(acc, as_tensor(want_acc)), tol_for(dt));
      }
}

INSTANTIATE_TEST_SUITE_P(Devices, Sddmm, ::testing::ValuesIn(devices_under_test()), device_param_name);

}  // namespace
}  // namespace sprout
