// JPEG decoding through libturbojpeg, with scaled decode (the IDCT shrinks the image
// by k/8 for free) and grey / CMYK handling. A header claiming more pixels than a
// bound is refused before anything is decoded (a few KB can claim 30000 x 30000).
// Built without libturbojpeg, every call reports that JPEG support is missing.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "data/transforms.h"

namespace sprout::data {

// True when sprout was built with libturbojpeg.
bool jpeg_supported();

struct JpegHeader {
  int width = 0, height = 0;
  bool grey = false;
  bool cmyk = false;  // CMYK or YCCK: decoded as CMYK, then converted to RGB
};

// The default bound on the pixels a header may claim: 64 Mpixel (8192 x 8192), far
// above any photo a data set holds, and 256 MB once decoded as CMYK.
constexpr int64_t kDefaultMaxPixels = int64_t{1} << 26;

// False (with the library's reason in `why`) for data that is not a readable JPEG, and
// for a header claiming more than `max_pixels` pixels (width x height, before any
// scaled decode).
bool jpeg_read_header(const uint8_t* data, size_t bytes, JpegHeader& header, std::string* why,
                      int64_t max_pixels = kDefaultMaxPixels);

// The decoded size for a scale factor num/denom (libjpeg's rounding up).
inline int jpeg_scaled(int extent, int num, int denom) { return (extent * num + denom - 1) / denom; }

// The smallest scale factor (<= 1) the decoder offers such that `box` of the full-size
// image still covers at least need_w x need_h pixels once scaled.
void jpeg_pick_scale(const JpegHeader& header, double box_w, double box_h, int need_w, int need_h,
                     int& num, int& denom);

// Decodes at scale num/denom into `out`: 1 channel for grey JPEGs, else RGB (CMYK is
// converted). Returns false with the reason when the data is corrupt; recoverable
// damage (e.g. a truncated scan) decodes what is there, as libjpeg does.
bool jpeg_decode(const uint8_t* data, size_t bytes, const JpegHeader& header, int num, int denom,
                 Image& out, std::string* why);

}  // namespace sprout::data
