// A corrupt JPEG that fails inside its header must not poison the thread's decoder:
// with libturbojpeg 2.1 a handle that failed there fails every later call, which made
// an ImageNet folder with one such file unreadable as a whole.
#include <gtest/gtest.h>

#include "data/imagenet.h"
#include "data/jpeg.h"
#include "apps/recipe_testing.h"

namespace sprout {
namespace {

#if SPROUT_WITH_JPEG

std::vector<uint8_t> corrupt_after_start_marker() {
  std::vector<uint8_t> junk(2000);
  uint32_t s = 11;
  for (auto& b : junk) b = (uint8_t)((s = s * 1664525u + 1013904223u) >> 24);
  junk[0] = 0xff;
  junk[1] = 0xd8;
  return junk;
}

TEST(CorruptJpeg, LaterDecodesOnTheSameThreadStillWork) {
  std::vector<uint8_t> good = testing::encode_jpeg(testing::pattern_rgb(40, 30, 1), 40, 30, TJPF_RGB);
  std::vector<uint8_t> bad = corrupt_after_start_marker();
  for (int round = 0; round < 3; ++round) {
    data::JpegHeader h;
    std::string why;
    EXPECT_FALSE(data::jpeg_read_header(bad.data(), bad.size(), h, &why));
    EXPECT_FALSE(why.empty());
    ASSERT_TRUE(data::jpeg_read_header(good.data(), good.size(), h, &why)) << why;
    EXPECT_EQ(h.width, 40);
    EXPECT_EQ(h.height, 30);
    data::Image img;
    ASSERT_TRUE(data::jpeg_decode(good.data(), good.size(), h, 1, 1, img, &why)) << why;
    EXPECT_EQ(img.channels, 3);
  }
}

TEST(CorruptJpeg, FolderWithOneCorruptFileLoadsEveryOtherFile) {
  testing::TempDir dir;
  testing::write_imagenet_folder(dir.path());
  data::ImageNetOptions o;
  o.image_size = 16;
  data::ImageNetDataset val(dir.path(), "val", o);
  ASSERT_EQ(val.size(), 6);
  std::vector<float> x(3 * 16 * 16);
  int32_t label = -1;
  for (int64_t i = 0; i < val.size(); ++i) {
    Rng rng(1);
    val.get(i, x.data(), &label, rng);
  }
  EXPECT_EQ(val.skipped(), 1) << "only the corrupt file";
}

#endif

}  // namespace
}  // namespace sprout
