// The run folder belongs to one run at a time. An exclusive lock (flock on run.lock,
// which names the holder's pid and host) is taken before anything is written and held
// for the run's life: a second run on the folder fails at once, naming the holder, and
// a crashed holder's lock goes with its process. Temporary files a killed writer left
// (*.tmp) are removed once the lock is held. Files are written whole or not at all.
#pragma once
#include <string>
#include <vector>

namespace sprout::train {

class RunFolder {
 public:
  // Creates `dir`, takes its lock and removes stale *.tmp files; throws naming the
  // folder and the holder when another run holds it. An empty `dir`: no folder, no lock.
  explicit RunFolder(const std::string& dir);
  ~RunFolder();
  RunFolder(const RunFolder&) = delete;
  RunFolder& operator=(const RunFolder&) = delete;

  const std::string& dir() const { return dir_; }
  // `name` inside the folder.
  std::string file(const std::string& name) const;
  // The stale temporary files removed when the lock was taken.
  const std::vector<std::string>& removed() const { return removed_; }

 private:
  std::string dir_;
  int fd_ = -1;
  std::vector<std::string> removed_;
};

// The lock file's name inside a run folder.
constexpr const char* kRunLockName = "run.lock";

// Writes all of `text` to the open file `fd`; an error names `path` and the reason
// ("No space left on device").
void write_all(int fd, const std::string& text, const std::string& path);
// Writes `text` to `path` through `path`.tmp and a rename: every write is checked, and
// on failure the temporary is removed and the error names the file and the reason.
void write_file_atomic(const std::string& path, const std::string& text);
// Removes `path`.tmp if it exists.
void remove_temporary(const std::string& path);
// Runs `write`, which writes `path` through `path`.tmp; when it throws, the temporary is
// removed before the error goes on.
template <class F>
void without_leftovers(const std::string& path, F&& write) {
  try {
    write();
  } catch (...) {
    remove_temporary(path);
    throw;
  }
}

}  // namespace sprout::train
