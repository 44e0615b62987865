// Data-pipeline throughput probe behind docs/data.md (run by hand; not timed by the
// suite): ~200 JPEGs of 500x375, decoded and transformed as ImageNet training samples
// (RandomResizedCrop 224 + flip + normalise) by 1 and 2 threads. Reports images per
// wall second and per CPU second; the second is what one free core sustains, even
// on a machine shared with other work.
#include <gtest/gtest.h>

#include <time.h>

#include <chrono>
#include <cstdio>

#include "data/imagenet.h"
#include "apps/recipe_testing.h"

namespace sprout {
namespace {

#if SPROUT_WITH_JPEG

double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// A photo-like 500x375 image: smooth gradients, blocks and per-pixel noise, so the
// JPEG is about the size of an ImageNet photo at quality 90.
std::vector<uint8_t> photo_like(int seed) {
  std::vector<uint8_t> px(500 * 375 * 3);
  uint32_t s = (uint32_t)seed * 2654435761u;
  for (int y = 0; y < 375; ++y)
    for (int x = 0; x < 500; ++x)
      for (int c = 0; c < 3; ++c) {
        s = s * 1664525u + 1013904223u;
        int v = (x * (c + 1) + y * (3 - c)) / 4 + (int)(s >> 28) * 4 + (x / 40 + y / 30) % 2 * 60;
        px[((size_t)y * 500 + x) * 3 + c] = (uint8_t)(v % 256);
      }
  return px;
}

TEST(DecodeThroughput, DISABLED_ImageNetTrainTransformPerCore) {
  testing::TempDir dir;
  int64_t bytes = 0;
  for (int i = 0; i < 200; ++i) {
    std::vector<uint8_t> jpeg = testing::encode_jpeg(photo_like(i), 500, 375, TJPF_RGB, 90);
    bytes += (int64_t)jpeg.size();
    testing::write_bytes(dir / ("train/c" + std::to_string(i % 4) + "/" + std::to_string(i) + ".JPEG"), jpeg);
  }
  std::printf("200 JPEGs of 500x375, %.1f KB on average\n", (double)bytes / 200.0 / 1024.0);
  data::measure_decode_throughput(dir.path(), 1, 1);  // warm the page cache and the decoder
  for (int threads : {1, 2}) {
    double cpu0 = process_cpu_seconds();
    auto t0 = std::chrono::steady_clock::now();
    double per_wall_second = data::measure_decode_throughput(dir.path(), threads, 5);
    double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double cpu = process_cpu_seconds() - cpu0;
    double images = per_wall_second * wall;
    std::printf("%d thread(s): %.0f images/s wall, %.0f images per CPU second (%.2f CPU s used over %.2f s)\n",
                threads, per_wall_second, images / cpu, cpu, wall);
  }
}

#endif

}  // namespace
}  // namespace sprout
