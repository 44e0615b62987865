// The single-process communicator, the process's world communicator, and the choice of
// this rank's GPU before CUDA starts.
#include "engine/dist/communicator.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <vector>

#include "engine/core/error.h"
#include "engine/dist/backends/backends.h"

namespace sprout::dist {

namespace {

class LocalCommunicator : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string backend() const override { return "local"; }
  void all_reduce_mean(const Tensor&) override {}
  void all_reduce(double*, int64_t, ReduceOp) override {}
  void all_reduce(uint64_t*, int64_t, ReduceOp) override {}
  [[noreturn]] void abort(int code) override { std::exit(code); }
};

std::unique_ptr<Communicator>& world_slot() {
  static std::unique_ptr<Communicator> w;
  return w;
}

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

// One GPU per process: with several ranks on a host, rank i of the host keeps the i-th
// entry of CUDA_VISIBLE_DEVICES (or GPU i when unset). A list of one is left alone:
// the launcher already chose.
void choose_gpu() {
  const int local = env_int("OMPI_COMM_WORLD_LOCAL_RANK", env_int("MPI_LOCALRANKID", env_int("SLURM_LOCALID", -1)));
  if (local < 0) return;
  const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
  std::vector<std::string> ids;
  if (visible) {
    std::stringstream ss(visible);
    for (std::string id; std::getline(ss, id, ',');)
      if (!id.empty()) ids.push_back(id);
    if (ids.size() <= 1) return;
    SPROUT_CHECK((size_t)local < ids.size(), "local rank ", local, " has no GPU: CUDA_VISIBLE_DEVICES=", visible,
                 " lists ", ids.size());
  }
  const std::string mine = visible ? ids[(size_t)local] : std::to_string(local);
  setenv("CUDA_VISIBLE_DEVICES", mine.c_str(), 1);
}

}  // namespace

std::unique_ptr<Communicator> make_local_communicator() { return std::make_unique<LocalCommunicator>(); }

bool mpi_compiled() { return mpi_backend_compiled(); }
bool nccl_compiled() { return nccl_backend_compiled(); }

bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS"})
    if (std::getenv(v)) return true;
  return false;
}

Communicator& world() {
  std::unique_ptr<Communicator>& w = world_slot();
  if (!w) {
    if (launched_by_mpi()) {
      choose_gpu();
      w = make_mpi_communicator();
    } else {
      w = make_local_communicator();
    }
  }
  return *w;
}

void abort_if_distributed(int code) {
  std::unique_ptr<Communicator>& w = world_slot();
  if (!w || w->size() <= 1) return;
  std::fflush(stdout);
  std::fflush(stderr);
  w->abort(code);
}

void finalize_world() {
  world_slot().reset();
  finalize_mpi();
}

}  // namespace sprout::dist
