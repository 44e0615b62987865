// Pending GPU verdicts, read at the next synchronisation point.
#include "engine/ops/deferred.h"

#include <utility>
#include <vector>

#include "engine/core/error.h"
#include "engine/core/dispatch.h"

namespace sprout::ops {

namespace {

std::vector<std::pair<Tensor, std::string>>& pending() {
  static std::vector<std::pair<Tensor, std::string>> p;
  return p;
}

}  // namespace

Tensor make_verdict(Device dev) {
  Tensor v = Tensor::empty({1}, DType::I64, dev, MemCategory::Workspace);
  if (dev.is_cuda()) {
    SPROUT_ON_CUDA(kernels::cuda::memset_bytes(v.raw_data(), 0xff, sizeof(int64_t)));
  } else {
    v.data<int64_t>()[0] = -1;
  }
  return v;
}

void defer_check(const Tensor& verdict, std::string what) {
  SPROUT_CHECK(verdict.defined() && verdict.dtype() == DType::I64 && verdict.numel() == 1,
               "defer_check: a verdict is one int64");
  // A caller that never synchronises (a benchmark loop) still gets its verdicts read.
  if (pending().size() >= 4096) check_deferred();
  pending().emplace_back(verdict, std::move(what));
}

void check_deferred() {
  std::vector<std::pair<Tensor, std::string>> p;
  p.swap(pending());
  for (const auto& [verdict, what] : p) {
    const int64_t v = verdict.to_vector<int64_t>()[0];
    SPROUT_CHECK(v == -1, what, " ", v);
  }
}

}  // namespace sprout::ops
