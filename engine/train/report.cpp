// Layer and memory reports for summary.json.
#include "engine/train/report.h"

#include "engine/core/allocator.h"
#include "engine/sparse/parameter.h"

namespace sprout::train {

using Json = nlohmann::json;

Json memory_report(nn::Module& model, optim::Optimizer* opt, Device dev) {
  MemStats s = Allocator::stats(dev.type);
  Json m = Json::object();
  for (int c = 0; c < kNumMemCategories; ++c)
    m[mem_category_name((MemCategory)c)] = {{"current_bytes", s.current[c]}, {"peak_bytes", s.peak[c]}};
  m["total"] = {{"current_bytes", s.total_current}, {"peak_bytes", s.total_peak}};
  int64_t dense_params = 0;
  for (auto& p : model.parameters()) dense_params += p.sparse ? p.sparse->dense_numel() : p.tensor->numel();
  int64_t n_state = opt ? (int64_t)opt->state_names().size() : 0;
  m["dense_equivalent"] = {{"weights_bytes", dense_params * 4}, {"gradients_bytes", dense_params * 4},
                           {"optimizer_bytes", dense_params * 4 * n_state}};
  size_t free_b = 0, total_b = 0;
  if (device_memory(dev, &free_b, &total_b))
    m["cuda"] = {{"cached_bytes", s.cached}, {"device_mallocs", s.device_mallocs},
                 {"device_free_bytes", free_b}, {"device_total_bytes", total_b}};
  return m;
}

Json flops_report(const FlopCount& c, double steps) {
  Json j = Json::object();
  if (steps <= 0) return j;
  for (int p = 0; p < kFlopPasses; ++p) {
    j[std::string(flop_pass_name((FlopPass)p))] = c.done[p] / steps;
    j[std::string("dense_") + flop_pass_name((FlopPass)p)] = c.dense[p] / steps;
  }
  j["total"] = c.total_done() / steps;
  j["dense_total"] = c.total_dense() / steps;
  j["ratio"] = c.total_dense() > 0 ? c.total_done() / c.total_dense() : 0.0;
  return j;
}

Json layer_report(nn::Module& model) {
  Json layers = Json::array();
  int64_t dense_params = 0, stored = 0;
  for (auto& p : model.parameters()) {
    if (p.sparse) {
      layers.push_back({{"name", p.name}, {"shape", p.sparse->dense_shape},
                        {"format", p.sparse->block > 1 ? "bsr" : "csr"}, {"nnz", p.sparse->nnz()},
                        {"density", p.sparse->density()}});
      dense_params += p.sparse->dense_numel();
      stored += p.sparse->nnz();
    } else {
      if (p.tensor->dim() >= 2)
        layers.push_back({{"name", p.name}, {"shape", p.tensor->shape()}, {"format", "dense"},
                          {"nnz", p.tensor->numel()}, {"density", 1.0}});
      dense_params += p.tensor->numel();
      stored += p.tensor->numel();
    }
  }
  return Json{{"layers", layers}, {"parameters", {{"dense", dense_params}, {"stored", stored}}}};
}

}  // namespace sprout::train
