// The unfolding-free sparse convolution: offsets built once per call, then per chunk
// of images a layout move, one kernel call and the move back (see the header). Moves
// and offsets run where the data is: kernels/cpu/sparse_conv.* or, for float32 on the
// GPU, kernels/cuda/sparse_conv.* on the engine's stream, offsets built on the device.
#include "engine/ops/sparse_conv_implicit.h"

#include <algorithm>
#include <type_traits>

#include "engine/ops/sparse_support.h"
#include "kernels/cpu/sparse_conv.h"

namespace sprout::ops::detail {

using kernels::cpu::ImplicitConv;

namespace {

ImplicitConv implicit_geometry(const ConvGeometry& g, int64_t nb) {
  return ImplicitConv::make(g.C, g.H, g.W, g.O, g.kh, g.stride, g.pad, nb);
}

Tensor ints(int64_t n, Device dev) { return Tensor::empty({std::max<int64_t>(n, 1)}, DType::I32, dev, MemCategory::Workspace); }

Tensor scratch(int64_t n, const Tensor& like) {
  return Tensor::empty({std::max<int64_t>(n, 1)}, like.dtype(), like.device(), MemCategory::Workspace);
}

// The layout moves on one device and element type.
// CUDA kernels exist for float only; `if constexpr` keeps the double instantiation
// CPU-only (for_dtype refuses other types on CUDA first).
template <class T>
struct Moves {
  bool cuda;
  static constexpr bool kF32 = std::is_same<T, float>::value;
  void pack_input(const ImplicitConv& ic, const T* x, T* buf) const {
    if (!cuda) return kernels::cpu::conv_pack_input(ic, x, buf);
    if constexpr (kF32) SPROUT_ON_CUDA(kernels::cuda::conv_pack_input(ic, x, buf, stream()));
  }
  void unpack_output(const ImplicitConv& ic, const T* yq, T* y) const {
    if (!cuda) return kernels::cpu::conv_unpack_output(ic, yq, y);
    if constexpr (kF32) SPROUT_ON_CUDA(kernels::cuda::conv_unpack_output(ic, yq, y, stream()));
  }
  void pack_output_grad(const ImplicitConv& ic, const T* gy, T* gyq) const {
    if (!cuda) return kernels::cpu::conv_pack_output_grad(ic, gy, gyq);
    if constexpr (kF32) SPROUT_ON_CUDA(kernels::cuda::conv_pack_output_grad(ic, gy, gyq, stream()));
  }
  void border_output_grad(const ImplicitConv& ic, const T* gy, T* gyp) const {
    if (!cuda) return kernels::cpu::conv_border_output_grad(ic, gy, gyp);
    if constexpr (kF32) SPROUT_ON_CUDA(kernels::cuda::conv_border_output_grad(ic, gy, gyp, stream()));
  }
  void unpack_input_grad(const ImplicitConv& ic, const T* dxq, T* dx) const {
    if (!cuda) return kernels::cpu::conv_unpack_input_grad(ic, dxq, dx);
    if constexpr (kF32) SPROUT_ON_CUDA(kernels::cuda::conv_unpack_input_grad(ic, dxq, dx, stream()));
  }
};

// W^T per phase of the input gradient, on w's device.
TransposedOffsets transposed_offsets(const ImplicitConv& ic, const sparse::SparseParameter& w) {
  const int64_t nnz = sparse::nnz_blocks(w);
  const Device dev = w.row_ptr.device();
  TransposedOffsets t{ints(ic.phases() * (ic.C + 1), dev), ints(nnz, dev), ints(nnz, dev)};
  const int32_t* row_ptr = w.row_ptr.data<int32_t>();
  const int32_t* col_idx = w.col_idx.data<int32_t>();
  if (!dev.is_cuda()) {
    kernels::cpu::conv_transpose_offsets(ic, row_ptr, col_idx, t.row_ptr.data<int32_t>(), t.off.data<int32_t>(),
                                         t.perm.data<int32_t>());
    return t;
  }
  SPROUT_ON_CUDA({
    Tensor hold;
    const size_t bytes = kernels::cuda::conv_transpose_offsets_workspace(ic, nnz);
    kernels::cuda::conv_transpose_offsets(ic, nnz, row_ptr, col_idx, t.row_ptr.data<int32_t>(),
                                          t.off.data<int32_t>(), t.perm.data<int32_t>(),
                                          workspace(bytes, dev, hold), bytes, stream());
  });
  return t;
}

// The forward offsets, on w's device.
Tensor forward_offsets(const ImplicitConv& ic, const sparse::SparseParameter& w) {
  const Device dev = w.row_ptr.device();
  Tensor off = ints(sparse::nnz_blocks(w), dev);
  if (!dev.is_cuda()) {
    kernels::cpu::conv_entry_offsets(ic, w.row_ptr.data<int32_t>(), w.col_idx.data<int32_t>(), off.data<int32_t>());
    return off;
  }
  SPROUT_ON_CUDA(kernels::cuda::conv_entry_offsets(ic, sparse::nnz_blocks(w), w.col_idx.data<int32_t>(),
                                                   off.data<int32_t>(), stream()));
  return off;
}

// dx for a chunk of images: the output gradient into its bordered planes, one W^T
// product per phase, the phases back into NCHW.
template <class T>
void input_grad_chunk(const Moves<T>& m, const ImplicitConv& ic, const kernels::SparseKernel& kk,
                      const sparse::SparseParameter& w, const Tensor& values, const TransposedOffsets& t, const T* gy,
                      T* dx) {
  Tensor gyp = scratch(ic.g_size(), values), dxq = scratch(ic.dx_size(), values);
  m.border_output_grad(ic, gy, gyp.data<T>());
  for (int64_t ph = 0; ph < ic.phases(); ++ph) {
    kernels::SpmmArgs<T> a;
    a.a = sparse::operand<T>(w, values, nullptr);
    a.a.cols = ic.C;
    a.a.t_row_ptr = t.row_ptr.data<int32_t>() + ph * (ic.C + 1);
    a.a.t_col_idx = t.off.data<int32_t>();
    a.a.t_perm = t.perm.data<int32_t>();
    a.transpose_a = true;
    a.n = ic.dx_cols();
    a.b = gyp.data<T>();
    a.ldb = 1;
    a.c = dxq.data<T>() + ph * ic.dx_cols();
    a.ldc = ic.phases() * ic.dx_cols();
    call_spmm(fns_of<T>(kk), a, values.device());
  }
  m.unpack_input_grad(ic, dxq.data<T>(), dx);
}

// dv (+)= the SDDMM of a chunk of images: the output gradient on the phase plane's
// positions (zero where no output is) against the packed input at each offset.
template <class T>
void weight_grad_chunk(const Moves<T>& m, const ImplicitConv& ic, const kernels::SparseKernel& kk,
                       const sparse::SparseParameter& w, const Tensor& off, const Tensor& like, const T* x,
                       const T* gy, bool accumulate, T* dv) {
  Tensor buf = scratch(ic.in_size(), like), gyq = scratch(ic.O * ic.out_cols(), like);
  m.pack_input(ic, x, buf.data<T>());
  m.pack_output_grad(ic, gy, gyq.data<T>());
  kernels::SddmmArgs<T> a;
  a.a = sparse::operand<T>(w, Tensor(), nullptr);
  a.a.col_idx = off.data<int32_t>();
  a.n = ic.out_cols();
  a.x = gyq.data<T>();
  a.ldx = ic.out_cols();
  a.y = buf.data<T>();
  a.ldy = 1;
  a.out = dv;
  a.accumulate = accumulate;
  call_sddmm(fns_of<T>(kk), a, like.device());
}

// Images per chunk: the packed input, the product and (backward) the bordered
// output gradient and the phase products within the convolution workspace budget.
int64_t chunk_images(const ConvGeometry& g, size_t element_bytes) {
  const ImplicitConv one = implicit_geometry(g, 1);
  const int64_t per_image = 2 * (one.in_size() + g.O * one.out_cols()) + one.g_size() + one.dx_size();
  return conv_chunk_images(g.N, (size_t)per_image * element_bytes);
}

}  // namespace

bool implicit_conv_pays(const ConvGeometry& g, bool backward) {
  const ImplicitConv ic = implicit_geometry(g, 1);
  const double forward = (double)ic.in_plane() / (double)g.HW();
  const double input_grad = (double)(ic.phases() * ic.g_plane()) / (double)(g.H * g.W);
  return forward <= 1.5 && (!backward || input_grad <= 1.5);
}

bool implicit_conv_possible(const sparse::SparseParameter& w, Device dev, const ConvGeometry& g) {
  if (w.block != 1 || g.kh != g.kw) return false;
  if (dev.is_cuda() && w.values.dtype() != DType::F32) return false;  // the CUDA moves are float32
  if (!pick(w, dev, nullptr).offset_rows) return false;
  return implicit_geometry(g, chunk_images(g, dtype_size(w.values.dtype()))).fits_int32();
}

Tensor implicit_conv_forward(const Tensor& x, const sparse::SparseParameter& w, const Tensor& values,
                             const ConvGeometry& g) {
  const kernels::SparseKernel& kk = pick(w, x.device(), nullptr);
  Tensor y = Tensor::empty({g.N, g.O, g.Hout, g.Wout}, x.dtype(), x.device());
  const int64_t chunk = chunk_images(g, dtype_size(x.dtype()));
  Tensor off;
  for_dtype(x, "sparse_conv2d", [&](auto tag) {
    using T = decltype(tag);
    const Moves<T> m{x.is_cuda()};
    for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
      const ImplicitConv ic = implicit_geometry(g, std::min(chunk, g.N - n0));
      if (n0 == 0 || ic.nb != chunk) off = forward_offsets(ic, w);
      Tensor buf = scratch(ic.in_size(), x), yq = scratch(g.O * ic.out_cols(), x);
      m.pack_input(ic, x.data<T>() + n0 * g.CHW(), buf.data<T>());
      kernels::SpmmArgs<T> a;
      a.a = sparse::operand<T>(w, values, nullptr);
      a.a.col_idx = off.data<int32_t>();
      a.n = ic.out_cols();
      a.b = buf.data<T>();
      a.ldb = 1;
      a.c = yq.data<T>();
      a.ldc = ic.out_cols();
      call_spmm(fns_of<T>(kk), a, x.device());
      m.unpack_output(ic, yq.data<T>(), y.data<T>() + n0 * g.O * g.HW());
    }
  });
  return y;
}

std::vector<Tensor> implicit_conv_backward(const sparse::SparseParameter& w, const Tensor& values, const Tensor& x,
                                           bool want_dx, bool want_dv, const ConvGeometry& g, const Tensor& gy) {
  const kernels::SparseKernel& kk = pick(w, x.device(), nullptr);
  Tensor dx, dv, off;
  if (want_dx) dx = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (want_dv) dv = Tensor::empty(values.shape(), values.dtype(), values.device());
  TransposedOffsets t;
  const int64_t chunk = chunk_images(g, dtype_size(x.dtype()));
  for_dtype(x, "sparse_conv2d", [&](auto tag) {
    using T = decltype(tag);
    const Moves<T> m{x.is_cuda()};
    for (int64_t n0 = 0; n0 < g.N; n0 += chunk) {
      const ImplicitConv ic = implicit_geometry(g, std::min(chunk, g.N - n0));
      const bool rebuild = n0 == 0 || ic.nb != chunk;  // offsets depend on the chunk's size
      const T* gyc = gy.data<T>() + n0 * g.O * g.HW();
      if (want_dv) {
        if (rebuild) off = forward_offsets(ic, w);
        weight_grad_chunk<T>(m, ic, kk, w, off, x, x.data<T>() + n0 * g.CHW(), gyc, n0 > 0, dv.data<T>());
      }
      if (want_dx) {
        if (rebuild) t = transposed_offsets(ic, w);
        input_grad_chunk<T>(m, ic, kk, w, values, t, gyc, dx.data<T>() + n0 * g.CHW());
      }
    }
  });
  return {dx, dv};
}

Tensor implicit_entry_offsets(const sparse::SparseParameter& w, const ConvGeometry& g, int64_t nb) {
  return forward_offsets(implicit_geometry(g, nb), w);
}

TransposedOffsets implicit_transposed_offsets(const sparse::SparseParameter& w, const ConvGeometry& g, int64_t nb) {
  return transposed_offsets(implicit_geometry(g, nb), w);
}

}  // namespace sprout::ops::detail
