// CIFAR binary readers. Every file's length is checked against whole records (and the
// published counts) before anything is read, so a truncated download fails at load
// with the file named, not mid-training.
#include "data/cifar.h"

#include <algorithm>
#include <filesystem>

#include "data/byte_source.h"
#include "engine/core/error.h"

namespace sprout::data {

namespace fs = std::filesystem;

CifarOptions cifar_defaults(bool cifar100) {
  CifarOptions o;
  o.cifar100 = cifar100;
  if (cifar100) o.norm = Normalization{{0.5071f, 0.4865f, 0.4409f}, {0.2673f, 0.2564f, 0.2762f}};
  return o;
}

namespace {

using CifarFiles = std::vector<std::pair<std::string, int64_t>>;  // path, record count

// The published file names of a split, and how many records each must hold.
std::vector<std::string> split_files(bool cifar100, bool train, int64_t& per_file) {
  std::vector<std::string> names;
  per_file = 10000;
  if (cifar100) {
    names = {train ? "train.bin" : "test.bin"};
    per_file = train ? 50000 : 10000;
  } else if (train) {
    for (int i = 1; i <= 5; ++i) names.push_back("data_batch_" + std::to_string(i) + ".bin");
  } else {
    names = {"test_batch.bin"};
  }
  return names;
}

// Sizes every file before any is read, so a short or missing one fails at load, named.
CifarFiles check_files(const fs::path& dir, const std::vector<std::string>& names, const std::string& root,
                       const std::string& dataset, int64_t record, int64_t per_file, bool check_counts) {
  std::error_code ec;
  CifarFiles files;
  for (const auto& n : names) {
    std::string p = (dir / n).string();
    if (!fs::exists(p, ec)) fail_reading(p, std::string("no such file (expected the ") + dataset +
                                                " binary files in " + root + ")");
    int64_t bytes = (int64_t)fs::file_size(p, ec);
    if (ec) fail_reading(p, ec.message());
    if (bytes == 0 || bytes % record != 0)
      fail_reading(p, detail::concat("truncated or not a ", dataset, " file: ", bytes,
                                     " bytes is not a whole number of ", record, "-byte records"));
    int64_t count = bytes / record;
    if (check_counts && count != per_file)
      fail_reading(p, detail::concat("holds ", count, " records, expected ", per_file));
    files.emplace_back(p, count);
  }
  return files;
}

// Reads every file's records, 1000 at a time, into img and labels in file order.
void read_records(const CifarFiles& files, const CifarOptions& o, int classes, uint8_t* img,
                  std::vector<int32_t>& labels) {
  const int64_t label_bytes = o.cifar100 ? 2 : 1;
  const int64_t record = label_bytes + 3072;
  int64_t most = 0;
  for (const auto& f : files) most = std::max(most, f.second);
  std::vector<uint8_t> buf((size_t)(record * std::min<int64_t>(1000, most)));
  int64_t at = 0;
  for (const auto& [p, count] : files) {
    ByteSource src(p);
    for (int64_t done = 0; done < count;) {
      int64_t chunk = std::min<int64_t>(1000, count - done);
      size_t want = (size_t)(chunk * record);
      if (src.read(buf.data(), want) != want)
        fail_reading(p, "truncated: the file shrank while being read");
      for (int64_t r = 0; r < chunk; ++r, ++at) {
        const uint8_t* rec = buf.data() + r * record;
        // CIFAR-100 records are (coarse, fine); CIFAR-10 records are (label).
        int lab = o.cifar100 ? (o.coarse ? rec[0] : rec[1]) : rec[0];
        if (lab >= classes)
          fail_reading(p, detail::concat("label ", lab, " in record ", done + r, " is not in [0, ", classes, ")"));
        labels[(size_t)at] = lab;
        std::copy(rec + label_bytes, rec + record, img + at * 3072);
      }
      done += chunk;
    }
  }
}

}  // namespace

CifarDataset::CifarDataset(const std::string& root, const std::string& split, const CifarOptions& options)
    : options_(options) {
  SPROUT_CHECK(split == "train" || split == "test", "unknown split '", split, "' for ", name(),
               " (expected train or test)");
  SPROUT_CHECK(options.padding >= 0, "cifar padding must be >= 0, got ", options.padding);
  train_ = split == "train";
  int64_t per_file = 0;
  const std::vector<std::string> names = split_files(options_.cifar100, train_, per_file);
  std::error_code ec;
  fs::path dir(root);
  fs::path sub = dir / (options_.cifar100 ? "cifar-100-binary" : "cifar-10-batches-bin");
  if (!fs::exists(dir / names[0], ec) && fs::exists(sub / names[0], ec)) dir = sub;

  const int64_t record = (options_.cifar100 ? 2 : 1) + 3072;
  const CifarFiles files = check_files(dir, names, root, name(), record, per_file, options_.check_counts);
  int64_t total = 0;
  for (const auto& f : files) total += f.second;

  images_ = Tensor::empty({total, 3, 32, 32}, DType::U8, Device::cpu(), MemCategory::Data);
  labels_.resize((size_t)total);
  read_records(files, options_, num_classes(), images_.data<uint8_t>(), labels_);
}

void CifarDataset::get(int64_t index, float* x, int32_t* label, Rng& rng) const {
  SPROUT_CHECK(index >= 0 && index < size(), "sample ", index, " out of range for ", name(), " with ", size(),
               " samples");
  const uint8_t* src = images_.data<uint8_t>() + index * 3072;
  *label = labels_[(size_t)index];
  int dy = 0, dx = 0;
  bool flip = false;
  if (train_ && options_.augment) {
    // torchvision order: RandomCrop(32, padding) draws top then left, then the flip.
    int pad = options_.padding;
    dy = (int)rng.below((uint64_t)(2 * pad + 1)) - pad;
    dx = (int)rng.below((uint64_t)(2 * pad + 1)) - pad;
    flip = rng.uniform() < 0.5;
  }
  for (int c = 0; c < 3; ++c) {
    float scale = 1.0f / (255.0f * options_.norm.std[c]);
    float shift = -options_.norm.mean[c] / options_.norm.std[c];
    for (int y = 0; y < 32; ++y) {
      int sy = y + dy;
      for (int xo = 0; xo < 32; ++xo) {
        int sx = (flip ? 31 - xo : xo) + dx;
        // Padding is black before normalisation, as torchvision pads the uint8 image.
        float v = (sy >= 0 && sy < 32 && sx >= 0 && sx < 32) ? (float)src[c * 1024 + sy * 32 + sx] : 0.0f;
        x[c * 1024 + y * 32 + xo] = v * scale + shift;
      }
    }
  }
}

}  // namespace sprout::data
