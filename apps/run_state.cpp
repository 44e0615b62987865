// RunState: the step, checkpoints (safetensors with sparse structure and optimizer
// state), density and the memory report.
#include "apps/run_state.h"

#include <cmath>
#include <limits>

#include "engine/autograd/node.h"
#include "engine/core/error.h"
#include "engine/io/config.h"
#include "engine/io/safetensors.h"
#include "engine/nn/init.h"
#include "engine/sparse/parameter.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/loss.h"
#include "engine/ops/deferred.h"
#include "engine/sparse/transpose.h"
#include "engine/sparsity/factory.h"
#include "kernels/sparse_registry.h"

namespace sprout::app {

using Json = nlohmann::json;

RunState::RunState(const Json& c, nn::ModulePtr m, int64_t spe)
    : cfg(c), model(std::move(m)), steps_per_epoch(spe) {
  total_steps = std::max<int64_t>(1, spe * cfg["train"]["epochs"].get<int64_t>());
}

void RunState::build(Device dev) {
  device = dev;
  sparse::set_keep_transposes(cfg["sparsity"]["keep_transposes"].get<bool>());
  std::string kernel = cfg["sparsity"]["kernel"].get<std::string>();
  if (!kernel.empty()) kernels::select_sparse_kernel(kernel);
  uint64_t seed = cfg["train"]["seed"].get<uint64_t>();
  {
    MemoryScope ms(MemCategory::Weights);
    sparsifier = sparsity::make_sparsifier(cfg, *model, seed);
  }
  model->to(dev);
  const Json& o = cfg["optimizer"];
  std::string name = o["name"].get<std::string>();
  double lr = o["lr"].get<double>();
  int64_t scale_batch = o["lr_scale_batch"].get<int64_t>();
  if (scale_batch > 0) lr *= (double)cfg["train"]["batch_size"].get<int64_t>() / (double)scale_batch;
  if (name == "sgd") {
    optim::SgdOptions so;
    so.lr = lr;
    so.momentum = o["momentum"].get<double>();
    so.nesterov = o["nesterov"].get<bool>();
    so.weight_decay = o["weight_decay"].get<double>();
    optimizer = std::make_unique<optim::Sgd>(model->parameters(), so);
  } else if (name == "adamw") {
    optim::AdamWOptions ao;
    ao.lr = lr;
    ao.beta1 = o["beta1"].get<double>();
    ao.beta2 = o["beta2"].get<double>();
    ao.eps = o["eps"].get<double>();
    ao.weight_decay = o["weight_decay"].get<double>();
    optimizer = std::make_unique<optim::AdamW>(model->parameters(), ao);
  } else {
    SPROUT_FAIL("optimizer.name: unknown optimizer '", name, "' (expected sgd or adamw)");
  }
  const Json& s = cfg["schedule"];
  schedule.name = s["name"].get<std::string>();
  schedule.base_lr = lr;
  schedule.steps_per_epoch = steps_per_epoch;
  schedule.total_steps = total_steps;
  schedule.warmup_steps = (int64_t)std::llround(s["warmup_epochs"].get<double>() * (double)steps_per_epoch);
  schedule.milestones_epochs = s["milestones"].get<std::vector<int64_t>>();
  schedule.gamma = s["gamma"].get<double>();
  (void)schedule.lr_at(0);  // rejects an unknown schedule name before training starts
  sparsifier->ctx = sparsity::TrainContext{model.get(), optimizer.get(), total_steps,
                                           steps_per_epoch, cfg["train"]["epochs"].get<int64_t>()};
}

double RunState::train_step(const data::Batch& b, double smoothing, bool read_loss) {
  sparsifier->before_forward(step);
  optimizer->lr = schedule.lr_at(step);
  optimizer->zero_grad();
  Tensor loss;
  {
    MemoryScope ms(MemCategory::Activations);
    Tensor logits = model->forward(b.x);
    loss = ops::cross_entropy(logits, b.y, smoothing);
    Tensor extra = sparsifier->extra_loss();
    Tensor total = extra.defined() ? ops::add(loss, extra) : loss;
    total.backward();
  }
  if (!sparsifier->before_step(step)) optimizer->step();
  sparsifier->after_step(step);
  ++step;
  if (!read_loss) return std::numeric_limits<double>::quiet_NaN();
  const double value = loss.item();  // synchronises: the GPU verdicts are ready too
  ops::check_deferred();
  return value;
}

double RunState::density() {
  int64_t nnz = 0, total = 0;
  for (auto& p : model->parameters())
    if (p.sparse) { nnz += p.sparse->nnz(); total += p.sparse->dense_numel(); }
  return total ? (double)nnz / (double)total : 1.0;
}

namespace {

// Every parameter (a sparse one as values, row_ptr and col_idx, described in
// sparse_meta) and buffer of `model`, named with the prefixes.
void add_model_tensors(nn::Module& model, const std::string& param_prefix, const std::string& buffer_prefix,
                       io::NamedTensors& t, Json& sparse_meta) {
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

}  // namespace

void RunState::save_checkpoint(const std::string& path) {
  ops::check_deferred();  // never save what a GPU check found wrong
  io::NamedTensors t;
  Json sparse_meta = Json::object();
  add_model_tensors(*model, "model.", "buffer.", t, sparse_meta);
  for (auto& [name, s] : optimizer->named_state()) t.emplace_back("optim." + name, *s);
  std::map<std::string, std::string> meta{
      {"format", "sprout-checkpoint-v1"}, {"step", std::to_string(step)},
      {"epoch", std::to_string(epoch)}, {"batch_in_epoch", std::to_string(batch_in_epoch)},
      {"optimizer_steps", std::to_string(optimizer->steps)},
      {"sparse", sparse_meta.dump()}, {"sparsifier", sparsifier->state().dump()},
      {"init_rng", Json(nn::init_rng().state()).dump()}, {"config", cfg.dump()}};
  io::save_safetensors(path, t, meta);
}

void RunState::save_model(const std::string& path) {
  ops::check_deferred();
  io::NamedTensors t;
  Json sparse_meta = Json::object();
  add_model_tensors(*model, "", "", t, sparse_meta);
  io::save_safetensors(path, t, {{"format", "sprout-model-v1"}, {"sparse", sparse_meta.dump()},
                                 {"parameters", std::to_string(model->num_parameters())}});
}

void RunState::load_checkpoint(const std::string& path) {
  io::SafetensorsFile f = io::load_safetensors(path);
  auto meta = [&](const std::string& k) -> const std::string& {
    auto it = f.metadata.find(k);
    SPROUT_CHECK(it != f.metadata.end(), "corrupt checkpoint ", path, ": metadata '", k, "' missing");
    return it->second;
  };
  SPROUT_CHECK(meta("format") == "sprout-checkpoint-v1", "checkpoint ", path,
               ": unknown format '", meta("format"), "'");
  auto take = [&](const std::string& name, const Tensor& like, MemCategory cat, bool exact_shape) {
    auto it = f.tensors.find(name);
    SPROUT_CHECK(it != f.tensors.end(), "checkpoint ", path, " has no tensor '", name, "'");
    const Tensor& src = it->second;
    SPROUT_CHECK(src.dtype() == like.dtype(), "checkpoint ", path, ": tensor '", name, "' is ",
                 dtype_name(src.dtype()), ", model expects ", dtype_name(like.dtype()));
    if (exact_shape)
      SPROUT_CHECK(src.shape() == like.shape(), "checkpoint ", path, ": tensor '", name, "' has shape ",
                   shape_str(src.shape()), ", model expects ", shape_str(like.shape()));
    return src.to(device, cat);
  };
  // The method's state first: it may reshape the model to what was saved (EAST drops its
  // DyReLU modules once their phase is over).
  Json sp = Json::parse(meta("sparsifier"), nullptr, false);
  SPROUT_CHECK(!sp.is_discarded(), "corrupt checkpoint ", path, ": bad sparsifier state");
  sparsifier->load_state(sp);
  Json sparse_meta = Json::parse(meta("sparse"), nullptr, false);
  SPROUT_CHECK(sparse_meta.is_object(), "corrupt checkpoint ", path, ": bad 'sparse' metadata");
  auto params = model->parameters();
  for (size_t i = 0; i < params.size(); ++i) {
    auto& p = params[i];
    if (p.sparse) {
      SPROUT_CHECK(sparse_meta.contains(p.name), "checkpoint ", path, ": layer '", p.name,
                   "' is sparse in the model but not in the checkpoint");
      Tensor values = take("model." + p.name + ".values", p.sparse->values, MemCategory::Weights, false);
      Tensor row_ptr = take("model." + p.name + ".row_ptr", p.sparse->row_ptr, MemCategory::Indices, true);
      Tensor col_idx = take("model." + p.name + ".col_idx", p.sparse->col_idx, MemCategory::Indices, false);
      int64_t nnz = col_idx.numel() * p.sparse->block * p.sparse->block;
      SPROUT_CHECK(values.numel() == nnz, "checkpoint ", path, ": layer '", p.name, "' has ",
                   values.numel(), " values for ", col_idx.numel(), " indices");
      values.set_requires_grad(true);
      p.sparse->values = values;
      p.sparse->row_ptr = row_ptr;
      p.sparse->col_idx = col_idx;
    } else {
      Tensor v = take("model." + p.name, *p.tensor, MemCategory::Weights, true);
      v.set_requires_grad(true);
      *p.tensor = v;
    }
  }
  for (auto& [name, b] : model->buffers()) *b = take("buffer." + name, *b, MemCategory::Weights, true);
  // Optimizer state by the optimizer's own parameter list, as saved (it may hold
  // parameters the model no longer has, emptied).
  auto names = optimizer->state_names();
  auto& opt_params = optimizer->params();
  for (size_t i = 0; i < opt_params.size(); ++i) {
    auto st = optimizer->state_of(i);
    for (size_t k = 0; k < st.size(); ++k)
      *st[k] = take("optim." + opt_params[i].name + "." + names[k], *opt_params[i].tensor,
                    MemCategory::Optimizer, true);
  }
  try {
    step = std::stoll(meta("step"));
    epoch = std::stoll(meta("epoch"));
    batch_in_epoch = std::stoll(meta("batch_in_epoch"));
    optimizer->steps = std::stoll(meta("optimizer_steps"));
  } catch (const std::logic_error&) {
    SPROUT_FAIL("corrupt checkpoint ", path, ": step/epoch metadata is not a number");
  }
  Json ir = Json::parse(meta("init_rng"), nullptr, false);
  SPROUT_CHECK(ir.is_array() && ir.size() == 4, "corrupt checkpoint ", path, ": bad init_rng");
  nn::init_rng().set_state(ir.get<std::array<uint64_t, 4>>());
}

data::Batch random_batch(const Shape& sample, int classes, int64_t batch, Device dev, uint64_t seed) {
  MemoryScope ms(MemCategory::Data);
  Rng r(seed);
  Shape xs{batch};
  xs.insert(xs.end(), sample.begin(), sample.end());
  Tensor x = Tensor::empty(xs, DType::F32, Device::cpu());
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = (float)r.normal();
  Tensor y = Tensor::empty({batch}, DType::I32, Device::cpu());
  for (int64_t i = 0; i < batch; ++i) y.data<int32_t>()[i] = (int32_t)r.below((uint64_t)classes);
  data::Batch b;
  b.x = dev.is_cpu() ? x : x.to(dev);
  b.y = dev.is_cpu() ? y : y.to(dev);
  return b;
}

BenchModel bench_model(const std::string& name, int64_t image_size) {
  BenchModel m;
  m.cfg = io::default_config();
  m.cfg["model"]["name"] = name;
  if (name == "mlp") {
    m.sample = {784};
    m.classes = 10;
  } else {
    m.sample = {3, image_size, image_size};
    bool imagenet = image_size >= 64;
    m.classes = imagenet ? 1000 : 10;
    m.cfg["model"]["stem"] = imagenet ? "imagenet" : "cifar";
  }
  return m;
}

Json memory_report(nn::Module& model, optim::Optimizer* opt, Device dev) {
  MemStats s = Allocator::stats(dev.type);
  Json m = Json::object();
  for (int c = 0; c < kNumMemCategories; ++c)
    m[mem_category_name((MemCategory)c)] = {{"current_bytes", s.current[c]}, {"peak_bytes", s.peak[c]}};
  m["total"] = {{"current_bytes", s.total_current}, {"peak_bytes", s.total_peak}};
  int64_t dense_params = 0;
  for (auto& p : model.parameters())
    dense_params += p.sparse ? p.sparse->dense_numel() : p.tensor->numel();
  int64_t n_state = opt ? (int64_t)opt->state_names().size() : 0;
  m["dense_equivalent"] = {{"weights_bytes", dense_params * 4}, {"gradients_bytes", dense_params * 4},
                           {"optimizer_bytes", dense_params * 4 * n_state}};
  if (dev.is_cuda()) {
    size_t free_b = 0, total_b = 0;
    device_memory(dev, &free_b, &total_b);
    m["cuda"] = {{"cached_bytes", s.cached}, {"device_mallocs", s.device_mallocs},
                 {"device_free_bytes", free_b}, {"device_total_bytes", total_b}};
  }
  return m;
}

Json RunState::summary() {
  Json layers = Json::array();
  int64_t dense_params = 0, stored = 0;
  for (auto& p : model->parameters()) {
    if (p.sparse) {
      layers.push_back({{"name", p.name}, {"shape", p.sparse->dense_shape},
                        {"format", p.sparse->block > 1 ? "bsr" : "csr"}, {"nnz", p.sparse->nnz()},
                        {"density", p.sparse->density()}});
      dense_params += p.sparse->dense_numel();
      stored += p.sparse->nnz();
    } else {
      if (p.tensor->dim() >= 2)
        layers.push_back({{"name", p.name}, {"shape", p.tensor->shape()}, {"format", "dense"},
                          {"nnz", p.tensor->numel()}, {"density", 1.0}});
      dense_params += p.tensor->numel();
      stored += p.tensor->numel();
    }
  }
  return Json{{"layers", layers}, {"density", density()},
              {"parameters", {{"dense", dense_params}, {"stored", stored}}},
              {"memory", memory_report(*model, optimizer.get(), device)}};
}

}  // namespace sprout::app
