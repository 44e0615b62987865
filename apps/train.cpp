// `sprout train`: the run contract of the README. Reads the config, hands it to the
// engine's Trainer (engine/train/trainer.h), and resumes from a checkpoint when asked.
#include <algorithm>
#include <cstdlib>
#include <thread>

#include "apps/commands.h"
#include "engine/core/error.h"
#include "engine/core/threads.h"
#include "engine/dist/communicator.h"
#include "engine/train/options.h"
#include "engine/train/trainer.h"

namespace sprout::app {

int run_train(const TrainArgs& a) {
  if (a.config.empty()) SPROUT_FAIL("--config is empty: name a JSON run config");
  // Under an MPI launcher: joins the other ranks and picks this rank's GPU before
  // anything touches CUDA.
  const dist::Communicator& comm = dist::world();
  // Ranks sharing a host that its launcher did not bind share its cores.
  if (comm.local_size() > 1 && !std::getenv("OMP_NUM_THREADS") &&
      usable_cpus() == (int)std::thread::hardware_concurrency())
    set_cpu_threads(std::max(1, usable_cpus() / comm.local_size()));
  const nlohmann::json cfg = train::load_config(a.config, a.sets);
  const Device dev = parse_device(a.device);
  train::Trainer trainer(cfg, dev, a.out, a.quiet);
  if (!a.init_from.empty()) load_init_weights(a.init_from, *trainer.run().model);
  if (!a.resume.empty()) trainer.resume(a.resume);
  trainer.fit();
  dist::finalize_world();
  return 0;
}

}  // namespace sprout::app
