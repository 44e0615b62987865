// The data sets registered into the engine's data-set registry: what each sample looks
// like (from the options alone, no file read) and the two loaders of a run.
#include "data/loader.h"
#include "data/registry.h"
#include "engine/core/error.h"

namespace sprout::data {

namespace {

using nlohmann::json;
using train::DataRequest;
using train::DataSplits;

DataSplits open(const std::string& name, const json& data, const DataRequest& req) {
  const std::string root = data["root"].get<std::string>();
  json train_opt = data["options"], test_opt = data["options"];
  if (name == "imagenet" || name == "cifar10" || name == "cifar100") test_opt["augment"] = false;
  DatasetPtr train = make_dataset(name, root, "train", train_opt);
  DatasetPtr test = make_dataset(name, root, "test", test_opt);
  const int workers = (int)data["workers"].get<int64_t>(), prefetch = (int)data["prefetch"].get<int64_t>();
  DataSplits s;
  s.spec = {train->sample_shape(), train->num_classes()};
  // Several ranks drop a last global batch that is not full: every rank takes the same steps.
  const bool drop_last = req.ranks > 1;
  s.train = std::make_unique<DataLoader>(train, LoaderOptions{req.batch_size, /*shuffle=*/true, drop_last, req.seed,
                                                              workers, prefetch, req.device, nullptr, req.rank,
                                                              req.ranks});
  s.test = std::make_unique<DataLoader>(test, LoaderOptions{req.eval_batch_size, false, false, req.seed, workers,
                                                            prefetch, req.device, nullptr, req.rank, req.ranks});
  return s;
}

const char* help(const std::string& name) {
  if (name == "fashion-mnist") return "Fashion-MNIST IDX files (Debian's dataset-fashion-mnist)";
  if (name == "mnist") return "MNIST IDX files";
  if (name == "cifar10") return "CIFAR-10 binary batches";
  if (name == "cifar100") return "CIFAR-100 binary batches (coarse: 20 superclasses)";
  if (name == "imagenet") return "an ImageNet folder: train/<class>/*.JPEG and val/<class>/*.JPEG";
  return "seeded random samples with a learnable signal, for benchmarks and tests";
}

}  // namespace

void register_data_sets() {
  static const bool done = [] {
    for (const std::string& name : dataset_names()) {
      train::DataFactory f;
      f.describe = [name](const json& data) { return describe_dataset(name, data["options"]); };
      f.open = [name](const json& data, const DataRequest& req) { return open(name, data, req); };
      train::data_sets().add({name, help(name), f, dataset_option_info(name)});
    }
    return true;
  }();
  (void)done;
}

}  // namespace sprout::data
