// Checkpoint reader (engine/io/safetensors.*, engine/io/checkpoint.*): the bytes as a
// safetensors file, read on its own, then restored into a fresh small run as a resume
// does. The input is the whole file. What a checkpoint is allowed into is trusted
// behind the door, so an accepted checkpoint must survive one training step. The seeds
// include a file without checksums (format v1), so mutations get past the checksum
// check to the validation behind it.
#include <cstring>

#include "engine/io/checkpoint.h"
#include "engine/io/safetensors.h"
#include "fuzz_input.h"
#include "tiny_run.h"

using namespace sprout;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("OMP_NUM_THREADS", "1", 0);
  fuzz::register_components();
  return 0;
}

namespace {

// Tensors may not overlap, so together they hold no more bytes than the file.
void read_safetensors(const std::string& path, size_t file_bytes) {
  fuzz::accepts([&] {
    io::SafetensorsFile f = io::load_safetensors(path);
    size_t held = 0;
    for (const auto& [name, t] : f.tensors) held += t.nbytes();
    if (held > file_bytes) fuzz::broken("safetensors tensors hold more bytes than the file");
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = fuzz::write_input("checkpoint.safetensors", data, size);
  read_safetensors(path, size);
  std::unique_ptr<train::Run> run = fuzz::tiny_run();
  io::RunCounters c;
  if (!fuzz::accepts([&] {
        c = io::load_checkpoint(path, *run->model, *run->optimizer, *run->sparsifier, Device::cpu(), run->cfg);
      }))
    return 0;
  // As Trainer::resume leaves the run, then its next step.
  run->step_count = c.step;
  run->epoch = c.epoch;
  run->batch_in_epoch = c.batch_in_epoch;
  try {
    run->step(fuzz::tiny_batch(), true);
  } catch (const Error& e) {
    // Finite but huge weights are valid and may overflow the loss: the run's health
    // check stopping it is the designed answer. Any other error is a finding.
    if (std::strstr(e.what(), "loss is not finite")) return 0;
    std::fprintf(stderr, "fuzz: %s\n", e.what());
    fuzz::broken("an accepted checkpoint fails at the next step");
  }
  return 0;
}
