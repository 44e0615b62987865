// Decompression bombs: a 2 KB JPEG whose header claims 30000 x 30000 pixels is refused
// from its header, before any pixel buffer exists, with the default bound and with
// scaled decode on; an ImageNet folder skips such a file with a warning naming it and
// counts it; data.options.max_pixels sets the bound and is range-checked.
#include <gtest/gtest.h>

#include "apps/recipe_testing.h"
#include "data/imagenet.h"
#include "data/jpeg.h"
#include "data/registry.h"
#include "engine/core/error.h"

namespace sprout {
namespace {

#if SPROUT_WITH_JPEG

// A real 40 x 30 JPEG whose frame header (SOF0) is rewritten to claim w x h pixels.
std::vector<uint8_t> claiming(int w, int h) {
  std::vector<uint8_t> bytes = testing::encode_jpeg(testing::pattern_rgb(40, 30, 1), 40, 30, TJPF_RGB);
  for (size_t i = 2; i + 8 < bytes.size(); ++i) {
    if (bytes[i] != 0xff || bytes[i + 1] != 0xc0) continue;
    bytes[i + 5] = (uint8_t)(h >> 8);
    bytes[i + 6] = (uint8_t)(h & 0xff);
    bytes[i + 7] = (uint8_t)(w >> 8);
    bytes[i + 8] = (uint8_t)(w & 0xff);
    return bytes;
  }
  ADD_FAILURE() << "no SOF0 marker";
  return bytes;
}

TEST(JpegLimits, AHeaderClaimingTooManyPixelsIsRefused) {
  const std::vector<uint8_t> bomb = claiming(30000, 30000);
  ASSERT_LT(bomb.size(), 4096u);
  data::JpegHeader h;
  std::string why;
  EXPECT_FALSE(data::jpeg_read_header(bomb.data(), bomb.size(), h, &why));
  EXPECT_EQ(why, "header claims 30000 x 30000 pixels, more than max_pixels 67108864");
  const std::vector<uint8_t> good = claiming(40, 30);
  ASSERT_TRUE(data::jpeg_read_header(good.data(), good.size(), h, &why)) << why;
  EXPECT_EQ(h.width * h.height, 1200);
  // The bound is inclusive.
  EXPECT_TRUE(data::jpeg_read_header(good.data(), good.size(), h, &why, 1200)) << why;
  EXPECT_FALSE(data::jpeg_read_header(good.data(), good.size(), h, &why, 1199));
  EXPECT_EQ(why, "header claims 40 x 30 pixels, more than max_pixels 1199");
}

// Both bombs sit in class 0 of the generated folder; with scaled decode on (the
// default) 65000 x 65000 would decode at 1/8 and train, so it must be refused too.
TEST(JpegLimits, AnImageNetFolderSkipsBombsWithAWarning) {
  testing::TempDir dir;
  testing::write_imagenet_folder(dir.path());
  const std::string cls = dir.path() + "/train/n01440764/";
  testing::write_bytes(cls + "bomb_a.JPEG", claiming(30000, 30000));
  testing::write_bytes(cls + "bomb_b.JPEG", claiming(65000, 65000));
  data::ImageNetOptions o;
  o.image_size = 16;
  ASSERT_TRUE(o.scaled_decode);
  data::ImageNetDataset train(dir.path(), "train", o);
  std::vector<float> x(3 * 16 * 16);
  int32_t label = -1;
  ::testing::internal::CaptureStderr();
  for (int round = 0; round < 2; ++round)
    for (int64_t i = 0; i < train.size(); ++i) {
      Rng rng(1);
      train.get(i, x.data(), &label, rng);
    }
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(train.skipped(), 3) << "the corrupt file and the two bombs";
  EXPECT_NE(err.find("warning: skipping " + cls + "bomb_a.JPEG: header claims 30000 x 30000 pixels, more than "
                     "max_pixels 67108864\n"),
            std::string::npos) << err;
  EXPECT_NE(err.find("warning: skipping " + cls + "bomb_b.JPEG: header claims 65000 x 65000 pixels"),
            std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 3) << "each file once: " << err;
}

TEST(JpegLimits, MaxPixelsIsADataOption) {
  testing::TempDir dir;
  testing::write_imagenet_folder(dir.path());
  // 32 x 32 (cmyk) and smaller pass; 40 x 30 and larger are refused.
  auto ds = data::make_dataset("imagenet", dir.path(), "train", {{"max_pixels", 1024}, {"image_size", 8}});
  const auto& imagenet = static_cast<const data::ImageNetDataset&>(*ds);
  std::vector<float> x(3 * 8 * 8);
  int readable = 0;
  for (int64_t i = 0; i < imagenet.size(); ++i) {
    Rng rng(1);
    std::string why;
    if (imagenet.load(i, x.data(), rng, &why)) ++readable;
    else EXPECT_TRUE(why.find("more than max_pixels 1024") != std::string::npos || why.find("corrupt") != std::string::npos)
        << why;
  }
  EXPECT_EQ(readable, 1);
  try {
    data::make_dataset("imagenet", dir.path(), "train", {{"max_pixels", 0}});
    ADD_FAILURE() << "max_pixels 0 accepted";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "data.options.max_pixels must be in [1, 4.29497e+09], got 0");
  }
}

#endif

}  // namespace
}  // namespace sprout
