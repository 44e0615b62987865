// Locking a run folder, clearing what a killed writer left, and whole-file writes.
#include "engine/train/run_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "engine/core/error.h"

namespace sprout::train {

namespace fs = std::filesystem;

namespace {

std::string host_name() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

// The holder's line in the lock file ("pid 123 on host gpu7"), or "" when unreadable.
std::string holder_of(int fd) {
  char buf[256];
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return "";
  std::string s(buf, (size_t)n);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  return s;
}

// Takes the lock on the open lock file `fd` and writes this process into it; throws
// naming the holder when another process has it.
void lock(int fd, const std::string& dir, const std::string& lock_path) {
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    if (err != EWOULDBLOCK) SPROUT_FAIL("cannot lock ", lock_path, ": ", std::strerror(err));
    const std::string holder = holder_of(fd);
    SPROUT_FAIL("run folder ", dir, " is in use by another run (", holder.empty() ? "holder unknown" : holder,
                "; lock file ", lock_path, ")");
  }
  if (::ftruncate(fd, 0) != 0) SPROUT_FAIL("cannot write ", lock_path, ": ", std::strerror(errno));
  if (::lseek(fd, 0, SEEK_SET) != 0) SPROUT_FAIL("cannot write ", lock_path, ": ", std::strerror(errno));
  write_all(fd, "pid " + std::to_string(::getpid()) + " on host " + host_name() + "\n", lock_path);
}

}  // namespace

RunFolder::RunFolder(const std::string& dir) : dir_(dir) {
  if (dir_.empty()) return;  // a process that writes nothing (data-parallel ranks but the first)
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) SPROUT_FAIL("cannot create run folder ", dir_, ": ", ec.message());
  const std::string lock_path = file(kRunLockName);
  fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) SPROUT_FAIL("cannot open ", lock_path, ": ", std::strerror(errno));
  try {
    lock(fd_, dir_, lock_path);
  } catch (...) {
    ::close(fd_);
    throw;
  }
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() != ".tmp" || !it->is_regular_file(ec)) continue;
    if (fs::remove(it->path(), ec)) removed_.push_back(it->path().filename().string());
  }
}

RunFolder::~RunFolder() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock; the file stays (removing it would race)
}

std::string RunFolder::file(const std::string& name) const { return (fs::path(dir_) / name).string(); }

void write_all(int fd, const std::string& text, const std::string& path) {
  const char* p = text.data();
  size_t left = text.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) SPROUT_FAIL("cannot write ", path, ": ", n < 0 ? std::strerror(errno) : "nothing written");
    p += n;
    left -= (size_t)n;
  }
}

void remove_temporary(const std::string& path) { std::remove((path + ".tmp").c_str()); }

void write_file_atomic(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  without_leftovers(path, [&] {
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) SPROUT_FAIL("cannot write ", path, ": ", std::strerror(errno));
    try {
      write_all(fd, text, path);
      if (::fsync(fd) != 0) SPROUT_FAIL("cannot write ", path, ": ", std::strerror(errno));
    } catch (...) {
      ::close(fd);
      throw;
    }
    if (::close(fd) != 0) SPROUT_FAIL("cannot write ", path, ": ", std::strerror(errno));
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
      SPROUT_FAIL("cannot write ", path, ": renaming ", tmp, " failed: ", std::strerror(errno));
  });
}

}  // namespace sprout::train
