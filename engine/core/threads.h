// CPU threads for the OpenMP kernels: how many this process may use (its affinity mask
// and its cgroup's CPU quota), and a wait policy that keeps a training step fast when
// other processes share the cores. OpenMP's default waits by spinning for ~300k
// iterations at every barrier; with another busy process on one of two cores, the
// spinning thread takes the core from the one that works, and a Fashion-MNIST epoch
// took 40x its quiet time. A short spin then sleep degrades to the fair share instead.
#pragma once
#include <string>

namespace sprout {

// CPUs in the affinity mask, capped by the cgroup quota (cgroup v2 cpu.max, rounded
// up); at least 1.
int usable_cpus();
// The quota in "cpu.max" text ("max 100000", "150000 100000"): CPUs rounded up, 0 when
// unlimited or unreadable.
int cpus_from_cgroup_max(const std::string& text);

// The spin count sprout asks of libgomp when the user set no wait policy.
constexpr const char* kDefaultSpinCount = "10000";

// First thing in main(): when neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT is set, sets
// GOMP_SPINCOUNT and executes the program again (the OpenMP runtime reads its
// environment once, before main), unless that was already done. Returns when nothing
// is to be done or the exec fails (the run then keeps the default policy).
void apply_cpu_wait_policy(char** argv);

// Sets the OpenMP thread count: `requested` when > 0, else OMP_NUM_THREADS when set,
// else usable_cpus(). Returns the count in effect.
int set_cpu_threads(int requested);

}  // namespace sprout
