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
  int64_t ranks = 1;  // data-parallel processes of the run that wrote it
};

void save_checkpoint(const std::string& path, nn::Module& model, optim::Optimizer& optimizer,
                     const sparsity::Sparsifier& method, const RunCounters& counters, const nlohmann::json& cfg);
// Restores everything save_checkpoint wrote into a run built from `cfg` (the resolved
// config the run was made from; method.ctx holds the run's length), tensors placed on
// `device`. The whole file is checked first: its layout and checksums, the metadata
// (counters integral and consistent with each other and the run's length; the method,
// model and sparsity settings it was written with against `cfg`; the method's state
// against the state this method writes), finite float tensors, every sparse structure.
// Then the method's state loads (it may reshape the model), every tensor is matched to
// the model and optimizer, and only then is anything replaced. Throws sprout::Error, one
// line naming the file and the tensor or key at fault; the run is then unchanged, except
// for the method's state when the tensors do not fit the model.
RunCounters load_checkpoint(const std::string& path, nn::Module& model, optim::Optimizer& optimizer,
                            sparsity::Sparsifier& method, Device device, const nlohmann::json& cfg);
// The model alone (parameters with their sparse structure, buffers).
void save_model(const std::string& path, nn::Module& model);

}  // namespace sprout::io
