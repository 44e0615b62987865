// CPU gradient growth: a running top-k over tiles of dW (exact) or over sampled open
// positions (sampled). Ranking is (score desc, position asc), the order topk_empty uses,
// so the exact path picks the same set as ranking the whole dense gradient.
#include "kernels/cpu/grow.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/order_key.h"
#include "kernels/tie_noise.h"

namespace sprout::kernels::cpu {

namespace {

// The k best (key, position) pairs seen, in O(k) memory: a buffer of up to 2k pruned
// with nth_element; once pruned, a candidate must beat the k-th best (positions arrive
// ascending in the exact path, so an equal key then loses; the sampled path checks ties).
template <class U>
class RunningTopK {
 public:
  explicit RunningTopK(int64_t k) : k_(k) { buf_.reserve((size_t)std::min<int64_t>(2 * k + 16, 1 << 24)); }
  void add(U key, int64_t pos) {
    if (k_ <= 0) return;
    if (pruned_ && !better({key, pos}, worst_)) return;
    buf_.push_back({key, pos});
    if ((int64_t)buf_.size() >= 2 * k_ + 16) prune();
  }
  std::vector<int64_t> finish() {
    prune();
    std::vector<int64_t> out;
    for (auto& e : buf_) out.push_back(e.second);
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  using Entry = std::pair<U, int64_t>;
  static bool better(const Entry& a, const Entry& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); }
  void prune() {
    if ((int64_t)buf_.size() > k_) {
      std::nth_element(buf_.begin(), buf_.begin() + (k_ - 1), buf_.end(), better);
      buf_.resize((size_t)k_);
    }
    if ((int64_t)buf_.size() == k_) {
      worst_ = *std::min_element(buf_.begin(), buf_.end(), [](const Entry& a, const Entry& b) { return better(b, a); });
      pruned_ = true;
    }
  }
  int64_t k_;
  std::vector<Entry> buf_;
  Entry worst_{};
  bool pruned_ = false;
};

// Whether grid position (R, C) is open: not stored, or stored and dropped by keep.
bool is_open(const int32_t* row_ptr, const int32_t* col_idx, const uint8_t* keep, int64_t R, int64_t C) {
  const int32_t* b = col_idx + row_ptr[R];
  const int32_t* e = col_idx + row_ptr[R + 1];
  const int32_t* it = std::lower_bound(b, e, (int32_t)C);
  if (it == e || *it != C) return true;
  return keep && !keep[it - col_idx];
}

}  // namespace

template <class T>
void grow_exact_tiled(const T* gt, const T* xt, int64_t rows, int64_t cols, int64_t n, int block,
                      const int32_t* row_ptr, const int32_t* col_idx, const uint8_t* keep, int64_t k, bool noisy,
                      uint64_t seed, int64_t tile_rows, T* ws, int64_t* out) {
  const int64_t b = block, gr = (rows + b - 1) / b, gc = (cols + b - 1) / b, tgr = std::max<int64_t>(1, tile_rows / b);
  RunningTopK<decltype(order_key(T()))> top(k);
  for (int64_t R0 = 0; R0 < gr; R0 += tgr) {
    const int64_t R1 = std::min(gr, R0 + tgr), r0 = R0 * b, m = std::min(rows, R1 * b) - r0;
    gemm<T>(false, true, m, cols, n, T(1), gt + r0 * n, n, xt, n, T(0), ws, cols);
    // Each block strip's scores overwrite the head of its own first row: column C is
    // read (as part of block C / b <= C) before score C is written.
#pragma omp parallel for schedule(static) if (m * cols > (1 << 16))
    for (int64_t R = R0; R < R1; ++R) {
      T* strip = ws + (R - R0) * b * cols;
      for (int64_t C = 0; C < gc; ++C) {
        T s = T(0);
        for (int64_t i = R * b; i < std::min(rows, (R + 1) * b); ++i)
          for (int64_t j = C * b; j < std::min(cols, (C + 1) * b); ++j) s += std::fabs(strip[(i - R * b) * cols + j]);
        strip[C] = noisy ? s + (T)tie_noise(seed, R * gc + C) : s;
      }
    }
    for_open_positions(R0, R1, gc, row_ptr, col_idx, keep, [&](int64_t pos) {
      const int64_t R = pos / gc, C = pos % gc;
      top.add(order_key(ws[(R - R0) * b * cols + C]), pos);
    });
  }
  std::vector<int64_t> picked = top.finish();
  std::copy(picked.begin(), picked.end(), out);
}

template <class T>
int64_t grow_sampled(const T* gt, const T* xt, int64_t rows, int64_t cols, int64_t n, int block,
                     const int32_t* row_ptr, const int32_t* col_idx, const uint8_t* keep, int64_t k, bool noisy,
                     uint64_t seed, int64_t candidates, uint64_t sample_seed, int64_t* out) {
  const int64_t b = block, gr = (rows + b - 1) / b, gc = (cols + b - 1) / b, total = gr * gc;
  // Draws continue from where the last round stopped until `candidates` distinct open
  // positions are in hand; the caller asks for fewer than half the open ones.
  std::vector<int64_t> cand;
  cand.reserve((size_t)candidates);
  int64_t draw = 0;
  while ((int64_t)cand.size() < candidates) {
    const int64_t want = candidates - (int64_t)cand.size(), had = (int64_t)cand.size();
    for (int64_t d = 0; d < want; ++d, ++draw) {
      const int64_t p = (int64_t)(((unsigned __int128)hash_key(sample_seed, draw) * (uint64_t)total) >> 64);
      if (is_open(row_ptr, col_idx, keep, p / gc, p % gc)) cand.push_back(p);
    }
    std::sort(cand.begin() + had, cand.end());
    std::inplace_merge(cand.begin(), cand.begin() + had, cand.end());
    cand.erase(std::unique(cand.begin(), cand.end()), cand.end());
  }
  std::vector<T> score(cand.size());
#pragma omp parallel for schedule(dynamic, 256)
  for (int64_t q = 0; q < (int64_t)cand.size(); ++q) {
    const int64_t R = cand[(size_t)q] / gc, C = cand[(size_t)q] % gc;
    T s = T(0);
    for (int64_t i = R * b; i < std::min(rows, (R + 1) * b); ++i)
      for (int64_t j = C * b; j < std::min(cols, (C + 1) * b); ++j) {
        const T* g = gt + i * n;
        const T* x = xt + j * n;
        T dot = T(0);
        for (int64_t t = 0; t < n; ++t) dot += g[t] * x[t];
        s += std::fabs(dot);
      }
    score[(size_t)q] = noisy ? s + (T)tie_noise(seed, cand[(size_t)q]) : s;
  }
  RunningTopK<decltype(order_key(T()))> top(k);
  for (size_t q = 0; q < cand.size(); ++q) top.add(order_key(score[q]), cand[q]);
  std::vector<int64_t> picked = top.finish();
  std::copy(picked.begin(), picked.end(), out);
  return (int64_t)cand.size();
}

#define SPROUT_GROW_INSTANTIATE(T)                                                                               \
  template void grow_exact_tiled<T>(const T*, const T*, int64_t, int64_t, int64_t, int, const int32_t*,          \
                                    const int32_t*, const uint8_t*, int64_t, bool, uint64_t, int64_t, T*, int64_t*); \
  template int64_t grow_sampled<T>(const T*, const T*, int64_t, int64_t, int64_t, int, const int32_t*,           \
                                   const int32_t*, const uint8_t*, int64_t, bool, uint64_t, int64_t, uint64_t, int64_t*);
SPROUT_GROW_INSTANTIATE(float)
SPROUT_GROW_INSTANTIATE(double)

}  // namespace sprout::kernels::cpu
