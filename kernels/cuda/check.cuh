// CUDA error checks for kernels and library calls: every call and launch is checked
// and a failure throws with the call text and location.
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cusparse.h>

#include <stdexcept>
#include <string>

#define SPROUT_CUDA_CHECK(call)                                                       \
  do {                                                                                \
    cudaError_t err_ = (call);                                                        \
    if (err_ != cudaSuccess)                                                          \
      throw std::runtime_error(std::string("CUDA error: ") + cudaGetErrorString(err_) + \
                               " in " #call " (" __FILE__ ":" + std::to_string(__LINE__) + ")"); \
  } while (0)

#define SPROUT_CUDA_LAUNCH_CHECK() SPROUT_CUDA_CHECK(cudaGetLastError())

#define SPROUT_CUBLAS_CHECK(call)                                                       \
  do {                                                                                  \
    cublasStatus_t st_ = (call);                                                        \
    if (st_ != CUBLAS_STATUS_SUCCESS)                                                   \
      throw std::runtime_error(std::string("cuBLAS error ") + std::to_string((int)st_) + \
                               " in " #call " (" __FILE__ ":" + std::to_string(__LINE__) + ")"); \
  } while (0)

#define SPROUT_CUSPARSE_CHECK(call)                                                       \
  do {                                                                                    \
    cusparseStatus_t st_ = (call);                                                        \
    if (st_ != CUSPARSE_STATUS_SUCCESS)                                                   \
      throw std::runtime_error(std::string("cuSPARSE error: ") + cusparseGetErrorString(st_) + \
                               " in " #call " (" __FILE__ ":" + std::to_string(__LINE__) + ")"); \
  } while (0)

// Launches a grid-stride kernel over n items on `stream` (nothing when n is 0) and checks
// the launch.
#define SPROUT_LAUNCH_1D(kernel, n, threads, stream, ...)                                      \
  do {                                                                                         \
    if ((n) > 0) {                                                                             \
      kernel<<<::sprout::kernels::cuda::blocks_for((n), (threads)), (threads), 0, (stream)>>>( \
          __VA_ARGS__);                                                                        \
      SPROUT_CUDA_LAUNCH_CHECK();                                                              \
    }                                                                                          \
  } while (0)

namespace sprout::kernels::cuda {
inline int blocks_for(long long n, int threads) {
  long long b = (n + threads - 1) / threads;
  return b > 65535LL * 32 ? 65535 * 32 : (b < 1 ? 1 : (int)b);
}
}  // namespace sprout::kernels::cuda
