// CIFAR binary readers: generated files with known pixels and labels round-trip, the
// train augmentation is exactly a padded crop plus flip, and malformed files fail
// with the file named.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>

#include "data/cifar.h"
#include "data/registry.h"
#include "data_testing.h"
#include "engine/core/error.h"

using namespace sprout;
using namespace sprout::data;
using sprout::testing::TempDir;

namespace {

uint8_t pixel(int64_t record, int c, int y, int x) { return (uint8_t)((record * 37 + c * 101 + y * 7 + x * 3) % 256); }

// `count` records starting at record number `first`; labels from `label(r)`.
std::vector<uint8_t> cifar_records(int64_t first, int64_t count, bool cifar100) {
  std::vector<uint8_t> b;
  for (int64_t r = first; r < first + count; ++r) {
    if (cifar100) {
      b.push_back((uint8_t)(r % 20));
      b.push_back((uint8_t)(r % 100));
    } else {
      b.push_back((uint8_t)(r % 10));
    }
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) b.push_back(pixel(r, c, y, x));
  }
  return b;
}

void write_cifar10(const std::string& dir, int64_t per_batch) {
  for (int i = 1; i <= 5; ++i)
    sprout::testing::write_bytes(dir + "/data_batch_" + std::to_string(i) + ".bin",
                                 cifar_records((i - 1) * per_batch, per_batch, false));
  sprout::testing::write_bytes(dir + "/test_batch.bin", cifar_records(1000, per_batch, false));
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

CifarOptions small(bool c100) {
  CifarOptions o = cifar_defaults(c100);
  o.check_counts = false;
  return o;
}

}  // namespace

TEST(Cifar, Cifar10RoundTrip) {
  TempDir dir;
  write_cifar10(dir / "cifar-10-batches-bin", 3);
  CifarOptions o = small(false);
  o.augment = false;
  CifarDataset train(dir.path(), "train", o), test(dir.path(), "test", o);
  ASSERT_EQ(train.size(), 15);
  ASSERT_EQ(test.size(), 3);
  EXPECT_EQ(train.sample_shape(), (Shape{3, 32, 32}));
  EXPECT_EQ(train.num_classes(), 10);
  EXPECT_EQ(train.images().category(), MemCategory::Data);
  const uint8_t* img = train.images().data<uint8_t>();
  for (int64_t r = 0; r < 15; ++r) {
    EXPECT_EQ(train.label(r), r % 10);
    for (int i = 0; i < 3072; ++i) ASSERT_EQ(img[r * 3072 + i], pixel(r, i / 1024, i / 32 % 32, i % 32));
  }
  std::vector<float> x(3072);
  int32_t label;
  Rng rng(1);
  test.get(2, x.data(), &label, rng);
  EXPECT_EQ(label, 1002 % 10);
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 1024; ++i)
      ASSERT_NEAR(x[(size_t)(c * 1024 + i)], (pixel(1002, c, i / 32, i % 32) / 255.0f - o.norm.mean[c]) / o.norm.std[c],
                  1e-5);
}

TEST(Cifar, Cifar100FineAndCoarse) {
  TempDir dir;
  sprout::testing::write_bytes(dir / "train.bin", cifar_records(0, 130, true));
  sprout::testing::write_bytes(dir / "test.bin", cifar_records(0, 4, true));
  CifarDataset fine(dir.path(), "train", small(true));
  CifarOptions co = small(true);
  co.coarse = true;
  CifarDataset coarse(dir.path(), "train", co);
  EXPECT_EQ(fine.num_classes(), 100);
  EXPECT_EQ(coarse.num_classes(), 20);
  EXPECT_EQ(fine.name(), "cifar100");
  for (int64_t r = 0; r < 130; ++r) {
    EXPECT_EQ(fine.label(r), r % 100);
    EXPECT_EQ(coarse.label(r), r % 20);
  }
  EXPECT_EQ(fine.images().data<uint8_t>()[129 * 3072 + 1024 + 5], pixel(129, 1, 0, 5));
}

TEST(Cifar, AugmentIsPaddedCropAndFlip) {
  TempDir dir;
  write_cifar10(dir.path(), 2);
  CifarOptions o = small(false);
  CifarDataset train(dir.path(), "train", o);
  std::vector<float> x(3072), again(3072);
  int32_t label;
  int flips = 0;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    Rng rng(seed), rng2(seed), draws(seed);
    train.get(3, x.data(), &label, rng);
    train.get(3, again.data(), &label, rng2);
    EXPECT_EQ(x, again) << "same seed, same augmentation";
    // The draws, in torchvision's order: crop top, crop left, flip.
    int dy = (int)draws.below(9) - 4, dx = (int)draws.below(9) - 4;
    bool flip = draws.uniform() < 0.5;
    flips += flip;
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 32; ++y)
        for (int xo = 0; xo < 32; ++xo) {
          int sy = y + dy, sx = (flip ? 31 - xo : xo) + dx;
          float v = (sy >= 0 && sy < 32 && sx >= 0 && sx < 32) ? pixel(3, c, sy, sx) : 0.0f;
          ASSERT_NEAR(x[(size_t)(c * 1024 + y * 32 + xo)], (v / 255.0f - o.norm.mean[c]) / o.norm.std[c], 1e-5)
              << "seed " << seed;
        }
  }
  EXPECT_GT(flips, 5);
  EXPECT_LT(flips, 35);
}

TEST(Cifar, TruncatedFile) {
  TempDir dir;
  write_cifar10(dir.path(), 2);
  auto bytes = cifar_records(0, 3, false);
  bytes.resize(bytes.size() - 100);
  sprout::testing::write_bytes(dir / "data_batch_4.bin", bytes);
  std::string msg = error_of([&] { CifarDataset(dir.path(), "train", small(false)); });
  EXPECT_EQ(msg, "error reading " + (dir / "data_batch_4.bin") +
                     ": truncated or not a cifar10 file: 9119 bytes is not a whole number of 3073-byte records");
}

TEST(Cifar, PublishedCountsAreChecked) {
  TempDir dir;
  write_cifar10(dir.path(), 2);
  std::string msg = error_of([&] { make_dataset("cifar10", dir.path(), "test", nlohmann::json::object()); });
  EXPECT_EQ(msg, "error reading " + (dir / "test_batch.bin") + ": holds 2 records, expected 10000");
  auto ds = make_dataset("cifar10", dir.path(), "test", {{"check_counts", false}});
  EXPECT_EQ(ds->size(), 2);
}

TEST(Cifar, MissingFileAndBadLabel) {
  TempDir dir;
  std::string msg = error_of([&] { CifarDataset(dir.path(), "test", small(false)); });
  EXPECT_NE(msg.find("test_batch.bin: no such file (expected the cifar10 binary files in"), std::string::npos) << msg;
  auto bytes = cifar_records(0, 2, false);
  bytes[3073] = 12;
  sprout::testing::write_bytes(dir / "test_batch.bin", bytes);
  msg = error_of([&] { CifarDataset(dir.path(), "test", small(false)); });
  EXPECT_NE(msg.find("label 12 in record 1 is not in [0, 10)"), std::string::npos) << msg;
}
