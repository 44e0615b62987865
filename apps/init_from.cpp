// `sprout train --init-from FILE`: a torchvision-named dense state_dict (pretrained
// weights a user brings, e.g. saved by safetensors.torch.save_file) as the run's start.
// It is read into the model the run built, after the method made its layers sparse: a
// sparse layer takes the dense weight's values at its stored positions (a method that
// starts dense-stored, GMP or SNIP, keeps them all and prunes them by its own rule), so
// training goes on from the given weights. Every parameter and buffer of the model must
// be in the file with its shape; a file key the model lacks is an error too, except
// BatchNorm's num_batches_tracked, which sprout does not keep.
#include <set>

#include "apps/commands.h"
#include "engine/core/error.h"
#include "engine/io/safetensors.h"
#include "engine/nn/module.h"
#include "engine/sparse/parameter.h"

namespace sprout::app {

namespace {

// dense [rows, cols] at the stored positions of `p` (CSR, or BSR blocks row-major).
std::vector<float> gather_stored(const sparse::SparseParameter& p, const float* dense) {
  const std::vector<int32_t> rp = p.row_ptr.to_vector<int32_t>(), ci = p.col_idx.to_vector<int32_t>();
  const int b = p.block;
  std::vector<float> v((size_t)p.nnz(), 0.0f);
  for (int64_t br = 0; br + 1 < (int64_t)rp.size(); ++br)
    for (int32_t k = rp[(size_t)br]; k < rp[(size_t)br + 1]; ++k)
      for (int i = 0; i < b; ++i)
        for (int j = 0; j < b; ++j) {
          const int64_t r = br * b + i, c = (int64_t)ci[(size_t)k] * b + j;
          if (r < p.rows && c < p.cols) v[((size_t)k * b + i) * b + j] = dense[r * p.cols + c];
        }
  return v;
}

}  // namespace

void load_init_weights(const std::string& path, nn::Module& model) {
  const std::string where = "--init-from " + path + ": ";
  const io::SafetensorsFile f = io::load_safetensors(path);
  std::set<std::string> taken;
  auto find = [&](const std::string& key, const Shape& want) -> const Tensor& {
    auto it = f.tensors.find(key);
    SPROUT_CHECK(it != f.tensors.end(), where, "no tensor '", key, "' (the model has it, shape ", shape_str(want), ")");
    SPROUT_CHECK(it->second.dtype() == DType::F32, where, "tensor '", key, "' is ", dtype_name(it->second.dtype()),
                 ", expected F32");
    SPROUT_CHECK(it->second.shape() == want, where, "tensor '", key, "' has shape ", shape_str(it->second.shape()),
                 ", the model expects ", shape_str(want));
    taken.insert(key);
    return it->second;
  };
  for (auto& p : model.parameters()) {
    if (!p.sparse) {
      p.tensor->copy_from(find(p.name, p.tensor->shape()));
      continue;
    }
    const Tensor& dense = find(p.name, p.sparse->dense_shape);
    const std::vector<float> v = gather_stored(*p.sparse, dense.data<float>());
    p.sparse->values.copy_from(Tensor::from_vector(v, p.sparse->values.shape()));
  }
  for (auto& [name, b] : model.buffers()) b->copy_from(find(name, b->shape()));
  const std::string tracked = ".num_batches_tracked";
  for (const auto& [key, t] : f.tensors) {
    const bool bn_count = key.size() > tracked.size() &&
                          key.compare(key.size() - tracked.size(), tracked.size(), tracked) == 0;
    SPROUT_CHECK(taken.count(key) || bn_count, where, "tensor '", key, "' has no place in the model");
  }
}

}  // namespace sprout::app
