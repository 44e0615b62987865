// The metrics file and duration text.
#include "engine/train/metrics.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "engine/core/error.h"
#include "engine/train/run_folder.h"

namespace sprout::train {

MetricsLog::~MetricsLog() {
  if (fd_ >= 0) ::close(fd_);
}

void MetricsLog::open(const std::string& path, bool append) {
  if (fd_ >= 0) ::close(fd_);
  path_ = path;
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (append ? 0 : O_TRUNC), 0644);
  if (fd_ < 0) SPROUT_FAIL("cannot write ", path, ": ", std::strerror(errno));
}

void MetricsLog::write(const nlohmann::json& record) {
  SPROUT_CHECK(fd_ >= 0, "metrics log written before it was opened");
  write_all(fd_, record.dump() + "\n", path_);
}

std::string format_duration(double s) {
  char buf[64];
  if (s < 0 || !std::isfinite(s)) return "?";
  int64_t t = (int64_t)s;
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ldh%02ldm", (long)(t / 3600), (long)(t % 3600 / 60));
  else std::snprintf(buf, sizeof buf, "%ldm%02lds", (long)(t / 60), (long)(t % 60));
  return buf;
}

}  // namespace sprout::train
