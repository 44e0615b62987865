// Checkpoint and model files: writing them, and reading a checkpoint back with every
// tensor checked against the model it goes into.
#include "engine/io/checkpoint.h"

#include <stdexcept>

#include "engine/core/error.h"
#include "engine/io/safetensors.h"
#include "engine/nn/init.h"
#include "engine/ops/deferred.h"
#include "engine/sparse/parameter.h"

namespace sprout::io {

using Json = nlohmann::json;

namespace {

// Every parameter (a sparse one as values, row_ptr and col_idx, described in
// sparse_meta) and buffer of `model`, named with the prefixes.
void add_model_tensors(nn::Module& model, const std::string& param_prefix, const std::string& buffer_prefix,
                       NamedTensors& t, Json& sparse_meta) {
  for (auto& p : model.parameters()) {
    if (p.sparse) {
      t.emplace_back(param_prefix + p.name + ".values", p.sparse->values);
      t.emplace_back(param_prefix + p.name + ".row_ptr", p.sparse->row_ptr);
      t.emplace_back(param_prefix + p.name + ".col_idx", p.sparse->col_idx);
      sparse_meta[p.name] = {{"rows", p.sparse->rows}, {"cols", p.sparse->cols},
                             {"block", p.sparse->block}, {"dense_shape", p.sparse->dense_shape}};
    } else {
      t.emplace_back(param_prefix + p.name, *p.tensor);
    }
  }
  for (auto& [name, b] : model.buffers()) t.emplace_back(buffer_prefix + name, *b);
}

// A checkpoint being read: its metadata and tensors, each taken to the model's device
// after a dtype (and, where the model fixes it, shape) check.
struct Reader {
  const std::string& path;
  SafetensorsFile f;
  Device device;

  const std::string& meta(const std::string& k) const {
    auto it = f.metadata.find(k);
    SPROUT_CHECK(it != f.metadata.end(), "corrupt checkpoint ", path, ": metadata '", k, "' missing");
    return it->second;
  }
  Json meta_json(const std::string& k) const {
    Json j = Json::parse(meta(k), nullptr, false);
    SPROUT_CHECK(!j.is_discarded(), "corrupt checkpoint ", path, ": bad '", k, "' metadata");
    return j;
  }
  Tensor take(const std::string& name, const Tensor& like, MemCategory cat, bool exact_shape) const {
    auto it = f.tensors.find(name);
    SPROUT_CHECK(it != f.tensors.end(), "checkpoint ", path, " has no tensor '", name, "'");
    const Tensor& src = it->second;
    SPROUT_CHECK(src.dtype() == like.dtype(), "checkpoint ", path, ": tensor '", name, "' is ",
                 dtype_name(src.dtype()), ", model expects ", dtype_name(like.dtype()));
    if (exact_shape)
      SPROUT_CHECK(src.shape() == like.shape(), "checkpoint ", path, ": tensor '", name, "' has shape ",
                   shape_str(src.shape()), ", model expects ", shape_str(like.shape()));
    return src.to(device, cat);
  }
};

void load_sparse(const Reader& r, const Json& sparse_meta, nn::ParamRef& p) {
  SPROUT_CHECK(sparse_meta.contains(p.name), "checkpoint ", r.path, ": layer '", p.name,
               "' is sparse in the model but not in the checkpoint");
  Tensor values = r.take("model." + p.name + ".values", p.sparse->values, MemCategory::Weights, false);
  Tensor row_ptr = r.take("model." + p.name + ".row_ptr", p.sparse->row_ptr, MemCategory::Indices, true);
  Tensor col_idx = r.take("model." + p.name + ".col_idx", p.sparse->col_idx, MemCategory::Indices, false);
  int64_t nnz = col_idx.numel() * p.sparse->block * p.sparse->block;
  SPROUT_CHECK(values.numel() == nnz, "checkpoint ", r.path, ": layer '", p.name, "' has ", values.numel(),
               " values for ", col_idx.numel(), " indices");
  values.set_requires_grad(true);
  p.sparse->values = values;
  p.sparse->row_ptr = row_ptr;
  p.sparse->col_idx = col_idx;
}

void load_model_tensors(const Reader& r, nn::Module& model) {
  Json sparse_meta = r.meta_json("sparse");
  SPROUT_CHECK(sparse_meta.is_object(), "corrupt checkpoint ", r.path, ": bad 'sparse' metadata");
  for (auto& p : model.parameters()) {
    if (p.sparse) {
      load_sparse(r, sparse_meta, p);
    } else {
      Tensor v = r.take("model." + p.name, *p.tensor, MemCategory::Weights, true);
      v.set_requires_grad(true);
      *p.tensor = v;
    }
  }
  for (auto& [name, b] : model.buffers()) *b = r.take("buffer." + name, *b, MemCategory::Weights, true);
}

// Optimizer state by the optimizer's own parameter list, as saved (it may hold
// parameters the model no longer has, emptied).
void load_optimizer_state(const Reader& r, optim::Optimizer& optimizer) {
  auto names = optimizer.state_names();
  auto& params = optimizer.params();
  for (size_t i = 0; i < params.size(); ++i) {
    auto st = optimizer.state_of(i);
    for (size_t k = 0; k < st.size(); ++k)
      *st[k] = r.take("optim." + params[i].name + "." + names[k], *params[i].tensor, MemCategory::Optimizer, true);
  }
}

RunCounters load_counters(const Reader& r, optim::Optimizer& optimizer) {
  RunCounters c;
  try {
    c.step = std::stoll(r.meta("step"));
    c.epoch = std::stoll(r.meta("epoch"));
    c.batch_in_epoch = std::stoll(r.meta("batch_in_epoch"));
    optimizer.steps = std::stoll(r.meta("optimizer_steps"));
  } catch (const std::logic_error&) {
    SPROUT_FAIL("corrupt checkpoint ", r.path, ": step/epoch metadata is not a number");
  }
  return c;
}

}  // namespace

void save_checkpoint(const std::string& path, nn::Module& model, optim::Optimizer& optimizer,
                     const sparsity::Sparsifier& method, const RunCounters& c, const Json& cfg) {
  ops::check_deferred();  // never save what a GPU check found wrong
  NamedTensors t;
  Json sparse_meta = Json::object();
  add_model_tensors(model, "model.", "buffer.", t, sparse_meta);
  for (auto& [name, s] : optimizer.named_state()) t.emplace_back("optim." + name, *s);
  std::map<std::string, std::string> meta{
      {"format", "sprout-checkpoint-v1"}, {"step", std::to_string(c.step)},
      {"epoch", std::to_string(c.epoch)}, {"batch_in_epoch", std::to_string(c.batch_in_epoch)},
      {"optimizer_steps", std::to_string(optimizer.steps)},
      {"sparse", sparse_meta.dump()}, {"sparsifier", method.state().dump()},
      {"init_rng", Json(nn::init_rng().state()).dump()}, {"config", cfg.dump()}};
  save_safetensors(path, t, meta);
}

void save_model(const std::string& path, nn::Module& model) {
  ops::check_deferred();
  NamedTensors t;
  Json sparse_meta = Json::object();
  add_model_tensors(model, "", "", t, sparse_meta);
  save_safetensors(path, t, {{"format", "sprout-model-v1"}, {"sparse", sparse_meta.dump()},
                             {"parameters", std::to_string(model.num_parameters())}});
}

RunCounters load_checkpoint(const std::string& path, nn::Module& model, optim::Optimizer& optimizer,
                            sparsity::Sparsifier& method, Device device) {
  Reader r{path, load_safetensors(path), device};
  SPROUT_CHECK(r.meta("format") == "sprout-checkpoint-v1", "checkpoint ", path, ": unknown format '",
               r.meta("format"), "'");
  // The method's state first: it may reshape the model to what was saved (EAST drops its
  // DyReLU modules once their phase is over).
  method.load_state(r.meta_json("sparsifier"));
  load_model_tensors(r, model);
  load_optimizer_state(r, optimizer);
  RunCounters c = load_counters(r, optimizer);
  Json ir = r.meta_json("init_rng");
  SPROUT_CHECK(ir.is_array() && ir.size() == 4, "corrupt checkpoint ", path, ": bad init_rng");
  nn::init_rng().set_state(ir.get<std::array<uint64_t, 4>>());
  return c;
}

}  // namespace sprout::io
