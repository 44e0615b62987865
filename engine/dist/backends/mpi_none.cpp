// The MPI backend of a build without MPI: launching under mpirun is an error that says
// how to build with it.
#include "engine/core/error.h"
#include "engine/dist/backends/backends.h"

namespace sprout::dist {

bool mpi_backend_compiled() { return false; }

std::unique_ptr<Communicator> make_mpi_communicator() {
  SPROUT_FAIL("this process was started by an MPI launcher, but sprout was built without MPI "
              "(install libopenmpi-dev and configure with -DSPROUT_MPI=ON)");
}

void finalize_mpi() {}

}  // namespace sprout::dist
