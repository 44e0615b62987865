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

// The CPUs other processes leave, rounded, never below one nor above what is usable.
TEST(CpuThreads, ThreadsLeaveTheCoresOthersKeepBusy) {
  EXPECT_EQ(threads_for_others(2, 0.0), 2);
  EXPECT_EQ(threads_for_others(2, 0.3), 2);
  EXPECT_EQ(threads_for_others(2, 1.0), 1);
  EXPECT_EQ(threads_for_others(2, 0.7), 1);
  EXPECT_EQ(threads_for_others(2, 5.0), 1);
  EXPECT_EQ(threads_for_others(16, 4.2), 12);
  EXPECT_EQ(threads_for_others(1, -1.0), 1);
}

// /proc/stat is read (this process's own threads are not counted), and a thread count
// that was fixed stays as it is.
TEST(CpuThreads, OthersAreReadAndAFixedCountStays) {
  EXPECT_GE(runnable_others(), 0);
  const int before = omp_get_max_threads();
  set_cpu_threads(3);
  EXPECT_EQ(adapt_cpu_threads(0.0), 3);
  EXPECT_EQ(omp_get_max_threads(), 3);
  omp_set_num_threads(before);
}

}  // namespace
}  // namespace sprout
