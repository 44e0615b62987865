// Model factory by name.
#include "engine/core/error.h"
#include "models/models.h"
#include "models/resnet.h"

namespace sprout::models {

nn::ModulePtr build(const nlohmann::json& cfg, const Shape& sample_shape, int num_classes) {
  std::string name = cfg.at("name").get<std::string>();
  int64_t in = shape_numel(sample_shape);
  if (name == "mlp") {
    std::vector<int64_t> hidden = cfg.at("hidden").get<std::vector<int64_t>>();
    return mlp(in, hidden, num_classes);
  }
  SPROUT_CHECK(sample_shape.size() == 3, "model '", name, "' needs [C, H, W] samples, got ",
               shape_str(sample_shape));
  int64_t channels = sample_shape[0];
  std::string stem = cfg.at("stem").get<std::string>();
  double width = cfg.at("width").get<double>();
  if (name == "cnn") return small_cnn(channels, sample_shape[1], num_classes);
  if (name == "resnet18") return resnet(18, num_classes, stem, channels, width);
  if (name == "resnet34") return resnet(34, num_classes, stem, channels, width);
  if (name == "resnet50") return resnet(50, num_classes, stem, channels, width);
  if (name == "vgg16") return vgg(16, num_classes, channels);
  if (name == "vgg19") return vgg(19, num_classes, channels);
  SPROUT_FAIL("model.name: unknown model '", name,
              "' (known: mlp, cnn, resnet18, resnet34, resnet50, vgg16, vgg19)");
}

}  // namespace sprout::models
