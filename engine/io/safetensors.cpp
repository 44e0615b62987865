// safetensors reader and writer. The reader checks the whole layout (header, every
// entry, the data section tiled without overlaps or holes) before reading a byte of
// data, then the checksums before returning anything.
#include "engine/io/safetensors.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "engine/core/error.h"
#include "engine/io/config.h"

namespace sprout::io {

using Json = nlohmann::json;

namespace {

constexpr const char* kMetadataKey = "__metadata__";
constexpr uint64_t kMaxHeaderBytes = 100ull << 20;  // the format's own limit

// ---- checksums: FNV-1a 64 --------------------------------------------------------

constexpr uint64_t kFnvOffset = 14695981039346656037ull, kFnvPrime = 1099511628211ull;

uint64_t fnv1a(const void* data, size_t bytes, uint64_t h) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < bytes; ++i) h = (h ^ p[i]) * kFnvPrime;
  return h;
}

uint64_t fnv1a(uint64_t v, uint64_t h) {
  unsigned char b[8];
  for (int i = 0; i < 8; ++i) b[i] = (unsigned char)(v >> (8 * i));
  return fnv1a(b, 8, h);
}

// Length-prefixed, so that no two sequences of strings hash the same bytes.
uint64_t fnv1a(const std::string& s, uint64_t h) { return fnv1a(s.data(), s.size(), fnv1a((uint64_t)s.size(), h)); }

// A (host) tensor's checksum covers its dtype and shape too, so a header edit that
// keeps the byte count is caught as well.
uint64_t tensor_checksum(const Tensor& t) {
  uint64_t h = fnv1a(std::string(dtype_name(t.dtype())), kFnvOffset);
  h = fnv1a((uint64_t)t.dim(), h);
  for (int64_t d : t.shape()) h = fnv1a((uint64_t)d, h);
  return fnv1a(t.raw_data(), t.nbytes(), h);
}

// Every metadata pair but the checksums themselves.
uint64_t metadata_checksum(const std::map<std::string, std::string>& metadata) {
  uint64_t h = kFnvOffset;
  for (const auto& [k, v] : metadata)
    if (k != kChecksumsKey) h = fnv1a(v, fnv1a(k, h));
  return h;
}

std::string hex(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)v);
  return buf;
}

}  // namespace

std::string quoted(const std::string& s) {
  const std::string j = Json(s).dump(-1, ' ', false, Json::error_handler_t::replace);
  return "'" + j.substr(1, j.size() - 2) + "'";
}

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  SPROUT_CHECK(!metadata.count(kChecksumsKey), "safetensors: metadata key '", kChecksumsKey, "' is reserved");
  Json header = Json::object(), sums = Json::object();
  uint64_t offset = 0;
  std::vector<Tensor> host;
  for (const auto& [name, t] : tensors) {
    SPROUT_CHECK(!header.contains(name) && name != kMetadataKey, "safetensors: duplicate or reserved tensor name ",
                 quoted(name));
    Tensor h = t.is_cuda() ? t.to(Device::cpu(), MemCategory::Workspace) : t;
    uint64_t n = h.nbytes();
    header[name] = {{"dtype", dtype_name(h.dtype())}, {"shape", h.shape()},
                    {"data_offsets", {offset, offset + n}}};
    sums[name] = hex(tensor_checksum(h));
    offset += n;
    host.push_back(h);
  }
  sums[kMetadataKey] = hex(metadata_checksum(metadata));
  std::map<std::string, std::string> meta = metadata;
  meta[kChecksumsKey] = sums.dump();
  header[kMetadataKey] = meta;
  std::string text = header.dump();
  while ((text.size() + 8) % 8) text += ' ';
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    SPROUT_CHECK(f.good(), "cannot write ", tmp);
    uint64_t len = text.size();
    unsigned char lenb[8];
    for (int i = 0; i < 8; ++i) lenb[i] = (unsigned char)(len >> (8 * i));
    f.write(reinterpret_cast<const char*>(lenb), 8);
    f.write(text.data(), (std::streamsize)text.size());
    for (const Tensor& h : host) f.write(static_cast<const char*>(h.raw_data()), (std::streamsize)h.nbytes());
    f.flush();
    SPROUT_CHECK(f.good(), "write failed for ", tmp, " (disk full?)");
  }
  SPROUT_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "cannot rename ", tmp, " to ", path);
}

namespace {

// One tensor's header entry, checked, before its bytes are read.
struct Entry {
  std::string name;
  DType dtype = DType::F32;
  Shape shape;
  uint64_t begin = 0, end = 0;  // within the data section
};

// The 8-byte little-endian header length and the JSON header it covers; sets hlen.
Json read_header(std::ifstream& f, const std::string& path, uint64_t size, uint64_t& hlen) {
  SPROUT_CHECK(size >= 8, "corrupt checkpoint ", path, ": ", size, " bytes, shorter than the 8-byte header length");
  unsigned char lenb[8];
  f.read(reinterpret_cast<char*>(lenb), 8);
  hlen = 0;
  for (int i = 0; i < 8; ++i) hlen |= (uint64_t)lenb[i] << (8 * i);
  SPROUT_CHECK(hlen <= size - 8, "corrupt checkpoint ", path, ": header length ", hlen,
               " exceeds the file (", size, " bytes)");
  SPROUT_CHECK(hlen <= kMaxHeaderBytes, "corrupt checkpoint ", path, ": header length ", hlen,
               " exceeds the format's limit of ", kMaxHeaderBytes, " bytes");
  std::string text(hlen, '\0');
  f.read(text.data(), (std::streamsize)hlen);
  SPROUT_CHECK(f.good(), "corrupt checkpoint ", path, ": cannot read the ", hlen, "-byte header");
  // Bounded before parsing: every use of a parsed value (compare, dump) recurses.
  SPROUT_CHECK(!line_too_deep(text, kMaxJsonDepth), "corrupt checkpoint ", path, ": header JSON nested deeper than ",
               kMaxJsonDepth, " levels");
  Json header = Json::parse(text, nullptr, false);
  SPROUT_CHECK(!header.is_discarded() && header.is_object(), "corrupt checkpoint ", path,
               ": header is not a JSON object");
  return header;
}

void read_metadata(const Json& e, const std::string& path, std::map<std::string, std::string>& metadata) {
  SPROUT_CHECK(e.is_object(), "corrupt checkpoint ", path, ": __metadata__ is not an object");
  for (auto m = e.begin(); m != e.end(); ++m) {
    SPROUT_CHECK(m.value().is_string(), "corrupt checkpoint ", path, ": metadata ", quoted(m.key()),
                 " is not a string");
    metadata[m.key()] = m.value().get<std::string>();
  }
}

Entry read_entry(const std::string& path, const std::string& name, const Json& e, uint64_t data_size) {
  auto bad = [&](const std::string& what) {
    SPROUT_FAIL("corrupt checkpoint ", path, ": tensor ", quoted(name), ": ", what);
  };
  if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets"))
    bad("needs dtype, shape and data_offsets");
  Entry out;
  out.name = name;
  if (!e["dtype"].is_string()) bad("dtype is not a string");
  try { out.dtype = dtype_from_name(e["dtype"].get<std::string>()); } catch (const Error&) { bad("unsupported dtype " + e["dtype"].dump()); }
  if (!e["shape"].is_array()) bad("shape is not an array");
  // The product of the non-zero extents fits int64 (so every partial product of the
  // shape does); a zero extent then makes the byte count 0.
  uint64_t bytes = dtype_size(out.dtype);
  bool overflow = false, empty = false;
  for (const auto& d : e["shape"]) {
    if (!d.is_number_unsigned() || d.get<uint64_t>() > (uint64_t)std::numeric_limits<int64_t>::max())
      bad("shape entry " + d.dump() + " is not a non-negative 64-bit integer");
    out.shape.push_back(d.get<int64_t>());
    empty |= d.get<uint64_t>() == 0;
    if (d.get<uint64_t>() > 0) overflow |= __builtin_mul_overflow(bytes, d.get<uint64_t>(), &bytes);
  }
  if (overflow || bytes > (uint64_t)std::numeric_limits<int64_t>::max())
    bad("shape " + e["shape"].dump() + " overflows a 64-bit byte count");
  if (empty) bytes = 0;
  const Json& off = e["data_offsets"];
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
    bad("data_offsets must be two non-negative integers");
  out.begin = off[0].get<uint64_t>();
  out.end = off[1].get<uint64_t>();
  if (out.begin > out.end || out.end > data_size)
    bad("data_offsets [" + std::to_string(out.begin) + ", " + std::to_string(out.end) + "] outside the " +
        std::to_string(data_size) + "-byte data section");
  if (out.end - out.begin != bytes)
    bad("data_offsets span " + std::to_string(out.end - out.begin) + " bytes, shape " + shape_str(out.shape) +
        " and dtype " + dtype_name(out.dtype) + " need " + std::to_string(bytes));
  return out;
}

// The tensors tile the data section: no overlaps, no holes, nothing after the last.
void check_layout(const std::string& path, std::vector<Entry> entries, uint64_t data_size) {
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
  uint64_t at = 0;
  const std::string* prev = nullptr;
  for (const Entry& e : entries) {
    SPROUT_CHECK(e.begin >= at, "corrupt checkpoint ", path, ": tensors ", quoted(prev ? *prev : ""), " and ",
                 quoted(e.name), " overlap");
    SPROUT_CHECK(e.begin == at, "corrupt checkpoint ", path, ": data bytes [", at, ", ", e.begin,
                 ") before tensor ", quoted(e.name), " belong to no tensor");
    at = e.end;
    prev = &e.name;
  }
  SPROUT_CHECK(at == data_size, "corrupt checkpoint ", path, ": data bytes [", at, ", ", data_size,
               ") after the last tensor belong to no tensor");
}

// Every tensor and the metadata against the stored checksums, when there are any.
void verify_checksums(const std::string& path, SafetensorsFile& out) {
  auto it = out.metadata.find(kChecksumsKey);
  if (it == out.metadata.end()) return;
  const Json sums = line_too_deep(it->second, 2) ? Json() : Json::parse(it->second, nullptr, false);
  out.metadata.erase(it);
  SPROUT_CHECK(sums.is_object() && sums.size() == out.tensors.size() + 1, "corrupt checkpoint ", path,
               ": the checksums do not list every tensor and the metadata once");
  auto check = [&](const std::string& name, uint64_t computed) {
    SPROUT_CHECK(sums.contains(name) && sums[name].is_string(), "corrupt checkpoint ", path, ": no checksum for ",
                 name == kMetadataKey ? "the metadata" : "tensor " + quoted(name));
    SPROUT_CHECK(sums[name].get<std::string>() == hex(computed), "corrupt checkpoint ", path, ": ",
                 name == kMetadataKey ? "the metadata" : "tensor " + quoted(name), " fails its checksum (stored ",
                 sums[name].get<std::string>(), ", computed ", hex(computed), ")");
  };
  for (const auto& [name, t] : out.tensors) check(name, tensor_checksum(t));
  check(kMetadataKey, metadata_checksum(out.metadata));
  out.checksummed = true;
}

}  // namespace

SafetensorsFile load_safetensors(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  SPROUT_CHECK(f.good(), "cannot read checkpoint ", path);
  const uint64_t size = (uint64_t)f.tellg();
  f.seekg(0);
  uint64_t hlen = 0;
  const Json header = read_header(f, path, size, hlen);
  const uint64_t data_size = size - 8 - hlen;
  SafetensorsFile out;
  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == kMetadataKey) read_metadata(it.value(), path, out.metadata);
    else entries.push_back(read_entry(path, it.key(), it.value(), data_size));
  }
  check_layout(path, entries, data_size);
  for (const Entry& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype, Device::cpu(), MemCategory::Workspace);
    f.seekg((std::streamoff)(8 + hlen + e.begin));
    f.read(static_cast<char*>(t.raw_data()), (std::streamsize)(e.end - e.begin));
    SPROUT_CHECK(f.good() || e.end == e.begin, "corrupt checkpoint ", path, ": cannot read tensor ", quoted(e.name));
    out.tensors[e.name] = t;
  }
  verify_checksums(path, out);
  return out;
}

}  // namespace sprout::io
