// IDX reader and IdxDataset: exact round trips of small plain and gzip files, each
// malformed-file error, and (when installed) the real Fashion-MNIST class balance.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>

#include "data/idx.h"
#include "data/registry.h"
#include "data_testing.h"
#include "engine/core/error.h"

#if SPROUT_WITH_ZLIB
#include <zlib.h>
#endif

using namespace sprout;
using namespace sprout::data;
using sprout::testing::TempDir;

namespace {

std::vector<uint8_t> idx_bytes(uint32_t magic, const std::vector<uint32_t>& dims, const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> b;
  auto be32 = [&](uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b.push_back((uint8_t)(v >> s));
  };
  be32(magic);
  for (uint32_t d : dims) be32(d);
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  if (path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0) {
#if SPROUT_WITH_ZLIB
    gzFile g = gzopen(path.c_str(), "wb");
    ASSERT_NE(g, nullptr);
    ASSERT_EQ(gzwrite(g, bytes.data(), (unsigned)bytes.size()), (int)bytes.size());
    gzclose(g);
#else
    FAIL() << "no zlib";
#endif
  } else {
    sprout::testing::write_bytes(path, bytes);
  }
}

std::vector<uint8_t> pattern(size_t n, int mul) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = (uint8_t)((i * mul + 7) % 256);
  return v;
}

// Writes a split of `n` 28x28 images and labels i % 10 under `dir`.
void write_split(const std::string& dir, const std::string& prefix, uint32_t n, bool gz) {
  std::string ext = gz ? ".gz" : "";
  write_file(dir + "/" + prefix + "-images-idx3-ubyte" + ext, idx_bytes(0x803, {n, 28, 28}, pattern(n * 784, 31)));
  std::vector<uint8_t> labels(n);
  for (uint32_t i = 0; i < n; ++i) labels[i] = (uint8_t)(i % 10);
  write_file(dir + "/" + prefix + "-labels-idx1-ubyte" + ext, idx_bytes(0x801, {n}, labels));
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Idx, PlainRoundTrip) {
  TempDir dir;
  auto payload = pattern(3 * 4 * 5, 13);
  write_file(dir / "a-idx3-ubyte", idx_bytes(0x803, {3, 4, 5}, payload));
  IdxArray a = read_idx(dir / "a-idx3-ubyte", 3);
  EXPECT_EQ(a.dims, (std::vector<int64_t>{3, 4, 5}));
  EXPECT_EQ(a.values.dtype(), DType::U8);
  EXPECT_EQ(a.values.category(), MemCategory::Data);
  EXPECT_EQ(a.values.to_vector<uint8_t>(), payload);
}

TEST(Idx, GzipRoundTrip) {
#if !SPROUT_WITH_ZLIB
  TempDir dir;
  sprout::testing::write_bytes(dir / "l-idx1-ubyte.gz", {0x1f, 0x8b, 8, 0});
  EXPECT_EQ(error_of([&] { read_idx(dir / "l-idx1-ubyte.gz", 1); }),
            "error reading " + (dir / "l-idx1-ubyte.gz") +
                ": gzip-compressed, but sprout was built without zlib (decompress it with gunzip)");
  GTEST_SKIP() << "built without zlib: checked the error only";
#else
  TempDir dir;
  auto payload = pattern(7, 3);
  write_file(dir / "l-idx1-ubyte.gz", idx_bytes(0x801, {7}, payload));
  IdxArray a = read_idx(dir / "l-idx1-ubyte.gz", 1);
  EXPECT_EQ(a.dims, (std::vector<int64_t>{7}));
  EXPECT_EQ(a.values.to_vector<uint8_t>(), payload);
#endif
}

TEST(Idx, TruncatedPayloadNamesFileAndSizes) {
  TempDir dir;
  auto bytes = idx_bytes(0x803, {5, 28, 28}, pattern(5 * 784, 1));
  bytes.resize(16 + 1234);
  write_file(dir / "t-idx3-ubyte", bytes);
  std::string msg = error_of([&] { read_idx(dir / "t-idx3-ubyte", 3); });
  EXPECT_EQ(msg, "error reading " + (dir / "t-idx3-ubyte") +
                     ": truncated: header says 5x28x28, file holds 1234 bytes of pixels");
}

TEST(Idx, TruncatedGzip) {
#if !SPROUT_WITH_ZLIB
  GTEST_SKIP() << "built without zlib";
#else
  TempDir dir;
  // Random-ish bytes compress poorly, so cutting the .gz in half loses pixels.
  std::vector<uint8_t> px(20 * 784);
  uint32_t s = 1;
  for (auto& v : px) v = (uint8_t)((s = s * 1103515245u + 12345u) >> 24);
  write_file(dir / "t-idx3-ubyte.gz", idx_bytes(0x803, {20, 28, 28}, px));
  auto size = std::filesystem::file_size(dir / "t-idx3-ubyte.gz");
  std::filesystem::resize_file(dir / "t-idx3-ubyte.gz", size / 2);
  std::string msg = error_of([&] { read_idx(dir / "t-idx3-ubyte.gz", 3); });
  EXPECT_NE(msg.find("error reading " + (dir / "t-idx3-ubyte.gz") + ": "), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated: header says 20x28x28, file holds"), std::string::npos) << msg;
#endif
}

TEST(Idx, HeaderLargerThanTheFileIsRefusedBeforeAllocating) {
  TempDir dir;
  // 32 GiB claimed by a 26-byte file: refused from the file's size, nothing allocated.
  write_file(dir / "big-idx3-ubyte", idx_bytes(0x803, {32768, 1024, 1024}, pattern(10, 1)));
  EXPECT_EQ(error_of([&] { read_idx(dir / "big-idx3-ubyte", 3); }),
            "error reading " + (dir / "big-idx3-ubyte") +
                ": truncated: header says 32768x1024x1024, file holds 10 bytes of pixels");
  // Extents whose product overflows 64 bits stop at the 64 GiB limit.
  write_file(dir / "wide-idx3-ubyte", idx_bytes(0x803, {0xffffffffu, 0xffffffffu, 1}, {}));
  EXPECT_NE(error_of([&] { read_idx(dir / "wide-idx3-ubyte", 3); }).find("header claims more than 64 GiB of data"),
            std::string::npos);
#if SPROUT_WITH_ZLIB
  // A gzip file can expand at most 1032-fold, so 16 MiB cannot come from a few bytes.
  write_file(dir / "big-idx3-ubyte.gz", idx_bytes(0x803, {1, 4096, 4096}, {}));
  std::string msg = error_of([&] { read_idx(dir / "big-idx3-ubyte.gz", 3); });
  EXPECT_NE(msg.find("truncated: header says 1x4096x4096 (16777216 bytes of pixels), more than a "),
            std::string::npos) << msg;
  EXPECT_NE(msg.find("-byte gzip file can hold"), std::string::npos) << msg;
#endif
}

TEST(Idx, TruncatedHeader) {
  TempDir dir;
  write_file(dir / "h-idx3-ubyte", {0, 0, 8, 3, 0, 0});
  std::string msg = error_of([&] { read_idx(dir / "h-idx3-ubyte", 3); });
  EXPECT_NE(msg.find("truncated: file ends inside the header"), std::string::npos) << msg;
}

TEST(Idx, BadMagic) {
  TempDir dir;
  write_file(dir / "m-idx3-ubyte", idx_bytes(0x801, {4}, pattern(4, 1)));
  std::string msg = error_of([&] { read_idx(dir / "m-idx3-ubyte", 3); });
  EXPECT_EQ(msg, "error reading " + (dir / "m-idx3-ubyte") +
                     ": bad magic number 0x00000801, expected 0x00000803 (unsigned bytes, 3 dimensions)");
  write_file(dir / "n-idx1-ubyte", idx_bytes(0x0d01, {4}, pattern(4, 1)));  // float payload
  EXPECT_NE(error_of([&] { read_idx(dir / "n-idx1-ubyte", 1); }).find("bad magic number 0x00000d01"),
            std::string::npos);
}

TEST(Idx, TrailingBytesAreAnError) {
  TempDir dir;
  write_file(dir / "x-idx1-ubyte", idx_bytes(0x801, {4}, pattern(6, 1)));
  std::string msg = error_of([&] { read_idx(dir / "x-idx1-ubyte", 1); });
  EXPECT_NE(msg.find("header says 4 (4 bytes of labels) but more data follows"), std::string::npos) << msg;
}

TEST(Idx, MissingFile) {
  TempDir dir;
  std::string msg = error_of([&] { read_idx(dir / "nope-idx1-ubyte", 1); });
  EXPECT_EQ(msg, "error reading " + (dir / "nope-idx1-ubyte") + ": No such file or directory");
  msg = error_of([&] { IdxDataset(dir.path(), "train", idx_defaults("mnist")); });
  EXPECT_NE(msg.find("train-images-idx3-ubyte.gz: no such file (expected the mnist IDX files in"), std::string::npos)
      << msg;
}

TEST(IdxDataset, ReadsSplitAndNormalises) {
  TempDir dir;
  bool gz = SPROUT_WITH_ZLIB;
  write_split(dir.path(), "train", 12, gz);
  write_split(dir.path(), "t10k", 5, gz);
  IdxDataset train(dir.path(), "train", idx_defaults("fashion-mnist"));
  IdxDataset test(dir.path(), "test", idx_defaults("fashion-mnist"));
  EXPECT_EQ(train.size(), 12);
  EXPECT_EQ(test.size(), 5);
  EXPECT_EQ(train.sample_shape(), (Shape{784}));
  EXPECT_EQ(train.num_classes(), 10);
  EXPECT_EQ(train.images().category(), MemCategory::Data);
  auto px = pattern(12 * 784, 31);
  std::vector<float> x(784);
  int32_t label = -1;
  Rng rng(0);
  train.get(7, x.data(), &label, rng);
  EXPECT_EQ(label, 7);
  for (int i = 0; i < 784; ++i)
    ASSERT_NEAR(x[(size_t)i], (px[7 * 784 + (size_t)i] / 255.0f - 0.2860f) / 0.3530f, 1e-6) << i;

  IdxOptions o = idx_defaults("mnist");
  o.flatten = false;
  IdxDataset img(dir.path(), "train", o);
  EXPECT_EQ(img.sample_shape(), (Shape{1, 28, 28}));
  img.get(0, x.data(), &label, rng);
  EXPECT_NEAR(x[0], (px[0] / 255.0f - 0.1307f) / 0.3081f, 1e-6);
}

TEST(IdxDataset, PlainFilesWhenNoGzip) {
  TempDir dir;
  write_split(dir.path(), "t10k", 3, false);
  IdxDataset test(dir.path(), "test", idx_defaults("mnist"));
  EXPECT_EQ(test.size(), 3);
}

TEST(IdxDataset, CountMismatch) {
  TempDir dir;
  write_file(dir / "train-images-idx3-ubyte", idx_bytes(0x803, {4, 28, 28}, pattern(4 * 784, 1)));
  write_file(dir / "train-labels-idx1-ubyte", idx_bytes(0x801, {3}, {0, 1, 2}));
  std::string msg = error_of([&] { IdxDataset(dir.path(), "train", idx_defaults("mnist")); });
  EXPECT_EQ(msg, "error reading " + (dir / "train-labels-idx1-ubyte") + ": holds 3 labels but " +
                     (dir / "train-images-idx3-ubyte") + " holds 4 images");
}

TEST(IdxDataset, LabelOutOfRange) {
  TempDir dir;
  write_file(dir / "train-images-idx3-ubyte", idx_bytes(0x803, {2, 28, 28}, pattern(2 * 784, 1)));
  write_file(dir / "train-labels-idx1-ubyte", idx_bytes(0x801, {2}, {3, 10}));
  std::string msg = error_of([&] { IdxDataset(dir.path(), "train", idx_defaults("mnist")); });
  EXPECT_NE(msg.find("label 10 at index 1 is not in [0, 10)"), std::string::npos) << msg;
}

TEST(IdxDataset, RealFashionMnistClassBalance) {
  const std::string root = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(root + "/train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << root << " not installed (Debian package dataset-fashion-mnist)";
#if !SPROUT_WITH_ZLIB
  GTEST_SKIP() << "built without zlib";
#else
  auto train = make_dataset("fashion-mnist", root, "train", {{"flatten", true}});
  auto test = make_dataset("fashion-mnist", root, "test", nlohmann::json::object());
  ASSERT_EQ(train->size(), 60000);
  ASSERT_EQ(test->size(), 10000);
  EXPECT_EQ(train->sample_shape(), (Shape{784}));
  // The published split is balanced: 6000 images per class in train, 1000 in test.
  auto& tr = static_cast<IdxDataset&>(*train);
  auto& te = static_cast<IdxDataset&>(*test);
  std::vector<int> train_counts(10), test_counts(10);
  for (uint8_t l : tr.labels().to_vector<uint8_t>()) ++train_counts[l];
  for (uint8_t l : te.labels().to_vector<uint8_t>()) ++test_counts[l];
  EXPECT_EQ(train_counts, std::vector<int>(10, 6000));
  EXPECT_EQ(test_counts, std::vector<int>(10, 1000));
  // Pixels span the full byte range and normalise to mean ~0, std ~1.
  std::vector<float> x(784);
  int32_t label;
  Rng rng(0);
  double sum = 0, sq = 0;
  for (int64_t i = 0; i < 2000; ++i) {
    tr.get(i * 30, x.data(), &label, rng);
    for (float v : x) sum += v, sq += (double)v * v;
  }
  double n = 2000.0 * 784, mean = sum / n;
  EXPECT_NEAR(mean, 0.0, 0.05);
  EXPECT_NEAR(std::sqrt(sq / n - mean * mean), 1.0, 0.05);
#endif
}
