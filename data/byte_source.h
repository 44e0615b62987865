// Sequential reading of a dataset file, plain or gzip-compressed (by the .gz suffix),
// so the IDX and CIFAR readers share one path for opening, reading and reporting
// errors that name the file.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace sprout::data {

class ByteSource {
 public:
  // Throws "error reading <path>: ..." when the file cannot be opened, or when it ends
  // in .gz and sprout was built without zlib.
  explicit ByteSource(const std::string& path);
  ~ByteSource();
  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;

  // Reads up to `bytes` bytes; returns how many were read (fewer only at the end of
  // the data). A corrupt gzip stream throws.
  size_t read(void* dst, size_t bytes);
  // True when no byte is left (reads one byte ahead if needed).
  bool at_end();
  const std::string& path() const { return path_; }
  bool gzipped() const { return gz_ != nullptr; }

 private:
  std::string path_;
  void* file_ = nullptr;  // FILE*
  void* gz_ = nullptr;    // gzFile
  bool peeked_ = false;
  uint8_t peek_byte_ = 0;
};

// "error reading <path>: <what>" as a sprout::Error.
[[noreturn]] void fail_reading(const std::string& path, const std::string& what);

// Whole file into memory (plain files only; used for JPEGs). Returns false when the
// file cannot be opened or read; `bytes` is resized to the file's length.
bool read_whole_file(const std::string& path, std::vector<uint8_t>& bytes);

}  // namespace sprout::data
