// CIFAR-10 and CIFAR-100 in their binary form (cifar-10-batches-bin, cifar-100-binary):
// the split is held as uint8 CHW in memory (category data); train samples get the
// standard random crop (32, padding 4) and horizontal flip, then per-channel
// normalisation.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/transforms.h"

namespace sprout::data {

struct CifarOptions {
  bool cifar100 = false;
  bool coarse = false;         // CIFAR-100: the 20 superclasses instead of the 100 classes
  bool augment = true;         // train only: random crop with padding + flip
  int padding = 4;
  bool check_counts = true;    // files must hold the published record counts
  Normalization norm{{0.4914f, 0.4822f, 0.4465f}, {0.2470f, 0.2435f, 0.2616f}};
};

// CIFAR-10 / CIFAR-100 default options (published per-channel statistics).
CifarOptions cifar_defaults(bool cifar100);

class CifarDataset : public Dataset {
 public:
  // `root` holds the .bin files directly or in cifar-10-batches-bin / cifar-100-binary.
  // split: "train" or "test".
  CifarDataset(const std::string& root, const std::string& split, const CifarOptions& options);

  int64_t size() const override { return (int64_t)labels_.size(); }
  Shape sample_shape() const override { return {3, 32, 32}; }
  int num_classes() const override { return options_.cifar100 ? (options_.coarse ? 20 : 100) : 10; }
  void get(int64_t index, float* x, int32_t* label, Rng& rng) const override;
  std::string name() const override { return options_.cifar100 ? "cifar100" : "cifar10"; }

  // uint8 [N, 3, 32, 32] as stored.
  const Tensor& images() const { return images_; }
  int32_t label(int64_t index) const { return labels_[(size_t)index]; }

 private:
  CifarOptions options_;
  bool train_ = false;
  Tensor images_;
  std::vector<int32_t> labels_;
};

}  // namespace sprout::data
