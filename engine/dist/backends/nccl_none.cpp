// The NCCL backend of a build without it (no CUDA, no NCCL or no MPI): reducing a CUDA
// tensor across ranks is an error that says what is missing.
#include "engine/core/error.h"
#include "engine/dist/backends/backends.h"

namespace sprout::dist {

bool nccl_backend_compiled() { return false; }

std::unique_ptr<DeviceReducer> make_nccl_reducer(int, int, const Broadcast&) {
  SPROUT_FAIL("data-parallel training on CUDA needs NCCL, but sprout was built without it "
              "(a CUDA build finds nccl.h and libnccl beside CUDA or under SPROUT_NCCL_ROOT, and needs MPI)");
}

}  // namespace sprout::dist
