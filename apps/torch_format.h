// sprout models in PyTorch's vocabulary: which sprout models map exactly onto a
// torchvision module (ResNet-18/34/50 with the ImageNet stem; the MLP as nn.Sequential),
// a model file's tensors as a state_dict with torchvision's names and shapes (dense, or
// sparse parts torch.sparse_csr_tensor / torch.sparse_bsr_tensor take), and the input
// normalisation the model was trained with; a model file read back into the model its
// config builds. Used by `sprout export` and `sprout eval`.
#pragma once
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/io/safetensors.h"
#include "engine/nn/module.h"
#include "engine/train/data_source.h"

namespace sprout::app {

// A model file with the resolved config of the run that wrote it.
struct ModelSource {
  std::string model_path;
  nlohmann::json cfg;
  train::DataSpec spec;  // the configured data set's sample shape and classes
};

// `run_or_file`: a run folder (its model.safetensors and summary.json) or a model file
// (its config from `config` when given, else from summary.json beside it); `sets` are
// key=value overrides.
ModelSource find_model(const std::string& run_or_file, const std::string& config,
                       const std::vector<std::string>& sets = {});

// torchvision's name for the model ("resnet50", "mlp"); an error naming what differs
// when the sprout model has no exact torchvision counterpart.
std::string torch_model_name(const ModelSource& src);

// The dense model the config describes: every parameter and buffer name and shape.
nn::ModulePtr build_dense(const ModelSource& src);

struct TorchStateDict {
  io::NamedTensors tensors;
  std::map<std::string, std::string> metadata;
};
// The model file as a torchvision state_dict (num_batches_tracked added for every
// BatchNorm). `sparse`: each sparse weight as KEY.crow_indices, KEY.col_indices and
// KEY.values (BSR: values [nnz_blocks, b, b]; as CSR when the shape is not a multiple of
// the block), described in the "sparse" metadata. Every tensor of the file must find its
// place, with the shape torchvision expects; anything else is an error naming the key.
TorchStateDict to_torch(const ModelSource& src, bool sparse);

// A sparse weight's parts from a model file, checked: row_ptr monotone from 0 to the
// block count, col_idx inside the block columns, values nnz_blocks x block x block.
struct SparseParts {
  Tensor row_ptr, col_idx, values;
  int64_t rows = 0, cols = 0;
  int block = 1;
  Shape dense_shape;
};
SparseParts read_sparse_parts(const io::SafetensorsFile& f, const std::string& name, const nlohmann::json& meta,
                              const std::string& where);
// The dense weight [dense_shape] the parts describe.
Tensor densify(const SparseParts& s);

// A model file's weights into `model` (built dense from the run's config): each sparse
// weight's layer becomes its sparse twin with the stored structure (CSR or BSR) and
// values; every other parameter and buffer is matched by name, dtype and shape, and a
// tensor of the file left over is an error.
void load_model_weights(const std::string& path, nn::Module& model);

}  // namespace sprout::app
