// The SpMM ops of engine/ops/spmm.*: sparse_linear (forward, input gradient, values
// gradient) and sparse_matmul_cols, CSR and BSR, against the dense ops on the masked
// weight, a float64 finite-difference check, and CUDA against CPU with every kernel.
#include "engine/ops/elementwise.h"
#include "engine/ops/gemm.h"
#include "engine/ops/spmm.h"
#include "sparse_testing.h"

namespace sprout {
namespace {

using namespace testing;

struct LinearResult {
  Tensor y, dx, dw, db;  // dw dense [rows, cols] (sparse: scattered from the nnz gradient)
};

LinearResult run_sparse_linear(const Tensor& x0, sparse::SparseParameter& p, const Tensor& b0, const Tensor& gy) {
  Tensor x = x0.clone(), b = b0.clone();
  x.set_requires_grad(true);
  b.set_requires_grad(true);
  p.values.set_grad(Tensor());
  Tensor y = ops::sparse_linear(x, p, b);
  y.backward(gy);
  return {y, x.grad(), scatter_dense(p, p.values.grad()), b.grad()};
}

LinearResult run_dense_linear(const Tensor& x0, const Tensor& w0, const Tensor& b0, const Tensor& gy) {
  Tensor x = x0.clone(), w = w0.clone(), b = b0.clone();
  x.set_requires_grad(true);
  w.set_requires_grad(true);
  b.set_requires_grad(true);
  Tensor y = ops::linear(x, w, b);
  y.backward(gy);
  return {y, x.grad(), w.grad(), b.grad()};
}

void compare_linear(const MaskCase& m, int block, DType dt, int64_t batch) {
  SCOPED_TRACE(m.name + " block " + std::to_string(block) + " " + dtype_name(dt) + " batch " +
               std::to_string(batch));
  Tensor w;
  sparse::SparseParameter p = make_param(m, block, dt, 11, &w);
  Tensor x = randn({batch, m.cols}, 12, dt), b = randn({m.rows}, 13, dt), gy = randn({batch, m.rows}, 14, dt);
  LinearResult s = run_sparse_linear(x, p, b, gy);
  LinearResult d = run_dense_linear(x, w, b, gy);
  const double tol = tol_for(dt);
  EXPECT_LE(rel_error(s.y, d.y), tol);
  EXPECT_LE(rel_error(s.dx, d.dx), tol);
  EXPECT_LE(rel_error(s.dw, mask_like(p, d.dw)), tol);
  EXPECT_LE(rel_error(s.db, d.db), tol);
  EXPECT_EQ(p.values.grad().numel(), p.values.numel());
}

TEST(SparseLinear, MatchesDenseMaskedCsr) {
  for (const MaskCase& m : mask_cases())
    for (DType dt : {DType::F32, DType::F64})
      for (int64_t batch : {1, 5, 70}) compare_linear(m, 1, dt, batch);
}

TEST(SparseLinear, MatchesDenseMaskedBsr) {
  for (const MaskCase& m : mask_cases())
    for (int block : {4, 8})
      for (DType dt : {DType::F32, DType::F64}) compare_linear(m, block, dt, 67);
}

TEST(SparseLinear, LargeBatchUsesEveryTile) {
  // 300 columns of x^T: full register tiles, a partial vector tile and a scalar rest.
  MaskCase m = edge_mask("tiles_64x90", 64, 90, 0.15, 21);
  compare_linear(m, 1, DType::F32, 300);
  compare_linear(m, 1, DType::F64, 301);
  compare_linear(m, 8, DType::F32, 300);
}

TEST(SparseLinear, GradcheckValuesAndInputFloat64) {
  for (int block : {1, 4}) {
    MaskCase m = edge_mask("gc_9x7", 9, 7, 0.4, 31);
    sparse::SparseParameter p = make_param(m, block, DType::F64, 32, nullptr);
    Tensor x = randn({4, 7}, 33, DType::F64), b = randn({9}, 34, DType::F64);
    gradcheck([&](const std::vector<Tensor>& in) {
      sparse::SparseParameter q = p;
      q.values = in[1];
      return ops::sparse_linear(in[0], q, in[2]);
    }, {x, p.values.detach().clone(), b});
  }
}

TEST(SparseLinear, ValuesGradientAccumulatesOverCalls) {
  MaskCase m = edge_mask("acc_10x12", 10, 12, 0.3, 41);
  sparse::SparseParameter p = make_param(m, 1, DType::F64, 42, nullptr);
  Tensor x = randn({3, 12}, 43, DType::F64);
  Tensor y = ops::add(ops::sparse_linear(x, p, Tensor()), ops::sparse_linear(x, p, Tensor()));
  ops::sum(y).backward();
  Tensor once;
  {
    sparse::SparseParameter q = p;
    q.values = p.values.detach().clone();
    q.values.set_requires_grad(true);
    ops::sum(ops::sparse_linear(x, q, Tensor())).backward();
    once = q.values.grad();
  }
  for (int64_t i = 0; i < once.numel(); ++i)
    EXPECT_NEAR(p.values.grad().data<double>()[i], 2 * once.data<double>()[i], 1e-12);
}

TEST(SparseLinear, DenseGradHookGetsTheFullGradientOnce) {
  MaskCase m = edge_mask("hook_8x6", 8, 6, 0.3, 45);
  for (int block : {1, 4}) {
    sparse::SparseParameter p = make_param(m, block, DType::F64, 46, nullptr);
    Tensor x = randn({5, 6}, 47, DType::F64), gy = randn({5, 8}, 48, DType::F64);
    int calls = 0;
    Tensor seen;
    p.dense_grad_hook = [&](const Tensor& g) { ++calls; seen = g.clone(); EXPECT_EQ(g.category(), MemCategory::Workspace); };
    ops::sparse_linear(x, p, Tensor()).backward(gy);
    EXPECT_EQ(calls, 1);
    Tensor ref = Tensor::empty({8, 6}, DType::F64);
    ops::gemm_into(true, false, gy, x, ref);
    EXPECT_LE(rel_error(seen, ref), 1e-12);
    // The same through the column product (a batch of two).
    calls = 0;
    Tensor cols = randn({2, 6, 9}, 49, DType::F64), g = randn({2, 8, 9}, 50, DType::F64);
    ops::sparse_matmul_cols(p, cols).backward(g);
    EXPECT_EQ(calls, 1);
    Tensor ref2 = Tensor::zeros({8, 6}, DType::F64);
    for (int64_t i = 0; i < 2; ++i) ops::gemm_into(false, true, batch_slice(g, i), batch_slice(cols, i), ref2, 1.0);
    EXPECT_LE(rel_error(seen, ref2), 1e-12);
  }
}

TEST(SparseLinear, RejectsMismatchedInput) {
  MaskCase m = edge_mask("bad", 5, 6, 0.5, 1);
  sparse::SparseParameter p = make_param(m, 1, DType::F32, 2, nullptr);
  EXPECT_THROW(ops::sparse_linear(randn({3, 7}, 1, DType::F32), p, Tensor()), Error);
  EXPECT_THROW(ops::sparse_linear(randn({3, 6}, 1, DType::F64), p, Tensor()), Error);
}

TEST(SparseMatmulCols, BatchedMatchesDenseMasked) {
  for (int block : {1, 4})
    for (DType dt : {DType::F32, DType::F64}) {
      MaskCase m = edge_mask("cols_11x18", 11, 18, 0.25, 51);
      Tensor w;
      sparse::SparseParameter p = make_param(m, block, dt, 52, &w);
      Tensor cols = randn({3, 18, 37}, 53, dt), g = randn({3, 11, 37}, 54, dt);
      cols.set_requires_grad(true);
      Tensor y = ops::sparse_matmul_cols(p, cols);
      y.backward(g);
      Tensor dw_ref = Tensor::zeros({11, 18}, dt);
      for (int64_t i = 0; i < 3; ++i) {
        Tensor ci = batch_slice(cols, i), gi = batch_slice(g, i);
        EXPECT_LE(rel_error(batch_slice(y, i), ops::matmul(w, ci)), tol_for(dt));
        Tensor dci = Tensor::empty({18, 37}, dt);
        ops::gemm_into(true, false, w, gi, dci);
        EXPECT_LE(rel_error(batch_slice(cols.grad(), i), dci), tol_for(dt));
        ops::gemm_into(false, true, gi, ci, dw_ref, 1.0);
      }
      EXPECT_LE(rel_error(scatter_dense(p, p.values.grad()), mask_like(p, dw_ref)), tol_for(dt));
    }
}

TEST(SparseLinear, CudaMatchesCpuWithEveryKernel) {
  SPROUT_SKIP_IF_NO_DEVICE(Device::cuda());
  for (const kernels::SparseKernel& k : kernels::sparse_kernels()) {
    if (k.device != kernels::KernelDevice::Cuda) continue;
    SCOPED_TRACE(k.name);
    kernels::select_sparse_kernel(k.name);
    const int block = k.format == kernels::SparseFormat::Bsr ? 8 : 1;
    MaskCase m = edge_mask("cuda_37x29", 37, 29, 0.2, 71);
    sparse::SparseParameter p = make_param(m, block, DType::F32, 72, nullptr);
    Tensor x = randn({33, 29}, 73, DType::F32), b = randn({37}, 74, DType::F32), gy = randn({33, 37}, 75, DType::F32);
    LinearResult cpu = run_sparse_linear(x, p, b, gy);
    p.to(Device::cuda());
    LinearResult gpu = run_sparse_linear(x.to(Device::cuda()), p, b.to(Device::cuda()), gy.to(Device::cuda()));
    EXPECT_LE(rel_error(gpu.y, cpu.y), 1e-5);
    EXPECT_LE(rel_error(gpu.dx, cpu.dx), 1e-5);
    EXPECT_LE(rel_error(gpu.dw, cpu.dw), 1e-5);
    EXPECT_LE(rel_error(gpu.db, cpu.db), 1e-5);
  }
  kernels::reset_sparse_kernel_selection();
}

}  // namespace
}  // namespace sprout
