// The MPI communicator: MPI_COMM_WORLD for host buffers and CPU tensors (sums in place,
// then scaled), and NCCL, made on the first CUDA tensor and bootstrapped with an
// MPI broadcast of its unique id, for device buffers. MPI is initialised here once per
// process and finalised at the end of the run.
// The C API only: Open MPI's and MPICH's deprecated C++ bindings would need their library.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <algorithm>
#include <climits>
#include <cstdio>

#include "engine/core/error.h"
#include "engine/dist/backends/backends.h"

namespace sprout::dist {

namespace {

bool g_initialised_here = false;

MPI_Op mpi_op(ReduceOp op) {
  switch (op) {
    case ReduceOp::Sum: return MPI_SUM;
    case ReduceOp::Min: return MPI_MIN;
    case ReduceOp::Max: return MPI_MAX;
  }
  return MPI_SUM;
}

// MPI counts are int: a buffer is reduced in pieces of at most INT_MAX elements.
template <class T>
void all_reduce_chunked(T* data, int64_t count, MPI_Datatype type, MPI_Op op) {
  for (int64_t start = 0; start < count; start += INT_MAX) {
    const int n = (int)std::min<int64_t>(INT_MAX, count - start);
    SPROUT_CHECK(MPI_Allreduce(MPI_IN_PLACE, data + start, n, type, op, MPI_COMM_WORLD) == MPI_SUCCESS,
                 "MPI_Allreduce of ", n, " values failed");
  }
}

class MpiCommunicator : public Communicator {
 public:
  MpiCommunicator() {
    int initialised = 0, finalised = 0;
    MPI_Initialized(&initialised);
    MPI_Finalized(&finalised);
    SPROUT_CHECK(!finalised, "MPI was already shut down in this process");
    if (!initialised) {
      int provided = 0;
      SPROUT_CHECK(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) == MPI_SUCCESS,
                   "MPI_Init_thread failed");
      g_initialised_here = true;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node);
    MPI_Comm_rank(node, &local_rank_);
    MPI_Comm_size(node, &local_size_);
    MPI_Comm_free(&node);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  std::string backend() const override { return nccl_ ? "mpi+nccl" : "mpi"; }

  void all_reduce_mean(const Tensor& t) override {
    SPROUT_CHECK(t.dtype() == DType::F32, "all_reduce_mean takes float32, got ", dtype_name(t.dtype()));
    if (size_ == 1 || t.numel() == 0) return;
    if (t.is_cuda()) {
      if (!nccl_) nccl_ = make_nccl_reducer(rank_, size_, [](void* data, size_t bytes) {
          SPROUT_CHECK(bytes <= INT_MAX, "broadcast of ", bytes, " bytes");
          MPI_Bcast(data, (int)bytes, MPI_BYTE, 0, MPI_COMM_WORLD);
        });
      nccl_->all_reduce_mean(t.data<float>(), t.numel());
      return;
    }
    float* p = t.data<float>();
    all_reduce_chunked(p, t.numel(), MPI_FLOAT, MPI_SUM);
    const float scale = 1.0f / (float)size_;
    for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] *= scale;
  }
  void all_reduce(double* values, int64_t count, ReduceOp op) override {
    all_reduce_chunked(values, count, MPI_DOUBLE, mpi_op(op));
  }
  void all_reduce(uint64_t* values, int64_t count, ReduceOp op) override {
    all_reduce_chunked(values, count, MPI_UINT64_T, mpi_op(op));
  }
  [[noreturn]] void abort(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);
  }

 private:
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  std::unique_ptr<DeviceReducer> nccl_;
};

}  // namespace

bool mpi_backend_compiled() { return true; }

std::unique_ptr<Communicator> make_mpi_communicator() { return std::make_unique<MpiCommunicator>(); }

void finalize_mpi() {
  int finalised = 0;
  MPI_Finalized(&finalised);
  if (g_initialised_here && !finalised) MPI_Finalize();
}

}  // namespace sprout::dist
