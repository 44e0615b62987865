// IDX reader and IdxDataset. The header is parsed first so the payload is read
// straight into its tensor, and a short payload is reported against the header's
// extents (the usual symptom of an interrupted download).
#include "data/idx.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "data/byte_source.h"
#include "engine/core/error.h"

namespace sprout::data {

namespace {

uint32_t read_be32(ByteSource& src, const char* what) {
  uint8_t b[4];
  size_t n = src.read(b, 4);
  if (n != 4) fail_reading(src.path(), detail::concat("truncated: file ends inside the header (", what, ")"));
  return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | (uint32_t)b[3];
}

// The most payload bytes the file can hold after its header: exact for a plain file;
// for a .gz file, deflate's largest expansion (1032:1) of its compressed size. A header
// claiming more is refused before its tensor is allocated. -1: the size is unknown.
int64_t payload_bound(const ByteSource& src, int64_t header_bytes) {
  std::error_code ec;
  const auto bytes = std::filesystem::file_size(src.path(), ec);
  if (ec) return -1;
  if (src.gzipped()) return (int64_t)bytes * 1032;
  return std::max<int64_t>(0, (int64_t)bytes - header_bytes);
}

std::string dims_str(const std::vector<int64_t>& dims) {
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? "x" : "") + std::to_string(dims[i]);
  return s;
}

void check_payload_fits(const ByteSource& src, int64_t header_bytes, const std::vector<int64_t>& dims,
                        int64_t count, const char* noun) {
  const int64_t bound = payload_bound(src, header_bytes);
  if (bound < 0 || count <= bound) return;
  if (src.gzipped())
    fail_reading(src.path(), detail::concat("truncated: header says ", dims_str(dims), " (", count, " bytes of ",
                                            noun, "), more than a ", bound / 1032, "-byte gzip file can hold"));
  fail_reading(src.path(),
               detail::concat("truncated: header says ", dims_str(dims), ", file holds ", bound, " bytes of ", noun));
}

}  // namespace

IdxArray read_idx(const std::string& path, int expected_rank) {
  ByteSource src(path);
  uint32_t magic = read_be32(src, "magic number");
  uint32_t expected_magic = 0x00000800u | (uint32_t)expected_rank;
  if (magic != expected_magic) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "bad magic number 0x%08x, expected 0x%08x (unsigned bytes, %d dimension%s)",
                  magic, expected_magic, expected_rank, expected_rank == 1 ? "" : "s");
    fail_reading(path, buf);
  }
  IdxArray out;
  int64_t count = 1;
  const int64_t max_bytes = int64_t(1) << 36;
  for (int d = 0; d < expected_rank; ++d) {
    uint32_t extent = read_be32(src, "dimensions");
    if (extent == 0) fail_reading(path, detail::concat("dimension ", d, " is zero"));
    out.dims.push_back((int64_t)extent);
    // Checked before multiplying, so the count never overflows.
    if ((int64_t)extent > max_bytes / count) fail_reading(path, "header claims more than 64 GiB of data");
    count *= (int64_t)extent;
  }
  const char* noun = expected_rank == 1 ? "labels" : "pixels";
  check_payload_fits(src, 4 * (int64_t)(expected_rank + 1), out.dims, count, noun);
  out.values = Tensor::empty(Shape(out.dims.begin(), out.dims.end()), DType::U8, Device::cpu(),
                             MemCategory::Data);
  size_t got = src.read(out.values.raw_data(), (size_t)count);
  if ((int64_t)got != count)
    fail_reading(path, detail::concat("truncated: header says ", dims_str(out.dims), ", file holds ", got,
                                      " bytes of ", noun));
  if (!src.at_end())
    fail_reading(path, detail::concat("header says ", dims_str(out.dims), " (", count, " bytes of ", noun,
                                      ") but more data follows"));
  return out;
}

IdxOptions idx_defaults(const std::string& name) {
  IdxOptions o;
  o.name = name;
  if (name == "fashion-mnist") {
    o.mean = 0.2860f;
    o.std = 0.3530f;
  } else if (name == "mnist") {
    o.mean = 0.1307f;
    o.std = 0.3081f;
  } else {
    SPROUT_FAIL("unknown IDX dataset '", name, "' (expected fashion-mnist or mnist)");
  }
  return o;
}

std::string idx_file_path(const std::string& root, const std::string& file) {
  namespace fs = std::filesystem;
  fs::path gz = fs::path(root) / (file + ".gz");
  fs::path plain = fs::path(root) / file;
  std::error_code ec;
  if (!fs::exists(gz, ec) && fs::exists(plain, ec)) return plain.string();
  return gz.string();
}

IdxDataset::IdxDataset(const std::string& root, const std::string& split, const IdxOptions& options)
    : options_(options) {
  SPROUT_CHECK(split == "train" || split == "test", "unknown split '", split, "' for ", options.name,
               " (expected train or test)");
  SPROUT_CHECK(options.std > 0, "normalisation std must be positive, got ", options.std);
  std::string prefix = split == "train" ? "train" : "t10k";
  std::string image_path = idx_file_path(root, prefix + "-images-idx3-ubyte");
  std::string label_path = idx_file_path(root, prefix + "-labels-idx1-ubyte");
  std::error_code ec;
  if (!std::filesystem::exists(image_path, ec))
    fail_reading(image_path, "no such file (expected the " + options.name + " IDX files in " + root + ")");

  IdxArray images = read_idx(image_path, 3);
  IdxArray labels = read_idx(label_path, 1);
  if (images.dims[0] != labels.dims[0])
    fail_reading(label_path, detail::concat("holds ", labels.dims[0], " labels but ", image_path, " holds ",
                                            images.dims[0], " images"));
  const uint8_t* l = labels.values.data<uint8_t>();
  for (int64_t i = 0; i < labels.dims[0]; ++i)
    if (l[i] >= 10) fail_reading(label_path, detail::concat("label ", (int)l[i], " at index ", i, " is not in [0, 10)"));

  count_ = images.dims[0];
  rows_ = images.dims[1];
  cols_ = images.dims[2];
  images_ = images.values;
  labels_ = labels.values;
  for (int v = 0; v < 256; ++v) lut_[v] = ((float)v / 255.0f - options_.mean) / options_.std;
}

Shape IdxDataset::sample_shape() const {
  return options_.flatten ? Shape{rows_ * cols_} : Shape{1, rows_, cols_};
}

void IdxDataset::get(int64_t index, float* x, int32_t* label, Rng&) const {
  SPROUT_CHECK(index >= 0 && index < count_, "sample ", index, " out of range for ", options_.name,
               " with ", count_, " samples");
  int64_t n = rows_ * cols_;
  const uint8_t* p = images_.data<uint8_t>() + index * n;
  for (int64_t i = 0; i < n; ++i) x[i] = lut_[p[i]];
  *label = (int32_t)labels_.data<uint8_t>()[index];
}

}  // namespace sprout::data
