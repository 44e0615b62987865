// Data-parallel sharding: ranks' loaders together visit what one loader with the global
// batch visits, batch by batch (rank r's batch k is the r-th slice of global batch k),
// disjointly; training shards drop a last global batch that is not full, test shards
// cover every sample once.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "data/loader.h"

using namespace sprout;
using namespace sprout::data;

namespace {

// x = {index}; label = 0.
class IndexDataset : public Dataset {
 public:
  explicit IndexDataset(int64_t n) : n_(n) {}
  int64_t size() const override { return n_; }
  Shape sample_shape() const override { return {1}; }
  int num_classes() const override { return 2; }
  void get(int64_t index, float* x, int32_t* label, Rng&) const override {
    x[0] = (float)index;
    *label = 0;
  }
  std::string name() const override { return "index"; }

 private:
  int64_t n_;
};

std::vector<std::vector<int64_t>> batches(int64_t n, int64_t batch, int rank, int ranks, bool drop_last) {
  LoaderOptions o;
  o.batch_size = batch;
  o.drop_last = drop_last;
  o.seed = 9;
  o.num_workers = 1;
  o.rank = rank;
  o.ranks = ranks;
  DataLoader loader(std::make_shared<IndexDataset>(n), o);
  loader.start_epoch(2);
  std::vector<std::vector<int64_t>> out;
  Batch b;
  while (loader.next(b)) {
    out.emplace_back();
    for (int64_t i = 0; i < b.size(); ++i) out.back().push_back((int64_t)b.x.data<float>()[i]);
  }
  EXPECT_EQ((int64_t)out.size(), loader.batches_per_epoch());
  return out;
}

TEST(Shard, RanksSplitEveryGlobalBatchInOrder) {
  const int64_t n = 1000, b = 16;
  const int ranks = 3;  // 1000 = 20 global batches of 48 + 40
  const auto global = batches(n, b * ranks, 0, 1, true);
  ASSERT_EQ(global.size(), 20u);
  std::vector<std::vector<std::vector<int64_t>>> per_rank;
  for (int r = 0; r < ranks; ++r) per_rank.push_back(batches(n, b, r, ranks, true));
  for (int r = 0; r < ranks; ++r) ASSERT_EQ(per_rank[(size_t)r].size(), 20u) << "rank " << r;
  for (size_t k = 0; k < global.size(); ++k) {
    std::vector<int64_t> joined;
    for (int r = 0; r < ranks; ++r) {
      ASSERT_EQ(per_rank[(size_t)r][k].size(), (size_t)b);
      joined.insert(joined.end(), per_rank[(size_t)r][k].begin(), per_rank[(size_t)r][k].end());
    }
    EXPECT_EQ(joined, global[k]) << "global batch " << k;
  }
}

TEST(Shard, TestShardsCoverEverySampleOnce) {
  const int64_t n = 1000, b = 64;
  const int ranks = 3;  // the last global batch (1000 - 5 x 192 = 40) is rank 0's alone
  std::vector<int64_t> all;
  for (int r = 0; r < ranks; ++r)
    for (const auto& batch : batches(n, b, r, ranks, false)) all.insert(all.end(), batch.begin(), batch.end());
  std::sort(all.begin(), all.end());
  std::vector<int64_t> expect((size_t)n);
  std::iota(expect.begin(), expect.end(), int64_t(0));
  EXPECT_EQ(all, expect);
  EXPECT_EQ(batches(n, b, 0, ranks, false).size(), 6u);
  EXPECT_EQ(batches(n, b, 2, ranks, false).size(), 5u);
}

TEST(Shard, ShardOrderSlicesAndDrops) {
  std::vector<int64_t> order(10);
  std::iota(order.begin(), order.end(), int64_t(100));
  EXPECT_EQ(shard_order(order, 2, 1, 2, true), (std::vector<int64_t>{102, 103, 106, 107}));
  EXPECT_EQ(shard_order(order, 2, 0, 2, false), (std::vector<int64_t>{100, 101, 104, 105, 108, 109}));
  EXPECT_EQ(shard_order(order, 2, 1, 2, false), (std::vector<int64_t>{102, 103, 106, 107}));
}

}  // namespace
