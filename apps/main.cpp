// The sprout command line: subcommands train, memory, bench. Every failure ends as
// one line "error: ..." on stderr and a non-zero exit code.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

#include "apps/commands.h"
#include "engine/core/error.h"

namespace {

int fail(const std::string& what) {
  std::string line = what;
  for (char& c : line) if (c == '\n' || c == '\r') c = ' ';
  std::fprintf(stderr, "error: %s\n", line.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"sprout: truly sparse training"};
  app.require_subcommand(1);

  sprout::app::TrainArgs ta;
  auto* train = app.add_subcommand("train", "train a model from a JSON config");
  train->add_option("--config", ta.config, "JSON run config")->required();
  train->add_option("--set", ta.sets, "override a config key: key=value (repeatable)");
  train->add_option("--device", ta.device, "auto|cpu|cuda")->capture_default_str();
  train->add_option("--out", ta.out, "output folder")->capture_default_str();
  train->add_option("--resume", ta.resume, "checkpoint to continue from");
  train->add_flag("--quiet", ta.quiet, "no progress lines");

  sprout::app::MemoryArgs ma;
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

  std::string bench_which, bench_device = "cpu", bench_json;
  double bench_seconds = 0.2;
  auto* bench = app.add_subcommand("bench", "benchmark sparse kernels against dense library calls");
  bench->add_option("which", bench_which, "gemm|step|spmm|sddmm|sparse_linear|topology|all")->required();
  bench->add_option("--device", bench_device, "cpu|cuda")->capture_default_str();
  bench->add_option("--json", bench_json, "write results to this JSON file");
  bench->add_option("--min-seconds", bench_seconds, "time per measurement")->capture_default_str();
  sprout::app::StepBenchArgs sa;
  bench->add_option("--model", sa.model, "step: model name")->capture_default_str();
  bench->add_option("--densities", sa.densities, "step: densities to time")->delimiter(',');
  bench->add_option("--batch", sa.batch, "step: batch size")->capture_default_str();
  bench->add_option("--image-size", sa.image_size, "step: image side")->capture_default_str();
  bench->add_option("--steps", sa.steps, "step: timed steps")->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return fail(e.what());
  }

  try {
    if (*train) return sprout::app::run_train(ta);
    if (*memory) return sprout::app::run_memory(ma);
    if (*bench && bench_which == "step") {
      sa.device = bench_device;
      sa.json_out = bench_json;
      return sprout::app::run_step_bench(sa);
    }
    if (*bench && bench_which == "gemm") return sprout::app::run_gemm_bench(bench_json, bench_seconds);
    if (*bench) return run_sparse_bench(bench_which, bench_device, bench_json, bench_seconds);
  } catch (const sprout::OutOfMemory& e) {
    return fail(e.what());
  } catch (const std::bad_alloc&) {
    return fail("out of memory (host allocation failed)");
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  return 0;
}
