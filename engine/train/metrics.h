// metrics.jsonl: one JSON object per line, flushed as written, every write checked;
// and the ETA text of progress lines.
#pragma once
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

namespace sprout::train {

class MetricsLog {
 public:
  // Truncates the file, or appends to it when resuming.
  void open(const std::string& path, bool append);
  void write(const nlohmann::json& record);
  void flush();

 private:
  std::string path_;
  std::ofstream f_;
};

// "1h02m", "3m07s", or "?" for a negative or unknown duration.
std::string format_duration(double seconds);

}  // namespace sprout::train
