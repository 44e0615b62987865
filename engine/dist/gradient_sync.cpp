// Bucketed gradient all-reduce, the averaged growth gradient, and the structure check.
#include "engine/dist/gradient_sync.h"

#include <cstring>

#include "engine/core/error.h"
#include "engine/sparse/parameter.h"

namespace sprout::dist {

ReduceBytes& ReduceBytes::operator+=(const ReduceBytes& o) {
  gradients += o.gradients;
  growth += o.growth;
  dense_ddp += o.dense_ddp;
  collectives += o.collectives;
  return *this;
}

ReduceBytes gradient_bytes(const std::vector<nn::ParamRef>& params) {
  ReduceBytes b;
  for (const auto& p : params) {
    const int64_t values = p.tensor->numel();
    b.gradients += values * (int64_t)sizeof(float);
    b.dense_ddp += (p.sparse ? p.sparse->dense_numel() : values) * (int64_t)sizeof(float);
  }
  return b;
}

namespace {

// FNV-1a over raw bytes, continued from `h`.
uint64_t fnv1a(uint64_t h, const void* data, size_t bytes) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < bytes; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

uint64_t hash_tensor(uint64_t h, const Tensor& t) {
  if (!t.defined() || t.numel() == 0) return fnv1a(h, "", 0);
  if (t.is_cuda()) {
    const Tensor host = t.to(Device::cpu());
    return fnv1a(h, host.raw_data(), host.nbytes());
  }
  return fnv1a(h, t.raw_data(), t.nbytes());
}

}  // namespace

uint64_t structure_hash(const sparse::SparseParameter& p) {
  const int64_t dims[4] = {p.rows, p.cols, p.block, p.col_idx.defined() ? p.col_idx.numel() : 0};
  uint64_t h = fnv1a(0xcbf29ce484222325ull, dims, sizeof dims);
  h = hash_tensor(h, p.row_ptr);
  return hash_tensor(h, p.col_idx);
}

GradientSync::GradientSync(Communicator& comm, int64_t bucket_bytes) : comm_(comm), bucket_bytes_(bucket_bytes) {
  SPROUT_CHECK(bucket_bytes > 0, "gradient bucket of ", bucket_bytes, " bytes");
}

void GradientSync::wrap_dense_grad_hooks(const std::vector<nn::ParamRef>& params) {
  for (const auto& p : params) {
    if (!p.sparse) continue;
    // A linear layer's gradient factors are this rank's alone (the ranks' summed
    // gradient is no product of summed factors): the growth rule gets the averaged dense
    // gradient through the dense hook instead, which the same methods set beside it.
    if (p.sparse->grad_factors_hook) {
      SPROUT_CHECK(p.sparse->dense_grad_hook, "sparse layer ", p.name, " asks only for its gradient's factors; ",
                   "data-parallel growth needs the dense-gradient hook to average");
      p.sparse->grad_factors_hook = nullptr;
    }
    if (!p.sparse->dense_grad_hook) continue;
    auto inner = std::move(p.sparse->dense_grad_hook);
    p.sparse->dense_grad_hook = [this, inner](const Tensor& dense_grad) {
      comm_.all_reduce_mean(dense_grad);
      bytes_.growth += (int64_t)dense_grad.nbytes();
      ++bytes_.collectives;
      inner(dense_grad);
    };
  }
}

void GradientSync::reduce_bucket(std::vector<Tensor>& grads, int64_t numel) {
  if (grads.empty()) return;
  ++bytes_.collectives;
  if (grads.size() == 1) {  // one tensor: reduced where it lies, no copies
    comm_.all_reduce_mean(grads[0]);
    grads.clear();
    return;
  }
  const Device dev = grads[0].device();
  if (!flat_.defined() || flat_.numel() < numel || flat_.device() != dev)
    flat_ = Tensor::empty({numel}, DType::F32, dev, MemCategory::Gradients);
  int64_t at = 0;
  for (const Tensor& g : grads) {
    flat_.slice(at, g.numel()).copy_from(g);
    at += g.numel();
  }
  Tensor used = flat_.slice(0, numel);
  comm_.all_reduce_mean(used);
  at = 0;
  for (Tensor& g : grads) {
    g.copy_from(flat_.slice(at, g.numel()));
    at += g.numel();
  }
  grads.clear();
}

void GradientSync::all_reduce_gradients(const std::vector<nn::ParamRef>& params) {
  const ReduceBytes b = gradient_bytes(params);
  bytes_.dense_ddp += b.dense_ddp;
  ++steps_;
  std::vector<Tensor> bucket;
  int64_t bucket_numel = 0;
  const int64_t limit = std::max<int64_t>(1, bucket_bytes_ / (int64_t)sizeof(float));
  for (const auto& p : params) {
    const Tensor g = p.tensor->grad();
    if (!g.defined() || g.numel() == 0) continue;
    SPROUT_CHECK(g.dtype() == DType::F32, "data-parallel training reduces float32 gradients; ", p.name, " has ",
                 dtype_name(g.dtype()));
    bytes_.gradients += (int64_t)g.nbytes();
    const bool fits = bucket_numel + g.numel() <= limit;
    const bool same_device = bucket.empty() || bucket[0].device() == g.device();
    if (!fits || !same_device) {
      reduce_bucket(bucket, bucket_numel);
      bucket_numel = 0;
    }
    bucket.push_back(g);
    bucket_numel += g.numel();
  }
  reduce_bucket(bucket, bucket_numel);
}

void GradientSync::check_topology(const std::vector<nn::ParamRef>& params, int64_t step) {
  std::vector<const nn::ParamRef*> sparse;
  for (const auto& p : params)
    if (p.sparse) sparse.push_back(&p);
  if (layers_.size() != sparse.size()) layers_.assign(sparse.size(), Layer{});
  // [hash, ~hash] per layer under MAX: equal on every rank iff max == min.
  std::vector<uint64_t> both(2 * sparse.size());
  for (size_t i = 0; i < sparse.size(); ++i) {
    const sparse::SparseParameter& s = *sparse[i]->sparse;
    Layer& l = layers_[i];
    if (l.row_ptr.lock() != s.row_ptr.impl_ptr() || l.col_idx.lock() != s.col_idx.impl_ptr() || l.hash == 0) {
      l.hash = structure_hash(s);
      l.row_ptr = s.row_ptr.impl_ptr();
      l.col_idx = s.col_idx.impl_ptr();
    }
    both[2 * i] = l.hash;
    both[2 * i + 1] = ~l.hash;
  }
  if (both.empty()) return;
  comm_.all_reduce(both.data(), (int64_t)both.size(), ReduceOp::Max);
  // Every rank sees a difference at once; rank 0 alone reports it (its error ends the
  // job), so the others wait in their next collective instead of repeating the line.
  for (size_t i = 0; i < sparse.size(); ++i)
    if ((both[2 * i] != layers_[i].hash || ~both[2 * i + 1] != layers_[i].hash) && comm_.is_root())
      SPROUT_FAIL("sparse layer ", sparse[i]->name, " has a different structure on different ranks after step ",
                  step + 1, " (rank ", comm_.rank(), " of ", comm_.size(), " holds ", sparse[i]->sparse->nnz(),
                  " values); topology decisions must use only all-reduced gradients and seeded randomness");
}

ReduceBytes GradientSync::take_bytes(int64_t* steps) {
  ReduceBytes b = bytes_;
  if (steps) *steps = steps_;
  bytes_ = ReduceBytes{};
  steps_ = 0;
  return b;
}

}  // namespace sprout::dist
