// ImageNet-style JPEG folders: root/<split>/<class>/*.JPEG, classes = sorted folder
// names. Train samples get RandomResizedCrop + horizontal flip, val samples Resize +
// CenterCrop, both normalised. Unreadable files, and files whose header claims more
// than max_pixels pixels, are skipped (a warning names each once) and counted, never fatal.
#pragma once
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/jpeg.h"
#include "data/transforms.h"

namespace sprout::data {

struct ImageNetOptions {
  int image_size = 224;
  int resize_size = 0;   // val: shorter side before the centre crop; 0: image_size / 0.875
  bool augment = true;   // train only: random resized crop + flip (else the val transform)
  RandomResizedCropParams crop;
  bool scaled_decode = true;  // let the JPEG decoder shrink large images by k/8
  int64_t max_pixels = kDefaultMaxPixels;  // a larger header is skipped, never decoded
  Normalization norm{{0.485f, 0.456f, 0.406f}, {0.229f, 0.224f, 0.225f}};
};

class ImageNetDataset : public Dataset {
 public:
  // split: "train" or "val" ("test" is read as "val"). Class names come from
  // root/train when it exists, so val labels match train labels.
  ImageNetDataset(const std::string& root, const std::string& split, const ImageNetOptions& options = {});

  int64_t size() const override { return (int64_t)labels_.size(); }
  Shape sample_shape() const override { return {3, options_.image_size, options_.image_size}; }
  int num_classes() const override { return (int)classes_.size(); }
  // An unreadable file is replaced by the next readable sample (index + 1, + 2, ...),
  // label included, so the batch stays full and the result is deterministic.
  void get(int64_t index, float* x, int32_t* label, Rng& rng) const override;
  std::string name() const override { return "imagenet"; }

  // Distinct files found unreadable so far.
  int64_t skipped() const { return skipped_.load(); }
  const std::vector<std::string>& classes() const { return classes_; }
  std::string path(int64_t index) const;
  int32_t label(int64_t index) const { return labels_[(size_t)index]; }
  bool train_transform() const { return train_ && options_.augment; }

  // Decodes and transforms one file; false (with the reason) when it is unreadable.
  bool load(int64_t index, float* x, Rng& rng, std::string* why) const;

 private:
  std::string split_dir_;
  ImageNetOptions options_;
  bool train_ = false;
  std::vector<std::string> classes_;
  std::string names_;               // file names, back to back
  std::vector<uint64_t> name_end_;  // end offset of each name in names_
  std::vector<int32_t> labels_;
  std::unique_ptr<std::atomic<uint8_t>[]> bad_;  // 1 once a file failed to decode
  mutable std::atomic<int64_t> skipped_{0};
};

// Images per second that `threads` threads sustain decoding and transforming the
// train split of `root` (224 px, the train transform) for about `seconds` seconds.
double measure_decode_throughput(const std::string& root, int threads, int seconds);

}  // namespace sprout::data
