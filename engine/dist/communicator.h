// The communicator data-parallel training talks through: rank, size, an in-place mean
// of a float32 tensor on its own device (CPU tensors over MPI, CUDA tensors over NCCL
// bootstrapped through MPI), reductions of host numbers, and a job-wide abort. One
// process per rank; a run not started by an MPI launcher gets the single-process
// communicator, whose collectives are no-ops.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "engine/core/tensor.h"

namespace sprout::dist {

enum class ReduceOp { Sum, Min, Max };

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Ranks on this host and this process's place among them (GPU choice).
  virtual int local_rank() const { return rank(); }
  virtual int local_size() const { return size(); }
  // "local", "mpi"; "mpi+nccl" once a CUDA tensor has been reduced.
  virtual std::string backend() const = 0;
  // Replaces `t` (float32, contiguous, on any device) by its mean over the ranks.
  virtual void all_reduce_mean(const Tensor& t) = 0;
  // Element-wise reductions of host arrays, in place.
  virtual void all_reduce(double* values, int64_t count, ReduceOp op) = 0;
  virtual void all_reduce(uint64_t* values, int64_t count, ReduceOp op) = 0;
  // Ends every rank of the job with exit status `code`; the caller has printed why.
  [[noreturn]] virtual void abort(int code) = 0;
  bool is_root() const { return rank() == 0; }
};

// The single-process communicator: rank 0 of 1, every collective a no-op.
std::unique_ptr<Communicator> make_local_communicator();

// Whether this build has the MPI backend, and NCCL for CUDA tensors beside it.
bool mpi_compiled();
bool nccl_compiled();
// True when an MPI launcher (mpirun, mpiexec, srun with PMI) started this process.
bool launched_by_mpi();

// The process's communicator, made on first use: MPI when launched by an MPI launcher
// (an error when this build has no MPI), else the single-process one. Under MPI it picks
// this rank's GPU first (CUDA_VISIBLE_DEVICES narrowed to the local rank's entry), so
// call it before anything touches CUDA.
Communicator& world();
// Ends the other ranks too when this process is one of several (after the caller printed
// its one "error:" line); returns when the run is single-process or MPI was never set up.
void abort_if_distributed(int code);
// Shuts MPI down at the end of a run (idempotent; also done at exit).
void finalize_world();

}  // namespace sprout::dist
