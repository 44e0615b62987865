// Model factory by name.
#include "engine/core/error.h"
#include "models/models.h"

namespace sprout::models {

nn::ModulePtr build(const nlohmann::json& cfg, const Shape& sample_shape, int num_classes) {
  std::string name = cfg.at("name").get<std::string>();
  int64_t in = shape_numel(sample_shape);
  if (name == "mlp") {
    std::vector<int64_t> hidden = cfg.at("hidden").get<std::vector<int64_t>>();
    return mlp(in, hidden, num_classes);
  }
  SPROUT_FAIL("model.name: unknown model '", name, "' (known: mlp)");
}

}  // namespace sprout::models
