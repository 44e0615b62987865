// ImageNet folders and image transforms: a generated folder with RGB, grey, CMYK and
// corrupt JPEGs; exact val output on solid colours; RandomResizedCrop bounds and
// determinism; scaled decode; loader results independent of the thread count.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>

#include "data/imagenet.h"
#include "data/jpeg.h"
#include "data/loader.h"
#include "data/registry.h"
#include "data/transforms.h"
#include "data_testing.h"
#include "engine/core/error.h"

using namespace sprout;
using namespace sprout::data;
using sprout::testing::TempDir;

namespace {

Normalization imagenet_norm() { return ImageNetOptions{}.norm; }

Image gradient_image(int w, int h, int seed) {
  Image img;
  img.width = w;
  img.height = h;
  img.channels = 3;
  img.pixels.resize((size_t)w * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        img.pixels[((size_t)y * w + x) * 3 + c] = (uint8_t)((x * (c + 1) * 5 + y * 3 + seed * 40) % 256);
  return img;
}

}  // namespace

// ---------------------------------------------------------------- transforms (no JPEG)

TEST(Transforms, RandomResizedCropStaysInBoundsAndIsDeterministic) {
  const int sizes[][2] = {{500, 375}, {375, 500}, {64, 64}, {33, 200}, {1000, 20}};
  for (auto& s : sizes) {
    for (uint64_t seed = 0; seed < 300; ++seed) {
      Rng a(seed), b(seed);
      CropBox box = random_resized_crop_box(s[0], s[1], a);
      CropBox again = random_resized_crop_box(s[0], s[1], b);
      EXPECT_EQ(box.x, again.x);
      EXPECT_EQ(box.w, again.w);
      EXPECT_EQ(box.h, again.h);
      ASSERT_GE(box.x, 0);
      ASSERT_GE(box.y, 0);
      ASSERT_GT(box.w, 0);
      ASSERT_GT(box.h, 0);
      ASSERT_LE(box.x + box.w, s[0]) << s[0] << "x" << s[1] << " seed " << seed;
      ASSERT_LE(box.y + box.h, s[1]);
      EXPECT_EQ(box.x, std::floor(box.x));
      EXPECT_EQ(box.w, std::floor(box.w));
    }
  }
}

TEST(Transforms, RandomResizedCropAreaAndRatio) {
  // On a square image nearly every draw fits, so the area and ratio ranges show.
  double min_area = 1, max_area = 0;
  for (uint64_t seed = 0; seed < 2000; ++seed) {
    Rng rng(seed);
    CropBox b = random_resized_crop_box(1000, 1000, rng);
    double area = b.w * b.h / 1e6, ratio = b.w / b.h;
    min_area = std::min(min_area, area);
    max_area = std::max(max_area, area);
    if (b.w < 1000 && b.h < 1000) {
      EXPECT_GE(ratio, 0.75 - 0.01);
      EXPECT_LE(ratio, 4.0 / 3.0 + 0.01);
    }
  }
  EXPECT_LT(min_area, 0.1);
  EXPECT_GT(max_area, 0.9);
}

TEST(Transforms, RandomResizedCropFallsBackToCentreCrop) {
  // A 1000x10 strip: no random box fits with ratio <= 4/3 at these areas, so the
  // fallback crops the centre to the maximum ratio, as torchvision does.
  Rng rng(0);
  RandomResizedCropParams p;
  p.scale_min = 0.9;
  CropBox b = random_resized_crop_box(1000, 10, rng, p);
  EXPECT_EQ(b.h, 10);
  EXPECT_EQ(b.w, 13);  // round(10 * 4/3)
  EXPECT_EQ(b.x, (1000 - 13) / 2);
  EXPECT_EQ(b.y, 0);
  CropBox t = random_resized_crop_box(10, 1000, rng, p);
  EXPECT_EQ(t.w, 10);
  EXPECT_EQ(t.h, 13);  // round(10 / 0.75)
}

TEST(Transforms, ResizeCenterCropBoxMatchesTorchvision) {
  // 500x375 -> Resize(256) gives 341x256 (long side truncated); CenterCrop(224) starts
  // at left round(58.5) = 58 (ties to even), top 16.
  CropBox b = resize_center_crop_box(500, 375, 256, 224);
  double s = 375.0 / 256;
  EXPECT_NEAR(b.x, 58 * (500.0 / 341), 1e-9);
  EXPECT_NEAR(b.y, 16 * s, 1e-9);
  EXPECT_NEAR(b.w, 224 * (500.0 / 341), 1e-9);
  EXPECT_NEAR(b.h, 224 * s, 1e-9);
  EXPECT_FALSE(b.clamp_inside);
  EXPECT_EQ(round_half_even(2.5), 2);
  EXPECT_EQ(round_half_even(3.5), 4);
}

TEST(Transforms, ResampleIdentityFlipAndGrey) {
  Image img = gradient_image(16, 12, 1);
  Normalization unit{{0, 0, 0}, {1, 1, 1}};
  std::vector<float> out(3 * 16 * 12), flipped(3 * 16 * 12);
  CropBox full{0, 0, 16, 12, true};
  resample_bilinear_chw(img, full, 16, 12, false, unit, out.data());
  resample_bilinear_chw(img, full, 16, 12, true, unit, flipped.data());
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 12; ++y)
      for (int x = 0; x < 16; ++x) {
        float v = img.pixels[((size_t)y * 16 + x) * 3 + c] / 255.0f;
        ASSERT_FLOAT_EQ(out[(size_t)(c * 192 + y * 16 + x)], v);
        ASSERT_FLOAT_EQ(flipped[(size_t)(c * 192 + y * 16 + (15 - x))], v);
      }
  // Downscale by exactly 2: each output is the mean of a 2x2 block.
  std::vector<float> half(3 * 8 * 6);
  resample_bilinear_chw(img, full, 8, 6, false, unit, half.data());
  auto px = [&](int x, int y, int c) { return img.pixels[((size_t)y * 16 + x) * 3 + c] / 255.0f; };
  EXPECT_NEAR(half[8 + 3], (px(6, 2, 0) + px(7, 2, 0) + px(6, 3, 0) + px(7, 3, 0)) / 4, 1e-6);
  // Grey input is replicated into three (differently normalised) channels.
  Image grey;
  grey.width = 4;
  grey.height = 4;
  grey.channels = 1;
  grey.pixels.assign(16, 200);
  std::vector<float> g(48);
  Normalization n = imagenet_norm();
  resample_bilinear_chw(grey, CropBox{0, 0, 4, 4, true}, 4, 4, false, n, g.data());
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(g[(size_t)c * 16 + 5], (200 / 255.0f - n.mean[c]) / n.std[c], 1e-5);
}

TEST(Transforms, CropBoxTapsStayInsideTheCrop) {
  // A box around a white square on black: with crop-then-resize semantics nothing
  // from outside the box may bleed in.
  Image img;
  img.width = img.height = 20;
  img.channels = 1;
  img.pixels.assign(400, 0);
  for (int y = 5; y < 15; ++y)
    for (int x = 5; x < 15; ++x) img.pixels[(size_t)y * 20 + x] = 255;
  std::vector<float> out(3 * 7 * 7);
  resample_bilinear_chw(img, CropBox{5, 5, 10, 10, true}, 7, 7, false, Normalization{{0, 0, 0}, {1, 1, 1}},
                        out.data());
  for (float v : out) EXPECT_FLOAT_EQ(v, 1.0f);
}

TEST(Transforms, CmykToRgb) {
  Image img;
  img.width = 2;
  img.height = 1;
  img.channels = 4;
  img.pixels = {255, 0, 128, 255, 200, 100, 50, 128};
  cmyk_to_rgb(img);
  EXPECT_EQ(img.channels, 3);
  EXPECT_EQ(img.pixels, (std::vector<uint8_t>{255, 0, 128, 100, 50, 25}));
}

// ---------------------------------------------------------------- JPEG folders

#if SPROUT_WITH_JPEG

namespace {

struct Folder {
  TempDir dir;
  std::vector<uint8_t> red_jpeg;  // a solid-colour image in val/bird
  Folder() {
    using sprout::testing::encode_jpeg;
    using sprout::testing::write_bytes;
    const char* classes[] = {"bird", "cat", "dog"};
    for (int k = 0; k < 3; ++k) {
      for (int i = 0; i < 3; ++i) {
        Image img = gradient_image(48 + 8 * i, 40 + 4 * k, k * 3 + i);
        write_bytes(dir / ("train/" + std::string(classes[k]) + "/img" + std::to_string(i) + ".JPEG"),
                    encode_jpeg(img.pixels, img.width, img.height, TJPF_RGB));
      }
    }
    // cat: a grey JPEG, a CMYK JPEG and a file of random bytes.
    std::vector<uint8_t> grey(60 * 50);
    for (size_t i = 0; i < grey.size(); ++i) grey[i] = (uint8_t)(i % 60 * 4);
    write_bytes(dir / "train/cat/grey.JPEG", encode_jpeg(grey, 60, 50, TJPF_GRAY));
    std::vector<uint8_t> cmyk(40 * 40 * 4);
    for (size_t i = 0; i < 40 * 40; ++i) {
      // Stored (inverted) CMYK for RGB (200, 100, 50): c = r, m = g, y = b, k = 255.
      cmyk[4 * i] = 200;
      cmyk[4 * i + 1] = 100;
      cmyk[4 * i + 2] = 50;
      cmyk[4 * i + 3] = 255;
    }
    write_bytes(dir / "train/cat/cmyk.jpg", encode_jpeg(cmyk, 40, 40, TJPF_CMYK));
    std::vector<uint8_t> junk(3000);
    uint32_t s = 7;
    for (auto& b : junk) b = (uint8_t)((s = s * 1664525u + 1013904223u) >> 24);
    write_bytes(dir / "train/cat/corrupt.JPEG", junk);
    write_bytes(dir / "train/cat/notes.txt", {'h', 'i'});

    std::vector<uint8_t> red(64 * 48 * 3);
    for (size_t i = 0; i < 64 * 48; ++i) {
      red[3 * i] = 230;
      red[3 * i + 1] = 40;
      red[3 * i + 2] = 90;
    }
    red_jpeg = encode_jpeg(red, 64, 48, TJPF_RGB, 100);
    write_bytes(dir / "val/bird/red.JPEG", red_jpeg);
    Image v = gradient_image(50, 44, 9);
    write_bytes(dir / "val/dog/v0.JPEG", encode_jpeg(v.pixels, v.width, v.height, TJPF_RGB));
  }
};

ImageNetOptions tiny(int size = 32) {
  ImageNetOptions o;
  o.image_size = size;
  return o;
}

}  // namespace

TEST(ImageNet, ScansSortedClassesAndFiles) {
  Folder f;
  ImageNetDataset train(f.dir.path(), "train", tiny());
  ImageNetDataset val(f.dir.path(), "val", tiny());
  EXPECT_EQ(train.classes(), (std::vector<std::string>{"bird", "cat", "dog"}));
  EXPECT_EQ(train.size(), 3 + 6 + 3);  // .txt is not an image
  EXPECT_EQ(train.num_classes(), 3);
  EXPECT_EQ(train.sample_shape(), (Shape{3, 32, 32}));
  EXPECT_EQ(train.path(3), f.dir / "train/cat/cmyk.jpg");
  EXPECT_EQ(train.label(3), 1);
  ASSERT_EQ(val.size(), 2);
  EXPECT_EQ(val.label(0), 0);
  EXPECT_EQ(val.label(1), 2);  // dog keeps train's label though val has no cat folder
  EXPECT_FALSE(val.train_transform());
  EXPECT_TRUE(train.train_transform());
}

TEST(ImageNet, CorruptFileIsSkippedCountedAndReplaced) {
  Folder f;
  ImageNetDataset train(f.dir.path(), "train", tiny());
  int64_t corrupt = 4;
  ASSERT_EQ(train.path(corrupt), f.dir / "train/cat/corrupt.JPEG");
  std::vector<float> x(3 * 32 * 32), expect(3 * 32 * 32);
  int32_t label = -1;
  Rng r1(5), r2(5);
  train.get(corrupt, x.data(), &label, r1);
  EXPECT_EQ(train.skipped(), 1);
  // Replaced by the next sample (grey.JPEG), drawn with the same Rng stream.
  ASSERT_EQ(train.path(corrupt + 1), f.dir / "train/cat/grey.JPEG");
  Rng fresh(5);
  std::string why;
  ASSERT_TRUE(train.load(corrupt + 1, expect.data(), fresh, &why)) << why;
  EXPECT_EQ(x, expect);
  EXPECT_EQ(label, 1);
  // Meeting it again (any thread, any epoch) does not count twice.
  train.get(corrupt, x.data(), &label, r2);
  EXPECT_EQ(train.skipped(), 1);
  Rng r3(1);
  EXPECT_FALSE(train.load(corrupt, x.data(), r3, &why));
  EXPECT_FALSE(why.empty());
}

TEST(ImageNet, GreyAndCmykLoadAsRgb) {
  Folder f;
  ImageNetOptions o = tiny(16);
  o.augment = false;  // the val transform on train files: deterministic
  ImageNetDataset train(f.dir.path(), "train", o);
  Normalization n = o.norm;
  std::vector<float> x(3 * 16 * 16);
  int32_t label;
  Rng rng(0);
  auto raw = [&](int c, int i) { return (x[(size_t)(c * 256 + i)] * n.std[c] + n.mean[c]) * 255.0f; };
  train.get(5, x.data(), &label, rng);  // grey.JPEG
  for (int i = 0; i < 256; ++i) {
    ASSERT_NEAR(raw(0, i), raw(1, i), 1e-3) << i;
    ASSERT_NEAR(raw(0, i), raw(2, i), 1e-3) << i;
  }
  train.get(3, x.data(), &label, rng);  // cmyk.jpg
  for (int i = 0; i < 256; ++i) {
    ASSERT_NEAR(raw(0, i), 200, 3) << i;
    ASSERT_NEAR(raw(1, i), 100, 3) << i;
    ASSERT_NEAR(raw(2, i), 50, 3) << i;
  }
  EXPECT_EQ(train.skipped(), 0);
}

TEST(ImageNet, ValOfSolidColourIsTheNormalisedColour) {
  Folder f;
  int w = 0, h = 0;
  auto px = sprout::testing::decode_jpeg_rgb(f.red_jpeg, w, h);
  for (size_t i = 3; i < px.size(); ++i) ASSERT_EQ(px[i], px[i % 3]) << "the encoded colour is solid";
  for (int size : {32, 24, 7}) {
    ImageNetDataset val(f.dir.path(), "val", tiny(size));
    std::vector<float> x((size_t)(3 * size * size));
    int32_t label;
    Rng rng(0);
    val.get(0, x.data(), &label, rng);
    EXPECT_EQ(label, 0);
    Normalization n = imagenet_norm();
    for (int c = 0; c < 3; ++c) {
      float expect = (px[(size_t)c] / 255.0f - n.mean[c]) / n.std[c];
      for (int i = 0; i < size * size; ++i) ASSERT_NEAR(x[(size_t)(c * size * size + i)], expect, 1e-5);
    }
  }
}

TEST(ImageNet, TrainTransformIsDeterministicPerSeed) {
  Folder f;
  ImageNetDataset train(f.dir.path(), "train", tiny());
  std::vector<float> a(3 * 32 * 32), b(3 * 32 * 32), c(3 * 32 * 32);
  int32_t label;
  Rng r1(11), r2(11), r3(12);
  train.get(0, a.data(), &label, r1);
  train.get(0, b.data(), &label, r2);
  train.get(0, c.data(), &label, r3);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

TEST(ImageNet, ScaledDecodeAgreesWithFullDecode) {
  TempDir dir;
  // A smooth image: scaled decode (1/8 here) must land close to the full-size path.
  Image big = gradient_image(640, 480, 2);
  for (int y = 0; y < 480; ++y)
    for (int x = 0; x < 640; ++x)
      for (int c = 0; c < 3; ++c) big.pixels[((size_t)y * 640 + x) * 3 + c] = (uint8_t)(x / 5 + y / 8 + c * 20);
  sprout::testing::write_bytes(dir / "val/a/big.JPEG",
                               sprout::testing::encode_jpeg(big.pixels, 640, 480, TJPF_RGB, 95));
  JpegHeader header;
  header.width = 640;
  header.height = 480;
  int num = 0, denom = 0;
  CropBox box = resize_center_crop_box(640, 480, 37, 32);
  jpeg_pick_scale(header, box.w, box.h, 32, 32, num, denom);
  EXPECT_EQ(num * 8, denom) << "1/8 keeps 60 rows >= the 37 the resize needs";
  ImageNetOptions fast = tiny(), full = tiny();
  full.scaled_decode = false;
  ImageNetDataset a(dir.path(), "val", fast), b(dir.path(), "val", full);
  std::vector<float> xa(3 * 32 * 32), xb(3 * 32 * 32);
  int32_t label;
  Rng rng(0);
  a.get(0, xa.data(), &label, rng);
  b.get(0, xb.data(), &label, rng);
  double worst = 0;
  for (size_t i = 0; i < xa.size(); ++i) worst = std::max(worst, (double)std::fabs(xa[i] - xb[i]));
  EXPECT_LT(worst, 0.15);  // ~8 grey levels after normalisation
}

TEST(ImageNet, LoaderGivesSameBatchesForAnyWorkerCount) {
  Folder f;
  auto ds = make_dataset("imagenet", f.dir.path(), "train", {{"image_size", 24}});
  DataLoader one(ds, 5, true, false, 3, 1), four(ds, 5, true, false, 3, 4);
  for (int64_t e = 0; e < 2; ++e) {
    one.start_epoch(e);
    four.start_epoch(e);
    Batch a, b;
    int batches = 0;
    while (one.next(a)) {
      ASSERT_TRUE(four.next(b));
      EXPECT_EQ(a.x.shape(), (Shape{a.size(), 3, 24, 24}));
      EXPECT_EQ(a.x.to_vector<float>(), b.x.to_vector<float>());
      EXPECT_EQ(a.y.to_vector<int32_t>(), b.y.to_vector<int32_t>());
      ++batches;
    }
    EXPECT_FALSE(four.next(b));
    EXPECT_EQ(batches, 3);
  }
  EXPECT_EQ(static_cast<const ImageNetDataset&>(*ds).skipped(), 1);
}

TEST(ImageNet, FolderErrors) {
  TempDir dir;
  auto msg = [&](const std::string& split) {
    try {
      ImageNetDataset(dir.path(), split, tiny());
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_EQ(msg("train"), "error reading " + (dir / "train") +
                              ": no such folder (expected <root>/train/<class>/*.JPEG)");
  std::filesystem::create_directories(dir / "train/a");
  EXPECT_EQ(msg("train"), "error reading " + (dir / "train") + ": no .JPEG files in its class folders");
  std::filesystem::create_directories(dir / "val/zebra");
  EXPECT_NE(msg("val").find("class folder not present in"), std::string::npos);
  EXPECT_NE(msg("bogus").find("unknown split 'bogus' for imagenet"), std::string::npos);
  // A split whose every file is unreadable fails loudly instead of looping.
  sprout::testing::write_bytes(dir / "train/a/x.JPEG", {1, 2, 3});
  ImageNetDataset bad(dir.path(), "train", tiny());
  std::vector<float> x(3 * 32 * 32);
  int32_t label;
  Rng rng(0);
  EXPECT_THROW(bad.get(0, x.data(), &label, rng), Error);
}

#else

TEST(ImageNet, NeedsJpeg) {
  TempDir dir;
  sprout::testing::write_bytes(dir / "train/a/x.JPEG", {0xff, 0xd8});
  try {
    ImageNetDataset(dir.path(), "train");
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "error reading " + (dir / "train") +
                                         ": JPEG datasets need libturbojpeg, and sprout was built without it");
  }
  GTEST_SKIP() << "built without libturbojpeg: checked the error only";
}

#endif
