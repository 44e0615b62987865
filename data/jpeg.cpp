// TurboJPEG wrapper. A decompressor handle is made once per thread (handles are not
// thread-safe, and making one per image costs more than small decodes), and made anew
// after a failed call: libturbojpeg 2.1 leaves a handle that failed inside a header
// unusable, so one corrupt file would otherwise fail every later file on that thread.
#include "data/jpeg.h"

#include <vector>

#include "data/transforms.h"

#if SPROUT_WITH_JPEG
#include <turbojpeg.h>
#endif

namespace sprout::data {

#if SPROUT_WITH_JPEG

namespace {

struct ThreadDecoder {
  tjhandle handle = tjInitDecompress();
  ~ThreadDecoder() {
    if (handle) tjDestroy(handle);
  }
};

ThreadDecoder& thread_decoder() {
  thread_local ThreadDecoder d;
  return d;
}

tjhandle decoder() { return thread_decoder().handle; }

// The error text of the failed call on this thread's handle; the handle is replaced.
std::string fail_and_reset(tjhandle h) {
  std::string why = tjGetErrorStr2(h);
  ThreadDecoder& d = thread_decoder();
  if (d.handle) tjDestroy(d.handle);
  d.handle = tjInitDecompress();
  return why;
}

}  // namespace

bool jpeg_supported() { return true; }

bool jpeg_read_header(const uint8_t* data, size_t bytes, JpegHeader& header, std::string* why,
                      int64_t max_pixels) {
  tjhandle h = decoder();
  if (!h) {
    if (why) *why = "cannot create a TurboJPEG decompressor";
    return false;
  }
  int w = 0, ht = 0, subsamp = 0, colorspace = 0;
  if (tjDecompressHeader3(h, data, (unsigned long)bytes, &w, &ht, &subsamp, &colorspace) != 0) {
    std::string err = fail_and_reset(h);
    if (why) *why = err;
    return false;
  }
  if (w <= 0 || ht <= 0) {
    if (why) *why = "empty image";
    return false;
  }
  if ((int64_t)w * ht > max_pixels) {
    if (why)
      *why = "header claims " + std::to_string(w) + " x " + std::to_string(ht) + " pixels, more than max_pixels " +
             std::to_string(max_pixels);
    return false;
  }
  header.width = w;
  header.height = ht;
  header.grey = colorspace == TJCS_GRAY;
  header.cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK;
  return true;
}

void jpeg_pick_scale(const JpegHeader& header, double box_w, double box_h, int need_w, int need_h,
                     int& num, int& denom) {
  num = denom = 1;
  int count = 0;
  tjscalingfactor* factors = tjGetScalingFactors(&count);
  double best = 1.0;
  for (int i = 0; i < count && factors; ++i) {
    int n = factors[i].num, d = factors[i].denom;
    double f = (double)n / d;
    if (f > 1.0 || f >= best) continue;
    // Scale the box by the decoded size actually produced, as the resample will.
    double sw = box_w * jpeg_scaled(header.width, n, d) / header.width;
    double sh = box_h * jpeg_scaled(header.height, n, d) / header.height;
    if (sw >= need_w && sh >= need_h) {
      best = f;
      num = n;
      denom = d;
    }
  }
}

bool jpeg_decode(const uint8_t* data, size_t bytes, const JpegHeader& header, int num, int denom,
                 Image& out, std::string* why) {
  tjhandle h = decoder();
  int w = jpeg_scaled(header.width, num, denom), ht = jpeg_scaled(header.height, num, denom);
  int format = header.grey ? TJPF_GRAY : header.cmyk ? TJPF_CMYK : TJPF_RGB;
  int channels = header.grey ? 1 : header.cmyk ? 4 : 3;
  out.width = w;
  out.height = ht;
  out.channels = channels;
  out.pixels.resize((size_t)w * ht * channels);
  if (tjDecompress2(h, data, (unsigned long)bytes, out.pixels.data(), w, 0, ht, format, 0) != 0) {
    // Warnings (e.g. a premature end of data) leave a usable, partly grey image.
    if (tjGetErrorCode(h) != TJERR_WARNING) {
      std::string err = fail_and_reset(h);
      if (why) *why = err;
      return false;
    }
  }
  if (header.cmyk) cmyk_to_rgb(out);
  return true;
}

#else  // !SPROUT_WITH_JPEG

static const char* kNoJpeg = "sprout was built without libturbojpeg (install libturbojpeg0-dev and re-run cmake)";

bool jpeg_supported() { return false; }

bool jpeg_read_header(const uint8_t*, size_t, JpegHeader&, std::string* why, int64_t) {
  if (why) *why = kNoJpeg;
  return false;
}

void jpeg_pick_scale(const JpegHeader&, double, double, int, int, int& num, int& denom) { num = denom = 1; }

bool jpeg_decode(const uint8_t*, size_t, const JpegHeader&, int, int, Image&, std::string* why) {
  if (why) *why = kNoJpeg;
  return false;
}

#endif

}  // namespace sprout::data
