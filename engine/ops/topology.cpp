// Topology edits and selections: argument checks, CPU/CUDA dispatch, and the swap of
// the parameter's structure, values and optimizer state once everything new is built
// (so a rejected edit leaves the layer untouched).
#include "engine/ops/topology.h"

#include <algorithm>
#include <numeric>

#include "engine/ops/deferred.h"
#include "engine/core/dispatch.h"
#include "engine/ops/gemm.h"
#include "engine/sparse/matrix.h"
#include "engine/sparse/parameter.h"
#include "engine/sparse/validate.h"
#include "kernels/cpu/topology.h"

namespace sprout::ops {

namespace {

void check_param(const sparse::SparseParameter& p, const char* op) {
  SPROUT_CHECK(p.row_ptr.defined() && p.col_idx.defined() && p.values.defined(), op,
               ": sparse parameter has no structure or values");
  SPROUT_CHECK(p.values.numel() == p.col_idx.numel() * p.block * p.block, op, ": ",
               p.values.numel(), " values for ", p.col_idx.numel(), " blocks of ", p.block, "x", p.block);
}

Tensor to_device(const Tensor& t, Device d) { return t.device() == d ? t : t.to(d, MemCategory::Workspace); }

// Gathers old (aligned with the old entries) into a new tensor via src.
Tensor gather(const Tensor& old, const Tensor& src, int64_t new_nnz, int64_t be, const Tensor& grow_vals,
              MemCategory cat) {
  Tensor out = Tensor::empty({new_nnz * be}, old.dtype(), old.device(), cat);
  if (new_nnz == 0) return out;
  if (old.is_cuda()) {
    check_cuda_f32(old, "edit_topology");
    SPROUT_ON_CUDA(kernels::cuda::topology_gather(old.data<float>(), src.data<int64_t>(), new_nnz, be,
                                                  grow_vals.defined() ? grow_vals.data<float>() : nullptr,
                                                  out.data<float>(), stream()));
  } else {
    dispatch_float(old.dtype(), "edit_topology", [&](auto tag) {
      using T = decltype(tag);
      kernels::cpu::topology_gather<T>(old.data<T>(), src.data<int64_t>(), new_nnz, be,
                                       grow_vals.defined() ? grow_vals.data<T>() : nullptr, out.data<T>());
    });
  }
  return out;
}

// The edit's operands on the parameter's device, checked against p and its optimizer
// state before anything is allocated for the new structure.
struct EditOperands {
  Tensor keep, grow, grow_vals;  // grow is a copy: the merge sorts it in place
  int64_t g = 0;                 // grown positions
};

EditOperands check_edit(const sparse::SparseParameter& p, const std::vector<Tensor*>& state,
                        const TopologyEdit& edit) {
  const Device dev = p.values.device();
  const int64_t nnzb = p.col_idx.numel(), be = (int64_t)p.block * p.block;
  EditOperands o;
  if (edit.keep.defined()) {
    SPROUT_CHECK(edit.keep.dtype() == DType::U8 && edit.keep.numel() == nnzb, "edit_topology: keep must be U8 [",
                 nnzb, "], got ", dtype_name(edit.keep.dtype()), " ", shape_str(edit.keep.shape()));
    o.keep = to_device(edit.keep, dev);
  }
  if (edit.grow.defined()) {
    SPROUT_CHECK(edit.grow.dtype() == DType::I64, "edit_topology: grow must be I64 positions, got ",
                 dtype_name(edit.grow.dtype()));
    o.g = edit.grow.numel();
    o.grow = Tensor::empty({o.g}, DType::I64, dev, MemCategory::Workspace);
    o.grow.copy_from(edit.grow);
  } else {
    o.grow = Tensor::empty({0}, DType::I64, dev, MemCategory::Workspace);
  }
  if (edit.grow_values.defined()) {
    SPROUT_CHECK(edit.grow_values.numel() == o.g * be && edit.grow_values.dtype() == p.values.dtype(),
                 "edit_topology: grow_values must hold ", o.g * be, " ", dtype_name(p.values.dtype()), " values");
    if (o.g > 0) o.grow_vals = to_device(edit.grow_values, dev);
  }
  for (Tensor* s : state)
    SPROUT_CHECK(s && s->defined() && s->numel() == p.values.numel() && s->device() == dev,
                 "edit_topology: optimizer state does not match the values (", s && s->defined() ? s->numel() : 0,
                 " vs ", p.values.numel(), ")");
  return o;
}

// The structure after the edit, and for each new entry where its values come from.
struct MergedStructure {
  Tensor row_ptr, col_idx, src;
  int64_t nnzb = 0;
  int64_t bad = -1;  // a (block) row where a grown position collides, or -1
};

// On the CPU the count is exact at once, so a caller's wrong count fails here, not later.
void merge_on_cpu(const sparse::SparseParameter& p, EditOperands& o, const Tensor& order, const uint8_t* keep_p,
                  bool revive, int64_t known, MergedStructure& m) {
  const int64_t gr = sparse::grid_rows(p), gc = sparse::grid_cols(p), g = o.g;
  const Device dev = p.values.device();
  std::iota(order.data<int64_t>(), order.data<int64_t>() + g, int64_t(0));
  kernels::cpu::sort_grow(o.grow.data<int64_t>(), order.data<int64_t>(), g);
  kernels::cpu::topology_count(p.row_ptr.data<int32_t>(), gr, gc, keep_p, o.grow.data<int64_t>(), g,
                               m.row_ptr.data<int32_t>());
  m.nnzb = m.row_ptr.data<int32_t>()[gr];
  SPROUT_CHECK(known < 0 || known == m.nnzb, "edit_topology: the caller expects ", known,
               " entries after the edit, the edit gives ", m.nnzb);
  m.col_idx = Tensor::empty({m.nnzb}, DType::I32, dev, MemCategory::Indices);
  m.src = Tensor::empty({m.nnzb}, DType::I64, dev, MemCategory::Workspace);
  m.bad = kernels::cpu::topology_merge(p.row_ptr.data<int32_t>(), p.col_idx.data<int32_t>(), gr, gc, keep_p,
                                       o.grow.data<int64_t>(), order.data<int64_t>(), g, revive,
                                       m.row_ptr.data<int32_t>(), m.col_idx.data<int32_t>(),
                                       m.src.data<int64_t>());
}

// Sorts the grown positions, counts each row's entries and merges old and new; on a GPU
// with a known count nothing is read back and the collision check is deferred.
MergedStructure merge_structure(const sparse::SparseParameter& p, const TopologyEdit& edit, EditOperands& o) {
  const Device dev = p.values.device();
  const int64_t gr = sparse::grid_rows(p), g = o.g;
  Tensor order = Tensor::empty({g}, DType::I64, dev, MemCategory::Workspace);
  MergedStructure m;
  m.row_ptr = Tensor::empty({gr + 1}, DType::I32, dev, MemCategory::Indices);
  const uint8_t* keep_p = o.keep.defined() ? o.keep.data<uint8_t>() : nullptr;
  const int64_t known = edit.new_nnz_blocks;
  SPROUT_CHECK(known >= -1, "edit_topology: new_nnz_blocks ", known);
  if (!dev.is_cuda()) {
    merge_on_cpu(p, o, order, keep_p, edit.revive, known, m);
    return m;
  }
  SPROUT_ON_CUDA({
    const int64_t gc = sparse::grid_cols(p);
    Tensor ws = Tensor::empty({(int64_t)kernels::cuda::sort_grow_workspace(g)}, DType::U8, dev,
                              MemCategory::Workspace);
    kernels::cuda::sort_grow(o.grow.data<int64_t>(), order.data<int64_t>(), g, ws.raw_data(),
                             (size_t)ws.numel(), stream());
    Tensor ws2 = Tensor::empty({(int64_t)kernels::cuda::topology_count_workspace(gr)}, DType::U8, dev,
                               MemCategory::Workspace);
    kernels::cuda::topology_count(p.row_ptr.data<int32_t>(), gr, gc, keep_p, o.grow.data<int64_t>(), g,
                                  m.row_ptr.data<int32_t>(), ws2.raw_data(), (size_t)ws2.numel(), stream());
    if (known >= 0) {
      m.nnzb = known;
    } else {
      int32_t last = 0;
      kernels::cuda::copy(&last, m.row_ptr.data<int32_t>() + gr, sizeof(int32_t), 1);
      m.nnzb = last;
    }
    m.col_idx = Tensor::empty({m.nnzb}, DType::I32, dev, MemCategory::Indices);
    m.src = Tensor::empty({m.nnzb}, DType::I64, dev, MemCategory::Workspace);
    // With a count the merge may disagree with (a failed edit, reported later), every
    // entry starts as column 0 from "new entry 0", so neither the gather nor a later
    // kernel reads out of bounds, and the row offsets are clamped to the count.
    if (known >= 0) {
      kernels::cuda::memset_bytes(m.src.raw_data(), 0xff, m.src.nbytes());
      kernels::cuda::memset_bytes(m.col_idx.raw_data(), 0, m.col_idx.nbytes());
    }
    Tensor flag = Tensor::empty({1}, DType::I64, dev, MemCategory::Workspace);
    kernels::cuda::topology_merge(p.row_ptr.data<int32_t>(), p.col_idx.data<int32_t>(), gr, gc, keep_p,
                                  o.grow.data<int64_t>(), order.data<int64_t>(), g, edit.revive, known,
                                  m.row_ptr.data<int32_t>(), m.col_idx.data<int32_t>(), m.src.data<int64_t>(),
                                  reinterpret_cast<unsigned long long*>(flag.data<int64_t>()), stream());
    if (known >= 0) {
      defer_check(flag, "edit_topology: a GPU edit made with a known count went wrong (a grown position "
                        "stored and kept, repeated or outside the grid, or a wrong count) in (block) row");
    } else {
      uint64_t host_bad = 0;
      kernels::cuda::copy(&host_bad, flag.raw_data(), sizeof(host_bad), 1);
      m.bad = host_bad == ~0ull ? -1 : (int64_t)host_bad;
    }
  });
  return m;
}

}  // namespace

int64_t edit_topology(sparse::SparseParameter& p, const std::vector<Tensor*>& state, const TopologyEdit& edit) {
  check_param(p, "edit_topology");
  EditOperands o = check_edit(p, state, edit);
  const MergedStructure m = merge_structure(p, edit, o);
  SPROUT_CHECK(m.bad < 0, "edit_topology: a grown position in (block) row ", m.bad,
               " is already stored and kept, repeated, or outside the ", sparse::grid_rows(p), " x ",
               sparse::grid_cols(p), " grid");

  const int64_t be = (int64_t)p.block * p.block;
  Tensor new_values = gather(p.values, m.src, m.nnzb, be, o.grow_vals, MemCategory::Weights);
  std::vector<Tensor> new_state;
  for (Tensor* s : state) new_state.push_back(gather(*s, m.src, m.nnzb, be, Tensor(), MemCategory::Optimizer));

  new_values.set_requires_grad(true);
  p.row_ptr = m.row_ptr;
  p.col_idx = m.col_idx;
  p.values = new_values;
  for (size_t i = 0; i < state.size(); ++i) *state[i] = new_state[i];
  sparse::debug_validate(p, "edit_topology: the edited structure");
  return p.values.numel();
}

int64_t edit_topology(sparse::SparseParameter& p, const std::vector<Tensor*>& state,
                      const std::vector<uint8_t>& keep, const std::vector<int64_t>& grow) {
  TopologyEdit e;
  if (!keep.empty())  // empty: keep every entry
    e.keep = Tensor::from_vector<uint8_t>(keep, {(int64_t)keep.size()});
  e.grow = Tensor::from_vector<int64_t>(grow, {(int64_t)grow.size()});
  return edit_topology(p, state, e);
}

Tensor magnitude_scores(const sparse::SparseParameter& p, std::optional<uint64_t> tie_seed, int sign) {
  check_param(p, "magnitude_scores");
  SPROUT_CHECK(sign == 0 || p.block == 1, "magnitude_scores: signed scores need a CSR weight, got block ", p.block);
  const int64_t n = p.col_idx.numel(), be = (int64_t)p.block * p.block;
  Tensor out = Tensor::empty({n}, p.values.dtype(), p.values.device(), MemCategory::Workspace);
  if (n == 0) return out;
  const bool noisy = tie_seed.has_value();
  const uint64_t seed = tie_seed.value_or(0);
  if (p.values.is_cuda()) {
    check_cuda_f32(p.values, "magnitude_scores");
    SPROUT_ON_CUDA(kernels::cuda::abs_scores(p.values.data<float>(), n, be, sign, noisy, seed, out.data<float>(),
                                             stream()));
  } else {
    dispatch_float(p.values.dtype(), "magnitude_scores", [&](auto tag) {
      using T = decltype(tag);
      kernels::cpu::abs_scores<T>(p.values.data<T>(), n, be, sign, noisy, seed, out.data<T>());
    });
  }
  return out;
}

int64_t count_nonnegative(const Tensor& values) {
  const int64_t n = values.numel();
  if (values.is_cuda()) {
    check_cuda_f32(values, "count_nonnegative");
    int64_t count = 0;
    SPROUT_ON_CUDA({
      Tensor c = Tensor::empty({1}, DType::I64, values.device(), MemCategory::Workspace);
      kernels::cuda::count_nonnegative(values.data<float>(), n,
                                       reinterpret_cast<unsigned long long*>(c.data<int64_t>()), stream());
      count = c.to_vector<int64_t>()[0];
    });
    return count;
  }
  int64_t count = 0;
  dispatch_float(values.dtype(), "count_nonnegative", [&](auto tag) {
    using T = decltype(tag);
    count = kernels::cpu::count_nonnegative<T>(values.data<T>(), n);
  });
  return count;
}

Tensor topk_mask(const Tensor& scores, int64_t k, bool largest) {
  const int64_t n = scores.numel();
  SPROUT_CHECK(k >= 0 && k <= n, "topk_mask: k = ", k, " of ", n, " scores");
  Tensor mask = Tensor::empty({n}, DType::U8, scores.device(), MemCategory::Workspace);
  if (n == 0) return mask;
  if (scores.is_cuda()) {
    check_cuda_f32(scores, "topk_mask");
    SPROUT_ON_CUDA({
      Tensor ws = Tensor::empty({(int64_t)kernels::cuda::topk_workspace(n)}, DType::U8, scores.device(),
                                MemCategory::Workspace);
      kernels::cuda::topk_mask(scores.data<float>(), n, k, largest, mask.data<uint8_t>(), ws.raw_data(),
                               (size_t)ws.numel(), stream());
    });
  } else {
    dispatch_float(scores.dtype(), "topk_mask", [&](auto tag) {
      using T = decltype(tag);
      kernels::cpu::topk_mask<T>(scores.data<T>(), n, k, largest, mask.data<uint8_t>());
    });
  }
  return mask;
}

Tensor magnitude_topk_mask(const sparse::SparseParameter& p, int64_t k, bool largest,
                           std::optional<uint64_t> tie_seed) {
  return topk_mask(magnitude_scores(p, tie_seed), k, largest);
}

Tensor dense_weight_grad(const Tensor& x, const Tensor& dy) {
  SPROUT_CHECK(x.dim() == 2 && dy.dim() == 2 && x.size(0) == dy.size(0), "dense_weight_grad: x ",
               shape_str(x.shape()), " and dy ", shape_str(dy.shape()));
  Tensor g = Tensor::empty({dy.size(1), x.size(1)}, x.dtype(), x.device(), MemCategory::Workspace);
  gemm_into(true, false, dy, x, g);
  return g;
}

namespace {

// Checks `keep` and `k` against the open positions of p; returns keep's data or null.
const uint8_t* open_set(const sparse::SparseParameter& p, const Tensor& keep, int64_t kept, int64_t k,
                        const char* op) {
  const int64_t nnzb = p.col_idx.numel();
  int64_t stay = nnzb;
  if (keep.defined()) {
    SPROUT_CHECK(keep.dtype() == DType::U8 && keep.numel() == nnzb && keep.device() == p.values.device(), op,
                 ": keep must be U8 [", nnzb, "] on ", p.values.device().str());
    SPROUT_CHECK(kept >= 0 && kept <= nnzb, op, ": keep needs its count of ones (got ", kept, ")");
    stay = kept;
  }
  const int64_t open = sparse::grid_rows(p) * sparse::grid_cols(p) - stay;
  SPROUT_CHECK(k >= 0 && k <= open, op, ": ", k, " positions asked, ", open, " open");
  return keep.defined() ? keep.data<uint8_t>() : nullptr;
}

}  // namespace

Tensor topk_empty_positions(const sparse::SparseParameter& p, const Tensor& dense_grad, int64_t k, const Tensor& keep,
                            int64_t kept, std::optional<uint64_t> tie_seed) {
  check_param(p, "topk_empty_positions");
  SPROUT_CHECK(dense_grad.numel() == p.rows * p.cols && dense_grad.device() == p.values.device(),
               "topk_empty_positions: gradient ", shape_str(dense_grad.shape()), " on ",
               dense_grad.device().str(), " for a ", p.rows, " x ", p.cols, " weight on ",
               p.values.device().str());
  const uint8_t* keep_p = open_set(p, keep, kept, k, "topk_empty_positions");
  const bool noisy = tie_seed.has_value();
  const uint64_t seed = tie_seed.value_or(0);
  Tensor out = Tensor::empty({k}, DType::I64, p.values.device(), MemCategory::Workspace);
  if (k == 0) return out;
  if (dense_grad.is_cuda()) {
    check_cuda_f32(dense_grad, "topk_empty_positions");
    SPROUT_ON_CUDA({
      const int64_t positions = sparse::grid_rows(p) * sparse::grid_cols(p);
      Tensor ws = Tensor::empty({(int64_t)kernels::cuda::topk_empty_workspace(positions)}, DType::U8,
                                dense_grad.device(), MemCategory::Workspace);
      kernels::cuda::topk_empty(dense_grad.data<float>(), p.rows, p.cols, p.block, p.row_ptr.data<int32_t>(),
                                p.col_idx.data<int32_t>(), keep_p, k, noisy, seed, out.data<int64_t>(),
                                ws.raw_data(), (size_t)ws.numel(), stream());
    });
  } else {
    dispatch_float(dense_grad.dtype(), "topk_empty_positions", [&](auto tag) {
      using T = decltype(tag);
      kernels::cpu::topk_empty<T>(dense_grad.data<T>(), p.rows, p.cols, p.block, p.row_ptr.data<int32_t>(),
                                  p.col_idx.data<int32_t>(), keep_p, k, noisy, seed, out.data<int64_t>());
    });
  }
  return out;
}

Tensor random_empty_positions(const sparse::SparseParameter& p, int64_t k, uint64_t seed, const Tensor& keep,
                              int64_t kept) {
  check_param(p, "random_empty_positions");
  const uint8_t* keep_p = open_set(p, keep, kept, k, "random_empty_positions");
  const int64_t gr = sparse::grid_rows(p), gc = sparse::grid_cols(p);
  Tensor out = Tensor::empty({k}, DType::I64, p.values.device(), MemCategory::Workspace);
  if (k == 0) return out;
  if (p.values.is_cuda()) {
    SPROUT_ON_CUDA({
      Tensor ws = Tensor::empty({(int64_t)kernels::cuda::topk_empty_workspace(gr * gc)}, DType::U8,
                                p.values.device(), MemCategory::Workspace);
      kernels::cuda::random_empty(gr, gc, p.row_ptr.data<int32_t>(), p.col_idx.data<int32_t>(), keep_p, k, seed,
                                  out.data<int64_t>(), ws.raw_data(), (size_t)ws.numel(), stream());
    });
  } else {
    kernels::cpu::random_empty(gr, gc, p.row_ptr.data<int32_t>(), p.col_idx.data<int32_t>(), keep_p, k, seed,
                               out.data<int64_t>());
  }
  return out;
}

}  // namespace sprout::ops
