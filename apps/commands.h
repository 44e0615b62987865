// The sprout subcommands, each a function the CLI in main.cpp calls.
#pragma once
#include <string>
#include <vector>

namespace sprout::app {

struct TrainArgs {
  std::string config;
  std::vector<std::string> sets;
  std::string device = "auto";
  std::string out = "runs/latest";
  std::string resume;
  std::string init_from;  // a torchvision-named dense state_dict to start from
  bool quiet = false;
};
int run_train(const TrainArgs& a);
}  // namespace sprout::app
namespace sprout::nn {
class Module;
}  // namespace sprout::nn
namespace sprout::app {
// The weights of a torchvision-named dense state_dict into `model` (apps/init_from.cpp).
void load_init_weights(const std::string& path, nn::Module& model);

struct MemoryArgs {
  std::string model = "mlp";
  double density = 0.1;
  std::string format = "csr";
  int64_t batch = 128;
  std::string device = "cpu";
  bool json = false;
  std::string distribution = "erk";
  int64_t image_size = 224;
  std::string config;  // measure this config's model and sparsity method instead
  std::vector<std::string> sets;  // key=value over the measured config (both sides)
};
int run_memory(const MemoryArgs& a);
struct StepBenchArgs {
  std::string model = "resnet50";
  std::vector<double> densities{1.0, 0.1};
  int64_t batch = 64;
  int64_t image_size = 224;
  std::string device = "auto";
  int warmup = 3, steps = 10;
  std::string json_out;
  // "label" or "label:key=value,key=value": configs timed in turn, `rounds` times over,
  // each against the first (one density per run).
  std::vector<std::string> variants;
  int rounds = 1;
};
int run_step_bench(const StepBenchArgs& a);
int run_gemm_bench(const std::string& json_out, double min_seconds);
struct ConvBenchArgs {
  std::vector<double> densities{0.2, 0.1, 0.05};
  int64_t batch = 8;
  std::string device = "cpu";
  double min_seconds = 0.2;
  std::string json_out;
  std::string only;  // time only the shapes whose name contains this
};
int run_conv_bench(const ConvBenchArgs& a);
// `bench allreduce` reads model, densities, image_size, device, steps and json_out.
int run_allreduce_bench(const StepBenchArgs& a);

struct ConfigArgs {
  std::string show;  // a section or a component's name
  bool defaults = false;
};
int run_config(const ConfigArgs& a);

// export, eval and report: PyTorch in and out, and a run report (apps/interop_cli.cpp).
struct ExportArgs {
  std::string source, to = "torch", out, config;
  bool sparse = false;
};
int run_export(const ExportArgs& a);
struct EvalArgs {
  std::string model, config, device = "auto", json;
  std::vector<std::string> sets;
};
int run_eval(const EvalArgs& a);
struct ReportArgs {
  std::vector<std::string> runs;
  std::string out = "report.html";
};
int run_report(const ReportArgs& a);
struct InteropArgs {
  ExportArgs export_args;
  EvalArgs eval_args;
  ReportArgs report_args;
};
}  // namespace sprout::app
namespace CLI {
class App;
}  // namespace CLI
namespace sprout::app {
// Adds the three subcommands; run_interop runs the one parsed (false when none was).
void add_interop(CLI::App& app, InteropArgs& a);
bool run_interop(const CLI::App& app, const InteropArgs& a, int* code);

}  // namespace sprout::app

int run_sparse_bench(const std::string& which, const std::string& device,
                     const std::string& json_out, double min_seconds, const std::string& pattern);
