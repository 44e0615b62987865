// The device-side decisions of the sparse-training methods, on every device under
// test: revival of regrown dropped entries, edits with a known count, tie noise on
// magnitude scores, gradient and random growth over the open positions (empty, or
// dropped by a keep mask), signed scores and counts. Results must match a host
// reference and be identical across devices for the same seed.
#include <cmath>
#include <set>

#include "engine/ops/deferred.h"
#include "engine/ops/topology.h"
#include "engine/optim/optimizer.h"
#include "sparse_testing.h"

namespace sprout {
namespace {

using namespace testing;

class Selection : public ::testing::TestWithParam<Device> {};

sparse::SparseParameter random_param(int64_t rows, int64_t cols, int64_t nnz, uint64_t seed, Device dev) {
  Rng rng(seed);
  sparse::SparseParameter p = sparse::make_parameter(sparse::CsrMatrix::random(rows, cols, nnz, rng));
  p.to(dev);
  return p;
}

sparse::SparseParameter on_cpu(const sparse::SparseParameter& p) {
  sparse::SparseParameter q = p;
  q.to(Device::cpu());
  return q;
}

Tensor u8(const std::vector<uint8_t>& v, Device dev) {
  return Tensor::from_vector<uint8_t>(v, {(int64_t)v.size()}).to(dev);
}

TEST_P(Selection, ReviveKeepsValueAndStateOfARegrownDroppedEntry) {
  SPROUT_SKIP_IF_NO_DEVICE(GetParam());
  const Device dev = GetParam();
  for (bool revive : {true, false}) {
    sparse::SparseParameter p = random_param(7, 9, 20, 21, dev);
    Tensor m = p.values.clone(MemCategory::Optimizer);  // state equal to the values
    auto before = entries_of(p, p.values);
    std::vector<uint8_t> keep(20, 1);
    keep[3] = keep[11] = 0;
    const int64_t revived = std::next(before.begin(), 3)->first, gone = std::next(before.begin(), 11)->first;
    int64_t fresh = 0;
    while (before.count(fresh)) ++fresh;
    ops::TopologyEdit e;
    e.keep = u8(keep, dev);
    e.grow = Tensor::from_vector<int64_t>({fresh, revived}, {2}).to(dev);
    e.revive = revive;
    e.new_nnz_blocks = 20;
    std::vector<Tensor*> state{&m};
    EXPECT_EQ(ops::edit_topology(p, state, e), 20);
    ops::check_deferred();
    sparse::validate(p);
    auto after = entries_of(p, p.values), m_after = entries_of(p, m);
    EXPECT_FALSE(after.count(gone));
    EXPECT_EQ(after[fresh][0], 0.f);
    EXPECT_EQ(m_after[fresh][0], 0.f);
    EXPECT_EQ(after[revived][0], revive ? before[revived][0] : 0.f);
    EXPECT_EQ(m_after[revived][0], revive ? before[revived][0] : 0.f);
    for (auto& kv : before)
      if (kv.first != revived && kv.first != gone) {
        EXPECT_EQ(after[kv.first], kv.second);
      }
  }
}

TEST_P(Selection, KnownCountMustMatch) {
  SPROUT_SKIP_IF_NO_DEVICE(GetParam());
  sparse::SparseParameter p = random_param(5, 6, 10, 22, GetParam());
  ops::TopologyEdit e;
  e.keep = u8({1, 1, 0, 1, 1, 1, 1, 1, 1, 1}, GetParam());
  e.new_nnz_blocks = 10;  // the edit leaves 9
  if (GetParam().is_cpu()) {
    Tensor values = p.values;
    EXPECT_THROW(ops::edit_topology(p, {}, e), Error);
    EXPECT_TRUE(p.values.same(values));
  } else {
    ops::edit_topology(p, {}, e);  // queued; the verdict comes at the next check
    EXPECT_THROW(ops::check_deferred(), Error);
  }
  EXPECT_NO_THROW(ops::check_deferred());  // verdicts are read once
}

TEST_P(Selection, TieNoiseOrdersEqualMagnitudesBySeed) {
  SPROUT_SKIP_IF_NO_DEVICE(GetParam());
  sparse::SparseParameter p = random_param(10, 10, 60, 23, Device::cpu());
  for (int64_t e = 0; e < 30; ++e) p.values.data<float>()[e] = 0.f;  // 30 equal magnitudes
  const auto plain = ops::magnitude_scores(p).to_vector<float>();
  p.to(GetParam());
  std::set<std::vector<uint8_t>> masks;
  for (uint64_t seed = 0; seed < 6; ++seed) {
    Tensor s = ops::magnitude_scores(p, seed);
    auto got = s.to_vector<float>();
    auto ref = ops::magnitude_scores(on_cpu(p), seed).to_vector<float>();
    EXPECT_EQ(got, ref) << "seed " << seed;  // bit-identical on every device
    for (size_t e = 0; e < got.size(); ++e) {
      EXPECT_GE(got[e], plain[e]);
      EXPECT_LT((double)got[e] - (double)plain[e], std::ldexp(1.0, -40) * (1 + 1e-6) + std::fabs(plain[e]) * 1e-7);
    }
    // Keep the 40 largest: all 30 nonzeros, and 10 of the zeros, chosen by the seed.
    auto mask = ops::topk_mask(s, 40, true).to_vector<uint8_t>();
    for (size_t e = 30; e < 60; ++e) EXPECT_EQ(mask[e], 1);
    masks.insert(mask);
  }
  EXPECT_GE(masks.size(), 5u) << "the seed does not change which zeros survive";
}

TEST_P(Selection, GradientGrowthPicksTheLargestOpenPositions) {
  SPROUT_SKIP_IF_NO_DEVICE(GetParam());
  const Device dev = GetParam();
  sparse::SparseParameter cpu = random_param(11, 13, 50, 24, Device::cpu());
  Tensor g = randn({11, 13}, 25, DType::F32);
  std::vector<uint8_t> keep(50, 1);
  for (size_t e = 0; e < 50; e += 4) keep[e] = 0;
  int64_t kept = 0;
  for (uint8_t k : keep) kept += k;
  auto ref = ops::topk_empty_positions(cpu, g, 20, u8(keep, Device::cpu()), kept, 5).to_vector<int64_t>();
  sparse::SparseParameter p = random_param(11, 13, 50, 24, dev);
  auto got = ops::topk_empty_positions(p, g.to(dev), 20, u8(keep, dev), kept, 5).to_vector<int64_t>();
  EXPECT_EQ(got, ref);
  // Host reference: open = not stored or dropped; the picks' |g| beat every other open one.
  auto stored = entries_of(cpu, cpu.values);
  std::set<int64_t> kept_pos;
  int64_t e = 0;
  for (auto& kv : stored) if (keep[(size_t)e++]) kept_pos.insert(kv.first);
  auto gv = g.to_vector<float>();
  std::set<int64_t> picked(got.begin(), got.end());
  ASSERT_EQ(picked.size(), 20u);
  float worst = 1e30f;
  for (int64_t q : got) {
    EXPECT_FALSE(kept_pos.count(q));
    worst = std::min(worst, std::fabs(gv[(size_t)q]));
  }
  for (int64_t q = 0; q < 11 * 13; ++q)
    if (!kept_pos.count(q) && !picked.count(q)) {
      EXPECT_LE(std::fabs(gv[(size_t)q]), worst);
    }
  // A keep mask needs its count; too many positions are refused.
  EXPECT_THROW(ops::topk_empty_positions(p, g.to(dev), 20, u8(keep, dev)), Error);
  EXPECT_THROW(ops::topk_empty_positions(p, g.to(dev), 11 * 13 - kept + 1, u8(keep, dev), kept), Error);
}

TEST_P(Selection, RandomGrowthIsUniformOverOpenPositionsAndSeeded) {
  SPROUT_SKIP_IF_NO_DEVICE(GetParam());
  const Device dev = GetParam();
  sparse::SparseParameter cpu = random_param(6, 8, 20, 26, Device::cpu());
  sparse::SparseParameter p = random_param(6, 8, 20, 26, dev);
  std::vector<uint8_t> keep(20, 1);
  keep[0] = keep[7] = keep[19] = 0;
  auto stored = entries_of(cpu, cpu.values);
  std::set<int64_t> kept_pos;
  int64_t e = 0;
  for (auto& kv : stored) if (keep[(size_t)e++]) kept_pos.insert(kv.first);
  const int64_t open = 48 - 17, k = 10, trials = 3000;
  std::vector<int64_t> hits(48, 0);
  for (uint64_t seed = 0; seed < (uint64_t)trials; ++seed) {
    auto got = ops::random_empty_positions(p, k, seed, u8(keep, dev), 17).to_vector<int64_t>();
    if (seed < 20) {
      EXPECT_EQ(got, ops::random_empty_positions(cpu, k, seed, u8(keep, Device::cpu()), 17).to_vector<int64_t>());
    }
    ASSERT_EQ((int64_t)got.size(), k);
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_FALSE(kept_pos.count(got[i]));
      if (i) {
        EXPECT_LT(got[i - 1], got[i]);
      }
      ++hits[(size_t)got[i]];
    }
  }
  // Each open position is drawn with probability k / open: a chi-square test over the
  // 31 open positions (30 degrees of freedom; 70 is beyond the 0.9999 quantile).
  const double expect = (double)trials * (double)k / (double)open;
  double chi2 = 0;
  for (int64_t q = 0; q < 48; ++q) {
    if (kept_pos.count(q)) continue;
    chi2 += ((double)hits[(size_t)q] - expect) * ((double)hits[(size_t)q] - expect) / expect;
  }
  EXPECT_LT(chi2, 70.0);
  EXPECT_GT(chi2, 5.0);  // not suspiciously flat either
}

TEST_P(Selection, SignedScoresAndCount) {
  SPROUT_SKIP_IF_NO_DEVICE(GetParam());
  Rng rng(27);
  sparse::SparseParameter p = sparse::make_parameter(sparse::CsrMatrix::random(4, 4, 6, rng));
  const std::vector<float> v{0.5f, -0.25f, 0.f, -2.f, 3.f, -0.125f};
  std::copy(v.begin(), v.end(), p.values.data<float>());
  p.to(GetParam());
  EXPECT_EQ(ops::count_nonnegative(p.values), 3);
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(ops::magnitude_scores(p, std::nullopt, +1).to_vector<float>(),
            (std::vector<float>{0.5f, inf, 0.f, inf, 3.f, inf}));
  EXPECT_EQ(ops::magnitude_scores(p, std::nullopt, -1).to_vector<float>(),
            (std::vector<float>{inf, 0.25f, inf, 2.f, inf, 0.125f}));
}

INSTANTIATE_TEST_SUITE_P(Devices, Selection, ::testing::ValuesIn(devices_under_test()), device_param_name);

}  // namespace
}  // namespace sprout
