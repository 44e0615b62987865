// `sprout eval --model model.safetensors --config ...`: top-1/top-5 accuracy, mean loss
// and throughput of a saved model on the configured test split, on the CPU or a GPU.
// The model is built from the config and given the file's weights; a sparse weight
// becomes the sparse layer it was (its stored structure, CSR or BSR), so the forward
// pass and its throughput are the sparse model's.
#include <chrono>
#include <cstdio>
#include <fstream>

#include "apps/commands.h"
#include "apps/torch_format.h"
#include "engine/core/error.h"
#include "engine/io/config.h"
#include "engine/nn/sparse_layers.h"
#include "engine/train/options.h"
#include "engine/train/trainer.h"

namespace sprout::app {

namespace {

using Json = nlohmann::json;

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
  const std::string path = name.substr(0, name.size() - std::string(".weight").size());
  for (auto& [mname, m] : model.modules())
    for (auto& [cname, child] : m->children()) {
      if ((mname.empty() ? cname : mname + "." + cname) != path) continue;
      const Tensor mask = stored_mask(s);
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

// The file's weights into `model` (built dense from the run's config), checked by name
// and shape; any tensor of the file left over is an error naming it.
void load_model_file(const std::string& path, nn::Module& model) {
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

}  // namespace

int run_eval(const EvalArgs& a) {
  const ModelSource src = find_model(a.model, a.config, a.sets);
  const Device dev = parse_device(a.device);
  nn::ModulePtr model = build_dense(src);
  load_model_file(src.model_path, *model);
  model->to(dev);
  const train::TrainOptions t = train::train_options().read(src.cfg["train"], "train.");
  const train::DataOptions d = train::data_options().read(src.cfg["data"], "data.");
  train::DataRequest req{t.batch_size, t.eval_batch_size, (uint64_t)t.seed, dev};
  train::DataSplits data = train::data_sets().at(d.name).make.open(src.cfg["data"], req);
  const auto t0 = std::chrono::steady_clock::now();
  const train::EvalResult r = train::evaluate(*model, *data.test);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const Json out = {{"model", src.cfg["model"]["name"]}, {"file", src.model_path}, {"device", dev.str()},
                    {"samples", r.samples}, {"top1", r.accuracy}, {"top5", r.top5}, {"loss", r.loss},
                    {"seconds", seconds}, {"samples_per_second", seconds > 0 ? (double)r.samples / seconds : 0.0}};
  std::printf("%s\n", out.dump(2).c_str());
  if (!a.json.empty()) {
    std::ofstream f(a.json, std::ios::binary);
    f << out.dump(2) << "\n";
    SPROUT_CHECK(f.good(), "cannot write ", a.json);
  }
  return 0;
}

}  // namespace sprout::app
