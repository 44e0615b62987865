// Usable CPUs and the OpenMP wait policy (see threads.h).
#include "engine/core/threads.h"

#include <omp.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

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

int set_cpu_threads(int requested) {
  int n = requested;
  if (n <= 0 && std::getenv("OMP_NUM_THREADS")) return omp_get_max_threads();
  if (n <= 0) n = usable_cpus();
  omp_set_num_threads(n);
  return n;
}

}  // namespace sprout
