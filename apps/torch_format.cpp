// A sprout model file as a torchvision state_dict; see torch_format.h.
#include "apps/torch_format.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "data/registry.h"
#include "engine/core/error.h"
#include "engine/io/config.h"
#include "engine/nn/sparse_layers.h"
#include "engine/train/options.h"

namespace sprout::app {

namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

Json read_json_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  SPROUT_CHECK(f.good(), "cannot open ", path);
  std::stringstream s;
  s << f.rdbuf();
  return io::parse_json(s.str(), path);
}

// The run's resolved config as summary.json holds it.
Json summary_config(const std::string& summary) {
  SPROUT_CHECK(fs::exists(summary), "no ", summary,
               " to name the model and its data: pass the run folder, or --config with the model file");
  Json s = read_json_file(summary);
  SPROUT_CHECK(s.is_object() && s.contains("config") && s["config"].is_object(), summary,
               ": no 'config' object");
  return s["config"];
}

// Per-channel mean and std the data set normalises with: "(x / 255 - mean) / std".
void add_normalization(const ModelSource& src, std::map<std::string, std::string>& meta) {
  const Json& data = src.cfg["data"];
  const std::string name = data.value("name", "");
  Json opts = data.value("options", Json::object());  // checked by the data set's describe
  if (!opts.is_object()) opts = Json::object();
  const int64_t channels = src.spec.sample_shape.size() == 3 ? src.spec.sample_shape[0] : 1;
  Json found = Json::object();
  for (const auto& info : data::dataset_option_info(name))
    if (info.name == "mean" || info.name == "std") found[info.name] = opts.value(info.name, info.default_value);
  if (!found.contains("mean") || !found.contains("std")) return;  // synthetic: samples are not images
  for (const char* k : {"mean", "std"}) {
    Json v = found[k].is_array() ? found[k] : Json::array({found[k]});
    if ((int64_t)v.size() == 1 && channels > 1) v = Json(std::vector<double>((size_t)channels, v[0].get<double>()));
    meta[k] = v.dump();
  }
  meta["normalization"] = "(x / 255 - mean) / std, per channel";
}

void check_shape(const Tensor& t, const Shape& want, const std::string& key, const std::string& where) {
  SPROUT_CHECK(t.dtype() == DType::F32, where, "tensor '", key, "' is ", dtype_name(t.dtype()), ", expected F32");
  SPROUT_CHECK(t.shape() == want, where, "tensor '", key, "' has shape ", shape_str(t.shape()),
               ", torchvision expects ", shape_str(want));
}

const Tensor& tensor_at(const io::SafetensorsFile& f, const std::string& key, const std::string& where) {
  auto it = f.tensors.find(key);
  SPROUT_CHECK(it != f.tensors.end(), where, "no tensor '", key, "'");
  return it->second;
}

// The parts as CSR: a BSR weight's stored blocks entry by entry, padding left out.
SparseParts bsr_as_csr(const SparseParts& s) {
  const int b = s.block;
  const int32_t* rp = s.row_ptr.data<int32_t>();
  const int32_t* ci = s.col_idx.data<int32_t>();
  const float* v = s.values.data<float>();
  std::vector<int32_t> row_ptr{0}, col;
  std::vector<float> val;
  for (int64_t r = 0; r < s.rows; ++r) {
    const int64_t br = r / b, i = r % b;
    for (int32_t k = rp[br]; k < rp[br + 1]; ++k)
      for (int j = 0; j < b; ++j) {
        const int64_t c = (int64_t)ci[k] * b + j;
        if (c >= s.cols) continue;
        col.push_back((int32_t)c);
        val.push_back(v[((int64_t)k * b + i) * b + j]);
      }
    row_ptr.push_back((int32_t)col.size());
  }
  SparseParts out = s;
  out.block = 1;
  out.row_ptr = Tensor::from_vector(row_ptr, {(int64_t)row_ptr.size()});
  out.col_idx = Tensor::from_vector(col, {(int64_t)col.size()});
  out.values = Tensor::from_vector(val, {(int64_t)val.size()});
  return out;
}

void add_sparse(TorchStateDict& out, Json& sparse_meta, const std::string& key, SparseParts s) {
  const int b = s.block;
  const bool bsr = b > 1 && s.rows % b == 0 && s.cols % b == 0;
  if (b > 1 && !bsr) s = bsr_as_csr(s);
  const int64_t nnzb = s.col_idx.numel();
  out.tensors.emplace_back(key + ".crow_indices", s.row_ptr);
  out.tensors.emplace_back(key + ".col_indices", s.col_idx);
  out.tensors.emplace_back(key + ".values", bsr ? s.values.view({nnzb, b, b}) : s.values);
  sparse_meta[key] = {{"layout", bsr ? "bsr" : "csr"}, {"size", {s.rows, s.cols}},
                      {"blocksize", {bsr ? b : 1, bsr ? b : 1}}, {"shape", s.dense_shape}};
}

}  // namespace

ModelSource find_model(const std::string& run_or_file, const std::string& config,
                       const std::vector<std::string>& sets) {
  ModelSource src;
  const bool dir = fs::is_directory(run_or_file);
  src.model_path = dir ? (fs::path(run_or_file) / "model.safetensors").string() : run_or_file;
  SPROUT_CHECK(fs::exists(src.model_path), "no model file ", src.model_path);
  if (!config.empty()) {
    src.cfg = train::load_config(config, sets);
  } else {
    fs::path folder = dir ? fs::path(run_or_file) : fs::path(run_or_file).parent_path();
    src.cfg = summary_config((folder / "summary.json").string());
    for (const auto& s : sets) io::apply_override(src.cfg, s);
  }
  for (const char* k : {"model", "data"})
    SPROUT_CHECK(src.cfg.contains(k) && src.cfg[k].is_object() && src.cfg[k].contains("name") &&
                     src.cfg[k]["name"].is_string(),
                 "config of ", src.model_path, " has no ", k, ".name");
  const train::DataOptions d = train::data_options().read(src.cfg["data"], "data.");
  src.spec = train::data_sets().at(d.name).make.describe(src.cfg["data"]);
  return src;
}

std::string torch_model_name(const ModelSource& src) {
  const Json& m = src.cfg["model"];
  const std::string name = m["name"].get<std::string>();
  if (name == "mlp") return name;
  if (name == "resnet18" || name == "resnet34" || name == "resnet50") {
    SPROUT_CHECK(m.value("stem", Json("imagenet")).is_string() && m.value("width", Json(1.0)).is_number(), name,
                 ": model.stem must be a string and model.width a number");
    SPROUT_CHECK(m.value("stem", "imagenet") == "imagenet", name, " with the ", m.value("stem", ""),
                 " stem (3x3/1 conv, no max pool) has no torchvision counterpart: torchvision's ", name,
                 " has the imagenet stem");
    SPROUT_CHECK(m.value("width", 1.0) == 1.0, name, " at model.width ", m.value("width", 1.0),
                 " has no torchvision counterpart (width 1 only)");
    SPROUT_CHECK(src.spec.sample_shape.size() == 3 && src.spec.sample_shape[0] == 3, name, " on samples ",
                 shape_str(src.spec.sample_shape), " has no torchvision counterpart (3 input channels only)");
    return name;
  }
  SPROUT_FAIL("model '", name, "' has no exact torchvision counterpart (sprout's vgg16/vgg19 are the CIFAR "
              "variant with one Linear(512) head; exported are mlp, resnet18, resnet34, resnet50 with the imagenet stem)");
}

nn::ModulePtr build_dense(const ModelSource& src) {
  return train::models().at(src.cfg["model"]["name"].get<std::string>()).make(src.cfg["model"], src.spec);
}

SparseParts read_sparse_parts(const io::SafetensorsFile& f, const std::string& name, const Json& meta,
                              const std::string& where) {
  SparseParts s;
  try {
    s.rows = meta.at("rows").get<int64_t>();
    s.cols = meta.at("cols").get<int64_t>();
    s.block = meta.at("block").get<int>();
    s.dense_shape = meta.at("dense_shape").get<Shape>();
  } catch (const Json::exception&) {
    SPROUT_FAIL(where, "metadata 'sparse' entry '", name, "' lacks rows, cols, block or dense_shape");
  }
  SPROUT_CHECK(s.rows > 0 && s.cols > 0 && s.block >= 1 && s.block <= 64 && shape_numel(s.dense_shape) == s.rows * s.cols,
               where, "sparse weight '", name, "': bad rows/cols/block/dense_shape");
  s.row_ptr = tensor_at(f, name + ".row_ptr", where);
  s.col_idx = tensor_at(f, name + ".col_idx", where);
  s.values = tensor_at(f, name + ".values", where);
  const int64_t brows = (s.rows + s.block - 1) / s.block, bcols = (s.cols + s.block - 1) / s.block;
  SPROUT_CHECK(s.row_ptr.dtype() == DType::I32 && s.col_idx.dtype() == DType::I32 && s.values.dtype() == DType::F32 &&
                   s.row_ptr.numel() == brows + 1,
               where, "sparse weight '", name, "': row_ptr/col_idx must be I32 (row_ptr ", brows + 1,
               " long), values F32");
  const int32_t* rp = s.row_ptr.data<int32_t>();
  const int64_t nnzb = s.col_idx.numel();
  SPROUT_CHECK(rp[0] == 0 && rp[brows] == nnzb && s.values.numel() == nnzb * s.block * s.block, where,
               "sparse weight '", name, "': row_ptr, col_idx and values disagree on the entry count");
  for (int64_t r = 0; r < brows; ++r)
    SPROUT_CHECK(rp[r] <= rp[r + 1], where, "sparse weight '", name, "': row_ptr decreases at row ", r);
  const int32_t* ci = s.col_idx.data<int32_t>();
  for (int64_t k = 0; k < nnzb; ++k)
    SPROUT_CHECK(ci[k] >= 0 && ci[k] < bcols, where, "sparse weight '", name, "': col_idx ", ci[k], " out of range");
  return s;
}

Tensor densify(const SparseParts& s) {
  Tensor d = Tensor::zeros(s.dense_shape);
  float* out = d.data<float>();
  const int b = s.block;
  const int32_t* rp = s.row_ptr.data<int32_t>();
  const int32_t* ci = s.col_idx.data<int32_t>();
  const float* v = s.values.data<float>();
  for (int64_t br = 0; br * b < s.rows; ++br)
    for (int32_t k = rp[br]; k < rp[br + 1]; ++k)
      for (int i = 0; i < b; ++i)
        for (int j = 0; j < b; ++j) {
          const int64_t r = br * b + i, c = (int64_t)ci[k] * b + j;
          if (r < s.rows && c < s.cols) out[r * s.cols + c] = v[((int64_t)k * b + i) * b + j];
        }
  return d;
}

namespace {

// The model's parameters and buffers from the file, in the model's order.
void add_tensors(nn::Module& model, const io::SafetensorsFile& f, const Json& sparse_in, bool sparse,
                 const std::string& where, TorchStateDict& out, Json& sparse_out, std::set<std::string>& taken) {
  for (const auto& p : model.parameters()) {
    const Shape want = p.tensor->shape();
    if (sparse_in.contains(p.name)) {
      SparseParts s = read_sparse_parts(f, p.name, sparse_in[p.name], where);
      SPROUT_CHECK(s.dense_shape == want, where, "sparse weight '", p.name, "' has shape ", shape_str(s.dense_shape),
                   ", torchvision expects ", shape_str(want));
      for (const char* part : {".row_ptr", ".col_idx", ".values"}) taken.insert(p.name + part);
      if (sparse) add_sparse(out, sparse_out, p.name, s);
      else out.tensors.emplace_back(p.name, densify(s));
      continue;
    }
    const Tensor& t = tensor_at(f, p.name, where);
    check_shape(t, want, p.name, where);
    taken.insert(p.name);
    out.tensors.emplace_back(p.name, t);
  }
  for (const auto& [name, b] : model.buffers()) {
    const Tensor& t = tensor_at(f, name, where);
    check_shape(t, b->shape(), name, where);
    taken.insert(name);
    out.tensors.emplace_back(name, t);
  }
  // torch's BatchNorm counts its batches; sprout does not (the momentum is fixed).
  const std::string var = "running_var";
  for (const auto& [name, b] : model.buffers())
    if (name.size() >= var.size() && name.compare(name.size() - var.size(), var.size(), var) == 0)
      out.tensors.emplace_back(name.substr(0, name.size() - var.size()) + "num_batches_tracked",
                               Tensor::zeros({}, DType::I64));
}

// The MLP's hidden widths: every weight's rows but the last.
Json mlp_hidden(nn::Module& model) {
  Json hidden = Json::array();
  for (const auto& p : model.parameters())
    if (p.tensor->dim() == 2) hidden.push_back(p.tensor->size(0));
  if (!hidden.empty()) hidden.erase(hidden.end() - 1);
  return hidden;
}

}  // namespace

TorchStateDict to_torch(const ModelSource& src, bool sparse) {
  const std::string model_name = torch_model_name(src);
  const std::string where = "model file " + src.model_path + ": ";
  const io::SafetensorsFile f = io::load_safetensors(src.model_path);
  auto fmt = f.metadata.find("format");
  SPROUT_CHECK(fmt != f.metadata.end() && fmt->second == "sprout-model-v1", where,
               "not a sprout model file (metadata 'format' is not sprout-model-v1)");
  const Json sparse_in = f.metadata.count("sparse") ? io::parse_json(f.metadata.at("sparse"), where + "metadata 'sparse'")
                                                    : Json::object();
  SPROUT_CHECK(sparse_in.is_object(), where, "metadata 'sparse' is not a JSON object");
  nn::ModulePtr model = build_dense(src);
  TorchStateDict out;
  Json sparse_out = Json::object();
  std::set<std::string> taken;
  add_tensors(*model, f, sparse_in, sparse, where, out, sparse_out, taken);
  for (const auto& [key, t] : f.tensors)
    SPROUT_CHECK(taken.count(key), where, "tensor '", key, "' has no place in torchvision's ", model_name,
                 " (a method that changed the architecture?)");
  out.metadata = {{"format", "sprout-torch-v1"}, {"model", model_name},
                  {"num_classes", std::to_string(src.spec.num_classes)},
                  {"input_shape", Json(src.spec.sample_shape).dump()},
                  {"image_size", std::to_string(src.spec.sample_shape.size() == 3 ? src.spec.sample_shape[2] : 0)},
                  {"layout", sparse ? "sparse" : "dense"}, {"sparse", sparse_out.dump()}};
  if (model_name == "mlp") out.metadata["hidden"] = mlp_hidden(*model).dump();
  add_normalization(src, out.metadata);
  return out;
}

namespace {

// The mask [rows, cols] of the entries the parts store (whole blocks, inside the shape).
Tensor stored_mask(const SparseParts& s) {
  SparseParts ones = s;
  ones.values = Tensor::full(s.values.shape(), 1.0);
  ones.dense_shape = {s.rows, s.cols};
  return densify(ones).to_dtype(DType::U8);
}

// Replaces the dense layer whose weight is `name` by its sparse twin with the stored
// structure and values.
void make_sparse(nn::Module& model, const std::string& name, const SparseParts& s, const std::string& where) {
  const std::string suffix = ".weight";
  SPROUT_CHECK(name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0,
               where, "sparse entry '", name, "' is not a layer's weight");
  const std::string path = name.substr(0, name.size() - suffix.size());
  for (auto& [mname, m] : model.modules())
    for (auto& [cname, child] : m->children()) {
      if ((mname.empty() ? cname : mname + "." + cname) != path) continue;
      const Tensor mask = stored_mask(s);
      const Tensor* dense = nullptr;
      if (auto* l = dynamic_cast<nn::Linear*>(child.get())) dense = &l->weight;
      if (auto* c = dynamic_cast<nn::Conv2d*>(child.get())) dense = &c->weight;
      SPROUT_CHECK(!dense || dense->shape() == s.dense_shape, where, "sparse weight '", name, "' has shape ",
                   shape_str(s.dense_shape), ", the model expects ", shape_str(dense->shape()));
      if (auto* l = dynamic_cast<nn::Linear*>(child.get())) {
        l->weight.copy_from(densify(s));
        child = nn::SparseLinear::from_dense(*l, mask, s.block);
      } else if (auto* c = dynamic_cast<nn::Conv2d*>(child.get())) {
        c->weight.copy_from(densify(s));
        child = nn::SparseConv2d::from_dense(*c, mask, s.block);
      } else {
        SPROUT_FAIL(where, "sparse weight '", name, "' belongs to a ", child->type_name(), ", not Linear or Conv2d");
      }
      return;
    }
  SPROUT_FAIL(where, "sparse weight '", name, "' has no layer in the model");
}

}  // namespace

void load_model_weights(const std::string& path, nn::Module& model) {
  const std::string where = "model file " + path + ": ";
  const io::SafetensorsFile f = io::load_safetensors(path);
  const Json sparse = f.metadata.count("sparse") ? io::parse_json(f.metadata.at("sparse"), where + "metadata 'sparse'")
                                                 : Json::object();
  SPROUT_CHECK(sparse.is_object(), where, "metadata 'sparse' is not a JSON object");
  size_t used = 0;
  for (auto& [name, meta] : sparse.items()) {
    const SparseParts s = read_sparse_parts(f, name, meta, where);
    make_sparse(model, name, s, where);
    used += 3;
  }
  auto take = [&](const std::string& name, Tensor& dst) {
    auto it = f.tensors.find(name);
    SPROUT_CHECK(it != f.tensors.end(), where, "no tensor '", name, "'");
    SPROUT_CHECK(it->second.dtype() == dst.dtype() && it->second.shape() == dst.shape(), where, "tensor '", name,
                 "' is ", dtype_name(it->second.dtype()), " ", shape_str(it->second.shape()), ", the model expects ",
                 dtype_name(dst.dtype()), " ", shape_str(dst.shape()));
    dst.copy_from(it->second);
    ++used;
  };
  for (auto& p : model.parameters())
    if (!p.sparse) take(p.name, *p.tensor);
  for (auto& [name, b] : model.buffers()) take(name, *b);
  SPROUT_CHECK(used == f.tensors.size(), where, f.tensors.size() - used,
               " tensors have no place in the configured model (another architecture?)");
}

}  // namespace sprout::app
