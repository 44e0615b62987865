// Image transforms for the image datasets: torchvision's RandomResizedCrop and
// Resize + CenterCrop boxes, and one bilinear resample that crops, resizes, flips and
// normalises into CHW float in a single pass (no intermediate images).
#pragma once
#include <cstdint>
#include <vector>

#include "engine/core/rng.h"

namespace sprout::data {

// An 8-bit image, rows of interleaved channels (1: grey, 3: RGB, 4: CMYK).
struct Image {
  int width = 0, height = 0, channels = 3;
  std::vector<uint8_t> pixels;
};

// A region of the source image in pixel units. When `clamp_inside` is set, bilinear
// taps stay inside the box (crop, then resize); otherwise they may read neighbours
// of the box (resize the whole image, then crop).
struct CropBox {
  double x = 0, y = 0, w = 0, h = 0;
  bool clamp_inside = true;
};

struct RandomResizedCropParams {
  double scale_min = 0.08, scale_max = 1.0;
  double ratio_min = 3.0 / 4.0, ratio_max = 4.0 / 3.0;
};

// torchvision's RandomResizedCrop.get_params: 10 attempts at a box of random area and
// aspect ratio that fits, else the centre crop clamped to the ratio range. The box has
// integer coordinates inside the image.
CropBox random_resized_crop_box(int width, int height, Rng& rng, const RandomResizedCropParams& p = {});

// Resize(resize_size) (shorter side to resize_size, longer side truncated as
// torchvision does) followed by CenterCrop(crop_size), expressed as one source box.
CropBox resize_center_crop_box(int width, int height, int resize_size, int crop_size);

// The same box in an image scaled from width x height to scaled_width x scaled_height.
CropBox scale_box(const CropBox& box, int width, int height, int scaled_width, int scaled_height);

// Per-channel normalisation: out = (v / 255 - mean[c]) / std[c].
struct Normalization {
  float mean[3];
  float std[3];
};

// Samples `box` of the 1- or 3-channel image `src` at out_w x out_h pixel centres
// (bilinear, half-pixel convention), mirrored left-right when `flip`, into a CHW float
// array of 3 channels (grey is replicated).
void resample_bilinear_chw(const Image& src, const CropBox& box, int out_w, int out_h, bool flip,
                           const Normalization& norm, float* out);

// In-place conversion of a 4-channel CMYK image to RGB, using libjpeg-turbo's
// convention for stored CMYK (Adobe's inverted samples): r = c * k / 255, etc.
void cmyk_to_rgb(Image& img);

// Python's round() (ties to even), which torchvision's box arithmetic uses.
int round_half_even(double v);

}  // namespace sprout::data
