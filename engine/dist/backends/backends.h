// What the build chooses between (CMakeLists.txt compiles one file of each pair): the
// MPI communicator or a stub that says the build has none, and NCCL's reducer for CUDA
// tensors or a stub. NCCL is bootstrapped through the caller's broadcast, so nccl.cpp
// needs no MPI header.
#pragma once
#include <functional>
#include <memory>

#include "engine/dist/communicator.h"

namespace sprout::dist {

// Averages device buffers over the ranks on the engine's compute stream.
class DeviceReducer {
 public:
  virtual ~DeviceReducer() = default;
  virtual void all_reduce_mean(float* device_data, int64_t count) = 0;
};

// Sends `bytes` at `data` from rank 0 to every rank (in place).
using Broadcast = std::function<void(void* data, size_t bytes)>;

bool mpi_backend_compiled();
bool nccl_backend_compiled();
// Initialises MPI (once per process) and wraps MPI_COMM_WORLD.
std::unique_ptr<Communicator> make_mpi_communicator();
// One NCCL communicator over the ranks, on the current CUDA device.
std::unique_ptr<DeviceReducer> make_nccl_reducer(int rank, int size, const Broadcast& broadcast);
// MPI_Finalize when make_mpi_communicator initialised MPI (no-op otherwise).
void finalize_mpi();

}  // namespace sprout::dist
