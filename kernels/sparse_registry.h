// The sparse kernel registry: every SpMM / SDDMM implementation, CPU or CUDA, CSR or
// BSR, is one entry here under a name ("cpu_csr_rowsplit", "cuda_cusparse", ...), so
// the engine ops pick one by a config string and the parity tests and benchmark walk
// them all. A new kernel is one file that returns a SparseKernel plus one line in
// sparse_registry.cpp. Raw pointers and sizes only: no engine headers.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/cuda/runtime.h"

namespace sprout::kernels {

enum class SparseFormat : uint8_t { Csr, Bsr };
enum class KernelDevice : uint8_t { Cpu, Cuda };

inline const char* sparse_format_name(SparseFormat f) { return f == SparseFormat::Csr ? "csr" : "bsr"; }
inline const char* kernel_device_name(KernelDevice d) { return d == KernelDevice::Cpu ? "cpu" : "cuda"; }

// A sparse matrix A [rows, cols] stored by block rows: CSR when block == 1, BSR with
// block x block row-major blocks otherwise (edge blocks may hang over rows/cols; the
// overhang holds zeros and is never read or written by a kernel).
// The t_* arrays are the transposed structure (CSC of A = CSR of A^T over block
// columns): t_col_idx holds block rows of A, t_perm the index of that block in
// `values`. Kernels that list needs_transpose_view read them for A^T products.
template <class T>
struct SparseOperand {
  int64_t rows = 0, cols = 0;
  int block = 1;
  int64_t nnz_blocks = 0;
  const int32_t* row_ptr = nullptr;  // [ceil(rows / block) + 1]
  const int32_t* col_idx = nullptr;  // [nnz_blocks]
  const T* values = nullptr;         // [nnz_blocks * block * block]
  const int32_t* t_row_ptr = nullptr;  // [ceil(cols / block) + 1]
  const int32_t* t_col_idx = nullptr;  // [nnz_blocks]
  const int32_t* t_perm = nullptr;     // [nnz_blocks]
  int64_t block_rows() const { return (rows + block - 1) / block; }
  int64_t block_cols() const { return (cols + block - 1) / block; }
};

// C_i = op(A) B_i for i < batch, op(A) = A or A^T. B_i is [op(A).cols, n] row-major
// with row stride ldb, C_i [op(A).rows, n] with row stride ldc; consecutive batch
// items are stride_b / stride_c elements apart. accumulate: C_i += instead of =.
// Output options, only for kernels with supports_output_options (others throw):
// transpose_c stores C_i as [n, op(A).rows] with row stride ldc; row_bias[r] is added
// to every element of output row r.
template <class T>
struct SpmmArgs {
  SparseOperand<T> a;
  bool transpose_a = false;
  int64_t n = 0, batch = 1;
  const T* b = nullptr;
  int64_t ldb = 0, stride_b = 0;
  T* c = nullptr;
  int64_t ldc = 0, stride_c = 0;
  bool accumulate = false;
  bool transpose_c = false;
  const T* row_bias = nullptr;
  void* workspace = nullptr;  // workspace_bytes(args) bytes from the engine
  size_t workspace_bytes = 0;
  cudaStream_t stream = nullptr;
};

// SDDMM: out[block e][i][j] (=|+=) sum over batch items of dot(X_b[r, :n], Y_b[c, :n])
// for every stored entry (r, c) of the structure `a` (values unused). X_b is
// [a.rows, n], Y_b [a.cols, n], both row-major with row strides ldx / ldy. For a layer
// y = x W^T this is dW = dY^T X at W's nonzeros with X_b = dY^T and Y_b = X^T.
template <class T>
struct SddmmArgs {
  SparseOperand<T> a;
  int64_t n = 0, batch = 1;
  const T* x = nullptr;
  int64_t ldx = 0, stride_x = 0;
  const T* y = nullptr;
  int64_t ldy = 0, stride_y = 0;
  T* out = nullptr;  // [nnz_blocks * block * block]
  bool accumulate = false;
  void* workspace = nullptr;
  size_t workspace_bytes = 0;
  cudaStream_t stream = nullptr;
};

template <class T>
struct SparseKernelFns {
  void (*spmm)(const SpmmArgs<T>&) = nullptr;
  size_t (*spmm_workspace)(const SpmmArgs<T>&) = nullptr;  // null: needs none
  void (*sddmm)(const SddmmArgs<T>&) = nullptr;
  size_t (*sddmm_workspace)(const SddmmArgs<T>&) = nullptr;
};

struct SparseKernel {
  std::string name;
  KernelDevice device = KernelDevice::Cpu;
  SparseFormat format = SparseFormat::Csr;
  bool needs_transpose_view = false;  // reads a.t_* for transpose_a products
  bool supports_output_options = false;  // honours SpmmArgs::transpose_c and row_bias
  // Reads B's row r (and SDDMM's Y row) only as the pointer b + col * ldb, so column
  // indices may be element offsets into overlapping rows (ldb 1): the unfolding-free
  // sparse convolution (kernels/cpu/sparse_conv.h, kernels/cuda/sparse_conv.h) relies on it.
  bool offset_rows = false;
  SparseKernelFns<float> f32;
  SparseKernelFns<double> f64;  // null functions when the kernel has no float64 path
  std::string note;             // one line for the benchmark table
};

// Every registered kernel, CPU ones first.
const std::vector<SparseKernel>& sparse_kernels();
// Null when no kernel has that name.
const SparseKernel* find_sparse_kernel(const std::string& name);
// The kernel the engine uses for (device, format) unless told otherwise.
const SparseKernel& selected_sparse_kernel(KernelDevice d, SparseFormat f);
// Chooses the kernel for its (device, format) by name; throws on an unknown name.
void select_sparse_kernel(const std::string& name);
// Back to the built-in defaults.
void reset_sparse_kernel_selection();

}  // namespace sprout::kernels
