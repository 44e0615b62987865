// Polarization-gated pruning: gate placement (after the layer, or after its BatchNorm),
// the extra loss reaching the gate logits, and physical removal of closed units on
// small MLPs (dense and sparse weights): the same outputs as the gated model, and
// parameter counts that match the layers left.
#include <algorithm>
#include <cmath>

#include "engine/io/config.h"
#include "engine/nn/gate.h"
#include "engine/nn/init.h"
#include "engine/nn/layers.h"
#include "engine/nn/sparse_layers.h"
#include "engine/ops/elementwise.h"
#include "engine/ops/loss.h"
#include "engine/sparsity/factory.h"
#include "engine/sparsity/methods.h"
#include "engine/sparsity/registry.h"
#include "models/models.h"
#include "models/resnet.h"
#include "testing.h"

namespace sprout::sparsity {
namespace {

using Json = nlohmann::json;

// The config's "sparsity" section for polarize with `extra` on top.
Json polarize_cfg(Json extra = Json::object()) {
  Json cfg = {{"sparsity", sparsity_defaults()}};
  Json sp = {{"method", "polarize"}, {"density", 0.5}};
  sp.update(extra);
  io::merge_checked(cfg, Json{{"sparsity", sp}}, "test");
  return cfg["sparsity"];
}

std::vector<nn::Gated*> gated_modules(nn::Module& m) {
  std::vector<nn::Gated*> out;
  for (auto& [name, mod] : m.modules())
    if (auto* g = dynamic_cast<nn::Gated*>(mod)) out.push_back(g);
  return out;
}

// Closes the gates listed per gated layer (logit -1), opens the rest (logit 1).
void set_gates(nn::Gated* g, const std::vector<int64_t>& closed) {
  std::vector<float> z((size_t)g->gate()->units, 1.f);
  for (int64_t u : closed) z[(size_t)u] = -1.f;
  g->gate()->logits.copy_from(Tensor::from_vector<float>(z, {(int64_t)z.size()}));
}

Tensor forward_eval(nn::Module& m, const Tensor& x) {
  autograd::NoGradGuard ng;
  m.eval();
  return m.forward(x);
}

TEST(Polarize, GatesEveryHiddenLayerAndTheLossReachesTheLogits) {
  nn::init_rng().seed_with(1);
  auto model = models::mlp(12, {10, 8}, 4);
  auto sp = make_sparsifier(polarize_cfg(), *model, 1);
  auto gates = gated_modules(*model);
  ASSERT_EQ(gates.size(), 2u);  // not the classifier
  EXPECT_EQ(gates[0]->gate()->units, 10);
  EXPECT_EQ(gates[1]->gate()->units, 8);
  // Gates start open, q in [0.6, 0.9].
  for (auto* g : gates)
    for (float z : g->gate()->logits.to_vector<float>()) {
      double q = 1 / (1 + std::exp(-(double)z));
      EXPECT_GE(q, 0.6 - 1e-6);
      EXPECT_LE(q, 0.9 + 1e-6);
    }
  // Weights stay dense: structured pruning.
  for (auto& p : model->parameters()) EXPECT_EQ(p.sparse, nullptr) << p.name;
  Tensor x = testing::randn({6, 12}, 2, DType::F32);
  Tensor y = Tensor::from_vector<int32_t>({0, 1, 2, 3, 0, 1}, {6});
  Tensor loss = ops::add(ops::cross_entropy(model->forward(x), y), sp->extra_loss());
  loss.backward();
  for (auto* g : gates) EXPECT_TRUE(g->gate()->logits.grad().defined());
}

TEST(Polarize, RemovalKeepsTheGatedOutputsOnADenseMlp) {
  nn::init_rng().seed_with(2);
  auto model = models::mlp(12, {10, 8}, 4);
  auto sp = make_sparsifier(polarize_cfg(), *model, 2);
  auto gates = gated_modules(*model);
  set_gates(gates[0], {1, 4, 5, 9});
  set_gates(gates[1], {0, 7});
  Tensor x = testing::randn({5, 12}, 3, DType::F32);
  std::vector<float> gated = forward_eval(*model, x).to_vector<float>();
  sp->finish();
  EXPECT_TRUE(gated_modules(*model).empty());
  auto& ch = model->children();
  auto* l0 = dynamic_cast<nn::Linear*>(ch[0].second.get());
  auto* l1 = dynamic_cast<nn::Linear*>(ch[2].second.get());
  auto* l2 = dynamic_cast<nn::Linear*>(ch[4].second.get());
  ASSERT_TRUE(l0 && l1 && l2);
  EXPECT_EQ(l0->weight.shape(), (Shape{6, 12}));
  EXPECT_EQ(l1->weight.shape(), (Shape{6, 6}));
  EXPECT_EQ(l2->weight.shape(), (Shape{4, 6}));
  std::vector<float> removed = forward_eval(*model, x).to_vector<float>();
  ASSERT_EQ(removed.size(), gated.size());
  for (size_t i = 0; i < gated.size(); ++i) EXPECT_NEAR(removed[i], gated[i], 1e-5) << i;
  Json r = sp->summary();
  EXPECT_EQ(r["physical_removal"], "done");
  EXPECT_EQ(r["parameters"]["before"].get<int64_t>(), 12 * 10 + 10 + 10 * 8 + 8 + 8 * 4 + 4);
  EXPECT_EQ(r["parameters"]["after"].get<int64_t>(), 6 * 12 + 6 + 6 * 6 + 6 + 4 * 6 + 4);
  EXPECT_EQ(r["parameters"]["after"].get<int64_t>(), model->num_parameters());
  EXPECT_EQ(r["flops_per_sample"]["after"].get<int64_t>(), 2 * (6 * 12 + 6 * 6 + 4 * 6));
  EXPECT_EQ(r["units"]["open"].get<int64_t>(), 12);
  EXPECT_EQ(r["units_removed"].get<int64_t>(), 6);
}

TEST(Polarize, RemovalRebuildsSparseLayersAndSurvivesAFullyClosedLayer) {
  nn::init_rng().seed_with(3);
  Rng rng(4);
  auto model = std::make_shared<nn::Sequential>();
  model->add(std::make_shared<nn::SparseLinear>(12, 10, 0.5, true, rng));
  model->add(std::make_shared<nn::ReLU>());
  model->add(std::make_shared<nn::SparseLinear>(10, 8, 0.5, true, rng));
  model->add(std::make_shared<nn::ReLU>());
  model->add(std::make_shared<nn::Linear>(8, 3));
  auto sp = methods().at("polarize").make(polarize_cfg(), *model, 3);
  auto gates = gated_modules(*model);
  ASSERT_EQ(gates.size(), 2u);
  set_gates(gates[0], {0, 2, 3});
  set_gates(gates[1], {0, 1, 2, 3, 4, 5, 6, 7});  // all closed
  auto* s0 = dynamic_cast<nn::SparseLinear*>(gates[0]->layer().get());
  auto* s1 = dynamic_cast<nn::SparseLinear*>(gates[1]->layer().get());
  ASSERT_TRUE(s0 && s1);
  // Expected nnz: layer 0 keeps its open rows; layer 1 keeps one silenced row, over
  // the open columns.
  auto kept_nnz = [](nn::SparseLinear* s, const std::vector<int>& rows, const std::vector<int>& cols) {
    auto rp = s->weight.row_ptr.to_vector<int32_t>();
    auto ci = s->weight.col_idx.to_vector<int32_t>();
    int64_t n = 0;
    for (int r : rows)
      for (int32_t e = rp[(size_t)r]; e < rp[(size_t)r + 1]; ++e)
        n += std::find(cols.begin(), cols.end(), ci[(size_t)e]) != cols.end();
    return n;
  };
  std::vector<int> open0{1, 4, 5, 6, 7, 8, 9}, all_in(12);
  for (int i = 0; i < 12; ++i) all_in[(size_t)i] = i;
  int64_t nnz0 = kept_nnz(s0, open0, all_in);
  Tensor x = testing::randn({4, 12}, 5, DType::F32);
  std::vector<float> gated = forward_eval(*model, x).to_vector<float>();
  sp->finish();
  auto& ch = model->children();
  auto* n0 = dynamic_cast<nn::SparseLinear*>(ch[0].second.get());
  auto* n1 = dynamic_cast<nn::SparseLinear*>(ch[2].second.get());
  auto* n2 = dynamic_cast<nn::Linear*>(ch[4].second.get());
  ASSERT_TRUE(n0 && n1 && n2);
  EXPECT_EQ(n0->out_features, 7);
  EXPECT_EQ(n0->weight.nnz(), nnz0);
  EXPECT_EQ(n1->in_features, 7);
  EXPECT_EQ(n1->out_features, 1);
  EXPECT_EQ(n2->in_features, 1);
  std::vector<float> removed = forward_eval(*model, x).to_vector<float>();
  for (size_t i = 0; i < gated.size(); ++i) EXPECT_NEAR(removed[i], gated[i], 1e-5) << i;
  Json r = sp->summary();
  EXPECT_EQ(r["parameters"]["after"].get<int64_t>(), n0->weight.nnz() + 7 + n1->weight.nnz() + 1 + 3 + 3);
}

TEST(Polarize, ConvChannelsAreGatedAfterBatchNormWithBlockGates) {
  nn::init_rng().seed_with(4);
  auto model = models::resnet(18, 10, "cifar", 3, 0.0625);
  auto sp = make_sparsifier(polarize_cfg({{"gate_blocks", true}}), *model, 4);
  int64_t bn_gated = 0, blocks = 0;
  for (auto* g : gated_modules(*model)) {
    bn_gated += g->layer()->type_name() == "BatchNorm2d";
    blocks += g->block_gate() != nullptr;
  }
  EXPECT_EQ(bn_gated, (int64_t)gated_modules(*model).size());  // every conv is followed by a BN
  EXPECT_EQ(blocks, 8);                                         // ResNet-18: 8 basic blocks
  Tensor x = testing::randn({2, 3, 8, 8}, 6, DType::F32);
  Tensor y = Tensor::from_vector<int32_t>({1, 2}, {2});
  model->train();
  ops::add(ops::cross_entropy(model->forward(x), y), sp->extra_loss()).backward();
  sp->finish();
  Json r = sp->summary();
  EXPECT_NE(r["physical_removal"].get<std::string>().find("not supported"), std::string::npos);
  EXPECT_EQ(r["block_gates"]["total"].get<int64_t>(), 8);
  // The small CNN has no BatchNorm: gates follow the convs; gate_blocks needs blocks.
  auto cnn = models::small_cnn(1, 8, 4);
  EXPECT_THROW(make_sparsifier(polarize_cfg({{"gate_blocks", true}}), *cnn, 5), Error);
}

}  // namespace
}  // namespace sprout::sparsity
