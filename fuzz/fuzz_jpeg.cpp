// JPEG path of the ImageNet reader (data/jpeg.*, data/imagenet.*): the bytes as one
// .JPEG file, loaded as the data set loads a sample: header and size check, scale
// choice, decode, crop box and resample to a small image. Input: the file's bytes, then
// a mode byte. Mode bit 0: the train transform (random resized crop and flip), else
// the val one; bit 1: decode at full size (scaled_decode off).
#include <cmath>
#include <memory>

#include "data/imagenet.h"
#include "data/jpeg.h"
#include "fuzz_input.h"

using namespace sprout;
using namespace sprout::data;

namespace {

// The one file of each split: train/c0/x.JPEG and val/c0/x.JPEG.
std::string file_of(uint8_t mode) { return std::string("imagenet/") + (mode & 1 ? "train" : "val") + "/c0/x.JPEG"; }

// The four data sets (train / val, scaled decode on / off) over one scratch file.
const ImageNetDataset& dataset(uint8_t mode) {
  static std::unique_ptr<ImageNetDataset> sets[4];
  auto& ds = sets[mode & 3];
  if (!ds) {
    fuzz::write_input(file_of(0), nullptr, 0);
    fuzz::write_input(file_of(1), nullptr, 0);
    ImageNetOptions o;
    o.image_size = 16;
    o.max_pixels = int64_t{1} << 22;  // the same refusal as the default's, at a size that decodes fast
    o.scaled_decode = !(mode & 2);
    ds = std::make_unique<ImageNetDataset>(fuzz::scratch_dir() + "/imagenet", mode & 1 ? "train" : "val", o);
  }
  return *ds;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Framed in;
  if (!fuzz::unframe(data, size, in) || !jpeg_supported()) return 0;
  const ImageNetDataset& ds = dataset(in.mode);
  fuzz::write_input(file_of(in.mode), in.bytes);
  std::vector<float> x((size_t)shape_numel(ds.sample_shape()));
  Rng rng(in.mode);
  std::string why;
  fuzz::accepts([&] {
    if (!ds.load(0, x.data(), rng, &why)) return;
    for (float v : x)
      if (!std::isfinite(v)) fuzz::broken("sample value is not finite");
  });
  return 0;
}
