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
#include "engine/train/options.h"
#include "engine/train/trainer.h"

namespace sprout::app {

using Json = nlohmann::json;

int run_eval(const EvalArgs& a) {
  const ModelSource src = find_model(a.model, a.config, a.sets);
  const Device dev = parse_device(a.device);
  nn::ModulePtr model = build_dense(src);
  load_model_weights(src.model_path, *model);
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
