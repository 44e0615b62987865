// What the methods see of a model: its sparse layers, host copies of a layer's
// structure and values (for the methods that decide on the host), and the calls that
// apply a drop/grow decision through the topology-edit op (values and optimizer state
// of survivors carried, new entries zero). RigL, SET and GraNet decide on the layer's
// device with the selections of engine/ops/topology.h instead.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "engine/sparse/parameter.h"
#include "engine/ops/topology.h"
#include "engine/sparsity/sparsifier.h"

namespace sprout::sparsity {

struct SparseLayer {
  std::string name;
  sparse::SparseParameter* p = nullptr;
  size_t param_index = 0;  // index in the optimizer's parameter list
};

std::vector<SparseLayer> sparse_layers(const TrainContext& ctx);

struct HostLayer {
  std::vector<int32_t> row_ptr, col_idx;
  std::vector<float> values;
  std::vector<int64_t> positions;  // flat row * cols + col, storage order
};

HostLayer read_host(const sparse::SparseParameter& p);

// keep[e]: entry e survives; grow: new flat positions (must be empty after the drop).
// Returns the new nnz.
int64_t apply_edit(const TrainContext& ctx, const SparseLayer& layer, const std::vector<uint8_t>& keep,
                   const std::vector<int64_t>& grow);
// The same with a decision made on the layer's device.
int64_t apply_edit(const TrainContext& ctx, const SparseLayer& layer, const ops::TopologyEdit& edit);

// Growth by gradient: hands the layer's gradient to `decide` once in the next backward,
// as its factors where the op has them (a linear layer: no dense gradient is formed),
// else as the dense gradient (convolutions). clear_grad_hooks after the step.
void set_grad_hooks(sparse::SparseParameter& p, std::function<void(const sparse::GradFactors&)> decide);
void clear_grad_hooks(sparse::SparseParameter& p);

// Copies a dense gradient to the host (a no-op view on the CPU).
std::vector<float> host_floats(const Tensor& t);

}  // namespace sprout::sparsity
