// The sprout command line: subcommands train, memory, bench, config, export, eval, report. The app only parses
// the command line and calls the engine; every failure ends as one line "error: ..."
// on stderr and a non-zero exit code.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

#include "apps/commands.h"
#include "data/registry.h"
#include "engine/core/error.h"
#include "engine/core/threads.h"
#include "engine/dist/communicator.h"
#include "models/models.h"

namespace {

using namespace sprout::app;

int fail(const std::string& what) {
  std::string line = what;
  for (char& c : line) if (c == '\n' || c == '\r') c = ' ';
  std::fprintf(stderr, "error: %s\n", line.c_str());
  sprout::dist::abort_if_distributed(1);  // one rank's error ends every rank, no hang
  return 1;
}

CLI::App* add_train(CLI::App& app, TrainArgs& ta) {
  auto* train = app.add_subcommand("train", "train a model from a JSON config");
  train->add_option("--config", ta.config, "JSON run config")->required();
  train->add_option("--set", ta.sets, "override a config key: key=value (repeatable)");
  train->add_option("--device", ta.device, "auto|cpu|cuda")->capture_default_str();
  train->add_option("--out", ta.out, "output folder")->capture_default_str();
  train->add_option("--resume", ta.resume, "checkpoint to continue from");
  train->add_option("--init-from", ta.init_from, "start from this torchvision-named dense state_dict (safetensors)");
  train->add_flag("--quiet", ta.quiet, "no progress lines");
  return train;
}

CLI::App* add_memory(CLI::App& app, MemoryArgs& ma) {
  auto* memory = app.add_subcommand("memory", "measure training memory, sparse beside dense");
  memory->add_option("--model", ma.model, "model name")->capture_default_str();
  memory->add_option("--density", ma.density, "density of sparse layers")->capture_default_str();
  memory->add_option("--format", ma.format, "csr|bsr")->capture_default_str();
  memory->add_option("--batch", ma.batch, "batch size")->capture_default_str();
  memory->add_option("--device", ma.device, "cpu|cuda")->capture_default_str();
  memory->add_option("--distribution", ma.distribution, "uniform|er|erk")->capture_default_str();
  memory->add_option("--image-size", ma.image_size, "image side for CNNs")->capture_default_str();
  memory->add_option("--config", ma.config,
                     "measure this training config's model and sparsity method (the dense side: method dense)");
  memory->add_flag("--json", ma.json, "print JSON");
  memory->add_option("--set", ma.sets, "key=value over the measured config (e.g. train.checkpoint_activations=blocks)");
  return memory;
}

struct BenchArgs {
  std::string which, device = "cpu", json, pattern = "random", only;
  double seconds = 0.2;
  StepBenchArgs step;
  CLI::Option* densities = nullptr;  // given on the command line or not (conv has its own defaults)
  CLI::Option* batch = nullptr;
};

CLI::App* add_bench(CLI::App& app, BenchArgs& b) {
  auto* bench = app.add_subcommand("bench", "benchmark sparse kernels against dense library calls");
  bench->add_option("which", b.which, "gemm|step|conv|allreduce|spmm|sddmm|sparse_linear|topology|all")->required();
  bench->add_option("--device", b.device, "cpu|cuda")->capture_default_str();
  bench->add_option("--json", b.json, "write results to this JSON file");
  bench->add_option("--min-seconds", b.seconds, "time per measurement")->capture_default_str();
  bench->add_option("--model", b.step.model, "step: model name")->capture_default_str();
  b.densities = bench->add_option("--densities", b.step.densities, "step, conv: densities to time")->delimiter(',');
  b.batch = bench->add_option("--batch", b.step.batch, "step, conv: batch size (conv: default 8)")->capture_default_str();
  bench->add_option("--image-size", b.step.image_size, "step: image side")->capture_default_str();
  bench->add_option("--steps", b.step.steps, "step: timed steps")->capture_default_str();
  bench->add_option("--variant", b.step.variants, "step: label[:key=value,...], timed in turn (repeat the flag)");
  bench->add_option("--rounds", b.step.rounds, "step: passes over the variants")->capture_default_str();
  bench->add_option("--pattern", b.pattern,
                    "spmm, sddmm, sparse_linear: CSR positions, random or runs (one run of columns per row)")
      ->capture_default_str();
  bench->add_option("--only", b.only, "conv: only the shapes whose name contains this (e.g. \"l3 3x3\")");
  return bench;
}

CLI::App* add_config(CLI::App& app, ConfigArgs& c) {
  auto* config = app.add_subcommand("config", "show the options of a component, or the default config");
  config->add_option("--show", c.show, "a section (sparsity, optimizer, ...) or a component (rigl, sgd, resnet50, ...)");
  config->add_flag("--defaults", c.defaults, "print the whole default config as JSON");
  return config;
}

int run_bench(BenchArgs& b) {
  if (b.which == "step") {
    b.step.device = b.device;
    b.step.json_out = b.json;
    return run_step_bench(b.step);
  }
  if (b.which == "gemm") return run_gemm_bench(b.json, b.seconds);
  if (b.which == "allreduce") {
    if (!b.densities->count()) b.step.densities = {1.0, 0.1, 0.01};
    b.step.device = b.device;
    b.step.json_out = b.json;
    return run_allreduce_bench(b.step);
  }
  if (b.which == "conv") {
    ConvBenchArgs c;
    if (b.densities->count()) c.densities = b.step.densities;
    if (b.batch->count()) c.batch = b.step.batch;
    c.device = b.device;
    c.min_seconds = b.seconds;
    c.json_out = b.json;
    c.only = b.only;
    return run_conv_bench(c);
  }
  return run_sparse_bench(b.which, b.device, b.json, b.seconds, b.pattern);
}

}  // namespace

int main(int argc, char** argv) {
  // A short OpenMP spin (re-executing once to set it) and as many threads as this
  // process may use: training degrades to its fair share on a shared machine.
  sprout::apply_cpu_wait_policy(argv);
  sprout::set_cpu_threads(0);
  CLI::App app{"sprout: truly sparse training"};
  app.require_subcommand(1);
  TrainArgs ta;
  MemoryArgs ma;
  BenchArgs ba;
  ConfigArgs ca;
  auto* train = add_train(app, ta);
  auto* memory = add_memory(app, ma);
  auto* bench = add_bench(app, ba);
  auto* config = add_config(app, ca);
  InteropArgs ia;
  add_interop(app, ia);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return fail(e.what());
  }
  try {
    sprout::models::register_models();
    sprout::data::register_data_sets();
    if (*train) return run_train(ta);
    if (*memory) return run_memory(ma);
    if (*bench) return run_bench(ba);
    if (*config) return run_config(ca);
    if (int code = 0; run_interop(app, ia, &code)) return code;
  } catch (const sprout::OutOfMemory& e) {
    return fail(e.what());
  } catch (const std::bad_alloc&) {
    return fail("out of memory (host allocation failed)");
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  return 0;
}
