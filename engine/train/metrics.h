// metrics.jsonl: one JSON object per line, each line handed to the kernel in one write
// and checked (a full disk is an error naming the file), and the ETA text of progress
// lines.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace sprout::train {

class MetricsLog {
 public:
  MetricsLog() = default;
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  // Truncates the file, or appends to it when resuming.
  void open(const std::string& path, bool append);
  void write(const nlohmann::json& record);

 private:
  std::string path_;
  int fd_ = -1;
};

// "1h02m", "3m07s", or "?" for a negative or unknown duration.
std::string format_duration(double seconds);

}  // namespace sprout::train
