// Sparse products against dense-masked references built from the existing dense ops:
// sparse_linear (forward, input gradient, weight gradient at the stored entries) and
// sparse_matmul_cols, for CSR and BSR, float32 and float64, over edge-case structures;
// a float64 finite-difference gradcheck; and every registered kernel, CPU ones against
// the dense reference and CUDA ones against the CPU.
#include "engine/ops/elementwise.h"
#include "engine/ops/gemm.h"
#include "engine/ops/sddmm.h"
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

// ---- every registered kernel -------------------------------------------------------

// One kernel's three products on p against the dense-masked reference (on the CPU)
// or against the CPU's default kernel (CUDA).
void check_kernel(const kernels::SparseKernel& k, const MaskCase& m, DType dt, int block) {
  SCOPED_TRACE(k.name + " " + m.name + " " + dtype_name(dt) + " block " + std::to_string(block));
  Device dev = k.device == kernels::KernelDevice::Cuda ? Device::cuda() : Device::cpu();
  Tensor w;
  sparse::SparseParameter p = make_param(m, block, dt, 61, &w);
  const int64_t n = 45, batch = 2;
  Tensor b = randn({batch, m.cols, n}, 62, dt), bt = randn({batch, m.rows, n}, 63, dt);
  // References on the CPU: C = W B, C' = W^T B', out = X Y^T at the entries.
  Tensor c_ref = Tensor::empty({batch, m.rows, n}, dt), ct_ref = Tensor::empty({batch, m.cols, n}, dt);
  Tensor dv_ref = Tensor::empty({p.values.numel()}, dt);
  ops::spmm_into(p, p.values, false, b, c_ref);
  ops::spmm_into(p, p.values, true, bt, ct_ref);
  ops::sddmm_into(p, bt, b, dv_ref);
  if (dev.is_cpu()) {
    // The reference itself against dense math, on every batch item.
    for (int64_t i = 0; i < batch; ++i) {
      EXPECT_LE(rel_error(batch_slice(c_ref, i), ops::matmul(w, batch_slice(b, i))), tol_for(dt));
      Tensor ct0 = Tensor::empty({m.cols, n}, dt);
      ops::gemm_into(true, false, w, batch_slice(bt, i), ct0);
      EXPECT_LE(rel_error(batch_slice(ct_ref, i), ct0), tol_for(dt));
    }
    Tensor dw = Tensor::zeros({m.rows, m.cols}, dt);
    for (int64_t i = 0; i < batch; ++i) ops::gemm_into(false, true, batch_slice(bt, i), batch_slice(b, i), dw, 1.0);
    EXPECT_LE(rel_error(scatter_dense(p, dv_ref), mask_like(p, dw)), tol_for(dt));
  } else {
    SPROUT_SKIP_IF_NO_DEVICE(dev);
    p.to(dev);
    b = b.to(dev);
    bt = bt.to(dev);
  }
  Tensor c = Tensor::empty({batch, m.rows, n}, dt, dev), ct = Tensor::empty({batch, m.cols, n}, dt, dev);
  Tensor dv = Tensor::empty({p.values.numel()}, dt, dev);
  ops::spmm_into(p, p.values, false, b, c, false, &k);
  ops::spmm_into(p, p.values, true, bt, ct, false, &k);
  ops::sddmm_into(p, bt, b, dv, false, &k);
  EXPECT_LE(rel_error(c, c_ref), tol_for(dt));
  EXPECT_LE(rel_error(ct, ct_ref), tol_for(dt));
  EXPECT_LE(rel_error(dv, dv_ref), tol_for(dt));
  // The transposed output with a bias, written directly or transposed after.
  {
    Tensor bias = randn({m.rows}, 64, dt), biast = randn({m.cols}, 65, dt);
    Tensor b0 = batch_slice(b.to(Device::cpu()), 0), bt0 = batch_slice(bt.to(Device::cpu()), 0);
    Tensor yt = ops::spmm_transposed(p, p.values, false, b0.to(dev), MemCategory::Workspace, bias.to(dev), &k);
    Tensor ytt = ops::spmm_transposed(p, p.values, true, bt0.to(dev), MemCategory::Workspace, biast.to(dev), &k);
    Tensor want = ops::transpose2d(batch_slice(c_ref, 0), MemCategory::Workspace, bias);
    Tensor wantt = ops::transpose2d(batch_slice(ct_ref, 0), MemCategory::Workspace, biast);
    EXPECT_LE(rel_error(yt, want), tol_for(dt));
    EXPECT_LE(rel_error(ytt, wantt), tol_for(dt));
  }
  // Accumulating runs add to what is there.
  ops::spmm_into(p, p.values, false, b, c, true, &k);
  ops::sddmm_into(p, bt, b, dv, true, &k);
  Tensor c2 = ops::scale(c_ref, 2.0), dv2 = ops::scale(dv_ref, 2.0);
  EXPECT_LE(rel_error(c, c2), tol_for(dt));
  EXPECT_LE(rel_error(dv, dv2), tol_for(dt));
}

// Block sizes a kernel is checked at: CSR, or BSR from the smallest to the largest.
std::vector<int> blocks_of(const kernels::SparseKernel& k) {
  return k.format == kernels::SparseFormat::Bsr ? std::vector<int>{4, 7, 16, 32} : std::vector<int>{1};
}

TEST(SparseKernels, RegistryHasDefaultsForEveryPair) {
  using kernels::KernelDevice;
  using kernels::SparseFormat;
  EXPECT_EQ(kernels::selected_sparse_kernel(KernelDevice::Cpu, SparseFormat::Csr).name, "cpu_csr_rowsplit");
  EXPECT_EQ(kernels::selected_sparse_kernel(KernelDevice::Cpu, SparseFormat::Bsr).name, "cpu_bsr");
  EXPECT_THROW(kernels::select_sparse_kernel("no_such_kernel"), std::invalid_argument);
  kernels::select_sparse_kernel("cpu_csr_rowsplit");
  kernels::reset_sparse_kernel_selection();
  if (cuda_compiled()) {
    EXPECT_NE(kernels::find_sparse_kernel("cuda_cusparse"), nullptr);
    EXPECT_NE(kernels::find_sparse_kernel("cuda_rowsplit"), nullptr);
    EXPECT_NE(kernels::find_sparse_kernel("cuda_bsr"), nullptr);
  }
}

TEST(SparseKernels, EveryCpuKernelMatchesDense) {
  for (const kernels::SparseKernel& k : kernels::sparse_kernels()) {
    if (k.device != kernels::KernelDevice::Cpu) continue;
    for (const MaskCase& m : mask_cases())
      for (DType dt : {DType::F32, DType::F64})
        for (int block : blocks_of(k)) check_kernel(k, m, dt, block);
  }
}

TEST(SparseKernels, EveryCudaKernelMatchesCpu) {
  SPROUT_SKIP_IF_NO_DEVICE(Device::cuda());
  int checked = 0;
  for (const kernels::SparseKernel& k : kernels::sparse_kernels()) {
    if (k.device != kernels::KernelDevice::Cuda) continue;
    for (const MaskCase& m : mask_cases())
      for (int block : blocks_of(k)) check_kernel(k, m, DType::F32, block);
    ++checked;
  }
  EXPECT_GE(checked, 3);
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
