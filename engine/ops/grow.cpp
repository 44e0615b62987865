// Gradient growth from the gradient's factors: checks, the tile size, and the dispatch
// to the CPU kernels (kernels/cpu/grow) and their GPU twins (kernels/cuda/grow).
#include "engine/ops/grow.h"

#include "engine/core/dispatch.h"
#include "engine/core/flops.h"
#include "engine/ops/topology.h"
#include "kernels/cpu/grow.h"

namespace sprout::ops {

namespace {

// Checks the factors against p; returns the open count after the drop.
int64_t check_factors(const sparse::SparseParameter& p, const Tensor& gt, const Tensor& xt, int64_t k,
                      const Tensor& keep, int64_t kept, const char* op) {
  SPROUT_CHECK(gt.dim() == 2 && xt.dim() == 2 && gt.size(0) == p.rows && xt.size(0) == p.cols &&
                   gt.size(1) == xt.size(1) && gt.dtype() == xt.dtype(),
               op, ": factors ", shape_str(gt.shape()), " and ", shape_str(xt.shape()), " for a ", p.rows, " x ",
               p.cols, " weight (want [rows, n] and [cols, n], one dtype)");
  SPROUT_CHECK(gt.device() == p.values.device() && xt.device() == p.values.device(), op,
               ": factors on ", gt.device().str(), " for a weight on ", p.values.device().str());
  const int64_t nnzb = p.col_idx.numel();
  if (keep.defined())
    SPROUT_CHECK(keep.dtype() == DType::U8 && keep.numel() == nnzb && kept >= 0 && kept <= nnzb, op,
                 ": keep must be U8 [", nnzb, "] with its count of ones (got ", kept, ")");
  const int64_t open = sparse::grid_rows(p) * sparse::grid_cols(p) - (keep.defined() ? kept : nnzb);
  SPROUT_CHECK(k >= 0 && k <= open, op, ": ", k, " positions asked, ", open, " open");
  return open;
}

const uint8_t* keep_ptr(const Tensor& keep) { return keep.defined() ? keep.data<uint8_t>() : nullptr; }

// Workspace bytes per position of a GPU tile: its float, and two keys and two indices
// for the sort.
[[maybe_unused]] constexpr int64_t kCudaBytesPerTileEntry = 4 + 2 * 4 + 2 * 8;  // read only by CUDA builds

}  // namespace

int64_t grow_tile_rows(const sparse::SparseParameter& p, int64_t budget_bytes, size_t elem_bytes) {
  const int64_t row_bytes = std::max<int64_t>(1, p.cols * (int64_t)elem_bytes);
  const int64_t rows = std::max<int64_t>(p.block, budget_bytes / row_bytes / p.block * p.block);
  return std::min(rows, sparse::grid_rows(p) * p.block);
}

Tensor grow_exact_tiled(const sparse::SparseParameter& p, const Tensor& gt, const Tensor& xt, int64_t k,
                        const Tensor& keep, int64_t kept, std::optional<uint64_t> tie_seed, int64_t budget_bytes) {
  check_factors(p, gt, xt, k, keep, kept, "grow_exact_tiled");
  Tensor out = Tensor::empty({k}, DType::I64, gt.device(), MemCategory::Workspace);
  if (k == 0) return out;
  // dW's whole product, a tile at a time: weight-gradient work with no dense counterpart.
  count_flops(FlopPass::WeightGrad, 2.0 * (double)p.rows * (double)p.cols * (double)gt.size(1), 0.0);
  if (gt.is_cuda()) {
    check_cuda_f32(gt, "grow_exact_tiled");
    SPROUT_ON_CUDA({
      // A tile position also holds two keys and two indices for the sort: the budget
      // covers them all.
      const int64_t tile = grow_tile_rows(p, budget_bytes / kCudaBytesPerTileEntry, 1);
      Tensor ws = Tensor::empty({(int64_t)kernels::cuda::grow_exact_tiled_workspace(k, tile, p.cols, p.block)},
                                DType::U8, gt.device(), MemCategory::Workspace);
      kernels::cuda::grow_exact_tiled(gt.data<float>(), xt.data<float>(), p.rows, p.cols, gt.size(1), p.block,
                                      p.row_ptr.data<int32_t>(), p.col_idx.data<int32_t>(), keep_ptr(keep), k,
                                      tie_seed.has_value(), tie_seed.value_or(0), tile, out.data<int64_t>(),
                                      ws.raw_data(), (size_t)ws.numel(), stream());
    });
    return out;
  }
  const int64_t tile = grow_tile_rows(p, budget_bytes, dtype_size(gt.dtype()));
  Tensor ws = Tensor::empty({tile, p.cols}, gt.dtype(), Device::cpu(), MemCategory::Workspace);
  dispatch_float(gt.dtype(), "grow_exact_tiled", [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::grow_exact_tiled<T>(gt.data<T>(), xt.data<T>(), p.rows, p.cols, gt.size(1), p.block,
                                      p.row_ptr.data<int32_t>(), p.col_idx.data<int32_t>(), keep_ptr(keep), k,
                                      tie_seed.has_value(), tie_seed.value_or(0), tile, ws.data<T>(),
                                      out.data<int64_t>());
  });
  return out;
}

Tensor grow_sampled(const sparse::SparseParameter& p, const Tensor& gt, const Tensor& xt, int64_t k,
                    const Tensor& keep, int64_t kept, std::optional<uint64_t> tie_seed, int64_t candidates,
                    uint64_t sample_seed, int64_t budget_bytes) {
  const int64_t open = check_factors(p, gt, xt, k, keep, kept, "grow_sampled");
  SPROUT_CHECK(candidates >= 1, "grow_sampled: candidates per grown position must be at least 1, got ", candidates);
  const double want = (double)candidates * (double)k;
  if (2.0 * want >= (double)open) return grow_exact_tiled(p, gt, xt, k, keep, kept, tie_seed, budget_bytes);
  Tensor out = Tensor::empty({k}, DType::I64, gt.device(), MemCategory::Workspace);
  if (k == 0) return out;
  const double be = (double)p.block * p.block;
  count_flops(FlopPass::WeightGrad, 2.0 * (double)(int64_t)want * be * (double)gt.size(1), 0.0);
  if (gt.is_cuda()) {
    check_cuda_f32(gt, "grow_sampled");
    SPROUT_ON_CUDA({
      Tensor ws = Tensor::empty({(int64_t)kernels::cuda::grow_sampled_workspace((int64_t)want)}, DType::U8,
                                gt.device(), MemCategory::Workspace);
      kernels::cuda::grow_sampled(gt.data<float>(), xt.data<float>(), p.rows, p.cols, gt.size(1), p.block,
                                  p.row_ptr.data<int32_t>(), p.col_idx.data<int32_t>(), keep_ptr(keep), k,
                                  tie_seed.has_value(), tie_seed.value_or(0), (int64_t)want, sample_seed,
                                  out.data<int64_t>(), ws.raw_data(), (size_t)ws.numel(), stream());
    });
    return out;
  }
  dispatch_float(gt.dtype(), "grow_sampled", [&](auto tag) {
    using T = decltype(tag);
    kernels::cpu::grow_sampled<T>(gt.data<T>(), xt.data<T>(), p.rows, p.cols, gt.size(1), p.block,
                                  p.row_ptr.data<int32_t>(), p.col_idx.data<int32_t>(), keep_ptr(keep), k,
                                  tie_seed.has_value(), tie_seed.value_or(0), (int64_t)want, sample_seed,
                                  out.data<int64_t>());
  });
  return out;
}

Tensor grow_by_gradient(const sparse::SparseParameter& p, const sparse::GradFactors& grad, int64_t k,
                        const Tensor& keep, int64_t kept, uint64_t tie_seed, const GrowConfig& cfg) {
  if (grad.dense.defined()) return topk_empty_positions(p, grad.dense, k, keep, kept, tie_seed);
  if (cfg.sampled) {
    const uint64_t sample_seed = tie_seed ^ 0x5a3b1ed5a3b1ed5aull;
    return grow_sampled(p, grad.gt, grad.xt, k, keep, kept, tie_seed, cfg.candidates, sample_seed, cfg.budget_bytes);
  }
  return grow_exact_tiled(p, grad.gt, grad.xt, k, keep, kept, tie_seed, cfg.budget_bytes);
}

}  // namespace sprout::ops
