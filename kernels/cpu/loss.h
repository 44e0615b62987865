// Softmax cross-entropy with label smoothing on the CPU. Target distribution per row:
// (1 - eps) on the label plus eps / C everywhere (PyTorch's definition).
#pragma once
#include <cstdint>

namespace sprout::kernels::cpu {

// probs[n, c] = softmax(logits); row_loss[n] = -sum_j target_j log probs_j.
template <class T>
void softmax_xent_forward(const T* logits, const int32_t* labels, int64_t n, int64_t c,
                          T smoothing, T* probs, T* row_loss);
// dlogits = (probs - target) * scale, where scale = upstream gradient / n.
template <class T>
void softmax_xent_backward(const T* probs, const int32_t* labels, int64_t n, int64_t c,
                           T smoothing, T scale, T* dlogits);
// Rows whose label is among the top k: fewer than k logits strictly above the label's.
template <class T>
int64_t count_correct(const T* logits, const int32_t* labels, int64_t n, int64_t c, int k);

}  // namespace sprout::kernels::cpu
