// Transposed structures, and the kept ones: attached to the col_idx tensor's storage,
// so one dies with its structure (a topology edit makes new index tensors).
#include "engine/sparse/transpose.h"

#include <atomic>
#include <mutex>
#include <vector>

#include "engine/core/error.h"
#include "engine/core/dispatch.h"

namespace sprout::sparse {

namespace {
std::atomic<int64_t> g_built{0};
}  // namespace

int64_t transposes_built() { return g_built; }

TransposedStructure transpose_structure(const Tensor& row_ptr_in, const Tensor& col_idx_in,
                                        int64_t grid_rows, int64_t grid_cols, MemCategory cat) {
  ++g_built;
  SPROUT_CHECK(row_ptr_in.numel() == grid_rows + 1, "transpose_structure: row_ptr has ",
               row_ptr_in.numel(), " entries for ", grid_rows, " rows");
  if (row_ptr_in.is_cuda()) {
    // On the device, so a step after a topology edit needs no host round trip.
    const Device d = row_ptr_in.device();
    const int64_t nnz = col_idx_in.numel();
    TransposedStructure t;
    t.row_ptr = Tensor::empty({grid_cols + 1}, DType::I32, d, cat);
    t.col_idx = Tensor::empty({nnz}, DType::I32, d, cat);
    t.perm = Tensor::empty({nnz}, DType::I32, d, cat);
    SPROUT_ON_CUDA({
      Tensor ws = Tensor::empty({(int64_t)kernels::cuda::transpose_structure_workspace(nnz)}, DType::U8, d,
                                MemCategory::Workspace);
      kernels::cuda::transpose_structure(row_ptr_in.data<int32_t>(), col_idx_in.data<int32_t>(), grid_rows,
                                         grid_cols, nnz, t.row_ptr.data<int32_t>(), t.col_idx.data<int32_t>(),
                                         t.perm.data<int32_t>(), ws.raw_data(), (size_t)ws.numel(),
                                         stream());
    });
    return t;
  }
  const Tensor& rp = row_ptr_in;
  const Tensor& ci = col_idx_in;
  const int32_t* r = rp.data<int32_t>();
  const int32_t* c = ci.data<int32_t>();
  const int64_t nnz = ci.numel();
  TransposedStructure t;
  t.row_ptr = Tensor::zeros({grid_cols + 1}, DType::I32, Device::cpu(), cat);
  t.col_idx = Tensor::empty({nnz}, DType::I32, Device::cpu(), cat);
  t.perm = Tensor::empty({nnz}, DType::I32, Device::cpu(), cat);
  int32_t* tr = t.row_ptr.data<int32_t>();
  int32_t* tc = t.col_idx.data<int32_t>();
  int32_t* tp = t.perm.data<int32_t>();
  for (int64_t e = 0; e < nnz; ++e) {
    SPROUT_CHECK(c[e] >= 0 && c[e] < grid_cols, "transpose_structure: column ", c[e],
                 " outside [0, ", grid_cols, ")");
    ++tr[c[e] + 1];
  }
  for (int64_t k = 0; k < grid_cols; ++k) tr[k + 1] += tr[k];
  std::vector<int32_t> next(tr, tr + grid_cols);
  for (int64_t i = 0; i < grid_rows; ++i)
    for (int64_t e = r[i]; e < r[i + 1]; ++e) {
      int32_t slot = next[(size_t)c[e]]++;
      tc[slot] = (int32_t)i;
      tp[slot] = (int32_t)e;
    }
  return t;
}

namespace {
// A kept transposed structure, attached to its col_idx storage (Storage::derived), so it
// dies with the structure; row_ptr tells it apart from a structure sharing col_idx.
struct Kept {
  std::weak_ptr<Storage> row_ptr;
  TransposedStructure value;
};
std::mutex g_mu;
std::atomic<KeepTransposes> g_keep{KeepTransposes::Auto};
}  // namespace

void set_keep_transposes(KeepTransposes keep) { g_keep = keep; }
KeepTransposes keep_transposes() { return g_keep; }

KeepTransposes keep_transposes_from(const std::string& name) {
  if (name == "auto") return KeepTransposes::Auto;
  if (name == "all") return KeepTransposes::All;
  SPROUT_CHECK(name == "none", "keep_transposes: '", name, "' is not one of auto, all, none");
  return KeepTransposes::None;
}

bool keeps_transpose(bool linear_layer) {
  const KeepTransposes k = g_keep;
  return k == KeepTransposes::All || (k == KeepTransposes::Auto && linear_layer);
}

std::shared_ptr<const TransposedStructure> cached_transpose(const Tensor& row_ptr, const Tensor& col_idx,
                                                            int64_t grid_rows, int64_t grid_cols, bool keep) {
  if (!keep)
    return std::make_shared<const TransposedStructure>(
        transpose_structure(row_ptr, col_idx, grid_rows, grid_cols, MemCategory::Workspace));
  Storage& cs = *col_idx.impl()->storage;
  const std::shared_ptr<Storage>& rs = row_ptr.impl()->storage;
  std::lock_guard<std::mutex> g(g_mu);
  if (auto kept = std::static_pointer_cast<const Kept>(cs.derived))
    if (kept->row_ptr.lock() == rs && kept->value.row_ptr.numel() == grid_cols + 1)
      return std::shared_ptr<const TransposedStructure>(kept, &kept->value);
  auto kept = std::make_shared<const Kept>(Kept{rs, transpose_structure(row_ptr, col_idx, grid_rows, grid_cols)});
  cs.derived = kept;
  return std::shared_ptr<const TransposedStructure>(kept, &kept->value);
}

Tensor gather_values(const Tensor& values, const Tensor& perm_in, int64_t block_elems) {
  Tensor v = values.is_cuda() ? values.to(Device::cpu()) : values;
  Tensor p = perm_in.is_cuda() ? perm_in.to(Device::cpu()) : perm_in;
  Tensor out = Tensor::empty(v.shape(), v.dtype(), Device::cpu(), values.category());
  const int64_t n = p.numel();
  const int32_t* pp = p.data<int32_t>();
  const size_t es = dtype_size(v.dtype()) * (size_t)block_elems;
  const char* src = static_cast<const char*>(v.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  for (int64_t e = 0; e < n; ++e) std::copy(src + pp[e] * es, src + (pp[e] + 1) * es, dst + e * es);
  return values.is_cuda() ? out.to(values.device(), values.category()) : out;
}

}  // namespace sprout::sparse
