// Usable CPUs and the OpenMP wait policy (see threads.h).
#include "engine/core/threads.h"

#include <omp.h>
#include <sched.h>
#include <unistd.h>

#include <dirent.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "kernels/cpu/gemm.h"

namespace sprout {

int cpus_from_cgroup_max(const std::string& text) {
  std::istringstream in(text);
  std::string quota;
  long long period = 0;
  if (!(in >> quota >> period) || quota == "max" || period <= 0) return 0;
  char* end = nullptr;
  const long long q = std::strtoll(quota.c_str(), &end, 10);
  if (end == quota.c_str() || *end != '\0' || q <= 0) return 0;
  return (int)((q + period - 1) / period);
}

int usable_cpus() {
  int n = 0;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) n = CPU_COUNT(&set);
  if (n <= 0) n = (int)sysconf(_SC_NPROCESSORS_ONLN);
  std::ifstream f("/sys/fs/cgroup/cpu.max");
  std::string text;
  if (f && std::getline(f, text)) {
    const int quota = cpus_from_cgroup_max(text);
    if (quota > 0 && quota < n) n = quota;
  }
  return n > 0 ? n : 1;
}

void apply_cpu_wait_policy(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT") || std::getenv("SPROUT_CPU_POLICY_SET"))
    return;
  setenv("GOMP_SPINCOUNT", kDefaultSpinCount, 1);
  setenv("SPROUT_CPU_POLICY_SET", "1", 1);
  execv("/proc/self/exe", argv);
  // exec failed: carry on with the policy the runtime already read.
}

namespace {
bool g_fixed = false;  // a thread count was chosen: adapt_cpu_threads leaves it
}

int set_cpu_threads(int requested) {
  int n = requested;
  g_fixed = n > 0 || std::getenv("OMP_NUM_THREADS") != nullptr;
  if (n <= 0 && std::getenv("OMP_NUM_THREADS")) n = omp_get_max_threads();
  if (n <= 0) n = usable_cpus();
  omp_set_num_threads(n);
  kernels::cpu::set_blas_threads(n);  // adapt_cpu_threads leaves BLAS at this count
  return n;
}

int threads_for_others(int usable, double others) {
  const int left = (int)std::lround((double)usable - std::max(0.0, others));
  return std::clamp(left, 1, std::max(1, usable));
}

static int own_running_threads() {
  DIR* d = opendir("/proc/self/task");
  if (!d) return 0;
  int running = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream f(std::string("/proc/self/task/") + e->d_name + "/stat");
    std::string line;
    if (!std::getline(f, line)) continue;
    const size_t paren = line.rfind(')');  // the state follows the command name
    if (paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'R') ++running;
  }
  closedir(d);
  return running;
}

int runnable_others() {
  std::ifstream f("/proc/stat");
  for (std::string key; f >> key;) {
    if (key != "procs_running") {
      f.ignore(1 << 16, '\n');
      continue;
    }
    int total = 0;
    if (!(f >> total)) return -1;
    return std::max(0, total - own_running_threads());
  }
  return -1;
}

int adapt_cpu_threads(double period_s) {
  static double average = 0;
  static auto last = std::chrono::steady_clock::now();
  if (g_fixed || std::getenv("OMP_NUM_THREADS")) return omp_get_max_threads();
  const int others = runnable_others();
  if (others < 0) return omp_get_max_threads();
  average = 0.8 * average + 0.2 * others;
  const auto now = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(now - last).count() < period_s) return omp_get_max_threads();
  last = now;
  const int n = threads_for_others(usable_cpus(), average);
  if (n != omp_get_max_threads()) omp_set_num_threads(n);
  return n;
}

}  // namespace sprout
