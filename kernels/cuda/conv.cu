// cuDNN convolutions. Descriptors and the chosen algorithms are cached per geometry
// (a training run sees a handful of shapes), so steady-state calls only launch.
// Math is pinned to FP32 FMA (no TF32), which keeps results within 1e-5 of the CPU.
// Without cuDNN, the entry points throw.
#include <stdexcept>

#include "kernels/cuda/check.cuh"
#include "kernels/cuda/conv.h"

#if SPROUT_WITH_CUDNN
#include <cudnn.h>

#include <map>
#include <mutex>
#include <tuple>
#endif

namespace sprout::kernels::cuda {

#if SPROUT_WITH_CUDNN

#define SPROUT_CUDNN_CHECK(call)                                                          \
  do {                                                                                    \
    cudnnStatus_t st_ = (call);                                                           \
    if (st_ != CUDNN_STATUS_SUCCESS)                                                      \
      throw std::runtime_error(std::string("cuDNN error: ") + cudnnGetErrorString(st_) +  \
                               " in " #call " (" __FILE__ ":" + std::to_string(__LINE__) + ")"); \
  } while (0)

namespace {

// Algorithms needing more scratch than this are skipped.
constexpr size_t kMaxWorkspaceBytes = 256ull << 20;

cudnnHandle_t handle() {
  static cudnnHandle_t h = [] {
    cudnnHandle_t x;
    SPROUT_CUDNN_CHECK(cudnnCreate(&x));
    return x;
  }();
  return h;
}

struct Plan {
  cudnnTensorDescriptor_t x, y;
  cudnnFilterDescriptor_t w;
  cudnnConvolutionDescriptor_t conv;
  cudnnConvolutionFwdAlgo_t fwd;
  cudnnConvolutionBwdDataAlgo_t bwd_data;
  cudnnConvolutionBwdFilterAlgo_t bwd_filter;
  size_t fwd_bytes = 0, bwd_data_bytes = 0, bwd_filter_bytes = 0;
};

// Transform-based algorithms (FFT, Winograd) trade accuracy for speed; sprout keeps
// convolutions within 1e-5 of the CPU, so they are used only when nothing else runs.
bool approximate(cudnnConvolutionFwdAlgo_t a) {
  return a == CUDNN_CONVOLUTION_FWD_ALGO_FFT || a == CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING ||
         a == CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD || a == CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED;
}
bool approximate(cudnnConvolutionBwdDataAlgo_t a) {
  return a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT || a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING ||
         a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD ||
         a == CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED;
}
bool approximate(cudnnConvolutionBwdFilterAlgo_t a) {
  return a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT ||
         a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_FFT_TILING ||
         a == CUDNN_CONVOLUTION_BWD_FILTER_ALGO_WINOGRAD_NONFUSED;
}

bool tensor_op(cudnnMathType_t m) {
  return m == CUDNN_TENSOR_OP_MATH || m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION;
}

// The best-ranked algorithm that succeeded heuristically, fits the workspace cap and
// is exact FP32 arithmetic and deterministic (no atomics: runs repeat bit for bit);
// failing that, exact; failing that, the best-ranked one that fits. Tensor-op entries
// never: the convolution descriptor stays in FMA math. The workspace size is asked of
// cuDNN for the chosen algorithm afterwards, not taken from the heuristic.
template <class Perf>
void pick(const Perf* perf, int n, decltype(Perf::algo)* algo, const char* what) {
  for (int pass = 0; pass < 3; ++pass)
    for (int i = 0; i < n; ++i) {
      if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > kMaxWorkspaceBytes) continue;
      if (tensor_op(perf[i].mathType) || (pass < 2 && approximate(perf[i].algo))) continue;
      if (pass == 0 && perf[i].determinism != CUDNN_DETERMINISTIC) continue;
      *algo = perf[i].algo;
      return;
    }
  throw std::runtime_error(std::string("cuDNN: no usable ") + what + " algorithm");
}

const Plan& plan_for(const ConvGeometry& g) {
  using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t>;
  static std::map<Key, Plan> plans;
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  Key key{g.N, g.C, g.H, g.W, g.O, g.kh, g.kw, g.stride, g.pad};
  auto it = plans.find(key);
  if (it != plans.end()) return it->second;
  Plan p;
  SPROUT_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p.x));
  SPROUT_CUDNN_CHECK(cudnnCreateTensorDescriptor(&p.y));
  SPROUT_CUDNN_CHECK(cudnnCreateFilterDescriptor(&p.w));
  SPROUT_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&p.conv));
  SPROUT_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p.x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, (int)g.N,
                                                (int)g.C, (int)g.H, (int)g.W));
  SPROUT_CUDNN_CHECK(cudnnSetFilter4dDescriptor(p.w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, (int)g.O,
                                                (int)g.C, (int)g.kh, (int)g.kw));
  SPROUT_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(p.conv, (int)g.pad, (int)g.pad, (int)g.stride,
                                                     (int)g.stride, 1, 1, CUDNN_CROSS_CORRELATION,
                                                     CUDNN_DATA_FLOAT));
  SPROUT_CUDNN_CHECK(cudnnSetConvolutionMathType(p.conv, CUDNN_FMA_MATH));
  int n, c, h, w;
  SPROUT_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(p.conv, p.x, p.w, &n, &c, &h, &w));
  SPROUT_CUDNN_CHECK(cudnnSetTensor4dDescriptor(p.y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, n, c, h, w));
  constexpr int kMax = 16;
  int found = 0;
  cudnnConvolutionFwdAlgoPerf_t fperf[kMax];
  SPROUT_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(handle(), p.x, p.w, p.conv, p.y, kMax,
                                                            &found, fperf));
  pick(fperf, found, &p.fwd, "forward");
  SPROUT_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(handle(), p.x, p.w, p.conv, p.y, p.fwd, &p.fwd_bytes));
  cudnnConvolutionBwdDataAlgoPerf_t dperf[kMax];
  SPROUT_CUDNN_CHECK(cudnnGetConvolutionBackwardDataAlgorithm_v7(handle(), p.w, p.y, p.conv, p.x,
                                                                 kMax, &found, dperf));
  pick(dperf, found, &p.bwd_data, "backward-data");
  SPROUT_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(handle(), p.w, p.y, p.conv, p.x, p.bwd_data,
                                                                  &p.bwd_data_bytes));
  cudnnConvolutionBwdFilterAlgoPerf_t wperf[kMax];
  SPROUT_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterAlgorithm_v7(handle(), p.x, p.y, p.conv, p.w,
                                                                   kMax, &found, wperf));
  pick(wperf, found, &p.bwd_filter, "backward-filter");
  SPROUT_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(handle(), p.x, p.y, p.conv, p.w, p.bwd_filter,
                                                                    &p.bwd_filter_bytes));
  return plans.emplace(key, p).first->second;
}

void check_workspace(size_t have, size_t need) {
  if (have < need)
    throw std::runtime_error("cuDNN convolution: workspace of " + std::to_string(have) +
                             " bytes, needs " + std::to_string(need));
}

}  // namespace

bool cudnn_compiled() { return true; }

size_t conv_cudnn_workspace_bytes(const ConvGeometry& g, CudnnConvPass pass) {
  const Plan& p = plan_for(g);
  switch (pass) {
    case CudnnConvPass::Forward: return p.fwd_bytes;
    case CudnnConvPass::BackwardData: return p.bwd_data_bytes;
    case CudnnConvPass::BackwardFilter: return p.bwd_filter_bytes;
  }
  return 0;
}

void conv_cudnn_forward(const ConvGeometry& g, const float* x, const float* w, float* y,
                        void* ws, size_t ws_bytes, cudaStream_t s) {
  const Plan& p = plan_for(g);
  check_workspace(ws_bytes, p.fwd_bytes);
  const float one = 1.f, zero = 0.f;
  SPROUT_CUDNN_CHECK(cudnnSetStream(handle(), s));
  SPROUT_CUDNN_CHECK(cudnnConvolutionForward(handle(), &one, p.x, x, p.w, w, p.conv, p.fwd, ws,
                                             ws_bytes, &zero, p.y, y));
}

void conv_cudnn_backward_data(const ConvGeometry& g, const float* w, const float* dy, float* dx,
                              void* ws, size_t ws_bytes, cudaStream_t s) {
  const Plan& p = plan_for(g);
  check_workspace(ws_bytes, p.bwd_data_bytes);
  const float one = 1.f, zero = 0.f;
  SPROUT_CUDNN_CHECK(cudnnSetStream(handle(), s));
  SPROUT_CUDNN_CHECK(cudnnConvolutionBackwardData(handle(), &one, p.w, w, p.y, dy, p.conv,
                                                  p.bwd_data, ws, ws_bytes, &zero, p.x, dx));
}

void conv_cudnn_backward_filter(const ConvGeometry& g, const float* x, const float* dy,
                                float* dw, void* ws, size_t ws_bytes, cudaStream_t s) {
  const Plan& p = plan_for(g);
  check_workspace(ws_bytes, p.bwd_filter_bytes);
  const float one = 1.f, zero = 0.f;
  SPROUT_CUDNN_CHECK(cudnnSetStream(handle(), s));
  SPROUT_CUDNN_CHECK(cudnnConvolutionBackwardFilter(handle(), &one, p.x, x, p.y, dy, p.conv,
                                                    p.bwd_filter, ws, ws_bytes, &zero, p.w, dw));
}

#else  // !SPROUT_WITH_CUDNN

namespace {
[[noreturn]] void no_cudnn() {
  throw std::runtime_error("cuDNN convolution requested, but sprout was built without cuDNN");
}
}  // namespace

bool cudnn_compiled() { return false; }
size_t conv_cudnn_workspace_bytes(const ConvGeometry&, CudnnConvPass) { no_cudnn(); }
void conv_cudnn_forward(const ConvGeometry&, const float*, const float*, float*, void*, size_t,
                        cudaStream_t) { no_cudnn(); }
void conv_cudnn_backward_data(const ConvGeometry&, const float*, const float*, float*, void*,
                              size_t, cudaStream_t) { no_cudnn(); }
void conv_cudnn_backward_filter(const ConvGeometry&, const float*, const float*, float*, void*,
                                size_t, cudaStream_t) { no_cudnn(); }

#endif

}  // namespace sprout::kernels::cuda
