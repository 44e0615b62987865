// The registry's table: one line per kernel. The first kernel registered for a
// (device, format) is that pair's default until select_sparse_kernel says otherwise.
#include "kernels/sparse_registry.h"

#include <mutex>
#include <stdexcept>

#include "kernels/cpu/sddmm.h"
#include "kernels/cpu/spmm.h"
#if SPROUT_WITH_CUDA
#include "kernels/cuda/spmm.h"
#endif

namespace sprout::kernels {

namespace {

template <class T>
SparseKernelFns<T> fns(void (*spmm)(const SpmmArgs<T>&), void (*sddmm)(const SddmmArgs<T>&)) {
  SparseKernelFns<T> f;
  f.spmm = spmm;
  f.sddmm = sddmm;
  return f;
}

// A CPU kernel: float32 and float64, transposed products through the CSC view, the
// output options (transposed C, row bias) and B rows at element offsets.
SparseKernel cpu_kernel(const char* name, SparseFormat format, SparseKernelFns<float> f32,
                        SparseKernelFns<double> f64, const char* note) {
  SparseKernel k;
  k.name = name;
  k.device = KernelDevice::Cpu;
  k.format = format;
  k.needs_transpose_view = true;
  k.supports_output_options = true;
  k.offset_rows = true;
  k.f32 = f32;
  k.f64 = f64;
  k.note = note;
  return k;
}

std::vector<SparseKernel> build_table() {
  std::vector<SparseKernel> k;
  k.push_back(cpu_kernel("cpu_csr_rowsplit", SparseFormat::Csr, fns(cpu::spmm_csr<float>, cpu::sddmm_csr<float>),
                         fns(cpu::spmm_csr<double>, cpu::sddmm_csr<double>),
                         "OpenMP row ranges, register-tiled axpy over the batch"));
  k.push_back(cpu_kernel("cpu_bsr", SparseFormat::Bsr, fns(cpu::spmm_bsr<float>, cpu::sddmm_bsr<float>),
                         fns(cpu::spmm_bsr<double>, cpu::sddmm_bsr<double>),
                         "OpenMP block-row ranges, register-tiled axpy over the batch"));
#if SPROUT_WITH_CUDA
  k.push_back(cuda::cusparse_csr_kernel());
  k.push_back(cuda::rowsplit_csr_kernel());
  k.push_back(cuda::bsr_kernel());
#endif
  return k;
}

struct Selection {
  std::mutex mu;
  std::vector<std::string> chosen;  // indexed by device * 2 + format; empty: default
};

Selection& selection() {
  static Selection s;
  return s;
}

int slot(KernelDevice d, SparseFormat f) { return (int)d * 2 + (int)f; }

}  // namespace

const std::vector<SparseKernel>& sparse_kernels() {
  static const std::vector<SparseKernel> table = build_table();
  return table;
}

const SparseKernel* find_sparse_kernel(const std::string& name) {
  for (const SparseKernel& k : sparse_kernels())
    if (k.name == name) return &k;
  return nullptr;
}

const SparseKernel& selected_sparse_kernel(KernelDevice d, SparseFormat f) {
  {
    Selection& s = selection();
    std::lock_guard<std::mutex> g(s.mu);
    if (!s.chosen.empty() && !s.chosen[slot(d, f)].empty())
      if (const SparseKernel* k = find_sparse_kernel(s.chosen[slot(d, f)])) return *k;
  }
  for (const SparseKernel& k : sparse_kernels())
    if (k.device == d && k.format == f) return k;
  throw std::runtime_error(std::string("no sparse kernel registered for ") + kernel_device_name(d) +
                           " " + sparse_format_name(f));
}

void select_sparse_kernel(const std::string& name) {
  const SparseKernel* k = find_sparse_kernel(name);
  if (!k) {
    std::string known;
    for (const SparseKernel& e : sparse_kernels()) known += (known.empty() ? "" : ", ") + e.name;
    throw std::invalid_argument("unknown sparse kernel '" + name + "' (registered: " + known + ")");
  }
  Selection& s = selection();
  std::lock_guard<std::mutex> g(s.mu);
  s.chosen.resize(4);
  s.chosen[slot(k->device, k->format)] = name;
}

void reset_sparse_kernel_selection() {
  Selection& s = selection();
  std::lock_guard<std::mutex> g(s.mu);
  s.chosen.clear();
}

}  // namespace sprout::kernels
