// Softmax cross-entropy with label smoothing on the GPU (float32), the twin of
// kernels/cpu/loss.h. The mean loss stays on the device.
#pragma once
#include <cstdint>

#include "kernels/cuda/runtime.h"

namespace sprout::kernels::cuda {

// A label outside [0, c) makes its row's loss NaN and lowers *bad (one device word,
// ~0 on entry) to that row; count_correct skips such rows.
void softmax_xent_forward(const float* logits, const int32_t* labels, int64_t n, int64_t c,
                          float smoothing, float* probs, float* row_loss, unsigned long long* bad,
                          cudaStream_t s);
// scale_dev: device scalar (upstream gradient); dlogits = (probs - target) * scale_dev[0] / n.
void softmax_xent_backward(const float* probs, const int32_t* labels, int64_t n, int64_t c,
                           float smoothing, const float* scale_dev, float* dlogits,
                           cudaStream_t s);
// correct[0] += rows whose label is among the top k logits (device counter).
void count_correct(const float* logits, const int32_t* labels, int64_t n, int64_t c, int k,
                   int64_t* correct, cudaStream_t s);

}  // namespace sprout::kernels::cuda
