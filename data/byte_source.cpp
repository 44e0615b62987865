// ByteSource: stdio for plain files, zlib's gz* for .gz files. Built without zlib, a
// .gz path fails with a message saying so rather than reading compressed bytes.
#include "data/byte_source.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "engine/core/error.h"

#if SPROUT_WITH_ZLIB
#include <zlib.h>
#endif

namespace sprout::data {

void fail_reading(const std::string& path, const std::string& what) {
  throw Error("error reading " + path + ": " + what);
}

static bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

ByteSource::ByteSource(const std::string& path) : path_(path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail_reading(path, std::strerror(errno));
  if (!ends_with(path, ".gz")) {
    file_ = f;
    return;
  }
#if SPROUT_WITH_ZLIB
  // Hand the descriptor to zlib only after fopen has given a clear errno message.
  std::fclose(f);
  gzFile g = gzopen(path.c_str(), "rb");
  if (!g) fail_reading(path, "cannot open gzip stream");
  gzbuffer(g, 1 << 18);
  gz_ = g;
#else
  std::fclose(f);
  fail_reading(path, "gzip-compressed, but sprout was built without zlib (decompress it with gunzip)");
#endif
}

ByteSource::~ByteSource() {
  if (file_) std::fclose(static_cast<FILE*>(file_));
#if SPROUT_WITH_ZLIB
  if (gz_) gzclose(static_cast<gzFile>(gz_));
#endif
}

size_t ByteSource::read(void* dst, size_t bytes) {
  size_t done = 0;
  auto* out = static_cast<uint8_t*>(dst);
  if (peeked_ && bytes > 0) {
    out[0] = peek_byte_;
    peeked_ = false;
    done = 1;
  }
  if (file_) {
    done += std::fread(out + done, 1, bytes - done, static_cast<FILE*>(file_));
    if (std::ferror(static_cast<FILE*>(file_))) fail_reading(path_, std::strerror(errno));
    return done;
  }
#if SPROUT_WITH_ZLIB
  gzFile g = static_cast<gzFile>(gz_);
  while (done < bytes) {
    // gzread takes an unsigned count; read in chunks well under its limit.
    unsigned chunk = (unsigned)std::min<size_t>(bytes - done, 1u << 30);
    int n = gzread(g, out + done, chunk);
    if (n < 0) {
      int code = 0;
      const char* msg = gzerror(g, &code);
      // A truncated stream is reported by the caller as a short payload.
      if (code == Z_BUF_ERROR) break;
      fail_reading(path_, std::string("corrupt gzip stream: ") + (msg ? msg : "unknown error"));
    }
    if (n == 0) {
      int code = 0;
      const char* msg = gzerror(g, &code);
      if (code != Z_OK && code != Z_BUF_ERROR)
        fail_reading(path_, std::string("corrupt gzip stream: ") + (msg ? msg : "unknown error"));
      break;
    }
    done += (size_t)n;
  }
#endif
  return done;
}

bool ByteSource::at_end() {
  if (peeked_) return false;
  uint8_t b;
  if (read(&b, 1) == 1) {
    peeked_ = true;
    peek_byte_ = b;
    return false;
  }
  return true;
}

bool read_whole_file(const std::string& path, std::vector<uint8_t>& bytes) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  bool ok = std::fseek(f, 0, SEEK_END) == 0;
  long len = ok ? std::ftell(f) : -1;
  ok = ok && len >= 0 && std::fseek(f, 0, SEEK_SET) == 0;
  if (ok) {
    bytes.resize((size_t)len);
    ok = std::fread(bytes.data(), 1, (size_t)len, f) == (size_t)len;
  }
  std::fclose(f);
  return ok;
}

}  // namespace sprout::data
