// Models and random batches for the memory and step benchmarks.
#include "apps/bench_model.h"

#include "engine/core/rng.h"
#include "engine/train/options.h"

namespace sprout::app {

using Json = nlohmann::json;

BenchModel bench_model(const std::string& name, int64_t image_size) {
  BenchModel m;
  m.cfg = train::default_config();
  m.cfg["model"]["name"] = name;
  if (name == "mlp") {
    m.data = {{784}, 10};
  } else {
    const bool imagenet = image_size >= 64;
    m.data = {{3, image_size, image_size}, imagenet ? 1000 : 10};
    m.cfg["model"]["stem"] = imagenet ? "imagenet" : "cifar";
  }
  return m;
}

BenchModel config_model(const std::string& config_path) {
  BenchModel m;
  m.cfg = train::load_config(config_path, {});
  const std::string data = m.cfg["data"]["name"].get<std::string>();
  m.data = train::data_sets().at(data).make.describe(m.cfg["data"]);
  return m;
}

Batch random_batch(const train::DataSpec& data, int64_t batch, Device dev, uint64_t seed) {
  MemoryScope ms(MemCategory::Data);
  Rng r(seed);
  Shape xs{batch};
  xs.insert(xs.end(), data.sample_shape.begin(), data.sample_shape.end());
  Tensor x = Tensor::empty(xs, DType::F32, Device::cpu());
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = (float)r.normal();
  Tensor y = Tensor::empty({batch}, DType::I32, Device::cpu());
  for (int64_t i = 0; i < batch; ++i) y.data<int32_t>()[i] = (int32_t)r.below((uint64_t)data.num_classes);
  Batch b;
  b.x = dev.is_cpu() ? x : x.to(dev);
  b.y = dev.is_cpu() ? y : y.to(dev);
  return b;
}

}  // namespace sprout::app
