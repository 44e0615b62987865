// Topology edits and selections, run on every device under test: rows stay sorted
// without duplicates, nnz is as asked, survivors keep value and optimizer state, new
// entries are zero; bad edits are rejected without touching the layer; top-k picks
// match a reference and agree across devices.
#include <map>
#include <set>

#include "engine/ops/topology.h"
#include "engine/optim/optimizer.h"
#include "sparse_testing.h"

namespace sprout {
namespace {

using namespace testing;

class Topology : public ::testing::TestWithParam<Device> {};

ops::TopologyEdit make_edit(const Tensor& keep, const Tensor& grow) {
  ops::TopologyEdit e;
  e.keep = keep;
  e.grow = grow;
  return e;
}

void edit_case(Device dev, int block) {
  SCOPED_TRACE("block " + std::to_string(block));
  Rng rng(5);
  sparse::SparseParameter p = block == 1
      ? sparse::make_parameter(sparse::CsrMatrix::random(23, 31, 150, rng))
      : sparse::make_parameter(sparse::BsrMatrix::random(23, 31, block, 20, rng));
  p.to(dev);
  const int64_t nnzb = p.col_idx.numel(), be = (int64_t)block * block;
  // Two optimizer-state tensors with distinct contents (like AdamW's m and v).
  Tensor m = Tensor::from_vector<float>(std::vector<float>((size_t)p.values.numel(), 0.f), {p.values.numel()});
  Tensor v = m.clone();
  for (int64_t i = 0; i < m.numel(); ++i) { m.data<float>()[i] = (float)i; v.data<float>()[i] = -(float)i - 0.5f; }
  m = m.to(dev, MemCategory::Optimizer);
  v = v.to(dev, MemCategory::Optimizer);
  p.values.set_grad(Tensor::zeros(p.values.shape(), DType::F32, dev));
  auto before = entries_of(p, p.values), m_before = entries_of(p, m), v_before = entries_of(p, v);

  // Drop every third entry, grow positions that are empty after the drop, one of them
  // a just-dropped position.
  std::vector<uint8_t> keep((size_t)nnzb, 1);
  std::vector<int64_t> dropped;
  int64_t idx = 0;
  for (auto& kv : before) {
    if (idx % 3 == 0) { keep[(size_t)idx] = 0; dropped.push_back(kv.first); }
    ++idx;
  }
  const int64_t total = sparse::grid_rows(p) * sparse::grid_cols(p);
  std::vector<int64_t> grow{dropped[0]};
  for (int64_t pos = total - 1; pos >= 0 && (int64_t)grow.size() < 9; pos -= 7)
    if (!before.count(pos)) grow.push_back(pos);
  std::vector<Tensor*> state{&m, &v};
  const int64_t kept = nnzb - (int64_t)dropped.size();
  const int64_t nnz = ops::edit_topology(p, state, keep, grow);

  EXPECT_EQ(nnz, (kept + (int64_t)grow.size()) * be);
  EXPECT_EQ(p.values.numel(), nnz);
  EXPECT_EQ(m.numel(), nnz);
  EXPECT_EQ(p.values.device(), dev);
  EXPECT_TRUE(p.values.requires_grad());
  EXPECT_FALSE(p.values.grad().defined());
  EXPECT_EQ(p.values.category(), MemCategory::Weights);
  EXPECT_EQ(m.category(), MemCategory::Optimizer);
  EXPECT_EQ(p.col_idx.category(), MemCategory::Indices);
  sparse::validate(p);  // sorted rows, no duplicates, consistent sizes
  auto after = entries_of(p, p.values), m_after = entries_of(p, m), v_after = entries_of(p, v);
  std::set<int64_t> grown(grow.begin(), grow.end());
  idx = 0;
  for (auto& kv : before) {
    if (keep[(size_t)idx++]) {
      ASSERT_TRUE(after.count(kv.first));
      EXPECT_EQ(after[kv.first], kv.second);
      EXPECT_EQ(m_after[kv.first], m_before[kv.first]);
      EXPECT_EQ(v_after[kv.first], v_before[kv.first]);
    } else if (!grown.count(kv.first)) {
      EXPECT_FALSE(after.count(kv.first));
    }
  }
  for (int64_t pos : grow) {
    ASSERT_TRUE(after.count(pos));
    for (int64_t t = 0; t < be; ++t) {
      EXPECT_EQ(after[pos][(size_t)t], 0.f);
      EXPECT_EQ(m_after[pos][(size_t)t], 0.f);
      EXPECT_EQ(v_after[pos][(size_t)t], 0.f);
    }
  }
}

TEST_P(Topology, EditCarriesSurvivorsAndZeroesNewEntries) {
  SPROUT_SKIP_IF_NO_DEVICE(GetParam());
  edit_case(GetParam(), 1);
  edit_case(GetParam(), 4);
}

TEST_P(Topology, GrowValuesAndKeepAllAndEmptyLayer) {
  SPROUT_SKIP_IF_NO_DEVICE(GetParam());
  Device dev = GetParam();
  Rng rng(6);
  sparse::SparseParameter p = sparse::make_parameter(sparse::CsrMatrix::random(4, 5, 0, rng));
  p.to(dev);
  ops::TopologyEdit e;
  e.grow = Tensor::from_vector<int64_t>({7, 0, 19}, {3});
  e.grow_values = Tensor::from_vector<float>({1.5f, 2.5f, 3.5f}, {3});
  EXPECT_EQ(ops::edit_topology(p, {}, e), 3);
  sparse::validate(p);
  auto got = entries_of(p, p.values);
  EXPECT_EQ(got[0][0], 2.5f);
  EXPECT_EQ(got[7][0], 1.5f);
  EXPECT_EQ(got[19][0], 3.5f);
  // Keep everything, grow nothing: unchanged.
  EXPECT_EQ(ops::edit_topology(p, {}, std::vector<uint8_t>{}, std::vector<int64_t>{}), 3);
  // Drop everything.
  EXPECT_EQ(ops::edit_topology(p, {}, std::vector<uint8_t>{0, 0, 0}, std::vector<int64_t>{}), 0);
  sparse::validate(p);
}

TEST_P(Topology, RejectsOccupiedRepeatedOrOutsidePositions) {
  SPROUT_SKIP_IF_NO_DEVICE(GetParam());
  Rng rng(7);
  sparse::SparseParameter p = sparse::make_parameter(sparse::CsrMatrix::random(6, 8, 20, rng));
  p.to(GetParam());
  auto before = entries_of(p, p.values);
  const int64_t occupied = before.begin()->first;
  int64_t empty = 0;
  while (before.count(empty)) ++empty;
  Tensor values = p.values;
  EXPECT_THROW(ops::edit_topology(p, {}, std::vector<uint8_t>{}, std::vector<int64_t>{occupied}), Error);
  EXPECT_THROW(ops::edit_topology(p, {}, std::vector<uint8_t>{}, std::vector<int64_t>{empty, empty}), Error);
  EXPECT_THROW(ops::edit_topology(p, {}, std::vector<uint8_t>{}, std::vector<int64_t>{48}), Error);
  EXPECT_THROW(ops::edit_topology(p, {}, std::vector<uint8_t>{}, std::vector<int64_t>{-1}), Error);
  EXPECT_THROW(ops::edit_topology(p, {}, std::vector<uint8_t>(3, 1), std::vector<int64_t>{}), Error);
  EXPECT_TRUE(p.values.same(values));  // untouched
}

TEST_P(Topology, TopkMaskPicksExtremesWithIndexTieBreak) {
  SPROUT_SKIP_IF_NO_DEVICE(GetParam());
  Tensor s = Tensor::from_vector<float>({3, -1, 2, 2, 5, 0, 2}, {7}).to(GetParam());
  auto largest = ops::topk_mask(s, 3, true).to_vector<uint8_t>();
  EXPECT_EQ(largest, (std::vector<uint8_t>{1, 0, 1, 0, 1, 0, 0}));
  auto smallest = ops::topk_mask(s, 3, false).to_vector<uint8_t>();
  EXPECT_EQ(smallest, (std::vector<uint8_t>{0, 1, 1, 0, 0, 1, 0}));
  EXPECT_EQ(ops::topk_mask(s, 0, true).to_vector<uint8_t>(), std::vector<uint8_t>(7, 0));
  EXPECT_EQ(ops::topk_mask(s, 7, true).to_vector<uint8_t>(), std::vector<uint8_t>(7, 1));
}

TEST_P(Topology, MagnitudeMaskDropsSmallestExactly) {
  SPROUT_SKIP_IF_NO_DEVICE(GetParam());
  Rng rng(8);
  sparse::SparseParameter p = sparse::make_parameter(sparse::CsrMatrix::random(40, 50, 400, rng));
  p.to(GetParam());
  Tensor keep = ops::magnitude_topk_mask(p, 300, true);
  auto k = keep.to_vector<uint8_t>();
  auto v = p.values.to_vector<float>();
  float min_kept = 1e9f, max_dropped = -1;
  int64_t count = 0;
  for (size_t i = 0; i < k.size(); ++i) {
    count += k[i];
    if (k[i]) min_kept = std::min(min_kept, std::fabs(v[i]));
    else max_dropped = std::max(max_dropped, std::fabs(v[i]));
  }
  EXPECT_EQ(count, 300);
  EXPECT_GE(min_kept, max_dropped);
  EXPECT_EQ(ops::edit_topology(p, {}, make_edit(keep, Tensor())), 300);
}

TEST_P(Topology, TopkEmptyPositionsSkipStoredOnes) {
  SPROUT_SKIP_IF_NO_DEVICE(GetParam());
  Device dev = GetParam();
  for (int block : {1, 4}) {
    Rng rng(9);
    sparse::SparseParameter p = block == 1 ? sparse::make_parameter(sparse::CsrMatrix::random(12, 10, 40, rng))
                                       : sparse::make_parameter(sparse::BsrMatrix::random(12, 10, 4, 3, rng));
    Tensor x = randn({6, 10}, 10, DType::F32), dy = randn({6, 12}, 11, DType::F32);
    Tensor g_cpu = ops::dense_weight_grad(x, dy);
    Tensor ref = ops::topk_empty_positions(p, g_cpu, 5);
    p.to(dev);
    Tensor g = ops::dense_weight_grad(x.to(dev), dy.to(dev));
    EXPECT_EQ(g.category(), MemCategory::Workspace);
    EXPECT_LE(rel_error(g, g_cpu), 1e-5);
    auto pos = ops::topk_empty_positions(p, g, 5).to_vector<int64_t>();
    EXPECT_EQ(pos, ref.to_vector<int64_t>());
    auto stored = entries_of(p, p.values);
    // Scores of picks beat every other empty position.
    auto gv = g_cpu.to_vector<float>();
    const int64_t gc = sparse::grid_cols(p), gr = sparse::grid_rows(p);
    auto score = [&](int64_t q) {
      double s = 0;
      for (int64_t i = (q / gc) * block; i < std::min<int64_t>(12, (q / gc + 1) * block); ++i)
        for (int64_t j = (q % gc) * block; j < std::min<int64_t>(10, (q % gc + 1) * block); ++j) s += std::fabs(gv[(size_t)(i * 10 + j)]);
      return s;
    };
    double worst_pick = 1e9;
    for (size_t i = 0; i < pos.size(); ++i) {
      EXPECT_FALSE(stored.count(pos[i]));
      if (i) {
        EXPECT_LT(pos[i - 1], pos[i]);
      }
      worst_pick = std::min(worst_pick, score(pos[i]));
    }
    std::set<int64_t> picked(pos.begin(), pos.end());
    for (int64_t q = 0; q < gr * gc; ++q)
      if (!stored.count(q) && !picked.count(q)) {
        EXPECT_LE(score(q), worst_pick + 1e-6);
      }
    const int64_t nnzb = sparse::nnz_blocks(p);
    EXPECT_EQ(ops::edit_topology(p, {}, make_edit(Tensor(), ops::topk_empty_positions(p, g, 5))),
              (nnzb + 5) * block * block);
  }
}

TEST_P(Topology, RandomEmptyPositionsAreEmptyDistinctSorted) {
  SPROUT_SKIP_IF_NO_DEVICE(GetParam());
  Rng rng(12);
  sparse::SparseParameter p = sparse::make_parameter(sparse::CsrMatrix::random(9, 11, 60, rng));
  p.to(GetParam());
  auto stored = entries_of(p, p.values);
  for (int64_t k : {0, 1, 20, 39}) {
    auto pos = ops::random_empty_positions(p, k, 100 + (uint64_t)k).to_vector<int64_t>();
    ASSERT_EQ((int64_t)pos.size(), k);
    for (size_t i = 0; i < pos.size(); ++i) {
      EXPECT_FALSE(stored.count(pos[i]));
      EXPECT_GE(pos[i], 0);
      EXPECT_LT(pos[i], 99);
      if (i) {
        EXPECT_LT(pos[i - 1], pos[i]);
      }
    }
  }
  EXPECT_THROW(ops::random_empty_positions(p, 40, 1), Error);
}

TEST_P(Topology, WorksWithOptimizerState) {
  SPROUT_SKIP_IF_NO_DEVICE(GetParam());
  Rng rng(13);
  sparse::SparseParameter p = sparse::make_parameter(sparse::CsrMatrix::random(10, 10, 30, rng));
  p.to(GetParam());
  std::vector<nn::ParamRef> refs{{"w", &p.values, &p}};
  optim::AdamW opt(refs, optim::AdamWOptions{});
  p.values.set_grad(Tensor::full({30}, 1.0, DType::F32, GetParam()));
  opt.step(1e-3);
  Tensor keep = ops::magnitude_topk_mask(p, 25, true);
  Tensor grow = ops::random_empty_positions(p, 5, 77);
  EXPECT_EQ(ops::edit_topology(p, opt.state_of(0), make_edit(keep, grow)), 30);
  EXPECT_EQ(opt.state_of(0)[0]->numel(), 30);
  p.values.set_grad(Tensor::full({30}, 1.0, DType::F32, GetParam()));
  opt.step(1e-3);  // state and values agree again
  sparse::validate(p);
}

INSTANTIATE_TEST_SUITE_P(Devices, Topology, ::testing::ValuesIn(devices_under_test()), device_param_name);

}  // namespace
}  // namespace sprout
