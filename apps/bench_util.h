// Timing helpers for `sprout bench`: median of repeated runs after a warm-up, and
// the machine's measured ceilings (copy bandwidth, peak GEMM rate) for rooflines.
#pragma once
#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace sprout::app {

// Runs f once to warm up, then repeats until min_seconds have passed (at least 5
// times) and returns the median seconds per call. `sync` runs after each call
// (a device synchronise on CUDA).
inline double median_seconds(const std::function<void()>& f, double min_seconds,
                             const std::function<void()>& sync = [] {}) {
  f();
  sync();
  std::vector<double> t;
  auto start = std::chrono::steady_clock::now();
  while (t.size() < 5 || std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < min_seconds) {
    auto a = std::chrono::steady_clock::now();
    f();
    sync();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
    if (t.size() >= 1000) break;
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace sprout::app
