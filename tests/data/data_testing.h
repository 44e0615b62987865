// Helpers for the data tests: a temporary folder removed on exit, file writers, and
// (when built with libturbojpeg) a JPEG encoder independent of the decoder under test.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#if SPROUT_WITH_JPEG
#include <turbojpeg.h>
#endif

namespace sprout::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sprout-data-XXXXXX").string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    char* p = mkdtemp(buf.data());
    if (!p) throw std::runtime_error("mkdtemp failed");
    path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), (std::streamsize)bytes.size());
  if (!f) throw std::runtime_error("cannot write " + path);
}

#if SPROUT_WITH_JPEG
// Encodes packed pixels (TJPF_RGB, TJPF_GRAY or TJPF_CMYK) at `quality`.
inline std::vector<uint8_t> encode_jpeg(const std::vector<uint8_t>& pixels, int w, int h, int format,
                                        int quality = 95) {
  tjhandle tj = tjInitCompress();
  unsigned char* out = nullptr;
  unsigned long size = 0;
  int subsamp = format == TJPF_GRAY ? TJSAMP_GRAY : TJSAMP_420;
  int rc = tjCompress2(tj, pixels.data(), w, 0, h, format, &out, &size, subsamp, quality, 0);
  std::string err = rc ? tjGetErrorStr2(tj) : "";
  std::vector<uint8_t> bytes(out, out + size);
  tjFree(out);
  tjDestroy(tj);
  if (rc) throw std::runtime_error("tjCompress2: " + err);
  return bytes;
}

// Decodes to RGB with no scaling: the reference for what the dataset should see.
inline std::vector<uint8_t> decode_jpeg_rgb(const std::vector<uint8_t>& bytes, int& w, int& h) {
  tjhandle tj = tjInitDecompress();
  int subsamp = 0, cs = 0;
  tjDecompressHeader3(tj, bytes.data(), bytes.size(), &w, &h, &subsamp, &cs);
  std::vector<uint8_t> px((size_t)w * h * 3);
  int rc = tjDecompress2(tj, bytes.data(), bytes.size(), px.data(), w, 0, h, TJPF_RGB, 0);
  tjDestroy(tj);
  if (rc) throw std::runtime_error("tjDecompress2 failed");
  return px;
}
#endif

}  // namespace sprout::testing
