// `sprout export RUN_DIR|model.safetensors --to torch --out FILE`: a sprout model as a
// torchvision state_dict (apps/torch_format.h), read by python/sprout_torch.py or by
// torchvision directly (safetensors.torch.load_file, then load_state_dict).
#include <cstdio>

#include "apps/commands.h"
#include "apps/torch_format.h"
#include "engine/core/error.h"

namespace sprout::app {

int run_export(const ExportArgs& a) {
  SPROUT_CHECK(a.to == "torch", "--to '", a.to, "' is not supported (torch)");
  SPROUT_CHECK(!a.out.empty(), "--out is empty: name the file to write");
  const ModelSource src = find_model(a.source, a.config);
  const TorchStateDict sd = to_torch(src, a.sparse);
  io::save_safetensors(a.out, sd.tensors, sd.metadata);
  std::printf("sprout export: %s (%s, %s, %zu tensors) -> %s\n", src.model_path.c_str(),
              sd.metadata.at("model").c_str(), a.sparse ? "sparse" : "dense", sd.tensors.size(), a.out.c_str());
  return 0;
}

}  // namespace sprout::app
