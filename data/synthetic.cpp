// Synthetic samples: label and pixels come from an Rng seeded by (seed, index). Noise
// is drawn 16 bits at a time (four values per Rng step) so an ImageNet-sized sample
// costs tens of microseconds and the loader never starves a GPU benchmark.
#include "data/synthetic.h"

#include "data/loader.h"
#include "engine/core/error.h"

namespace sprout::data {

SyntheticDataset::SyntheticDataset(const SyntheticOptions& options) : options_(options) {
  SPROUT_CHECK(!options_.shape.empty() && shape_numel(options_.shape) > 0, "synthetic: bad sample shape ",
               shape_str(options_.shape));
  SPROUT_CHECK(options_.classes > 0, "synthetic: classes must be positive, got ", options_.classes);
  SPROUT_CHECK(options_.size > 0, "synthetic: size must be positive, got ", options_.size);
}

void SyntheticDataset::get(int64_t index, float* x, int32_t* label, Rng&) const {
  SPROUT_CHECK(index >= 0 && index < options_.size, "sample ", index, " out of range for synthetic with ",
               options_.size, " samples");
  Rng rng(sample_seed(options_.seed, -1, index));
  int32_t y = (int32_t)rng.below((uint64_t)options_.classes);
  *label = y;
  // Offsets per (class, channel) in [-1, 1): the signal a model can pick up.
  int64_t channels = options_.shape.size() > 1 ? options_.shape[0] : 1;
  int64_t per_channel = shape_numel(options_.shape) / channels;
  Rng class_rng(sample_seed(options_.seed, -2, y));
  const float scale = options_.noise / 32768.0f;
  for (int64_t c = 0; c < channels; ++c) {
    float offset = (float)class_rng.uniform(-1.0, 1.0);
    float* p = x + c * per_channel;
    int64_t i = 0;
    while (i < per_channel) {
      uint64_t bits = rng.next_u64();
      for (int k = 0; k < 4 && i < per_channel; ++k, ++i, bits >>= 16)
        p[i] = offset + ((float)(bits & 0xffff) - 32768.0f) * scale;
    }
  }
}

}  // namespace sprout::data
