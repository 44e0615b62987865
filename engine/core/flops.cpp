// The process-wide FLOP count: integer atomics (a step's count fits int64 many times over).
#include "engine/core/flops.h"

#include <atomic>

namespace sprout {

namespace {
std::atomic<int64_t> g_done[kFlopPasses];
std::atomic<int64_t> g_dense[kFlopPasses];
}  // namespace

const char* flop_pass_name(FlopPass p) {
  switch (p) {
    case FlopPass::Forward: return "forward";
    case FlopPass::InputGrad: return "input_grad";
    case FlopPass::WeightGrad: return "weight_grad";
  }
  return "?";
}

FlopCount FlopCount::operator-(const FlopCount& o) const {
  FlopCount r;
  for (int i = 0; i < kFlopPasses; ++i) {
    r.done[i] = done[i] - o.done[i];
    r.dense[i] = dense[i] - o.dense[i];
  }
  return r;
}

FlopCount& FlopCount::operator+=(const FlopCount& o) {
  for (int i = 0; i < kFlopPasses; ++i) {
    done[i] += o.done[i];
    dense[i] += o.dense[i];
  }
  return *this;
}

void count_flops(FlopPass pass, double done, double dense) {
  g_done[(int)pass] += (int64_t)done;
  g_dense[(int)pass] += (int64_t)dense;
}

FlopCount flops_counted() {
  FlopCount c;
  for (int i = 0; i < kFlopPasses; ++i) {
    c.done[i] = (double)g_done[i].load();
    c.dense[i] = (double)g_dense[i].load();
  }
  return c;
}

}  // namespace sprout
