// Method registry: name -> sparsifier.
#include "engine/sparsity/factory.h"

#include "engine/core/error.h"

namespace sprout::sparsity {

namespace {
class DenseTraining : public Sparsifier {
 public:
  std::string name() const override { return "dense"; }
};
}  // namespace

SparsifierPtr make_sparsifier(const nlohmann::json& cfg, nn::Module& model, uint64_t seed) {
  (void)model;
  std::string method = cfg["sparsity"]["method"].get<std::string>();
  SparsifierPtr s;
  if (method == "dense") s = std::make_unique<DenseTraining>();
  else SPROUT_FAIL("sparsity.method: unknown method '", method, "'");
  s->rng.seed_with(seed ^ 0x5eed5eedull);
  return s;
}

}  // namespace sprout::sparsity
