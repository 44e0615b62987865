// Layout moves and entry offsets of the unfolding-free sparse convolution on the GPU
// (see sparse_conv.h): every move is one grid-stride pass with a thread per element it
// writes, and the transposed offsets are CUB's stable radix sort of the entries by slot.
#include <stdexcept>

#include <cub/device/device_radix_sort.cuh>

#include "kernels/cuda/carve.cuh"
#include "kernels/cuda/check.cuh"
#include "kernels/cuda/sparse_conv.h"

namespace sprout::kernels::cuda {

namespace {

constexpr int kThreads = 256;

// ImplicitConv's sizes, with the derived ones computed on the host (its member
// functions are host code).
struct Dims {
  int64_t C, H, W, O, k, s, p, Hout, Wout, nb, Hph, Wph, K2, Hg, Wg;
  int64_t phases, in_plane, out_cols, g_plane, dx_cols;
};

Dims dims_of(const ImplicitConv& g) {
  return Dims{g.C,   g.H,   g.W,  g.O,  g.k,  g.s,        g.p,          g.Hout,       g.Wout,      g.nb,
              g.Hph, g.Wph, g.K2, g.Hg, g.Wg, g.phases(), g.in_plane(), g.out_cols(), g.g_plane(), g.dx_cols()};
}

#define SPROUT_GRID_STRIDE(i, n) \
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

// ---- layout moves ---------------------------------------------------------------------

// buf[((c * phases + a s + b) * nb + i) * in_plane + r * Wph + t] = padded x[i, c] at
// (r s + a, t s + b).
__global__ void pack_input_k(Dims d, const float* x, float* buf, int64_t total) {
  SPROUT_GRID_STRIDE(q, total) {
    const int64_t t = q % d.Wph, r = q / d.Wph % d.Hph, i = q / d.in_plane % d.nb;
    const int64_t ph = q / (d.in_plane * d.nb) % d.phases, c = q / (d.in_plane * d.nb * d.phases);
    const int64_t h = r * d.s + ph / d.s - d.p, w = t * d.s + ph % d.s - d.p;
    buf[q] = (h >= 0 && h < d.H && w >= 0 && w < d.W) ? x[((i * d.C + c) * d.H + h) * d.W + w] : 0.f;
  }
}

__global__ void unpack_output_k(Dims d, const float* yq, float* y, int64_t total) {
  SPROUT_GRID_STRIDE(q, total) {
    const int64_t w = q % d.Wout, r = q / d.Wout % d.Hout, io = q / (d.Hout * d.Wout);
    y[q] = yq[(io % d.O) * d.out_cols + (io / d.O) * d.in_plane + r * d.Wph + w];
  }
}

__global__ void pack_output_grad_k(Dims d, const float* gy, float* gyq, int64_t total) {
  SPROUT_GRID_STRIDE(q, total) {
    const int64_t t = q % d.Wph, r = q / d.Wph % d.Hph, i = q / d.in_plane % d.nb, o = q / d.out_cols;
    gyq[q] = (r < d.Hout && t < d.Wout) ? gy[((i * d.O + o) * d.Hout + r) * d.Wout + t] : 0.f;
  }
}

__global__ void border_output_grad_k(Dims d, const float* gy, float* gyp, int64_t total) {
  SPROUT_GRID_STRIDE(q, total) {
    const int64_t t = q % d.Wg - d.K2, r = q / d.Wg % d.Hg - d.K2, i = q / d.g_plane % d.nb, o = q / d.dx_cols;
    gyp[q] = (r >= 0 && r < d.Hout && t >= 0 && t < d.Wout) ? gy[((i * d.O + o) * d.Hout + r) * d.Wout + t] : 0.f;
  }
}

__global__ void unpack_input_grad_k(Dims d, const float* dxq, float* dx, int64_t total) {
  SPROUT_GRID_STRIDE(q, total) {
    const int64_t w = q % d.W, h = q / d.W % d.H, ic = q / (d.H * d.W);
    const float* src = dxq + (ic % d.C) * d.phases * d.dx_cols + (ic / d.C) * d.g_plane;
    const int64_t hp = h + d.p, wp = w + d.p;
    dx[q] = src[(hp % d.s) * d.s * d.dx_cols + (hp / d.s) * d.Wg + (wp % d.s) * d.dx_cols + wp / d.s];
  }
}

// ---- entry offsets --------------------------------------------------------------------

__global__ void entry_offsets_k(Dims d, const int32_t* col_idx, int32_t* off, int64_t nnz) {
  const int64_t kk = d.k * d.k;
  SPROUT_GRID_STRIDE(j, nnz) {
    const int64_t col = col_idx[j], c = col / kk, kh = col % kk / d.k, kw = col % d.k;
    off[j] = (int32_t)((c * d.phases + (kh % d.s) * d.s + kw % d.s) * d.out_cols + (kh / d.s) * d.Wph + kw / d.s);
  }
}

// Each entry's slot of W^T per phase, and its index to carry through the sort.
__global__ void slot_keys_k(Dims d, const int32_t* col_idx, uint32_t* key, int32_t* idx, int64_t nnz) {
  const int64_t kk = d.k * d.k;
  SPROUT_GRID_STRIDE(j, nnz) {
    const int64_t col = col_idx[j], kh = col % kk / d.k, kw = col % d.k;
    key[j] = (uint32_t)(((kh % d.s) * d.s + kw % d.s) * (d.C + 1) + col / kk);
    idx[j] = (int32_t)j;
  }
}

// t_row_ptr[q] = the number of entries whose slot is below q.
__global__ void slot_starts_k(const uint32_t* sorted, int64_t nnz, int64_t slots, int32_t* t_row_ptr) {
  SPROUT_GRID_STRIDE(q, slots) {
    int64_t lo = 0, hi = nnz;
    while (lo < hi) {
      const int64_t mid = (lo + hi) / 2;
      if ((int64_t)sorted[mid] < q) lo = mid + 1;
      else hi = mid;
    }
    t_row_ptr[q] = (int32_t)lo;
  }
}

// off[e] for the entry perm[e] of W, in row o: its place in the bordered output gradient.
__global__ void transposed_offsets_k(Dims d, const int32_t* row_ptr, const int32_t* col_idx, const int32_t* perm,
                                     int32_t* off, int64_t nnz) {
  const int64_t kk = d.k * d.k;
  SPROUT_GRID_STRIDE(e, nnz) {
    const int64_t j = perm[e];
    int64_t lo = 0, hi = d.O;  // the last row o with row_ptr[o] <= j
    while (hi - lo > 1) {
      const int64_t mid = (lo + hi) / 2;
      if (row_ptr[mid] <= j) lo = mid;
      else hi = mid;
    }
    const int64_t col = col_idx[j], kh = col % kk / d.k, kw = col % d.k;
    off[e] = (int32_t)(lo * d.dx_cols + (d.K2 - kh / d.s) * d.Wg + (d.K2 - kw / d.s));
  }
}

#undef SPROUT_GRID_STRIDE

// Key bits the sort needs: slots lie in [0, phases (C + 1)).
int slot_bits(const ImplicitConv& g) {
  const int64_t slots = g.phases() * (g.C + 1);
  int bits = 1;
  while ((int64_t(1) << bits) < slots) ++bits;
  return bits;
}

size_t sort_bytes(const ImplicitConv& g, int64_t nnz) {
  size_t bytes = 0;
  SPROUT_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(nullptr, bytes, (const uint32_t*)nullptr, (uint32_t*)nullptr,
                                                    (const int32_t*)nullptr, (int32_t*)nullptr, (int)nnz, 0,
                                                    slot_bits(g)));
  return bytes;
}

}  // namespace

void conv_pack_input(const ImplicitConv& g, const float* x, float* buf, cudaStream_t s) {
  const int64_t total = g.C * g.phases() * g.out_cols();
  SPROUT_LAUNCH_1D(pack_input_k, total, kThreads, s, dims_of(g), x, buf, total);
  SPROUT_CUDA_CHECK(cudaMemsetAsync(buf + total, 0, (size_t)(g.in_size() - total) * sizeof(float), s));
}

void conv_unpack_output(const ImplicitConv& g, const float* yq, float* y, cudaStream_t s) {
  const int64_t total = g.nb * g.O * g.Hout * g.Wout;
  SPROUT_LAUNCH_1D(unpack_output_k, total, kThreads, s, dims_of(g), yq, y, total);
}

void conv_pack_output_grad(const ImplicitConv& g, const float* gy, float* gyq, cudaStream_t s) {
  const int64_t total = g.O * g.out_cols();
  SPROUT_LAUNCH_1D(pack_output_grad_k, total, kThreads, s, dims_of(g), gy, gyq, total);
}

void conv_border_output_grad(const ImplicitConv& g, const float* gy, float* gyp, cudaStream_t s) {
  const int64_t total = g.O * g.dx_cols();
  SPROUT_LAUNCH_1D(border_output_grad_k, total, kThreads, s, dims_of(g), gy, gyp, total);
  SPROUT_CUDA_CHECK(cudaMemsetAsync(gyp + total, 0, (size_t)(g.g_size() - total) * sizeof(float), s));
}

void conv_unpack_input_grad(const ImplicitConv& g, const float* dxq, float* dx, cudaStream_t s) {
  const int64_t total = g.nb * g.C * g.H * g.W;
  SPROUT_LAUNCH_1D(unpack_input_grad_k, total, kThreads, s, dims_of(g), dxq, dx, total);
}

void conv_entry_offsets(const ImplicitConv& g, int64_t nnz, const int32_t* col_idx, int32_t* off, cudaStream_t s) {
  SPROUT_LAUNCH_1D(entry_offsets_k, nnz, kThreads, s, dims_of(g), col_idx, off, nnz);
}

size_t conv_transpose_offsets_workspace(const ImplicitConv& g, int64_t nnz) {
  cub_items(nnz, "conv_transpose_offsets");
  if (nnz == 0) return 0;
  return align_up(sort_bytes(g, nnz)) + 2 * align_up((size_t)nnz * sizeof(uint32_t)) +
         align_up((size_t)nnz * sizeof(int32_t));
}

void conv_transpose_offsets(const ImplicitConv& g, int64_t nnz, const int32_t* row_ptr, const int32_t* col_idx,
                            int32_t* t_row_ptr, int32_t* off, int32_t* perm, void* ws, size_t ws_bytes,
                            cudaStream_t s) {
  const int64_t slots = g.phases() * (g.C + 1);
  if (nnz == 0) {
    SPROUT_CUDA_CHECK(cudaMemsetAsync(t_row_ptr, 0, (size_t)slots * sizeof(int32_t), s));
    return;
  }
  if (ws_bytes < conv_transpose_offsets_workspace(g, nnz))
    throw std::invalid_argument("conv_transpose_offsets: workspace too small");
  const Dims d = dims_of(g);
  Carve c{static_cast<char*>(ws)};
  uint32_t* key = c.take<uint32_t>((size_t)nnz);
  uint32_t* sorted = c.take<uint32_t>((size_t)nnz);
  int32_t* idx = c.take<int32_t>((size_t)nnz);
  SPROUT_LAUNCH_1D(slot_keys_k, nnz, kThreads, s, d, col_idx, key, idx, nnz);
  size_t temp = ws_bytes - c.used;
  SPROUT_CUDA_CHECK(cub::DeviceRadixSort::SortPairs(c.base + c.used, temp, key, sorted, idx, perm, (int)nnz, 0,
                                                    slot_bits(g), s));
  SPROUT_LAUNCH_1D(slot_starts_k, slots, kThreads, s, sorted, nnz, slots, t_row_ptr);
  SPROUT_LAUNCH_1D(transposed_offsets_k, nnz, kThreads, s, d, row_ptr, col_idx, perm, off, nnz);
}

}  // namespace sprout::kernels::cuda
