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

// Threads to run with on `usable` CPUs while other processes keep `others` of them busy
// (a smoothed count of their runnable threads): the CPUs they leave, rounded, from 1 to
// usable. A barrier waits for its slowest thread, so a thread that shares a core with
// another process holds every parallel region back; one thread fewer runs at full speed.
int threads_for_others(int usable, double others);
// Runnable threads of other processes right now: /proc/stat's procs_running less this
// process's threads in state R; -1 when unreadable.
int runnable_others();
// Called between training steps: samples runnable_others() into a moving average and,
// at most every `period_s` seconds, sets the OpenMP thread count to threads_for_others.
// Does nothing once a count was fixed (OMP_NUM_THREADS, or set_cpu_threads with a
// request, as under MPI). Returns the count in effect.
int adapt_cpu_threads(double period_s = 0.5);

}  // namespace sprout
