// The safetensors format: 8-byte little-endian header length, a JSON header mapping
// names to {dtype, shape, data_offsets} (plus "__metadata__" string pairs), then the
// raw little-endian data. Writes go to a temporary file renamed into place, so an
// existing file is never left half-written; reads validate every field before any
// tensor is handed out. Files carry checksums in their metadata (kChecksumsKey: FNV-1a
// 64 of each tensor's dtype, shape and bytes, and of the other metadata), so bit rot is
// caught; the format's other readers ignore them.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/tensor.h"

namespace sprout::io {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// An untrusted name or value for an error message: in single quotes, JSON-escaped, so
// the message stays on one line.
std::string quoted(const std::string& s);

// The metadata key holding the checksums (reserved: not a caller's metadata key).
inline constexpr const char* kChecksumsKey = "checksums";

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata);

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;  // on the CPU
  std::map<std::string, std::string> metadata;  // without the checksums
  bool checksummed = false;  // the file carried checksums, and every one matched
};

// Throws sprout::Error naming the file and the bad field on any inconsistency: a
// header outside the file, a tensor entry without dtype, shape or offsets, offsets
// outside the data section, byte counts that are not dtype size x shape (computed
// without overflow), tensors that overlap or leave bytes between them, a checksum that
// does not match. A file without checksums (older writers, other tools) loads
// unverified; SafetensorsFile::checksummed says which it was.
SafetensorsFile load_safetensors(const std::string& path);

}  // namespace sprout::io
