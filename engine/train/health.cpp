// The finiteness check of a model's tensors before they are written.
#include "engine/train/health.h"

#include <vector>

#include "engine/core/error.h"
#include "engine/ops/finite.h"

namespace sprout::train {

void check_finite_model(nn::Module& model, const std::string& what) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (auto& p : model.parameters())
    tensors.emplace_back("parameter '" + p.name + "'", *p.tensor);  // a sparse layer's: its values
  for (auto& [name, b] : model.buffers()) tensors.emplace_back("buffer '" + name + "'", *b);
  if (tensors.empty()) return;
  Tensor flag = ops::make_finite_flag(tensors.front().second.device());
  for (size_t i = 0; i < tensors.size(); ++i)
    if (tensors[i].second.defined() && tensors[i].second.numel() > 0)
      ops::mark_non_finite(tensors[i].second, (int64_t)i, flag);
  const int64_t bad = ops::read_flag(flag);
  if (bad >= 0) SPROUT_FAIL(what, ": ", tensors[(size_t)bad].first, " holds NaN or infinite values");
}

}  // namespace sprout::train
