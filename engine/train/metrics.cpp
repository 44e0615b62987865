// The metrics file and duration text.
#include "engine/train/metrics.h"

#include <cmath>
#include <cstdio>

#include "engine/core/error.h"

namespace sprout::train {

void MetricsLog::open(const std::string& path, bool append) {
  path_ = path;
  f_.open(path, append ? std::ios::app : std::ios::trunc);
  SPROUT_CHECK(f_.good(), "cannot write ", path);
}

void MetricsLog::write(const nlohmann::json& record) {
  f_ << record.dump() << "\n";
  SPROUT_CHECK(f_.good(), "cannot write ", path_);
}

void MetricsLog::flush() {
  f_.flush();
  SPROUT_CHECK(f_.good(), "cannot write ", path_);
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
