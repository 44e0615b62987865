// FLOP accounting: the weight layers' ops (linear, conv2d and their sparse twins) add
// what they compute, per pass, beside what the dense layer would have computed, so a
// measured speedup can be set beside its ideal. A multiply-add is 2 FLOPs; bias adds,
// normalisation and activations are not counted (they do not change with density).
// Counted from shapes on the host: no device sync.
#pragma once
#include <cstdint>

namespace sprout {

enum class FlopPass { Forward = 0, InputGrad = 1, WeightGrad = 2 };
constexpr int kFlopPasses = 3;
const char* flop_pass_name(FlopPass p);  // "forward", "input_grad", "weight_grad"

struct FlopCount {
  double done[kFlopPasses] = {0, 0, 0};   // what the ops computed
  double dense[kFlopPasses] = {0, 0, 0};  // what the dense layers would have computed
  double total_done() const { return done[0] + done[1] + done[2]; }
  double total_dense() const { return dense[0] + dense[1] + dense[2]; }
  FlopCount operator-(const FlopCount& o) const;
  FlopCount& operator+=(const FlopCount& o);
};

// Adds one product's FLOPs to the process-wide count (thread-safe).
void count_flops(FlopPass pass, double done, double dense);
// Everything counted since the process started: callers take differences.
FlopCount flops_counted();

}  // namespace sprout
