// The command lines of export, eval and report: PyTorch in and out, and a run report.
#include <CLI/CLI.hpp>

#include "apps/commands.h"

namespace sprout::app {

void add_interop(CLI::App& app, InteropArgs& a) {
  auto* ex = app.add_subcommand("export", "write a model as a torchvision state_dict (safetensors)");
  ExportArgs& e = a.export_args;
  ex->add_option("source", e.source, "a run folder or its model.safetensors")->required();
  ex->add_option("--to", e.to, "torch")->capture_default_str();
  ex->add_option("--out", e.out, "the file to write")->required();
  ex->add_option("--config", e.config, "the run's config, for a model file without summary.json beside it");
  ex->add_flag("--sparse", e.sparse, "sparse weights as CSR/BSR parts (torch.sparse_csr_tensor / sparse_bsr_tensor)");
  auto* ev = app.add_subcommand("eval", "top-1/top-5 accuracy, loss and throughput on the test split");
  EvalArgs& v = a.eval_args;
  ev->add_option("--model", v.model, "a model.safetensors (or a run folder)")->required();
  ev->add_option("--config", v.config, "the config naming the model and data (default: summary.json beside it)");
  ev->add_option("--set", v.sets, "override a config key: key=value (repeatable)");
  ev->add_option("--device", v.device, "auto|cpu|cuda")->capture_default_str();
  ev->add_option("--json", v.json, "also write the result to this JSON file");
  auto* rp = app.add_subcommand("report", "one self-contained HTML page comparing runs");
  ReportArgs& r = a.report_args;
  rp->add_option("runs", r.runs, "run folders")->required();
  rp->add_option("--out", r.out, "the HTML file to write")->capture_default_str();
}

bool run_interop(const CLI::App& app, const InteropArgs& a, int* code) {
  if (app.got_subcommand("export")) *code = run_export(a.export_args);
  else if (app.got_subcommand("eval")) *code = run_eval(a.eval_args);
  else if (app.got_subcommand("report")) *code = run_report(a.report_args);
  else return false;
  return true;
}

}  // namespace sprout::app
