// Checkpoint test helpers: tiny real runs (a RigL MLP on synthetic data, CSR or BSR,
// and the static and SET methods) that write checkpoints, a checkpoint opened for
// editing and written back as a well-formed file, and resuming one through the
// Trainer to see what the loader says.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "data/registry.h"
#include "engine/core/error.h"
#include "engine/io/safetensors.h"
#include "engine/train/options.h"
#include "engine/train/trainer.h"
#include "models/models.h"

namespace sprout::testing {

namespace fs = std::filesystem;
using Json = nlohmann::json;

// A small MLP on synthetic data: 8 steps per epoch, 2 epochs.
inline Json tiny_run_config(const fs::path& dir, const std::string& method, const std::vector<std::string>& sets = {}) {
  models::register_models();
  data::register_data_sets();
  const std::string path = (dir / ("config_" + method + ".json")).string();
  std::ofstream(path) << Json{{"model", {{"name", "mlp"}, {"hidden", {16}}}},
                              {"data", {{"name", "synthetic"}, {"workers", 0},
                                        {"options", {{"shape", {12}}, {"classes", 3}, {"size", 64}}}}},
                              {"train", {{"epochs", 2}, {"batch_size", 8}, {"eval_batch_size", 32}, {"log_every", 3}}},
                              {"sparsity", {{"method", method}, {"density", 0.5}, {"distribution", "uniform"}}}}
                              .dump();
  return train::load_config(path, sets);
}

// Trains `cfg` to train.max_steps in `out` and returns the checkpoint's path.
inline std::string write_checkpoint(const Json& cfg, const fs::path& out) {
  train::Trainer t(cfg, Device::cpu(), out.string(), true);
  t.fit();
  return (out / "checkpoint.safetensors").string();
}

inline std::string file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), (std::streamsize)bytes.size());
}

// A safetensors file's bytes: the header's length, the header, and the bytes with the
// header's text replaced (the data section kept as it was).
inline uint64_t header_length(const std::string& bytes) {
  uint64_t hlen = 0;
  for (int i = 0; i < 8; ++i) hlen |= (uint64_t)(unsigned char)bytes[i] << (8 * i);
  return hlen;
}
inline Json header_of(const std::string& bytes) { return Json::parse(bytes.substr(8, header_length(bytes))); }
inline std::string with_header_text(const std::string& bytes, const std::string& text) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = (char)(unsigned char)((uint64_t)text.size() >> (8 * i));
  return out + text + bytes.substr(8 + header_length(bytes));
}

// A checkpoint's tensors and metadata, editable, and written back well-formed (so
// only the edit itself is wrong).
struct CheckpointEdit {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> meta;

  explicit CheckpointEdit(const std::string& path) {
    io::SafetensorsFile f = io::load_safetensors(path);
    for (auto& [name, t] : f.tensors) tensors[name] = t.clone();
    meta = f.metadata;
  }
  std::string save(const std::string& path) const {
    io::NamedTensors named(tensors.begin(), tensors.end());
    io::save_safetensors(path, named, meta);
    return path;
  }
  // The names of the sparse layers ("fc1.weight"), from their col_idx tensors.
  std::vector<std::string> sparse_layers() const {
    std::vector<std::string> out;
    const std::string tail = ".col_idx";
    for (auto& [name, t] : tensors)
      if (name.rfind("model.", 0) == 0 && name.size() > tail.size() &&
          name.compare(name.size() - tail.size(), tail.size(), tail) == 0)
        out.push_back(name.substr(6, name.size() - 6 - tail.size()));
    return out;
  }
  // The sparse layer with `cols` inputs.
  std::string layer_with_cols(int64_t cols) const {
    const Json sparse = Json::parse(meta.at("sparse"));
    for (auto it = sparse.begin(); it != sparse.end(); ++it)
      if (it.value()["cols"] == cols) return it.key();
    return "";
  }
  int32_t* row_ptr(const std::string& layer) { return tensors.at("model." + layer + ".row_ptr").data<int32_t>(); }
  int32_t* col_idx(const std::string& layer) { return tensors.at("model." + layer + ".col_idx").data<int32_t>(); }
  int64_t nnz(const std::string& layer) const { return tensors.at("model." + layer + ".col_idx").numel(); }
  Json config() const { return Json::parse(meta.at("config")); }
};

// What resuming a Trainer built from `cfg` from `checkpoint` throws: sprout::Error's
// message, "other exception: ..." for any other type, or "" when it loads.
inline std::string resume_error(const Json& cfg, const std::string& checkpoint, const fs::path& out) {
  try {
    train::Trainer t(cfg, Device::cpu(), out.string(), true);
    t.resume(checkpoint);
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("other exception: ") + e.what();
  }
  return "";
}

}  // namespace sprout::testing
