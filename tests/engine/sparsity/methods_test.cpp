// Sparse-training methods against their formulas, through a minimal training loop:
// schedules, nnz invariants, zeroed new entries and state, GraNet's cubic density path.
#include <algorithm>
#include <cmath>
#include <set>

#include "engine/io/config.h"
#include "engine/nn/init.h"
#include "engine/sparse/parameter.h"
#include "engine/ops/loss.h"
#include "engine/sparse/matrix.h"
#include "engine/sparse/parameter.h"
#include "engine/sparsity/factory.h"
#include "engine/sparsity/layer_edit.h"
#include "engine/sparsity/methods.h"
#include "engine/sparsity/select.h"
#include "models/models.h"
#include "method_harness.h"

namespace sprout::sparsity {
namespace {

using Json = nlohmann::json;

TEST(Schedules, CosineDropFraction) {
  EXPECT_DOUBLE_EQ(cosine_fraction(0.3, 0, 1000), 0.3);
  EXPECT_NEAR(cosine_fraction(0.3, 500, 1000), 0.15, 1e-12);
  EXPECT_NEAR(cosine_fraction(0.3, 250, 1000), 0.15 * (1 + std::cos(M_PI / 4)), 1e-12);
  EXPECT_DOUBLE_EQ(cosine_fraction(0.3, 1000, 1000), 0.0);
  EXPECT_DOUBLE_EQ(cosine_fraction(0.3, 5000, 1000), 0.0);
}

TEST(Schedules, CubicSparsityAndAnnealedRate) {
  EXPECT_DOUBLE_EQ(cubic_sparsity(0.5, 0.9, 0.0), 0.5);
  EXPECT_DOUBLE_EQ(cubic_sparsity(0.5, 0.9, 1.0), 0.9);
  EXPECT_NEAR(cubic_sparsity(0.5, 0.9, 0.5), 0.5 + 0.4 * (1 - 0.125), 1e-12);
  EXPECT_DOUBLE_EQ(cubic_sparsity(0.0, 0.9, 2.0), 0.9);
  EXPECT_DOUBLE_EQ(annealed_rate(0.5, 0.005, 0, 100), 0.5);
  EXPECT_NEAR(annealed_rate(0.5, 0.005, 50, 100), 0.2525, 1e-12);
  EXPECT_NEAR(annealed_rate(0.5, 0.005, 100, 100), 0.005, 1e-12);
}

TEST(Select, RandomEmpty) {
  Rng rng(2);
  std::vector<int64_t> occupied{0, 3, 5, 6, 7, 11};
  for (int64_t k : {1, 5, 6}) {
    auto g = random_empty(3, 4, occupied, k, rng);
    ASSERT_EQ((int64_t)g.size(), k);
    std::set<int64_t> s(g.begin(), g.end());
    EXPECT_EQ((int64_t)s.size(), k);
    for (int64_t p : g) {
      EXPECT_FALSE(std::binary_search(occupied.begin(), occupied.end(), p));
      EXPECT_LT(p, 12);
    }
  }
  EXPECT_THROW(random_empty(3, 4, occupied, 7, rng), Error);
}

// Flat block positions R * grid_cols + C of a layer, ascending.
std::vector<int64_t> read_positions(const sparse::SparseParameter& p) {
  auto rp = p.row_ptr.to_vector<int32_t>(), ci = p.col_idx.to_vector<int32_t>();
  return flat_positions(rp, ci, sparse::grid_cols(p));
}

struct Snapshot {
  std::vector<int64_t> positions;
  std::vector<float> values, momentum;
};

Snapshot snap(Harness& h, const SparseLayer& L) {
  HostLayer hl = read_host(*L.p);
  Snapshot s{hl.positions, hl.values, {}};
  auto st = h.opt->state_of(L.param_index);
  s.momentum = st[0]->to_vector<float>();
  return s;
}

void check_structure(const sparse::SparseParameter& p) {
  sparse::validate_structure(p.row_ptr, p.col_idx, p.rows, p.cols, "layer");
}

// After an update: survivors keep value (and momentum when `state_kept`), new entries
// are zero in value and momentum.
void check_update(const Snapshot& before, const Snapshot& after, bool values_kept) {
  int64_t fresh = 0;
  for (size_t e = 0; e < after.positions.size(); ++e) {
    auto it = std::lower_bound(before.positions.begin(), before.positions.end(), after.positions[e]);
    bool old = it != before.positions.end() && *it == after.positions[e];
    if (old) {
      size_t j = (size_t)(it - before.positions.begin());
      if (values_kept) { EXPECT_EQ(after.values[e], before.values[j]); }
      EXPECT_EQ(after.momentum[e], before.momentum[j]);
    } else {
      ++fresh;
      EXPECT_EQ(after.values[e], 0.f);
      EXPECT_EQ(after.momentum[e], 0.f);
    }
  }
  EXPECT_GT(fresh, 0) << "the update grew nothing";
}

TEST(RigL, ConstantNnzZeroNewEntriesAndSkippedStep) {
  Harness h({{"method", "rigl"}, {"density", 0.3}, {"distribution", "erk"}, {"update_every", 4},
             {"drop_fraction", 0.3}, {"end_fraction", 0.75}}, 8, 2);
  auto layers = h.layers();
  ASSERT_GE(layers.size(), 2u);
  std::vector<int64_t> nnz0;
  for (auto& L : layers) nnz0.push_back(L.p->nnz());
  for (int i = 0; i < 4; ++i) h.run_step();  // momentum becomes non-zero
  std::vector<Snapshot> before;
  for (auto& L : h.layers()) before.push_back(snap(h, L));
  h.run_step();  // step 4: an update step (4 % 4 == 0, 4 < 0.75 * 16)
  auto after_layers = h.layers();
  for (size_t i = 0; i < after_layers.size(); ++i) {
    EXPECT_EQ(after_layers[i].p->nnz(), nnz0[i]) << after_layers[i].name;
    check_structure(*after_layers[i].p);
    // The optimizer step is skipped on update steps: survivors keep value and state.
    check_update(before[i], snap(h, after_layers[i]), true);
  }
  // Updates stop at end_fraction: no change after step 12.
  while (h.step < 13) h.run_step();
  auto frozen = snap(h, h.layers()[0]);
  while (h.step < 16) h.run_step();
  EXPECT_EQ(snap(h, h.layers()[0]).positions, frozen.positions);
  for (auto& ev : h.sp->take_events()) EXPECT_EQ(ev.dropped, ev.grown) << ev.layer;
}

TEST(RigL, EditsBlockSparseLayersInBlocks) {
  Harness h({{"method", "rigl"}, {"density", 0.3}, {"distribution", "erk"}, {"update_every", 2},
             {"drop_fraction", 0.3}, {"end_fraction", 1.0}, {"format", "bsr"}, {"block", 4}}, 4, 2);
  auto layers = h.layers();
  ASSERT_FALSE(layers.empty());
  std::vector<std::vector<int64_t>> before;
  std::vector<int64_t> blocks;
  for (auto& L : layers) {
    EXPECT_EQ(L.p->block, 4) << L.name;
    blocks.push_back(L.p->col_idx.numel());
    before.push_back(read_positions(*L.p));
  }
  for (int i = 0; i < 3; ++i) h.run_step();  // updates at steps 0 and 2
  int64_t moved = 0;
  auto after = h.layers();
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].p->col_idx.numel(), blocks[i]) << after[i].name;
    EXPECT_EQ(after[i].p->values.numel(), blocks[i] * 16) << after[i].name;
    sparse::validate(*after[i].p);
    auto now = read_positions(*after[i].p);
    for (int64_t q : now) moved += !std::binary_search(before[i].begin(), before[i].end(), q);
  }
  EXPECT_GT(moved, 0) << "no block moved";
  for (auto& ev : h.sp->take_events()) EXPECT_EQ(ev.dropped, ev.grown) << ev.layer;
}

// SET's rule: at an epoch end it drops floor(zeta * P) of the P non-negative values closest
// to zero and floor(zeta * N) of the N negative ones; every other entry keeps its value.
TEST(Set, DropsTheSmallestPositiveAndNegativeValuesSeparately) {
  Harness h({{"method", "set"}, {"density", 0.3}, {"distribution", "er"}, {"zeta", 0.5}}, 4, 3);
  SparseLayer L = h.layers()[0];
  const int64_t n = L.p->values.numel();
  std::vector<float> v((size_t)n);
  int64_t pos = 0, neg = 0;
  for (int64_t e = 0; e < n; ++e) {  // distinct magnitudes growing with e, signs alternating
    v[(size_t)e] = (e % 2 ? -1.f : 1.f) * 0.001f * (float)(e + 1);
    (e % 2 ? neg : pos) += 1;
  }
  std::copy(v.begin(), v.end(), L.p->values.data<float>());
  auto before = snap(h, L);
  h.sp->end_of_epoch(0);
  auto after = snap(h, h.layers()[0]);
  ASSERT_EQ((int64_t)after.positions.size(), n);
  // Expected survivors: the positives above the floor(pos/2) smallest, likewise negatives.
  std::set<int64_t> expect;
  for (int64_t e = 0; e < n; ++e) {
    const int64_t rank = e / 2;  // rank by magnitude within its sign
    if (rank >= (e % 2 ? neg / 2 : pos / 2)) expect.insert(before.positions[(size_t)e]);
  }
  std::set<int64_t> kept;
  for (size_t e = 0; e < after.positions.size(); ++e) {
    auto it = std::lower_bound(before.positions.begin(), before.positions.end(), after.positions[e]);
    const bool old = it != before.positions.end() && *it == after.positions[e];
    if (old && after.values[e] == before.values[(size_t)(it - before.positions.begin())] && after.values[e] != 0.f)
      kept.insert(after.positions[e]);
  }
  EXPECT_EQ(kept, expect);
  EXPECT_EQ((int64_t)expect.size(), n - pos / 2 - neg / 2);
}

TEST(Set, ConstantNnzAndZeroNewEntriesAtEpochEnds) {
  Harness h({{"method", "set"}, {"density", 0.3}, {"distribution", "er"}, {"zeta", 0.3}}, 4, 3);
  std::vector<int64_t> nnz0;
  for (auto& L : h.layers()) nnz0.push_back(L.p->nnz());
  for (int i = 0; i < 3; ++i) h.run_step();
  std::vector<Snapshot> before;
  for (auto& L : h.layers()) before.push_back(snap(h, L));
  h.run_step();  // step 3: the optimizer steps, then the epoch ends and SET edits.
  auto ls = h.layers();
  for (size_t i = 0; i < ls.size(); ++i) {
    EXPECT_EQ(ls[i].p->nnz(), nnz0[i]);
    check_structure(*ls[i].p);
    Snapshot a = snap(h, ls[i]);
    int64_t fresh = 0;
    for (size_t e = 0; e < a.positions.size(); ++e)
      if (!std::binary_search(before[i].positions.begin(), before[i].positions.end(), a.positions[e])) {
        ++fresh;
        EXPECT_EQ(a.values[e], 0.f);
        EXPECT_EQ(a.momentum[e], 0.f);
      }
    EXPECT_GE(fresh, 1);
  }
  // No edit after the last epoch.
  while (h.step < 8) h.run_step();
  auto p = snap(h, h.layers()[0]).positions;
  while (h.step < 12) h.run_step();
  EXPECT_EQ(snap(h, h.layers()[0]).positions, p);
}

TEST(GraNet, GlobalDensityFollowsCubicScheduleAndEndsAtFinal) {
  // 10 epochs of 10 steps, updates every 5 steps, pruning from epoch 1 to epoch 6.
  Harness h({{"method", "granet"}, {"init_density", 0.6}, {"final_density", 0.15},
             {"distribution", "erk"}, {"update_every", 5}, {"prune_start_epoch", 1},
             {"prune_end_epoch", 6}, {"death_rate", 0.5}, {"death_rate_final", 0.005}}, 10, 10);
  EXPECT_NEAR(h.density(), 0.6, 0.005);
  for (int i = 0; i < 100; ++i) {
    h.run_step();
    int64_t s = h.step - 1;
    if (s >= 10 && s % 5 == 0 && s <= 60) {
      double want = 1.0 - cubic_sparsity(0.4, 0.85, (double)(s - 10) / 50.0);
      EXPECT_NEAR(h.density(), want, 0.005) << "step " << s;
    }
    for (auto& L : h.layers()) check_structure(*L.p);
  }
  EXPECT_NEAR(h.density(), 0.15, 0.005);
}

TEST(Gmp, PrunesFromDenseToFinal) {
  Harness h({{"method", "gmp"}, {"final_density", 0.2}, {"update_every", 2},
             {"prune_start_epoch", 0}, {"prune_end_epoch", 2}}, 5, 3);
  EXPECT_DOUBLE_EQ(h.density(), 1.0);
  for (int i = 0; i < 15; ++i) h.run_step();
  EXPECT_NEAR(h.density(), 0.2, 0.005);
}

TEST(Gmp, LayerwisePrunesEveryLayerToFinal) {
  Harness h({{"method", "gmp"}, {"final_density", 0.2}, {"update_every", 2}, {"prune_start_epoch", 0},
             {"prune_end_epoch", 2}, {"layerwise", true}}, 5, 3);
  for (int i = 0; i < 15; ++i) h.run_step();
  for (auto& L : h.layers()) {
    EXPECT_EQ(L.p->nnz(), std::llround(0.2 * (double)L.p->dense_numel())) << L.name;
    check_structure(*L.p);
  }
}

TEST(Snip, PrunesToDensityOnTheFirstStep) {
  Harness h({{"method", "snip"}, {"density", 0.25}}, 4, 1);
  EXPECT_DOUBLE_EQ(h.density(), 1.0);
  h.run_step();
  EXPECT_NEAR(h.density(), 0.25, 0.001);
  h.run_step();
  EXPECT_NEAR(h.density(), 0.25, 0.001);
}

TEST(KStarts, TrainsOnTheUnionThenKeepsOneMask) {
  Harness h({{"method", "kstarts"}, {"density", 0.1}, {"distribution", "uniform"}, {"k", 3},
             {"warm_epochs", 1}, {"fitness", "both"}}, 4, 2);
  double union_density = h.density();
  EXPECT_GT(union_density, 0.2);  // three masks of 0.1, mostly disjoint
  for (int i = 0; i < 4; ++i) h.run_step();
  EXPECT_NEAR(h.density(), 0.1, 0.01);
}

TEST(Dissipating, ReachesTheFinalDensity) {
  Harness h({{"method", "dissipating"}, {"init_density", 0.5}, {"final_density", 0.2},
             {"distribution", "uniform"}, {"warm_epochs", 2}, {"phi", 0.1}}, 4, 3);
  EXPECT_NEAR(h.density(), 0.5, 0.01);
  for (int i = 0; i < 8; ++i) h.run_step();
  EXPECT_NEAR(h.density(), 0.2, 0.01);
}

TEST(KStartsDissipating, PicksAMaskThenPrunesInsideIt) {
  Harness h({{"method", "kstarts_dissipating"}, {"density", 0.3}, {"final_density", 0.1},
             {"distribution", "uniform"}, {"k", 3}, {"warm_epochs", 1}, {"phi", 0.1}}, 4, 3);
  EXPECT_GT(h.density(), 0.45);  // the union of three masks of 0.3
  for (int i = 0; i < 4; ++i) h.run_step();
  EXPECT_NEAR(h.density(), 0.3, 0.01);  // K-starts kept one mask
  auto chosen = snap(h, h.layers()[0]).positions;
  for (int i = 0; i < 4; ++i) h.run_step();
  EXPECT_NEAR(h.density(), 0.1, 0.01);  // dissipating reached the final density...
  for (int64_t p : snap(h, h.layers()[0]).positions)  // ...inside the chosen mask
    EXPECT_TRUE(std::binary_search(chosen.begin(), chosen.end(), p));
}

TEST(Factory, ErkLayersAndDenseOptions) {
  Harness h({{"method", "static"}, {"density", 0.2}, {"distribution", "erk"},
             {"first_layer_dense", true}}, 1, 1);
  auto ls = h.layers();
  // First layer (0.weight) stays dense; the others are sparse.
  for (auto& L : ls) EXPECT_NE(L.name, "0.weight");
  EXPECT_GE(ls.size(), 1u);
  EXPECT_THROW(Harness({{"method", "nope"}}, 1, 1), Error);
}

}  // namespace
}  // namespace sprout::sparsity
