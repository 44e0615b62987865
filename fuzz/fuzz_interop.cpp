// What `sprout export`, `sprout eval`, `sprout train --init-from` and `sprout report`
// read from outside (apps/torch_format.cpp, init_from.cpp, report.cpp, compiled in):
// the input's last byte picks the reader, the rest is the file.
//   0: a model file, exported to a torchvision state_dict (dense and sparse parts) and
//      read back into the model its config builds, as eval does (the tiny RigL MLP);
//   1: a state_dict for --init-from, read into the tiny run's sparse model;
//   2: a run folder for report: summary.json up to the first NUL, then metrics.jsonl.
#include <cstring>
#include <filesystem>

#include "apps/commands.h"
#include "apps/torch_format.h"
#include "fuzz_input.h"
#include "tiny_run.h"

using namespace sprout;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::register_components();
  return 0;
}

namespace {

void model_file(const std::string& path) {
  app::ModelSource src{path, fuzz::tiny_run_config(), {{12}, 3}};
  app::TorchStateDict dense, sparse;
  if (fuzz::accepts([&] { dense = app::to_torch(src, false); })) {
    // Accepted: the dense model's every parameter and buffer, named as torch names them.
    if (dense.tensors.size() != 4) fuzz::broken("a dense export of the 12-16-3 MLP does not hold 4 tensors");
    if (!fuzz::accepts([&] { sparse = app::to_torch(src, true); }))
      fuzz::broken("a file exported dense is refused as sparse parts");
  }
  nn::ModulePtr model = app::build_dense(src);
  fuzz::accepts([&] { app::load_model_weights(path, *model); });
}

void report(const uint8_t* data, size_t size) {
  const auto* nul = static_cast<const uint8_t*>(std::memchr(data, 0, size));
  const size_t summary = nul ? (size_t)(nul - data) : 0;
  fuzz::write_input("run/summary.json", data, summary);
  const size_t skip = nul ? summary + 1 : 0;
  fuzz::write_input("run/metrics.jsonl", data + skip, size - skip);
  app::ReportArgs a;
  a.runs = {fuzz::scratch_dir() + "/run"};
  a.out = fuzz::scratch_dir() + "/report.html";
  fuzz::accepts([&] { app::run_report(a); });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t variant = data[size - 1] % 3;
  --size;
  if (variant == 2) {
    report(data, size);
    return 0;
  }
  const std::string path = fuzz::write_input("in.safetensors", data, size);
  if (variant == 0) {
    model_file(path);
  } else {
    std::unique_ptr<train::Run> run = fuzz::tiny_run();
    fuzz::accepts([&] { app::load_init_weights(path, *run->model); });
  }
  return 0;
}
