// Every kernel in kernels/sparse_registry.*: its SpMM, transposed SpMM (with a bias),
// SDDMM and accumulating runs, CPU kernels against dense math on the masked weight,
// CUDA kernels against the CPU's default kernel; and the registry's default choices.
#include "engine/ops/elementwise.h"
#include "engine/ops/gemm.h"
#include "engine/ops/sddmm.h"
#include "engine/ops/spmm.h"
#include "kernels/sparse_registry.h"
#include "sparse_testing.h"

namespace sprout {
namespace {

using namespace testing;

// One kernel's three products on p against the dense-masked reference (on the CPU)
// or against the CPU's default kernel (CUDA).
void check_kernel(const kernels::SparseKernel& k, const MaskCase& m, DType dt, int block, int64_t n = 45) {
  SCOPED_TRACE(k.name + " " + m.name + " " + dtype_name(dt) + " block " + std::to_string(block) + " n " +
               std::to_string(n));
  Device dev = k.device == kernels::KernelDevice::Cuda ? Device::cuda() : Device::cpu();
  Tensor w;
  sparse::SparseParameter p = make_param(m, block, dt, 61, &w);
  const int64_t batch = 2;
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

// Rows longer than the kernels' column tiles and blocks (an unfolded image), with a
// remainder after the last whole block.
TEST(SparseKernels, EveryCpuKernelMatchesDenseOnLongRows) {
  const MaskCase m = edge_mask("long", 12, 20, 0.3, 66);
  for (const kernels::SparseKernel& k : kernels::sparse_kernels())
    if (k.device == kernels::KernelDevice::Cpu)
      for (int block : blocks_of(k)) check_kernel(k, m, DType::F32, block, 2500);
}

// Rows narrower than one vector (a scalar pass) and a vector and a bit (a vector tail
// that rereads columns before the rest), in both element types.
TEST(SparseKernels, EveryCpuKernelMatchesDenseOnNarrowRows) {
  const MaskCase m = edge_mask("narrow", 12, 20, 0.3, 68);
  for (const kernels::SparseKernel& k : kernels::sparse_kernels())
    if (k.device == kernels::KernelDevice::Cpu)
      for (DType dt : {DType::F32, DType::F64})
        for (int64_t n : {3, 5, 13})
          for (int block : blocks_of(k)) check_kernel(k, m, dt, block, n);
}

// Operands past half an L2 cache with rows 512 bytes apart and a narrow batch (an MLP
// layer), where the CSR SpMM prefetches the rows its entries select, plain and
// through the CSC view.
TEST(SparseKernels, EveryCpuKernelMatchesDenseOnLargeNarrowOperands) {
  const MaskCase m = edge_mask("large", 1100, 1100, 0.05, 67);
  for (const kernels::SparseKernel& k : kernels::sparse_kernels())
    if (k.device == kernels::KernelDevice::Cpu && k.format == kernels::SparseFormat::Csr) {
      check_kernel(k, m, DType::F32, 1, 128);
      check_kernel(k, m, DType::F64, 1, 64);
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

}  // namespace
}  // namespace sprout
