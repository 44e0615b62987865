// Layout moves and entry offsets of the unfolding-free sparse convolution (see
// sparse_conv.h). Every move is one pass over an activation, parallel over planes.
#include "kernels/cpu/sparse_conv.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

namespace sprout::kernels::cpu {

ImplicitConv ImplicitConv::make(int64_t C, int64_t H, int64_t W, int64_t O, int64_t k, int64_t s, int64_t p,
                                int64_t nb) {
  ImplicitConv g{};
  g.C = C, g.H = H, g.W = W, g.O = O, g.k = k, g.s = s, g.p = p, g.nb = nb;
  g.Hout = (H + 2 * p - k) / s + 1;
  g.Wout = (W + 2 * p - k) / s + 1;
  g.Hph = (H + 2 * p + s - 1) / s;
  g.Wph = (W + 2 * p + s - 1) / s;
  g.K2 = (k - 1) / s;
  g.Hg = g.Hph + g.K2;
  g.Wg = g.Wph + g.K2;
  return g;
}

bool ImplicitConv::fits_int32() const {
  const int64_t lim = std::numeric_limits<int32_t>::max();
  return in_size() < lim && g_size() < lim && dx_size() < lim;
}

template <class T>
void conv_pack_input(const ImplicitConv& g, const T* x, T* buf) {
  const int64_t S = g.s, planes = g.nb * g.C;
#pragma omp parallel for schedule(static)
  for (int64_t ic = 0; ic < planes; ++ic) {
    const int64_t i = ic / g.C, c = ic % g.C;
    const T* xp = x + ic * g.H * g.W;
    for (int64_t a = 0; a < S; ++a)
      for (int64_t b = 0; b < S; ++b) {
        T* dst = buf + ((c * g.phases() + a * S + b) * g.nb + i) * g.in_plane();
        for (int64_t r = 0; r < g.Hph; ++r) {
          T* d = dst + r * g.Wph;
          const int64_t h = r * S + a - g.p;
          if (h < 0 || h >= g.H) {
            std::fill(d, d + g.Wph, T(0));
            continue;
          }
          const T* src = xp + h * g.W;
          for (int64_t t = 0; t < g.Wph; ++t) {
            const int64_t w = t * S + b - g.p;
            d[t] = (w >= 0 && w < g.W) ? src[w] : T(0);
          }
        }
      }
  }
  std::fill(buf + g.C * g.phases() * g.out_cols(), buf + g.in_size(), T(0));
}

template <class T>
void conv_unpack_output(const ImplicitConv& g, const T* yq, T* y) {
  const int64_t planes = g.nb * g.O;
#pragma omp parallel for schedule(static)
  for (int64_t io = 0; io < planes; ++io) {
    const T* src = yq + (io % g.O) * g.out_cols() + (io / g.O) * g.in_plane();
    for (int64_t r = 0; r < g.Hout; ++r)
      std::memcpy(y + (io * g.Hout + r) * g.Wout, src + r * g.Wph, g.Wout * sizeof(T));
  }
}

template <class T>
void conv_pack_output_grad(const ImplicitConv& g, const T* gy, T* gyq) {
  const int64_t planes = g.nb * g.O;
#pragma omp parallel for schedule(static)
  for (int64_t io = 0; io < planes; ++io) {
    T* dst = gyq + (io % g.O) * g.out_cols() + (io / g.O) * g.in_plane();
    std::fill(dst, dst + g.in_plane(), T(0));
    for (int64_t r = 0; r < g.Hout; ++r)
      std::memcpy(dst + r * g.Wph, gy + (io * g.Hout + r) * g.Wout, g.Wout * sizeof(T));
  }
}

template <class T>
void conv_border_output_grad(const ImplicitConv& g, const T* gy, T* gyp) {
  const int64_t planes = g.nb * g.O;
#pragma omp parallel for schedule(static)
  for (int64_t io = 0; io < planes; ++io) {
    T* dst = gyp + (io % g.O) * g.dx_cols() + (io / g.O) * g.g_plane();
    std::fill(dst, dst + g.g_plane(), T(0));
    for (int64_t r = 0; r < g.Hout; ++r)
      std::memcpy(dst + (r + g.K2) * g.Wg + g.K2, gy + (io * g.Hout + r) * g.Wout, g.Wout * sizeof(T));
  }
  std::fill(gyp + g.O * g.dx_cols(), gyp + g.g_size(), T(0));
}

template <class T>
void conv_unpack_input_grad(const ImplicitConv& g, const T* dxq, T* dx) {
  const int64_t S = g.s, planes = g.nb * g.C;
#pragma omp parallel for schedule(static)
  for (int64_t ic = 0; ic < planes; ++ic) {
    const T* src = dxq + (ic % g.C) * g.phases() * g.dx_cols() + (ic / g.C) * g.g_plane();
    T* d = dx + ic * g.H * g.W;
    for (int64_t h = 0; h < g.H; ++h) {
      const int64_t hp = h + g.p;
      const T* row = src + (hp % S) * S * g.dx_cols() + (hp / S) * g.Wg;
      for (int64_t w = 0; w < g.W; ++w) {
        const int64_t wp = w + g.p;
        d[h * g.W + w] = row[(wp % S) * g.dx_cols() + wp / S];
      }
    }
  }
}

void conv_entry_offsets(const ImplicitConv& g, const int32_t* row_ptr, const int32_t* col_idx, int32_t* off) {
  const int64_t kk = g.k * g.k, S = g.s;
  for (int64_t j = row_ptr[0]; j < row_ptr[g.O]; ++j) {
    const int64_t col = col_idx[j], c = col / kk, kh = col % kk / g.k, kw = col % g.k;
    off[j - row_ptr[0]] =
        (int32_t)((c * g.phases() + (kh % S) * S + kw % S) * g.out_cols() + (kh / S) * g.Wph + kw / S);
  }
}

void conv_transpose_offsets(const ImplicitConv& g, const int32_t* row_ptr, const int32_t* col_idx,
                            int32_t* t_row_ptr, int32_t* off, int32_t* perm) {
  const int64_t kk = g.k * g.k, S = g.s, C1 = g.C + 1, base = row_ptr[0];
  const int64_t slots = g.phases() * C1;
  std::vector<int64_t> fill(slots, 0);
  auto slot = [&](int64_t col) {
    const int64_t kh = col % kk / g.k, kw = col % g.k;
    return ((kh % S) * S + kw % S) * C1 + col / kk;
  };
  for (int64_t j = base; j < row_ptr[g.O]; ++j) ++fill[slot(col_idx[j]) + 1];
  for (int64_t q = 1; q < slots; ++q) fill[q] += fill[q - 1];  // slot q starts at fill[q]
  for (int64_t q = 0; q < slots; ++q) t_row_ptr[q] = (int32_t)fill[q];
  for (int64_t o = 0; o < g.O; ++o)
    for (int64_t j = row_ptr[o]; j < row_ptr[o + 1]; ++j) {
      const int64_t col = col_idx[j], kh = col % kk / g.k, kw = col % g.k;
      const int64_t e = fill[slot(col)]++;
      off[e] = (int32_t)(o * g.dx_cols() + (g.K2 - kh / S) * g.Wg + (g.K2 - kw / S));
      perm[e] = (int32_t)(j - base);
    }
}

#define SPROUT_IMPLICIT_CONV(T)                                                   \
  template void conv_pack_input<T>(const ImplicitConv&, const T*, T*);           \
  template void conv_unpack_output<T>(const ImplicitConv&, const T*, T*);        \
  template void conv_pack_output_grad<T>(const ImplicitConv&, const T*, T*);     \
  template void conv_border_output_grad<T>(const ImplicitConv&, const T*, T*);   \
  template void conv_unpack_input_grad<T>(const ImplicitConv&, const T*, T*);
SPROUT_IMPLICIT_CONV(float)
SPROUT_IMPLICIT_CONV(double)
#undef SPROUT_IMPLICIT_CONV

}  // namespace sprout::kernels::cpu
