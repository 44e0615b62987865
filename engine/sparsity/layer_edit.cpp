// Sparse-layer access for the methods: enumeration, host copies, and the edit call.
#include "engine/sparsity/layer_edit.h"

#include "engine/core/error.h"
#include "engine/sparsity/select.h"

namespace sprout::sparsity {

std::vector<SparseLayer> sparse_layers(const TrainContext& ctx) {
  std::vector<SparseLayer> out;
  auto& params = ctx.optimizer->params();
  for (size_t i = 0; i < params.size(); ++i)
    if (params[i].sparse) out.push_back({params[i].name, params[i].sparse, i});
  return out;
}

std::vector<float> host_floats(const Tensor& t) {
  SPROUT_CHECK(t.dtype() == DType::F32, "host_floats: expected float32, got ", dtype_name(t.dtype()));
  return t.to_vector<float>();
}

HostLayer read_host(const sparse::SparseParameter& p) {
  SPROUT_CHECK(p.block == 1, "sparsity methods edit CSR layers; layer has block ", p.block);
  HostLayer h;
  h.row_ptr = p.row_ptr.to_vector<int32_t>();
  h.col_idx = p.col_idx.to_vector<int32_t>();
  h.values = host_floats(p.values);
  h.positions = flat_positions(h.row_ptr, h.col_idx, p.cols);
  return h;
}

int64_t apply_edit(const TrainContext& ctx, const SparseLayer& layer, const std::vector<uint8_t>& keep,
                   const std::vector<int64_t>& grow) {
  return ops::edit_topology(*layer.p, ctx.optimizer->state_of(layer.param_index), keep, grow);
}

int64_t apply_edit(const TrainContext& ctx, const SparseLayer& layer, const ops::TopologyEdit& edit) {
  return ops::edit_topology(*layer.p, ctx.optimizer->state_of(layer.param_index), edit);
}

void set_grad_hooks(sparse::SparseParameter& p, std::function<void(const sparse::GradFactors&)> decide) {
  p.dense_grad_hook = [decide](const Tensor& g) { decide(sparse::GradFactors{Tensor(), Tensor(), g}); };
  p.grad_factors_hook = std::move(decide);
}

void clear_grad_hooks(sparse::SparseParameter& p) {
  p.dense_grad_hook = nullptr;
  p.grad_factors_hook = nullptr;
}

}  // namespace sprout::sparsity
