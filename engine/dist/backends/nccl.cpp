// NCCL's reducer for CUDA tensors: one ncclComm over the ranks on this process's GPU
// (the unique id sent from rank 0 through the caller's MPI broadcast), averaging in
// place with ncclAvg on the engine's compute stream, so the reduction is ordered after
// the backward kernels that wrote the buffer and before the optimizer that reads it.
#include <nccl.h>

#include "engine/core/dispatch.h"
#include "engine/core/error.h"
#include "engine/dist/backends/backends.h"

namespace sprout::dist {

namespace {

void check_nccl(ncclResult_t r, const char* what) {
  SPROUT_CHECK(r == ncclSuccess, what, " failed: ", ncclGetErrorString(r));
}

class NcclReducer : public DeviceReducer {
 public:
  NcclReducer(int rank, int size, const Broadcast& broadcast) {
    ncclUniqueId id;
    if (rank == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    broadcast(&id, sizeof id);
    check_nccl(ncclCommInitRank(&comm_, size, id, rank), "ncclCommInitRank");
  }
  ~NcclReducer() override {
    if (comm_) ncclCommDestroy(comm_);
  }
  void all_reduce_mean(float* data, int64_t count) override {
    check_nccl(ncclAllReduce(data, data, (size_t)count, ncclFloat32, ncclAvg, comm_, stream()), "ncclAllReduce");
  }

 private:
  ncclComm_t comm_ = nullptr;
};

}  // namespace

bool nccl_backend_compiled() { return true; }

std::unique_ptr<DeviceReducer> make_nccl_reducer(int rank, int size, const Broadcast& broadcast) {
  return std::make_unique<NcclReducer>(rank, size, broadcast);
}

}  // namespace sprout::dist
