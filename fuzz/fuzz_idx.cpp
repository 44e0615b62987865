// IDX reader (data/idx.*): one file as read_idx sees it, plain, gzip-compressed by the
// harness, or taken as a raw .gz stream; or an images + labels pair opened by
// IdxDataset and sampled. Input: the file's bytes, then a mode byte. Mode bit 0: dataset
// mode (the two bytes before the mode byte, little-endian, say where the images end);
// bit 1: gzip the bytes; bit 2: name the raw bytes .gz; bit 3: flatten samples.
#include "data/idx.h"
#include "fuzz_input.h"

#if SPROUT_WITH_ZLIB
#include <zlib.h>
#endif

using namespace sprout;
using namespace sprout::data;

namespace {

// Writes `bytes` under `name`, gzip-compressed (and named .gz) when asked and zlib is
// there (without it, a .gz file is refused by name, which bit 2 still reaches).
std::string write_idx(const std::string& name, const std::vector<uint8_t>& bytes, uint8_t mode) {
#if SPROUT_WITH_ZLIB
  if (mode & 2) {
    std::string path = fuzz::write_input(name + ".gz", nullptr, 0);
    gzFile g = gzopen(path.c_str(), "wb1");
    if (!g || (!bytes.empty() && gzwrite(g, bytes.data(), (unsigned)bytes.size()) != (int)bytes.size()) ||
        gzclose(g) != Z_OK)
      fuzz::broken("cannot write the gzip input");
    return path;
  }
#endif
  return fuzz::write_input(name + (mode & 4 ? ".gz" : ""), bytes);
}

void read_one(const std::vector<uint8_t>& bytes, uint8_t mode) {
  // The rank the magic number asks for, so the fuzzer reaches every rank's dimensions.
  int rank = bytes.size() >= 4 && bytes[3] >= 1 && bytes[3] <= 4 ? bytes[3] : 3;
  std::string path = write_idx("one-idx-ubyte", bytes, mode);
  fuzz::accepts([&] {
    IdxArray a = read_idx(path, rank);
    int64_t count = 1;
    for (int64_t d : a.dims) count *= d;
    if ((int)a.dims.size() != rank || a.values.numel() != count) fuzz::broken("extents and payload disagree");
  });
}

void open_dataset(std::vector<uint8_t> bytes, uint8_t mode) {
  if (bytes.size() < 2) return;
  size_t split = bytes[bytes.size() - 2] | (size_t)bytes[bytes.size() - 1] << 8;
  bytes.resize(bytes.size() - 2);
  split = std::min(split, bytes.size());
  std::vector<uint8_t> images(bytes.begin(), bytes.begin() + (std::ptrdiff_t)split);
  std::vector<uint8_t> labels(bytes.begin() + (std::ptrdiff_t)split, bytes.end());
  // Gzip and plain pairs in folders of their own: IdxDataset prefers a .gz copy.
  const std::string sub = mode & 2 ? "idx-gz" : "idx-plain";
  write_idx(sub + "/train-images-idx3-ubyte", images, mode & 2);
  write_idx(sub + "/train-labels-idx1-ubyte", labels, mode & 2);
  const std::string dir = fuzz::scratch_dir() + "/" + sub;
  IdxOptions o = idx_defaults("fashion-mnist");
  o.flatten = mode & 8;
  fuzz::accepts([&] {
    IdxDataset ds(dir, "train", o);
    std::vector<float> x((size_t)shape_numel(ds.sample_shape()));
    Rng rng(1);
    for (int64_t i : {int64_t(0), ds.size() - 1}) {
      int32_t label = -1;
      ds.get(i, x.data(), &label, rng);
      if (label < 0 || label >= ds.num_classes()) fuzz::broken("label out of range");
    }
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Framed in;
  if (!fuzz::unframe(data, size, in)) return 0;
  if (in.mode & 1)
    open_dataset(std::move(in.bytes), in.mode);
  else
    read_one(in.bytes, in.mode);
  return 0;
}
