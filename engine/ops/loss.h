// Losses and metrics: softmax cross-entropy with label smoothing (mean over the
// batch), and the count of correct argmax predictions.
#pragma once
#include "engine/core/tensor.h"

namespace sprout::ops {

// logits [N, C] float, labels [N] int32 on the same device -> mean loss, shape [1].
Tensor cross_entropy(const Tensor& logits, const Tensor& labels, double label_smoothing = 0.0);
// Rows whose label is among the top k logits (fewer than k logits strictly above the
// label's). k = 1 is top-1 accuracy. Reads one integer back from the device.
int64_t count_correct(const Tensor& logits, const Tensor& labels, int k = 1);

}  // namespace sprout::ops
