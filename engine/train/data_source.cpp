// The model and data-set registries the upper layers fill.
#include "engine/train/data_source.h"

namespace sprout::train {

Registry<DataFactory>& data_sets() {
  static Registry<DataFactory> r("data.name");
  return r;
}

Registry<ModelFactory>& models() {
  static Registry<ModelFactory> r("model.name");
  return r;
}

}  // namespace sprout::train
