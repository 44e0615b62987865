// The safetensors format: 8-byte little-endian header length, a JSON header mapping
// names to {dtype, shape, data_offsets} (plus "__metadata__" string pairs), then the
// raw little-endian data. Writes go to a temporary file renamed into place, so an
// existing file is never left half-written; reads validate every field.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/tensor.h"

namespace sprout::io {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const std::map<std::string, std::string>& metadata);

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;  // on the CPU
  std::map<std::string, std::string> metadata;
};

// Throws sprout::Error naming the file and the bad field on any inconsistency.
SafetensorsFile load_safetensors(const std::string& path);

}  // namespace sprout::io
