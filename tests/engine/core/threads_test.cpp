// CPU thread policy (engine/core/threads.*): the cgroup quota parser against hand cases,
// the usable CPU count within what the machine has, and the thread count setting.
#include <omp.h>

#include <thread>

#include "engine/core/threads.h"
#include "testing.h"

namespace sprout {
namespace {

TEST(CpuThreads, CgroupQuotaRoundsUpAndMaxIsUnlimited) {
  EXPECT_EQ(cpus_from_cgroup_max("max 100000"), 0);
  EXPECT_EQ(cpus_from_cgroup_max("150000 100000"), 2);
  EXPECT_EQ(cpus_from_cgroup_max("50000 100000"), 1);
  EXPECT_EQ(cpus_from_cgroup_max("400000 100000\n"), 4);
  EXPECT_EQ(cpus_from_cgroup_max(""), 0);
  EXPECT_EQ(cpus_from_cgroup_max("abc 100000"), 0);
  EXPECT_EQ(cpus_from_cgroup_max("100000 0"), 0);
}

TEST(CpuThreads, UsableCpusWithinTheMachine) {
  const int n = usable_cpus();
  EXPECT_GE(n, 1);
  EXPECT_LE(n, (int)std::thread::hardware_concurrency());
}

TEST(CpuThreads, RequestedCountIsSet) {
  const int before = omp_get_max_threads();
  EXPECT_EQ(set_cpu_threads(3), 3);
  EXPECT_EQ(omp_get_max_threads(), 3);
  omp_set_num_threads(before);
}

}  // namespace
}  // namespace sprout
