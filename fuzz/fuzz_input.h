// What the harnesses share. The readers under test take paths, so each input is
// written to a scratch file (on tmpfs when /dev/shm exists) in a folder of this
// process's own. A sprout::Error is a reader refusing an input, which is the right
// answer to bad bytes; anything else (another exception, a crash, a sanitizer report, a
// broken invariant on an accepted input) is a finding.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/core/error.h"

namespace sprout::fuzz {

// A folder of this process's own, removed at exit (each libFuzzer job gets its own).
// The name is never freed, so the exit handler can still read it.
inline const std::string& scratch_dir() {
  static const std::string* dir = new std::string([] {
    std::error_code ec;
    std::string base = std::filesystem::is_directory("/dev/shm", ec)
                           ? std::string("/dev/shm")
                           : std::filesystem::temp_directory_path().string();
    std::string tmpl = base + "/sprout-fuzz-XXXXXX";
    if (!mkdtemp(tmpl.data())) {
      std::perror("mkdtemp");
      std::abort();
    }
    return tmpl;
  }());
  static const int removed_at_exit = std::atexit([] {
    std::error_code e;
    std::filesystem::remove_all(*dir, e);
  });
  (void)removed_at_exit;
  return *dir;
}

// Writes `bytes` to scratch_dir()/name (folders created) and returns the path.
inline std::string write_input(const std::string& name, const uint8_t* data, size_t size) {
  std::string path = scratch_dir() + "/" + name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    f = std::fopen(path.c_str(), "wb");
  }
  if (!f || (size && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
  return path;
}

inline std::string write_input(const std::string& name, const std::vector<uint8_t>& bytes) {
  return write_input(name, bytes.data(), bytes.size());
}

// Stops the run, naming the invariant an accepted input broke.
[[noreturn]] inline void broken(const char* what) {
  std::fprintf(stderr, "fuzz: accepted input breaks an invariant: %s\n", what);
  std::abort();
}

// Runs `f`; true when it finished, false when it refused the input with a sprout::Error
// (printed when SPROUT_FUZZ_VERBOSE is set, to see why a seed is refused). Any other
// exception escapes and ends the run as a crash.
template <class F>
bool accepts(F&& f) {
  try {
    f();
    return true;
  } catch (const Error& e) {
    static const bool verbose = std::getenv("SPROUT_FUZZ_VERBOSE") != nullptr;
    if (verbose) std::fprintf(stderr, "refused: %s\n", e.what());
    return false;
  }
}

// An input split as most harnesses read it: the file's bytes, then one trailing mode
// byte whose bits pick the variant under test.
struct Framed {
  std::vector<uint8_t> bytes;
  uint8_t mode = 0;
};

inline bool unframe(const uint8_t* data, size_t size, Framed& out) {
  if (size == 0) return false;
  out.mode = data[size - 1];
  out.bytes.assign(data, data + size - 1);
  return true;
}

}  // namespace sprout::fuzz
