// IDX files (the MNIST / Fashion-MNIST format) and a Dataset over them. The whole
// split is held as uint8 in memory (category data); samples are normalised on read.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace sprout::data {

// One IDX array of unsigned bytes: its extents and its payload (uint8, category data).
struct IdxArray {
  std::vector<int64_t> dims;
  Tensor values;
};

// Reads an IDX file of unsigned bytes with `expected_rank` dimensions (3 for images,
// 1 for labels), gzip-compressed when the path ends in .gz. Checks the magic number,
// the extents and that the payload is exactly as long as the header says (a header
// claiming more than the file can hold is refused before anything is allocated); errors
// read "error reading <path>: <what is wrong>".
IdxArray read_idx(const std::string& path, int expected_rank);

struct IdxOptions {
  std::string name = "fashion-mnist";  // "fashion-mnist" or "mnist": picks the statistics
  bool flatten = true;                 // sample shape {784} (MLP) or {1, 28, 28}
  float mean = 0.2860f;                // normalisation: (x / 255 - mean) / std
  float std = 0.3530f;
};

// Published statistics for a name ("fashion-mnist" or "mnist"); throws for others.
IdxOptions idx_defaults(const std::string& name);

// train-{images,labels}-idx{3,1}-ubyte[.gz] and t10k-... under `root`; split is
// "train" or "test". Image and label counts must agree and every label be < 10.
class IdxDataset : public Dataset {
 public:
  IdxDataset(const std::string& root, const std::string& split, const IdxOptions& options);

  int64_t size() const override { return count_; }
  Shape sample_shape() const override;
  int num_classes() const override { return 10; }
  void get(int64_t index, float* x, int32_t* label, Rng& rng) const override;
  std::string name() const override { return options_.name; }

  // The raw split: uint8 [N, rows, cols] and uint8 [N].
  const Tensor& images() const { return images_; }
  const Tensor& labels() const { return labels_; }

 private:
  IdxOptions options_;
  int64_t count_ = 0, rows_ = 0, cols_ = 0;
  Tensor images_, labels_;
  float lut_[256];  // normalised value of each byte, so get() is a table lookup
};

// The path of `file` under `root`, preferring the .gz copy and falling back to the
// uncompressed one when only that exists.
std::string idx_file_path(const std::string& root, const std::string& file);

}  // namespace sprout::data
