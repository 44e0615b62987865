// ImageNet folder scan, per-sample decode + transform, and the decode throughput probe.
// File names are kept in one buffer (ImageNet's 1.28M names cost ~30 MB this way, not
// the ~100 MB of a vector of paths) and sorted, so indices are stable across machines.
#include "data/imagenet.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "data/byte_source.h"
#include "data/jpeg.h"
#include "data/loader.h"
#include "engine/core/error.h"

namespace sprout::data {

namespace fs = std::filesystem;

namespace {

bool is_jpeg_name(const std::string& name) {
  auto dot = name.rfind('.');
  if (dot == std::string::npos) return false;
  std::string ext = name.substr(dot + 1);
  for (char& c : ext) c = (char)std::tolower((unsigned char)c);
  return ext == "jpeg" || ext == "jpg";
}

std::vector<std::string> sorted_subdirs(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_directory(ec)) out.push_back(it->path().filename().string());
  if (ec) fail_reading(dir.string(), ec.message());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

ImageNetDataset::ImageNetDataset(const std::string& root, const std::string& split,
                                 const ImageNetOptions& options)
    : options_(options) {
  std::string s = split == "test" ? "val" : split;
  SPROUT_CHECK(s == "train" || s == "val", "unknown split '", split, "' for imagenet (expected train or val)");
  SPROUT_CHECK(options_.image_size > 0, "imagenet image_size must be positive, got ", options_.image_size);
  if (options_.resize_size <= 0) options_.resize_size = (int)std::lround(options_.image_size / 0.875);
  SPROUT_CHECK(options_.resize_size >= options_.image_size, "imagenet resize_size ", options_.resize_size,
               " is smaller than image_size ", options_.image_size);
  train_ = s == "train";
  fs::path dir = fs::path(root) / s;
  split_dir_ = dir.string();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail_reading(split_dir_, "no such folder (expected <root>/" + s + "/<class>/*.JPEG)");
  if (!jpeg_supported())
    fail_reading(split_dir_, "JPEG datasets need libturbojpeg, and sprout was built without it");

  fs::path train_dir = fs::path(root) / "train";
  classes_ = sorted_subdirs(fs::is_directory(train_dir, ec) ? train_dir : dir);
  if (classes_.empty()) fail_reading(split_dir_, "no class folders");
  std::vector<std::string> here = sorted_subdirs(dir);
  for (const auto& c : here)
    if (!std::binary_search(classes_.begin(), classes_.end(), c))
      fail_reading((dir / c).string(), "class folder not present in " + train_dir.string());

  std::vector<std::string> files;
  for (size_t k = 0; k < classes_.size(); ++k) {
    fs::path cdir = dir / classes_[k];
    if (!fs::is_directory(cdir, ec)) continue;  // a class may have no val images
    files.clear();
    for (fs::directory_iterator it(cdir, ec), end; !ec && it != end; it.increment(ec)) {
      std::string name = it->path().filename().string();
      if (is_jpeg_name(name) && !it->is_directory(ec)) files.push_back(std::move(name));
    }
    if (ec) fail_reading(cdir.string(), ec.message());
    std::sort(files.begin(), files.end());
    for (auto& f : files) {
      names_ += f;
      name_end_.push_back(names_.size());
      labels_.push_back((int32_t)k);
    }
  }
  if (labels_.empty()) fail_reading(split_dir_, "no .JPEG files in its class folders");
  bad_.reset(new std::atomic<uint8_t>[labels_.size()]);
  for (size_t i = 0; i < labels_.size(); ++i) bad_[i].store(0, std::memory_order_relaxed);
}

std::string ImageNetDataset::path(int64_t index) const {
  size_t begin = index == 0 ? 0 : name_end_[(size_t)index - 1];
  size_t end = name_end_[(size_t)index];
  return split_dir_ + "/" + classes_[(size_t)labels_[(size_t)index]] + "/" + names_.substr(begin, end - begin);
}

bool ImageNetDataset::load(int64_t index, float* x, Rng& rng, std::string* why) const {
  thread_local std::vector<uint8_t> bytes;
  thread_local Image image;
  std::string file = path(index);
  if (!read_whole_file(file, bytes)) {
    if (why) *why = "cannot read " + file;
    return false;
  }
  JpegHeader header;
  if (!jpeg_read_header(bytes.data(), bytes.size(), header, why, options_.max_pixels)) {
    if (why) *why = file + ": " + *why;
    return false;
  }

  const int size = options_.image_size;
  bool random = train_transform();
  CropBox box = random ? random_resized_crop_box(header.width, header.height, rng, options_.crop)
                       : resize_center_crop_box(header.width, header.height, options_.resize_size, size);
  bool flip = random && rng.uniform() < 0.5;

  // Decode only as large as the box needs to keep >= image_size pixels per side (for
  // val this is the resized image's resolution: the box spans image_size of it).
  int num = 1, denom = 1;
  if (options_.scaled_decode) jpeg_pick_scale(header, box.w, box.h, size, size, num, denom);
  if (!jpeg_decode(bytes.data(), bytes.size(), header, num, denom, image, why)) {
    if (why) *why = file + ": " + *why;
    return false;
  }
  CropBox scaled = scale_box(box, header.width, header.height, image.width, image.height);
  resample_bilinear_chw(image, scaled, size, size, flip, options_.norm, x);
  return true;
}

void ImageNetDataset::get(int64_t index, float* x, int32_t* label, Rng& rng) const {
  const int64_t n = size();
  SPROUT_CHECK(index >= 0 && index < n, "sample ", index, " out of range for imagenet with ", n, " samples");
  std::string why;
  for (int64_t k = 0; k < n; ++k) {
    int64_t i = (index + k) % n;
    if (bad_[(size_t)i].load(std::memory_order_relaxed)) continue;
    if (load(i, x, rng, &why)) {
      *label = labels_[(size_t)i];
      return;
    }
    // Count and report each file once, however many threads or epochs meet it.
    if (bad_[(size_t)i].exchange(1) == 0) {
      skipped_.fetch_add(1);
      std::fprintf(stderr, "warning: skipping %s\n", why.c_str());
    }
  }
  fail_reading(split_dir_, "no readable JPEG among " + std::to_string(n) + " files (last error: " + why + ")");
}

double measure_decode_throughput(const std::string& root, int threads, int seconds) {
  SPROUT_CHECK(threads > 0 && seconds > 0, "measure_decode_throughput: threads and seconds must be positive");
  ImageNetDataset ds(root, "train");
  const int64_t n = ds.size();
  const int64_t per_sample = shape_numel(ds.sample_shape());
  std::atomic<bool> done{false};
  std::atomic<int64_t> images{0};
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::vector<float> x((size_t)per_sample);
      int32_t label = 0;
      for (int64_t i = t; !done.load(std::memory_order_relaxed); i += threads) {
        Rng rng(sample_seed(0, 0, i % n));
        ds.get(i % n, x.data(), &label, rng);
        images.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  done = true;
  for (auto& th : pool) th.join();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return (double)images.load() / elapsed;
}

}  // namespace sprout::data
