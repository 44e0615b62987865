// Every model registered by name into the engine's model registry, with the options
// it declares (the config's "model" section).
#include "engine/core/error.h"
#include "engine/core/options.h"
#include "engine/train/data_source.h"
#include "models/models.h"
#include "models/resnet.h"

namespace sprout::models {

namespace {

using nlohmann::json;
using train::DataSpec;

struct MlpOptions {
  std::vector<int64_t> hidden;
};

const Options<MlpOptions>& mlp_options() {
  static const Options<MlpOptions> o = Options<MlpOptions>().integers(
      "hidden", &MlpOptions::hidden, {1000, 1000, 1000}, Range::closed(1, 1e8), "hidden layer widths");
  return o;
}

struct ResNetOptions {
  std::string stem;
  double width = 1.0;
  bool fused_bn_relu = true;
};

const Options<ResNetOptions>& resnet_options() {
  static const Options<ResNetOptions> o = Options<ResNetOptions>()
      .text("stem", &ResNetOptions::stem, "imagenet", {"imagenet", "cifar"},
            "imagenet: 7x7/2 conv and 3x3/2 max pool; cifar: 3x3/1 conv, no pool")
      .number("width", &ResNetOptions::width, 1.0, Range::above(0), "multiplies every channel count")
      .flag("fused_bn_relu", &ResNetOptions::fused_bn_relu, true,
            "BatchNorm + ReLU as one op that keeps one tensor for backward (false: separate ops)");
  return o;
}

// [C, H, W] samples, as every convolutional model needs.
void check_image(const std::string& name, const DataSpec& d) {
  SPROUT_CHECK(d.sample_shape.size() == 3, "model '", name, "' needs [C, H, W] samples, got ",
               shape_str(d.sample_shape));
}

train::ModelFactory resnet_factory(int depth) {
  return [depth](const json& m, const DataSpec& d) {
    check_image("resnet" + std::to_string(depth), d);
    ResNetOptions o = resnet_options().read(m, "model.");
    return resnet(depth, d.num_classes, o.stem, d.sample_shape[0], o.width, o.fused_bn_relu);
  };
}

train::ModelFactory vgg_factory(int depth) {
  return [depth](const json&, const DataSpec& d) {
    check_image("vgg" + std::to_string(depth), d);
    return vgg(depth, d.num_classes, d.sample_shape[0]);
  };
}

void add_all(Registry<train::ModelFactory>& r) {
  r.add({"mlp", "Linear-ReLU blocks (the SET/RigL Fashion-MNIST MLP); flattens each sample",
         [](const json& m, const DataSpec& d) {
           return mlp(shape_numel(d.sample_shape), mlp_options().read(m, "model.").hidden, d.num_classes);
         },
         mlp_options().info()});
  r.add({"cnn", "a small convolutional net",
         [](const json&, const DataSpec& d) {
           check_image("cnn", d);
           return small_cnn(d.sample_shape[0], d.sample_shape[1], d.num_classes);
         },
         {}});
  r.add({"resnet18", "torchvision's ResNet-18", resnet_factory(18), resnet_options().info()});
  r.add({"resnet34", "torchvision's ResNet-34", resnet_factory(34), resnet_options().info()});
  r.add({"resnet50", "torchvision's ResNet-50", resnet_factory(50), resnet_options().info()});
  r.add({"vgg16", "VGG-16 with BatchNorm, for 32x32 images", vgg_factory(16), {}});
  r.add({"vgg19", "VGG-19 with BatchNorm, for 32x32 images", vgg_factory(19), {}});
}

}  // namespace

void register_models() {
  static const bool done = [] {
    add_all(train::models());
    return true;
  }();
  (void)done;
}

nn::ModulePtr build(const nlohmann::json& model_cfg, const Shape& sample_shape, int num_classes) {
  register_models();
  return train::models().at(model_cfg.at("name").get<std::string>()).make(model_cfg, {sample_shape, num_classes});
}

}  // namespace sprout::models
