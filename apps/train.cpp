// `sprout train`: the run contract of the README. Reads the config, hands it to the
// engine's Trainer (engine/train/trainer.h), and resumes from a checkpoint when asked.
#include "apps/commands.h"
#include "engine/core/error.h"
#include "engine/train/options.h"
#include "engine/train/trainer.h"

namespace sprout::app {

int run_train(const TrainArgs& a) {
  if (a.config.empty()) SPROUT_FAIL("--config is empty: name a JSON run config");
  const nlohmann::json cfg = train::load_config(a.config, a.sets);
  const Device dev = parse_device(a.device);
  train::Trainer trainer(cfg, dev, a.out, a.quiet);
  if (!a.init_from.empty()) load_init_weights(a.init_from, *trainer.run().model);
  if (!a.resume.empty()) trainer.resume(a.resume);
  trainer.fit();
  return 0;
}

}  // namespace sprout::app
