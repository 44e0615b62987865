// Helpers for the recipe tests: a small generated ImageNet-style folder (RGB, grey,
// CMYK and corrupt JPEGs), a tiny CIFAR-10 binary folder, and running the real
// `sprout` binary with its outputs read back.
#pragma once
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "data/data_testing.h"

namespace sprout::testing {

inline std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

inline std::string config_path(const std::string& name) {
  return std::string(SPROUT_SOURCE_DIR) + "/configs/" + name;
}

struct RunResult {
  int code = -1;
  std::string err;
};

// `sprout ARGS` with stderr kept in dir/stderr.txt.
inline RunResult run_sprout(const std::string& args, const std::string& dir) {
  std::string err = dir + "/stderr.txt";
  std::string cmd = std::string(SPROUT_BINARY_DIR) + "/bin/sprout " + args + " 2>" + err + " >/dev/null";
  int status = std::system(cmd.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_text(err)};
}

#if SPROUT_WITH_JPEG

// A smooth colour pattern that differs per seed, so classes are not identical.
inline std::vector<uint8_t> pattern_rgb(int w, int h, int seed) {
  std::vector<uint8_t> px((size_t)w * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        px[((size_t)y * w + x) * 3 + c] = (uint8_t)((x * (c + 2) * 3 + y * (5 - c) + seed * 70) % 256);
  return px;
}

// root/{train,val}/<wnid>/*.JPEG with three classes of a few small RGB images; class 1
// also holds a grey JPEG, a CMYK JPEG and a corrupt .JPEG in both splits.
inline void write_imagenet_folder(const std::string& root) {
  const char* classes[] = {"n01440764", "n01443537", "n02102040"};
  const int sizes[][2] = {{40, 30}, {30, 40}, {48, 36}, {36, 36}};
  for (int k = 0; k < 3; ++k) {
    std::string c = classes[k];
    for (int i = 0; i < 4; ++i) {
      int w = sizes[i][0], h = sizes[i][1];
      write_bytes(root + "/train/" + c + "/" + c + "_" + std::to_string(i) + ".JPEG",
                  encode_jpeg(pattern_rgb(w, h, k * 4 + i), w, h, TJPF_RGB, 90));
    }
    write_bytes(root + "/val/" + c + "/ILSVRC2012_val_" + std::to_string(k) + ".JPEG",
                encode_jpeg(pattern_rgb(44, 33, 20 + k), 44, 33, TJPF_RGB, 90));
  }
  std::vector<uint8_t> grey(40 * 32), cmyk(32 * 32 * 4), junk(2000);
  for (size_t i = 0; i < grey.size(); ++i) grey[i] = (uint8_t)(i % 40 * 6);
  for (size_t i = 0; i < 32 * 32; ++i) {
    cmyk[4 * i] = (uint8_t)(i % 32 * 8);
    cmyk[4 * i + 1] = 120;
    cmyk[4 * i + 2] = (uint8_t)(i / 32 * 8);
    cmyk[4 * i + 3] = 230;
  }
  uint32_t s = 11;
  for (auto& b : junk) b = (uint8_t)((s = s * 1664525u + 1013904223u) >> 24);
  junk[0] = 0xff;  // a JPEG start marker, then garbage
  junk[1] = 0xd8;
  for (const char* split : {"train", "val"}) {
    std::string dir = root + "/" + split + "/" + classes[1] + "/";
    write_bytes(dir + "grey.JPEG", encode_jpeg(grey, 40, 32, TJPF_GRAY));
    write_bytes(dir + "cmyk.JPEG", encode_jpeg(cmyk, 32, 32, TJPF_CMYK));
    write_bytes(dir + "corrupt.JPEG", junk);
  }
}

#endif

// root/cifar-10-batches-bin with `per_file` random records in each of the six files
// (read with the data option check_counts = false).
inline void write_cifar10_folder(const std::string& root, int per_file) {
  uint32_t s = 3;
  auto file = [&](const std::string& name) {
    std::vector<uint8_t> bytes((size_t)per_file * 3073);
    for (int r = 0; r < per_file; ++r) {
      bytes[(size_t)r * 3073] = (uint8_t)(r % 10);
      for (int i = 1; i < 3073; ++i) bytes[(size_t)r * 3073 + i] = (uint8_t)((s = s * 1664525u + 1013904223u) >> 24);
    }
    write_bytes(root + "/cifar-10-batches-bin/" + name, bytes);
  };
  for (int i = 1; i <= 5; ++i) file("data_batch_" + std::to_string(i) + ".bin");
  file("test_batch.bin");
}

}  // namespace sprout::testing
