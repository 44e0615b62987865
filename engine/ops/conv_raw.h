// The dense convolution's passes without autograd or FLOP counting (engine/ops/conv.cpp),
// for ops that drive them themselves: a sparse layer computing through a dense copy of
// its weight.
#pragma once
#include <vector>

#include "engine/ops/im2col.h"

namespace sprout::ops {

// y [N, O, Hout, Wout] = conv(x, w) (+ bias when defined), w [O, C, kh, kw].
Tensor conv_forward_raw(const ConvGeometry& g, const Tensor& x, const Tensor& w, const Tensor& bias);
// {dx, dw, db}, each undefined unless asked for; dw allocated in `dw_category`.
std::vector<Tensor> conv_backward_raw(const ConvGeometry& g, const Tensor& x, const Tensor& w, const Tensor& dy,
                                      bool gx, bool gw, bool gb, MemCategory dw_category);

}  // namespace sprout::ops
