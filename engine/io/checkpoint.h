// The checkpoint format (safetensors): every parameter (a sparse one as values,
// row_ptr and col_idx, described in the "sparse" metadata), buffer and optimizer state
// tensor, with the step counters, the sparsity method's state, the init RNG and the
// config in the metadata, so a resumed run is bit-identical to one that never stopped.
// Also the model file: the model alone, as the method leaves it.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "engine/nn/module.h"
#include "engine/optim/optimizer.h"
#include "engine/sparsity/sparsifier.h"

namespace sprout::io {

struct RunCounters {
  int64_t step = 0, epoch = 0, batch_in_epoch = 0;
};

void save_checkpoint(const std::string& path, nn::Module& model, optim::Optimizer& optimizer,
                     const sparsity::Sparsifier& method, const RunCounters& counters, const nlohmann::json& cfg);
// Restores everything save_checkpoint wrote into a run built from the same config,
// tensors placed on `device`. Throws naming the file and the tensor or key at fault.
RunCounters load_checkpoint(const std::string& path, nn::Module& model, optim::Optimizer& optimizer,
                            sparsity::Sparsifier& method, Device device);
// The model alone (parameters with their sparse structure, buffers).
void save_model(const std::string& path, nn::Module& model);

}  // namespace sprout::io
