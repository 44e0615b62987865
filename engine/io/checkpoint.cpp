// Checkpoint and model files: writing them, and reading a checkpoint back. Reading is a
// door: everything in the file is checked before any of it is used (see checkpoint.h),
// so the kernels behind it never see an index out of range or a NaN from a file.
#include "engine/io/checkpoint.h"

#include <cmath>
#include <set>

#include "engine/core/error.h"
#include "engine/io/config.h"
#include "engine/io/safetensors.h"
#include "engine/nn/init.h"
#include "engine/ops/deferred.h"
#include "engine/sparse/validate.h"

namespace sprout::io {

using Json = nlohmann::json;

namespace {

constexpr const char* kFormat = "sprout-checkpoint-v2";
// Files written before checkpoints carried checksums: they still load, unverified
// against bit rot but with every other check.
constexpr const char* kFormatWithoutChecksums = "sprout-checkpoint-v1";

const std::set<std::string> kMetadataKeys = {"format", "step", "epoch", "batch_in_epoch", "optimizer_steps",
                                             "sparse", "sparsifier", "init_rng", "config", "ranks"};

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

// A checkpoint being read: its metadata and tensors, and which tensors found a place.
struct Reader {
  const std::string& path;
  SafetensorsFile f;
  Device device;
  std::set<std::string> taken;

  std::string at() const { return "checkpoint " + path + ": "; }
  const std::string& meta(const std::string& k) const {
    auto it = f.metadata.find(k);
    SPROUT_CHECK(it != f.metadata.end(), at(), "metadata '", k, "' missing");
    return it->second;
  }
  Json meta_json(const std::string& k) const {
    SPROUT_CHECK(!line_too_deep(meta(k), kMaxJsonDepth), at(), "metadata '", k, "' is JSON nested deeper than ",
                 kMaxJsonDepth, " levels");
    Json j = Json::parse(meta(k), nullptr, false);
    SPROUT_CHECK(!j.is_discarded(), at(), "metadata '", k, "' is not JSON");
    return j;
  }
  // The file's tensor `name` (on the CPU), of `like`'s dtype (and shape when exact).
  const Tensor& find(const std::string& name, const Tensor& like, bool exact_shape) {
    auto it = f.tensors.find(name);
    SPROUT_CHECK(it != f.tensors.end(), at(), "no tensor '", name, "'");
    const Tensor& src = it->second;
    SPROUT_CHECK(src.dtype() == like.dtype(), at(), "tensor '", name, "' is ", dtype_name(src.dtype()),
                 ", the run expects ", dtype_name(like.dtype()));
    SPROUT_CHECK(!exact_shape || src.shape() == like.shape(), at(), "tensor '", name, "' has shape ",
                 shape_str(src.shape()), ", the run expects ", shape_str(like.shape()));
    taken.insert(name);
    return src;
  }
};

// ---- metadata --------------------------------------------------------------------

void check_format(const Reader& r) {
  const std::string& format = r.meta("format");
  SPROUT_CHECK(format == kFormat || format == kFormatWithoutChecksums, r.at(), "unknown format ", quoted(format));
  SPROUT_CHECK(r.f.checksummed || format == kFormatWithoutChecksums, r.at(), "no checksums (format ", format,
               " always carries them)");
  for (const auto& [k, v] : r.f.metadata)
    SPROUT_CHECK(kMetadataKeys.count(k), r.at(), "unknown metadata ", quoted(k));
}

// A section of the saved config, which must be an object.
const Json& saved_section(const Reader& r, const Json& saved, const char* name) {
  SPROUT_CHECK(saved.is_object() && saved.contains(name) && saved[name].is_object(), r.at(),
               "metadata 'config' has no '", name, "' section");
  return saved[name];
}

// The keys of `name` both configs hold (a newer option may be missing from an older
// file) agree, except `free` ones, which choose how the run executes, not what it is.
void check_section(const Reader& r, const Json& saved, const Json& cfg, const char* name,
                   const std::set<std::string>& free) {
  const Json& s = saved_section(r, saved, name);
  for (auto it = cfg[name].begin(); it != cfg[name].end(); ++it)
    SPROUT_CHECK(free.count(it.key()) || !s.contains(it.key()) || s[it.key()] == it.value(), r.at(),
                 "written with ", name, ".", it.key(), " = ", quoted(s[it.key()].dump()), ", this run has ",
                 quoted(it.value().dump()));
}

// The checkpoint was written by this run's method, for this run's model.
void check_same_run(const Reader& r, const Json& cfg) {
  const Json saved = r.meta_json("config");
  const Json& sparsity = saved_section(r, saved, "sparsity");
  SPROUT_CHECK(sparsity.contains("method") && sparsity["method"].is_string(), r.at(),
               "metadata 'config' names no sparsity.method");
  const Json& method = sparsity["method"];
  SPROUT_CHECK(method == cfg["sparsity"]["method"], r.at(), "written by sparsity.method ",
               quoted(method.get<std::string>()), ", this run uses ",
               quoted(cfg["sparsity"]["method"].get<std::string>()), "; a checkpoint resumes only its own method");
  check_section(r, saved, cfg, "model", {});
  check_section(r, saved, cfg, "sparsity", {"kernel", "keep_transposes", "dense_compute_above"});
  const Json& optimizer = saved_section(r, saved, "optimizer");
  SPROUT_CHECK(optimizer.contains("name") && optimizer["name"] == cfg["optimizer"]["name"], r.at(),
               "written with optimizer.name ", quoted(optimizer.value("name", Json()).dump()), ", this run uses ",
               quoted(cfg["optimizer"]["name"].dump()));
}

// A counter: a plain decimal integer, as save_checkpoint writes it.
int64_t read_count(const Reader& r, const std::string& key) {
  const std::string& s = r.meta(key);
  bool digits = !s.empty() && s.size() <= 18;
  for (char ch : s) digits = digits && ch >= '0' && ch <= '9';
  const int64_t v = digits ? std::stoll(s) : -1;
  SPROUT_CHECK(digits && std::to_string(v) == s, r.at(), "metadata '", key, "' is ", quoted(s),
               ", not a non-negative integer");
  return v;
}

// The counters agree with each other and with the run's length (method.ctx).
RunCounters read_counters(const Reader& r, const sparsity::TrainContext& run, int64_t* optimizer_steps) {
  RunCounters c{read_count(r, "step"), read_count(r, "epoch"), read_count(r, "batch_in_epoch")};
  *optimizer_steps = read_count(r, "optimizer_steps");
  c.ranks = r.f.metadata.count("ranks") ? read_count(r, "ranks") : 1;  // older files: one process
  SPROUT_CHECK(c.ranks >= 1, r.at(), "metadata 'ranks' is 0");
  const int64_t spe = run.steps_per_epoch;
  SPROUT_CHECK(c.epoch <= run.epochs, r.at(), "metadata 'epoch' is ", c.epoch, ", past this run's ", run.epochs,
               " epochs");
  SPROUT_CHECK(c.batch_in_epoch < spe && (c.epoch < run.epochs || c.batch_in_epoch == 0), r.at(),
               "metadata 'batch_in_epoch' is ", c.batch_in_epoch, " in epoch ", c.epoch, " of ", run.epochs,
               ", epochs of ", spe, " steps");
  SPROUT_CHECK(c.step == c.epoch * spe + c.batch_in_epoch, r.at(), "metadata 'step' is ", c.step, ", but epoch ",
               c.epoch, " and batch_in_epoch ", c.batch_in_epoch, " at ", spe, " steps per epoch make ",
               c.epoch * spe + c.batch_in_epoch);
  SPROUT_CHECK(*optimizer_steps <= c.step, r.at(), "metadata 'optimizer_steps' is ", *optimizer_steps,
               ", more than the ", c.step, " steps taken");
  return c;
}

// An RNG state: four 64-bit words, not all zero (xoshiro would then draw only zeros).
std::array<uint64_t, 4> read_rng(const Reader& r, const Json& j, const std::string& what) {
  bool ok = j.is_array() && j.size() == 4, zero = true;
  for (size_t i = 0; ok && i < 4; ++i) {
    ok = j[i].is_number_unsigned();
    zero = zero && ok && j[i].get<uint64_t>() == 0;
  }
  SPROUT_CHECK(ok && !zero, r.at(), what, " is not an RNG state (four 64-bit words, not all zero)");
  return j.get<std::array<uint64_t, 4>>();
}

// `saved` has the form of `fresh` (what the method writes, read back as JSON): the same
// keys, array lengths, and kinds of values (an unsigned number stays unsigned). Arrays
// the method leaves empty until training fills them hold non-negative integers.
void check_like(const Reader& r, const Json& saved, const Json& fresh, const std::string& where) {
  auto bad = [&] { SPROUT_FAIL(r.at(), "metadata 'sparsifier': ", where, " is ", quoted(saved.dump()),
                               ", the method writes ", quoted(fresh.dump())); };
  if (fresh.is_object()) {
    if (!saved.is_object() || saved.size() != fresh.size()) bad();
    for (auto it = fresh.begin(); it != fresh.end(); ++it) {
      if (!saved.contains(it.key())) bad();
      check_like(r, saved[it.key()], it.value(), where + "." + it.key());
    }
  } else if (fresh.is_array()) {
    if (!saved.is_array() || (!fresh.empty() && saved.size() != fresh.size())) bad();
    for (size_t i = 0; i < saved.size(); ++i)
      check_like(r, saved[i], fresh.empty() ? Json(0u) : fresh[i], where + "[" + std::to_string(i) + "]");
  } else if (fresh.is_number_unsigned()) {
    if (!saved.is_number_unsigned()) bad();
  } else if (fresh.is_number_integer()) {
    if (!saved.is_number_integer()) bad();
  } else if (fresh.is_number()) {
    if (!saved.is_number() || !std::isfinite(saved.get<double>())) bad();
  } else if (saved.type() != fresh.type()) {
    bad();
  }
}

Json read_method_state(const Reader& r, const sparsity::Sparsifier& method) {
  const Json saved = r.meta_json("sparsifier");
  check_like(r, saved, Json::parse(method.state().dump()), method.name());
  if (saved.contains("rng")) read_rng(r, saved["rng"], "metadata 'sparsifier': rng");
  return saved;
}

// ---- tensors ---------------------------------------------------------------------

void check_finite(const Reader& r) {
  for (const auto& [name, t] : r.f.tensors) {
    if (!is_floating(t.dtype())) continue;
    const bool f32 = t.dtype() == DType::F32;
    const float* f = f32 ? t.data<float>() : nullptr;
    const double* d = f32 ? nullptr : t.data<double>();
    for (int64_t i = 0; i < t.numel(); ++i) {
      const double v = f32 ? f[i] : d[i];
      SPROUT_CHECK(std::isfinite(v), r.at(), "tensor ", quoted(name), " holds a non-finite value (", v,
                   ") at index ", i);
    }
  }
}

int64_t meta_int(const Reader& r, const Json& e, const char* key, const std::string& layer) {
  SPROUT_CHECK(e.contains(key) && e[key].is_number_unsigned() && e[key].get<uint64_t>() <= (1ull << 31),
               r.at(), "metadata 'sparse': layer ", quoted(layer), " has no valid '", key, "'");
  return e[key].get<int64_t>();
}

// The file's sparse layers, described by the "sparse" metadata, each structure
// validated on its own (before anything is matched to the model).
std::map<std::string, sparse::SparseParameter> read_sparse_layers(const Reader& r) {
  const Json meta = r.meta_json("sparse");
  SPROUT_CHECK(meta.is_object(), r.at(), "metadata 'sparse' is not an object");
  std::map<std::string, sparse::SparseParameter> out;
  for (auto it = meta.begin(); it != meta.end(); ++it) {
    const std::string& name = it.key();
    const Json& e = it.value();
    SPROUT_CHECK(e.is_object() && e.contains("dense_shape") && e["dense_shape"].is_array(), r.at(),
                 "metadata 'sparse': layer ", quoted(name), " has no dense_shape");
    sparse::SparseParameter p;
    p.rows = meta_int(r, e, "rows", name);
    p.cols = meta_int(r, e, "cols", name);
    p.block = (int)meta_int(r, e, "block", name);
    for (const auto& d : e["dense_shape"]) {
      SPROUT_CHECK(d.is_number_unsigned() && d.get<uint64_t>() <= (1ull << 31), r.at(), "metadata 'sparse': layer ",
                   quoted(name), " has dense_shape ", quoted(e["dense_shape"].dump()));
      p.dense_shape.push_back(d.get<int64_t>());
    }
    const std::pair<const char*, Tensor*> parts[] = {{".row_ptr", &p.row_ptr}, {".col_idx", &p.col_idx},
                                                     {".values", &p.values}};
    for (auto [field, t] : parts) {
      auto ft = r.f.tensors.find("model." + name + field);
      SPROUT_CHECK(ft != r.f.tensors.end(), r.at(), "no tensor ", quoted("model." + name + field));
      *t = ft->second;
    }
    sparse::validate(p, r.at() + "layer " + quoted(name));
    out[name] = p;
  }
  return out;
}

// What loading will replace, built and checked in full before anything is.
struct Staged {
  struct Item {
    Tensor* dst;
    Tensor value;
    bool requires_grad;
  };
  std::vector<Item> tensors;
  std::vector<std::pair<sparse::SparseParameter*, sparse::SparseParameter>> sparse;
};

void stage_sparse(Reader& r, const sparse::SparseParameter& saved, nn::ParamRef& p, Staged& s) {
  const sparse::SparseParameter& m = *p.sparse;
  SPROUT_CHECK(saved.rows == m.rows && saved.cols == m.cols && saved.block == m.block &&
                   saved.dense_shape == m.dense_shape,
               r.at(), "layer ", quoted(p.name), " is ", shape_str(saved.dense_shape), " in blocks of ", saved.block,
               ", the model's is ", shape_str(m.dense_shape), " in blocks of ", m.block);
  const std::string prefix = "model." + p.name;
  sparse::SparseParameter n = m;
  n.row_ptr = r.find(prefix + ".row_ptr", m.row_ptr, true).to(r.device, MemCategory::Indices);
  n.col_idx = r.find(prefix + ".col_idx", m.col_idx, false).to(r.device, MemCategory::Indices);
  n.values = r.find(prefix + ".values", m.values, false).to(r.device, MemCategory::Weights);
  s.sparse.emplace_back(p.sparse, n);
}

// Every model tensor and optimizer state tensor, checked against what the run holds.
Staged stage(Reader& r, nn::Module& model, optim::Optimizer& optimizer,
             const std::map<std::string, sparse::SparseParameter>& sparse_layers) {
  Staged s;
  std::map<const Tensor*, Shape> staged_shape;  // sparse values: the file's nnz
  size_t sparse_seen = 0;
  for (auto& p : model.parameters()) {
    auto it = sparse_layers.find(p.name);
    SPROUT_CHECK((it != sparse_layers.end()) == (p.sparse != nullptr), r.at(), "layer ", quoted(p.name), " is ",
                 p.sparse ? "sparse in the model but not in the checkpoint" : "dense in the model but sparse in the checkpoint");
    if (p.sparse) {
      stage_sparse(r, it->second, p, s);
      staged_shape[p.tensor] = it->second.values.shape();
      ++sparse_seen;
    } else {
      s.tensors.push_back({p.tensor, r.find("model." + p.name, *p.tensor, true).to(r.device, MemCategory::Weights), true});
    }
  }
  SPROUT_CHECK(sparse_seen == sparse_layers.size(), r.at(), "metadata 'sparse' describes layers the model lacks");
  for (auto& [name, b] : model.buffers())
    s.tensors.push_back({b, r.find("buffer." + name, *b, true).to(r.device, MemCategory::Weights), false});
  // By the optimizer's own parameter list, as saved (it may hold parameters the model no
  // longer has, emptied); a sparse layer's state has the file's nnz.
  const auto names = optimizer.state_names();
  auto& params = optimizer.params();
  for (size_t i = 0; i < params.size(); ++i) {
    Tensor like = *params[i].tensor;
    auto sh = staged_shape.find(params[i].tensor);
    if (sh != staged_shape.end()) like = Tensor::empty(sh->second, like.dtype(), Device::cpu(), MemCategory::Workspace);
    auto st = optimizer.state_of(i);
    for (size_t k = 0; k < st.size(); ++k)
      s.tensors.push_back({st[k], r.find("optim." + params[i].name + "." + names[k], like, true)
                                      .to(r.device, MemCategory::Optimizer), false});
  }
  for (const auto& [name, t] : r.f.tensors)
    SPROUT_CHECK(r.taken.count(name), r.at(), "tensor ", quoted(name), " has no place in this run");
  return s;
}

void commit(Staged& s) {
  for (auto& [dst, n] : s.sparse) {
    dst->row_ptr = n.row_ptr;
    dst->col_idx = n.col_idx;
    dst->transposed.reset();  // a CSC view of the old structure
    n.values.set_requires_grad(true);
    dst->values = n.values;
  }
  for (auto& item : s.tensors) {
    if (item.requires_grad) item.value.set_requires_grad(true);
    *item.dst = item.value;
  }
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
      {"format", kFormat}, {"step", std::to_string(c.step)},
      {"epoch", std::to_string(c.epoch)}, {"batch_in_epoch", std::to_string(c.batch_in_epoch)},
      {"optimizer_steps", std::to_string(optimizer.steps)}, {"ranks", std::to_string(c.ranks)},
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
                            sparsity::Sparsifier& method, Device device, const Json& cfg) {
  Reader r{path, load_safetensors(path), device, {}};
  check_format(r);
  check_same_run(r, cfg);
  int64_t optimizer_steps = 0;
  const RunCounters c = read_counters(r, method.ctx, &optimizer_steps);
  const Json method_state = read_method_state(r, method);
  const auto init_rng = read_rng(r, r.meta_json("init_rng"), "metadata 'init_rng'");
  check_finite(r);
  const auto sparse_layers = read_sparse_layers(r);
  // The method's state first: it may reshape the model to what was saved (EAST drops its
  // DyReLU modules once their phase is over).
  try {
    method.load_state(method_state);
  } catch (const nlohmann::json::exception& e) {
    SPROUT_FAIL(r.at(), "metadata 'sparsifier' does not fit method ", method.name(), " (", e.what(), ")");
  }
  Staged s = stage(r, model, optimizer, sparse_layers);
  commit(s);
  optimizer.steps = optimizer_steps;
  nn::init_rng().set_state(init_rng);
  return c;
}

}  // namespace sprout::io
