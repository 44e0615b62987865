// EAST: the cyclic density schedule and DyReLU blend formulas, weight sharing on a
// small ResNet-34 (one stored tensor per shared conv, virtual density), and a short
// loop over an MLP: the density follows the cycle, returns to its start, stays there
// under the base drop/grow, and DyReLU is swapped in and back out.
#include <cmath>
#include <map>
#include <set>

#include "engine/io/config.h"
#include "engine/sparsity/registry.h"
#include "engine/nn/dyrelu.h"
#include "engine/nn/gate.h"
#include "engine/nn/init.h"
#include "engine/nn/layers.h"
#include "engine/nn/sparse_layers.h"
#include "engine/ops/loss.h"
#include "engine/sparse/matrix.h"
#include "engine/sparsity/factory.h"
#include "engine/sparsity/layer_edit.h"
#include "engine/sparsity/methods.h"
#include "models/models.h"
#include "models/resnet.h"
#include "engine/sparsity/method_harness.h"
#include "testing.h"

namespace sprout::sparsity {
namespace {

using Json = nlohmann::json;

// The config's "sparsity" section for EAST with `extra` on top.
Json east_cfg(Json extra) {
  Json cfg = {{"sparsity", sparsity_defaults()}};
  Json sp = {{"method", "east"}, {"density", 0.1}, {"dyrelu", false}, {"cyclic", false}};
  sp.update(extra);
  io::merge_checked(cfg, Json{{"sparsity", sp}}, "test");
  return cfg["sparsity"];
}

TEST(EastSchedule, CyclicDensityAtQuarterPoints) {
  double d = 0.002, top = 3 * d;
  EXPECT_DOUBLE_EQ(cyclic_density(d, top, 0.0), d);
  EXPECT_NEAR(cyclic_density(d, top, 0.25), (d + top) / 2, 1e-15);
  EXPECT_NEAR(cyclic_density(d, top, 0.5), top, 1e-15);
  EXPECT_NEAR(cyclic_density(d, top, 1.0), d, 1e-15);
}

TEST(EastSchedule, CyclePositions) {
  double p = -1;
  // 100 steps, two equal cycles.
  ASSERT_TRUE(cycle_position(0, 100, 2, 1.0, &p));
  EXPECT_DOUBLE_EQ(p, 0.0);
  ASSERT_TRUE(cycle_position(25, 100, 2, 1.0, &p));
  EXPECT_DOUBLE_EQ(p, 0.5);
  ASSERT_TRUE(cycle_position(50, 100, 2, 1.0, &p));
  EXPECT_DOUBLE_EQ(p, 0.0);
  ASSERT_TRUE(cycle_position(99, 100, 2, 1.0, &p));
  EXPECT_NEAR(p, 0.98, 1e-12);
  EXPECT_FALSE(cycle_position(100, 100, 2, 1.0, &p));
  // Each cycle twice the previous: 30 then 60 steps.
  ASSERT_TRUE(cycle_position(15, 90, 2, 2.0, &p));
  EXPECT_NEAR(p, 0.5, 1e-12);
  ASSERT_TRUE(cycle_position(60, 90, 2, 2.0, &p));
  EXPECT_NEAR(p, 0.5, 1e-12);
}

TEST(EastSchedule, DyReluBlendBetweenEsAndEe) {
  // E = 12: e_s = 3, e_e = 5.
  EXPECT_DOUBLE_EQ(dyrelu_beta(0, 12), 1.0);
  EXPECT_DOUBLE_EQ(dyrelu_beta(2, 12), 1.0);
  EXPECT_DOUBLE_EQ(dyrelu_beta(3, 12), 1.0);
  EXPECT_DOUBLE_EQ(dyrelu_beta(4, 12), 0.5);
  EXPECT_DOUBLE_EQ(dyrelu_beta(5, 12), 0.0);
  EXPECT_DOUBLE_EQ(dyrelu_beta(11, 12), 0.0);
  // E = 250 (the paper's run): e_s = 62, e_e = 124.
  EXPECT_DOUBLE_EQ(dyrelu_beta(61, 250), 1.0);
  EXPECT_DOUBLE_EQ(dyrelu_beta(62, 250), 1.0);
  EXPECT_DOUBLE_EQ(dyrelu_beta(93, 250), 0.5);
  EXPECT_DOUBLE_EQ(dyrelu_beta(124, 250), 0.0);
  // Short runs: e_e <= e_s, DyReLU for the epochs before e_e only.
  EXPECT_DOUBLE_EQ(dyrelu_beta(0, 4), 1.0);
  EXPECT_DOUBLE_EQ(dyrelu_beta(1, 4), 0.0);
  EXPECT_DOUBLE_EQ(dyrelu_beta(0, 3), 0.0);
}

TEST(EastWeightSharing, SharedBlocksUseOneTensorAndTheVirtualDensity) {
  EXPECT_DOUBLE_EQ(shared_density(0.01, 1000, 500), 0.015);
  nn::init_rng().seed_with(5);
  auto model = models::resnet(34, 10, "cifar", 3, 0.0625);  // channels 4, 8, 16, 32
  // Uniform, so every layer is sparse (ERK would keep this narrow net's small convs dense).
  auto sp = make_sparsifier(east_cfg({{"weight_sharing", true}, {"share_from", 2}, {"density", 0.2},
                                              {"distribution", "uniform"}, {"dyrelu", true}}), *model, 5);
  std::map<std::string, nn::Module*> mods;
  for (auto& [name, m] : model->modules()) mods[name] = m;
  // ResNet-34 stages have 3, 4, 6, 3 blocks: blocks 2.. share block 1's two convs.
  int64_t shared = 0;
  for (auto& [name, m] : mods) {
    auto* s = dynamic_cast<nn::SharedScaled*>(m);
    if (!s) continue;
    ++shared;
    std::string stage = name.substr(0, name.find('.')), conv = name.substr(name.rfind('.') + 1);
    EXPECT_EQ(s->source_module(), mods.at(stage + ".1." + conv)) << name;
    EXPECT_EQ(s->source_module()->type_name(), "SparseConv2d") << name;
    float scale = s->scale.to_vector<float>()[0];
    EXPECT_GE(scale, 0.f);
    EXPECT_LT(scale, 1.f);
  }
  EXPECT_EQ(shared, 2 * ((3 - 2) + (4 - 2) + (6 - 2) + (3 - 2)));
  // One stored tensor per conv: no parameter appears twice, shared blocks own only scales.
  std::set<Tensor*> seen;
  int64_t own = 0, nnz = 0;
  for (auto& p : model->parameters()) {
    EXPECT_TRUE(seen.insert(p.tensor).second) << p.name;
    EXPECT_EQ(p.name.find("layer1.2.conv1.weight"), std::string::npos);
    if (p.sparse) { own += p.sparse->dense_numel(); nnz += p.sparse->nnz(); }
  }
  Json r = sp->summary();
  int64_t n_own = r["weight_sharing"]["own_weights"], n_virtual = r["weight_sharing"]["shared_virtual_weights"];
  EXPECT_EQ(n_own, own);
  double d_adj = shared_density(0.2, n_own, n_virtual);
  EXPECT_NEAR(r["density_stored_target"].get<double>(), d_adj, 1e-12);
  EXPECT_NEAR((double)nnz / (double)n_own, d_adj, 2e-3);
  EXPECT_NEAR((double)nnz / (double)(n_own + n_virtual), 0.2, 2e-3);
  // The shared conv is the source conv times its scale.
  auto* s = dynamic_cast<nn::SharedScaled*>(mods.at("layer1.2.conv1"));
  Tensor x = testing::randn({2, 4, 5, 5}, 6, DType::F32);
  std::vector<float> a = s->forward(x).to_vector<float>(), b = s->source_module()->forward(x).to_vector<float>();
  float scale = s->scale.to_vector<float>()[0];
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i] * scale, 1e-6);
  // The stem's ReLU module became a DyReLU over its 4 channels; the whole net runs.
  ASSERT_EQ(mods.at("relu")->type_name(), "DyReLU");
  EXPECT_EQ(dynamic_cast<nn::DyReLU*>(mods.at("relu"))->channels, 4);
  Tensor logits = model->forward(testing::randn({2, 3, 8, 8}, 7, DType::F32));
  EXPECT_EQ(logits.shape(), (Shape{2, 10}));
  // Only ResNets have stages to share.
  auto mlp = models::mlp(8, {6}, 3);
  EXPECT_THROW(make_sparsifier(east_cfg({{"weight_sharing", true}}), *mlp, 1), Error);
}

// The shared method harness (seed 9) with this file's counters.
struct Loop : Harness {
  Loop(const Json& sparsity, int64_t steps_per_epoch, int64_t epochs) : Harness(sparsity, steps_per_epoch, epochs, 9) {}
  std::vector<int64_t> nnz() {
    std::vector<int64_t> out;
    for (auto& L : sparse_layers(sp->ctx)) out.push_back(L.p->nnz());
    return out;
  }
  int64_t total() {
    int64_t n = 0;
    for (int64_t v : nnz()) n += v;
    return n;
  }
};

TEST(East, CyclesThenBaseDropAndGrow) {
  // 4 epochs of 10 steps, updates every 2 steps; one cycle over the first half.
  Loop l(east_cfg({{"cyclic", true}, {"cycles", 1}, {"cycle_epochs_fraction", 0.5}, {"update_every", 2},
                   {"cycle_max_multiplier", 3.0}, {"min_density", 0.05}}), 10, 4);
  std::vector<int64_t> start = l.nnz();
  int64_t start_total = l.total(), peak = 0;
  while (l.step < 20) {
    l.run_step();
    peak = std::max(peak, l.total());
    if (l.step - 1 == 10) {
      EXPECT_GT(l.total(), 2 * start_total) << "mid-cycle (p = 0.5) near 3x";
    }
  }
  EXPECT_GT(peak, 2 * start_total);
  // Step 20 is the first base update: every layer back to its starting nnz.
  l.run_step();
  EXPECT_EQ(l.nnz(), start);
  int64_t grown = 0;
  for (auto& ev : l.sp->take_events())
    if (ev.step == 20) grown += ev.grown;  // shrinks back and exchanges in one edit
  EXPECT_GT(grown, 0);
  grown = 0;
  while (l.step < 40) l.run_step();
  for (auto& ev : l.sp->take_events()) {
    EXPECT_EQ(ev.dropped, ev.grown) << ev.layer << " at step " << ev.step;  // base: nnz constant
    grown += ev.grown;
  }
  EXPECT_GT(grown, 0);
  EXPECT_EQ(l.nnz(), start);
  for (auto& L : sparse_layers(l.sp->ctx))
    sparse::validate_structure(L.p->row_ptr, L.p->col_idx, L.p->rows, L.p->cols, "layer");
}

TEST(East, DyReluSwappedInThenBackOut) {
  Loop l(east_cfg({{"dyrelu", true}, {"update_every", 3}}), 3, 8);  // e_s = 2, e_e = 3
  auto& ch = l.model->children();
  auto* d1 = dynamic_cast<nn::DyReLU*>(ch[1].second.get());
  auto* d3 = dynamic_cast<nn::DyReLU*>(ch[3].second.get());
  ASSERT_TRUE(d1 && d3);
  EXPECT_EQ(d1->channels, 40);
  EXPECT_EQ(d3->channels, 30);
  // DyReLU's hyper-network stays dense and out of the sparse layers.
  for (auto& L : sparse_layers(l.sp->ctx)) EXPECT_EQ(L.name.find("fc"), std::string::npos);
  while (l.step < 6) l.run_step();  // epochs 0, 1 at beta 1
  EXPECT_DOUBLE_EQ(d1->beta, 1.0);
  EXPECT_TRUE(d1->fc2_weight.grad().defined());
  while (l.step < 9) l.run_step();  // epoch 2 (= e_s) still 1; from epoch 3 plain ReLU
  EXPECT_EQ(ch[1].second->type_name(), "ReLU");
  EXPECT_EQ(ch[3].second->type_name(), "ReLU");
  EXPECT_EQ(d1->fc1_weight.numel(), 0);  // memory released; the optimizer skips it
  while (l.step < 24) l.run_step();
  EXPECT_TRUE(l.sp->summary()["dyrelu"]["dropped"].get<bool>());
}

TEST(East, SparseFanInInitScalesTheStartingWeights) {
  for (bool on : {true, false}) {
    Loop l(east_cfg({{"sparse_fan_in_init", on}, {"update_every", 1000}}), 5, 1);
    std::vector<std::vector<float>> before;
    for (auto& L : sparse_layers(l.sp->ctx)) before.push_back(L.p->values.to_vector<float>());
    l.sp->before_forward(0);
    auto layers = sparse_layers(l.sp->ctx);
    for (size_t i = 0; i < layers.size(); ++i) {
      double f = on ? 1.0 / std::sqrt(layers[i].p->density()) : 1.0;
      std::vector<float> after = layers[i].p->values.to_vector<float>();
      ASSERT_EQ(after.size(), before[i].size());
      for (size_t e = 0; e < after.size(); ++e) EXPECT_NEAR(after[e], before[i][e] * f, 1e-6 * f) << layers[i].name;
    }
  }
}

}  // namespace
}  // namespace sprout::sparsity
