// Crop-box arithmetic that reproduces torchvision's RandomResizedCrop, Resize and
// CenterCrop, and the fused bilinear resample.
#include "data/transforms.h"

#include <algorithm>
#include <cmath>

#include "engine/core/error.h"

namespace sprout::data {

int round_half_even(double v) {
  // nearbyint rounds in the current mode, which is to-nearest-even by default.
  return (int)std::nearbyint(v);
}

CropBox random_resized_crop_box(int width, int height, Rng& rng, const RandomResizedCropParams& p) {
  double area = (double)width * height;
  double log_lo = std::log(p.ratio_min), log_hi = std::log(p.ratio_max);
  for (int attempt = 0; attempt < 10; ++attempt) {
    double target_area = area * rng.uniform(p.scale_min, p.scale_max);
    double aspect = std::exp(rng.uniform(log_lo, log_hi));
    int w = round_half_even(std::sqrt(target_area * aspect));
    int h = round_half_even(std::sqrt(target_area / aspect));
    if (w > 0 && h > 0 && w <= width && h <= height) {
      int top = (int)rng.below((uint64_t)(height - h + 1));
      int left = (int)rng.below((uint64_t)(width - w + 1));
      return CropBox{(double)left, (double)top, (double)w, (double)h, true};
    }
  }
  double in_ratio = (double)width / height;
  int w = width, h = height;
  if (in_ratio < p.ratio_min) {
    h = round_half_even(w / p.ratio_min);
  } else if (in_ratio > p.ratio_max) {
    w = round_half_even(h * p.ratio_max);
  }
  return CropBox{(double)((width - w) / 2), (double)((height - h) / 2), (double)w, (double)h, true};
}

CropBox resize_center_crop_box(int width, int height, int resize_size, int crop_size) {
  SPROUT_CHECK(resize_size >= crop_size, "resize size ", resize_size, " is smaller than the crop ", crop_size);
  int rw, rh;
  if (width <= height) {
    rw = resize_size;
    rh = (int)((int64_t)resize_size * height / width);
  } else {
    rh = resize_size;
    rw = (int)((int64_t)resize_size * width / height);
  }
  int top = round_half_even((rh - crop_size) / 2.0);
  int left = round_half_even((rw - crop_size) / 2.0);
  double sx = (double)width / rw, sy = (double)height / rh;
  return CropBox{left * sx, top * sy, crop_size * sx, crop_size * sy, false};
}

CropBox scale_box(const CropBox& b, int width, int height, int scaled_width, int scaled_height) {
  double fx = (double)scaled_width / width, fy = (double)scaled_height / height;
  return CropBox{b.x * fx, b.y * fy, b.w * fx, b.h * fy, b.clamp_inside};
}

namespace {

// Tap positions and weights of one axis.
struct Taps {
  std::vector<int> i0, i1;
  std::vector<float> w1;
};

Taps axis_taps(double start, double extent, int out, int size, bool clamp_inside, bool reverse) {
  int lo = 0, hi = size - 1;
  if (clamp_inside) {
    lo = std::max(0, (int)std::floor(start + 1e-6));
    hi = std::min(size - 1, (int)std::ceil(start + extent - 1e-6) - 1);
    hi = std::max(hi, lo);
  }
  Taps t;
  t.i0.resize(out);
  t.i1.resize(out);
  t.w1.resize(out);
  double step = extent / out;
  for (int o = 0; o < out; ++o) {
    int k = reverse ? out - 1 - o : o;
    double s = start + (k + 0.5) * step - 0.5;
    s = std::min(std::max(s, (double)lo), (double)hi);
    int a = (int)std::floor(s);
    int b = std::min(a + 1, hi);
    t.i0[o] = a;
    t.i1[o] = b;
    t.w1[o] = (float)(s - a);
  }
  return t;
}

}  // namespace

void resample_bilinear_chw(const Image& src, const CropBox& box, int out_w, int out_h, bool flip,
                           const Normalization& norm, float* out) {
  SPROUT_CHECK(src.channels == 1 || src.channels == 3, "resample needs a grey or RGB image, got ",
               src.channels, " channels");
  SPROUT_CHECK(src.width > 0 && src.height > 0 && out_w > 0 && out_h > 0, "resample of an empty image");
  Taps tx = axis_taps(box.x, box.w, out_w, src.width, box.clamp_inside, flip);
  Taps ty = axis_taps(box.y, box.h, out_h, src.height, box.clamp_inside, false);
  const int ch = src.channels;
  const size_t row_bytes = (size_t)src.width * ch;
  float scale[3], shift[3];
  for (int c = 0; c < 3; ++c) {
    scale[c] = 1.0f / (255.0f * norm.std[c]);
    shift[c] = -norm.mean[c] / norm.std[c];
  }
  const size_t plane = (size_t)out_w * out_h;
  for (int oy = 0; oy < out_h; ++oy) {
    const uint8_t* r0 = src.pixels.data() + (size_t)ty.i0[oy] * row_bytes;
    const uint8_t* r1 = src.pixels.data() + (size_t)ty.i1[oy] * row_bytes;
    float wy = ty.w1[oy];
    for (int ox = 0; ox < out_w; ++ox) {
      int a = tx.i0[ox] * ch, b = tx.i1[ox] * ch;
      float wx = tx.w1[ox];
      size_t o = (size_t)oy * out_w + ox;
      float v[3] = {0.0f, 0.0f, 0.0f};
      for (int c = 0; c < ch; ++c) {
        float top = r0[a + c] + wx * ((float)r0[b + c] - r0[a + c]);
        float bot = r1[a + c] + wx * ((float)r1[b + c] - r1[a + c]);
        v[c] = top + wy * (bot - top);
      }
      if (ch == 1) v[1] = v[2] = v[0];
      for (int c = 0; c < 3; ++c) out[c * plane + o] = v[c] * scale[c] + shift[c];
    }
  }
}

void cmyk_to_rgb(Image& img) {
  SPROUT_CHECK(img.channels == 4, "cmyk_to_rgb needs 4 channels, got ", img.channels);
  size_t n = (size_t)img.width * img.height;
  uint8_t* p = img.pixels.data();
  for (size_t i = 0; i < n; ++i) {
    unsigned c = p[4 * i], m = p[4 * i + 1], y = p[4 * i + 2], k = p[4 * i + 3];
    p[3 * i] = (uint8_t)((c * k + 127) / 255);
    p[3 * i + 1] = (uint8_t)((m * k + 127) / 255);
    p[3 * i + 2] = (uint8_t)((y * k + 127) / 255);
  }
  img.channels = 3;
  img.pixels.resize(n * 3);
}

}  // namespace sprout::data
