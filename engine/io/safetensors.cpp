// safetensors reader and writer.
#include "engine/io/safetensors.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "engine/core/error.h"

namespace sprout::io {

using Json = nlohmann::json;

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata) {
  Json header = Json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  std::vector<Tensor> host;
  for (const auto& [name, t] : tensors) {
    SPROUT_CHECK(!header.contains(name), "safetensors: duplicate tensor name '", name, "'");
    Tensor h = t.is_cuda() ? t.to(Device::cpu(), MemCategory::Workspace) : t;
    uint64_t n = h.nbytes();
    header[name] = {{"dtype", dtype_name(h.dtype())}, {"shape", h.shape()},
                    {"data_offsets", {offset, offset + n}}};
    offset += n;
    host.push_back(h);
  }
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

// The 8-byte little-endian header length and the JSON header it covers; sets hlen.
Json read_header(std::ifstream& f, const std::string& path, uint64_t size, uint64_t& hlen) {
  SPROUT_CHECK(size >= 8, "corrupt checkpoint ", path, ": ", size, " bytes, shorter than the 8-byte header length");
  unsigned char lenb[8];
  f.read(reinterpret_cast<char*>(lenb), 8);
  hlen = 0;
  for (int i = 0; i < 8; ++i) hlen |= (uint64_t)lenb[i] << (8 * i);
  SPROUT_CHECK(hlen <= size - 8, "corrupt checkpoint ", path, ": header length ", hlen,
               " exceeds the file (", size, " bytes)");
  std::string text(hlen, '\0');
  f.read(text.data(), (std::streamsize)hlen);
  Json header = Json::parse(text, nullptr, false);
  SPROUT_CHECK(!header.is_discarded() && header.is_object(), "corrupt checkpoint ", path,
               ": header is not a JSON object");
  return header;
}

void read_metadata(const Json& e, const std::string& path, std::map<std::string, std::string>& metadata) {
  SPROUT_CHECK(e.is_object(), "corrupt checkpoint ", path, ": __metadata__ is not an object");
  for (auto m = e.begin(); m != e.end(); ++m) {
    SPROUT_CHECK(m.value().is_string(), "corrupt checkpoint ", path, ": metadata '", m.key(),
                 "' is not a string");
    metadata[m.key()] = m.value().get<std::string>();
  }
}

// One header entry, checked field by field against the data section before its bytes
// are read; `range` gets its offsets for the overlap check.
Tensor read_tensor(std::ifstream& f, const std::string& path, const std::string& name, const Json& e,
                   uint64_t hlen, uint64_t data_size, std::pair<uint64_t, uint64_t>& range) {
  auto bad = [&](const std::string& what) {
    SPROUT_FAIL("corrupt checkpoint ", path, ": tensor '", name, "': ", what);
  };
  if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets"))
    bad("needs dtype, shape and data_offsets");
  if (!e["dtype"].is_string()) bad("dtype is not a string");
  DType dt;
  try { dt = dtype_from_name(e["dtype"].get<std::string>()); } catch (const Error&) { bad("unsupported dtype " + e["dtype"].dump()); }
  Shape shape;
  if (!e["shape"].is_array()) bad("shape is not an array");
  for (const auto& d : e["shape"]) {
    if (!d.is_number_unsigned()) bad("shape entry " + d.dump() + " is not a non-negative integer");
    shape.push_back(d.get<int64_t>());
  }
  const Json& off = e["data_offsets"];
  if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
    bad("data_offsets must be two non-negative integers");
  uint64_t b = off[0].get<uint64_t>(), en = off[1].get<uint64_t>();
  if (b > en || en > data_size) bad("data_offsets [" + std::to_string(b) + ", " + std::to_string(en) +
                                    "] outside the " + std::to_string(data_size) + "-byte data section");
  if (en - b != (uint64_t)shape_numel(shape) * dtype_size(dt))
    bad("data_offsets span " + std::to_string(en - b) + " bytes, shape and dtype need " +
        std::to_string((uint64_t)shape_numel(shape) * dtype_size(dt)));
  range = {b, en};
  Tensor t = Tensor::empty(shape, dt, Device::cpu(), MemCategory::Workspace);
  f.seekg((std::streamoff)(8 + hlen + b));
  f.read(static_cast<char*>(t.raw_data()), (std::streamsize)(en - b));
  SPROUT_CHECK(f.good() || en == b, "corrupt checkpoint ", path, ": cannot read tensor '", name, "'");
  return t;
}

}  // namespace

SafetensorsFile load_safetensors(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  SPROUT_CHECK(f.good(), "cannot read checkpoint ", path);
  uint64_t size = (uint64_t)f.tellg();
  f.seekg(0);
  uint64_t hlen = 0;
  const Json header = read_header(f, path, size, hlen);
  uint64_t data_size = size - 8 - hlen;
  SafetensorsFile out;
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") {
      read_metadata(it.value(), path, out.metadata);
      continue;
    }
    std::pair<uint64_t, uint64_t> range;
    Tensor t = read_tensor(f, path, it.key(), it.value(), hlen, data_size, range);
    ranges.push_back(range);
    out.tensors[it.key()] = t;
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    SPROUT_CHECK(ranges[i].first >= ranges[i - 1].second, "corrupt checkpoint ", path,
                 ": overlapping tensor data");
  return out;
}

}  // namespace sprout::io
