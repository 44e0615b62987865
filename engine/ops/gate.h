// Gate ops with gradients: hard 0/1 unit gates with a straight-through gradient
// (polarization-gated pruning), learned per-unit scales (EAST's shared weights),
// and the regularizers on gate logits (polarization, density).
#pragma once
#include <vector>

#include "engine/core/tensor.h"

namespace sprout::ops {

// x [N, C, ...], logits [C] (one gate per channel / output unit) or [1] (one gate for
// the whole tensor). y = x * b with b = [sigmoid(logits) > 0.5]. Backward passes the
// gradient straight through the step: dL/dq = dL/db, then through the sigmoid, so a
// closed gate still learns whether to reopen.
Tensor gate(const Tensor& x, const Tensor& logits);
// x [N, C, ...], scale [C] or [1]: y = x * scale per channel, gradients for both.
Tensor channel_scale(const Tensor& x, const Tensor& scale);
// Pol(q) = t sum|q| - sum|q - mean(q)| over q = sigmoid of every logit of every
// tensor in `logits` (one population). Scalar [1].
Tensor polarization(const std::vector<Tensor>& logits, double t);
// (mean(b) - d_target)^2 over the hard gates of every logit; the gradient treats
// db/dq as 1 (straight-through). Scalar [1].
Tensor gate_density_penalty(const std::vector<Tensor>& logits, double d_target);
// Host count of open gates (logit > 0). Reads the logits back from a GPU.
int64_t count_open_gates(const Tensor& logits);

}  // namespace sprout::ops
