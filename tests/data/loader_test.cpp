// DataLoader: coverage of every index once per epoch, reproducible orders, results
// independent of the worker count, drop_last, resume by skip, error propagation,
// shutdown mid-epoch, the staging protocol (against a simulated copy queue), and (with a
// GPU) CUDA batches equal to CPU ones, read on the compute stream without a host sync.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <numeric>
#include <thread>

#include "data/loader.h"
#include "engine/core/error.h"

using namespace sprout;
using namespace sprout::data;

namespace {

// x = {index, one augmentation draw}, label = index % 7; optionally throws or sleeps.
class ProbeDataset : public Dataset {
 public:
  explicit ProbeDataset(int64_t n, int64_t throw_at = -1, int sleep_us = 0)
      : n_(n), throw_at_(throw_at), sleep_us_(sleep_us) {}
  int64_t size() const override { return n_; }
  Shape sample_shape() const override { return {2}; }
  int num_classes() const override { return 7; }
  void get(int64_t index, float* x, int32_t* label, Rng& rng) const override {
    calls++;
    if (sleep_us_) std::this_thread::sleep_for(std::chrono::microseconds(sleep_us_));
    if (index == throw_at_) throw Error("cannot decode sample " + std::to_string(index));
    x[0] = (float)index;
    x[1] = (float)rng.uniform();
    *label = (int32_t)(index % 7);
  }
  std::string name() const override { return "probe"; }
  mutable std::atomic<int64_t> calls{0};

 private:
  int64_t n_, throw_at_;
  int sleep_us_;
};

struct Seen {
  std::vector<int64_t> index;
  std::vector<float> aug;
  std::vector<int32_t> label;
  std::vector<int64_t> sizes;
  bool operator==(const Seen& o) const {
    return index == o.index && aug == o.aug && label == o.label && sizes == o.sizes;
  }
};

Seen run_epoch(DataLoader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  Seen s;
  Batch b;
  while (loader.next(b)) {
    EXPECT_EQ(b.x.dtype(), DType::F32);
    EXPECT_EQ(b.y.dtype(), DType::I32);
    EXPECT_EQ(b.x.category(), MemCategory::Data);
    EXPECT_EQ(b.y.category(), MemCategory::Data);
    EXPECT_EQ(b.x.dim(), 2);
    EXPECT_EQ(b.x.size(0), b.size());
    Tensor x = b.x.is_cuda() ? b.x.to(Device::cpu()) : b.x;
    Tensor y = b.y.is_cuda() ? b.y.to(Device::cpu()) : b.y;
    for (int64_t i = 0; i < b.size(); ++i) {
      s.index.push_back((int64_t)x.data<float>()[2 * i]);
      s.aug.push_back(x.data<float>()[2 * i + 1]);
      s.label.push_back(y.data<int32_t>()[i]);
    }
    s.sizes.push_back(b.size());
  }
  return s;
}

}  // namespace

TEST(DataLoader, EveryIndexOncePerEpoch) {
  auto ds = std::make_shared<ProbeDataset>(103);
  DataLoader loader(ds, 10, /*shuffle=*/true, /*drop_last=*/false, /*seed=*/5, /*workers=*/3);
  EXPECT_EQ(loader.batches_per_epoch(), 11);
  for (int64_t e = 0; e < 3; ++e) {
    Seen s = run_epoch(loader, e);
    ASSERT_EQ(s.sizes.size(), 11u);
    EXPECT_EQ(s.sizes.back(), 3);
    std::vector<int64_t> sorted = s.index;
    std::sort(sorted.begin(), sorted.end());
    std::vector<int64_t> all(103);
    std::iota(all.begin(), all.end(), 0);
    EXPECT_EQ(sorted, all) << "epoch " << e;
    for (size_t i = 0; i < s.index.size(); ++i) EXPECT_EQ(s.label[i], s.index[i] % 7);
  }
}

TEST(DataLoader, NoShuffleKeepsOrder) {
  auto ds = std::make_shared<ProbeDataset>(25);
  DataLoader loader(ds, 4, false, false, 1, 2);
  Seen s = run_epoch(loader, 3);
  std::vector<int64_t> all(25);
  std::iota(all.begin(), all.end(), 0);
  EXPECT_EQ(s.index, all);
}

TEST(DataLoader, SameSeedSameBatchesAndEpochsDiffer) {
  auto ds = std::make_shared<ProbeDataset>(64);
  DataLoader a(ds, 8, true, false, 42, 2), b(ds, 8, true, false, 42, 3), c(ds, 8, true, false, 43, 2);
  Seen a0 = run_epoch(a, 0), a1 = run_epoch(a, 1);
  EXPECT_EQ(a0, run_epoch(b, 0));
  EXPECT_EQ(a1, run_epoch(b, 1));
  EXPECT_NE(a0.index, a1.index);
  EXPECT_NE(a0.aug, a1.aug);
  EXPECT_NE(a0.index, run_epoch(c, 0).index);
  // Revisiting an epoch reproduces it exactly (resume).
  EXPECT_EQ(run_epoch(a, 0), a0);
  EXPECT_EQ(epoch_order(64, 42, 1, true), a1.index);
}

TEST(DataLoader, IdenticalForAnyWorkerCount) {
  auto ds = std::make_shared<ProbeDataset>(97);
  DataLoader w0(ds, 6, true, false, 7, 0), w1(ds, 6, true, false, 7, 1), w4(ds, 6, true, false, 7, 4, 2);
  for (int64_t e = 0; e < 2; ++e) {
    Seen s0 = run_epoch(w0, e);
    EXPECT_EQ(s0, run_epoch(w1, e));
    EXPECT_EQ(s0, run_epoch(w4, e));
  }
}

TEST(DataLoader, DropLast) {
  auto ds = std::make_shared<ProbeDataset>(103);
  DataLoader loader(ds, 10, true, /*drop_last=*/true, 0, 2);
  EXPECT_EQ(loader.batches_per_epoch(), 10);
  Seen s = run_epoch(loader, 0);
  EXPECT_EQ(s.sizes, std::vector<int64_t>(10, 10));
  std::sort(s.index.begin(), s.index.end());
  EXPECT_EQ(std::unique(s.index.begin(), s.index.end()), s.index.end());
}

TEST(DataLoader, SkipResumesMidEpoch) {
  auto ds = std::make_shared<ProbeDataset>(50);
  DataLoader full(ds, 5, true, false, 9, 2), resumed(ds, 5, true, false, 9, 2);
  Seen all = run_epoch(full, 2);
  resumed.start_epoch(2);
  resumed.skip(4);
  EXPECT_EQ(resumed.batch_index(), 4);
  Batch b;
  std::vector<int64_t> rest;
  while (resumed.next(b))
    for (int64_t i = 0; i < b.size(); ++i) rest.push_back((int64_t)b.x.data<float>()[2 * i]);
  EXPECT_EQ(rest, std::vector<int64_t>(all.index.begin() + 20, all.index.end()));
  // Skipping past the end just ends the epoch.
  resumed.start_epoch(0);
  resumed.skip(100);
  EXPECT_FALSE(resumed.next(b));
}

TEST(DataLoader, HeldBatchesAreNotOverwritten) {
  auto ds = std::make_shared<ProbeDataset>(40);
  DataLoader loader(ds, 4, true, false, 3, 2, 2);
  loader.start_epoch(0);
  std::vector<Batch> held;
  Batch b;
  while (loader.next(b)) held.push_back(b);
  auto order = epoch_order(40, 3, 0, true);
  for (size_t k = 0; k < held.size(); ++k)
    for (int64_t i = 0; i < 4; ++i) EXPECT_EQ((int64_t)held[k].x.data<float>()[2 * i], order[k * 4 + (size_t)i]);
  // A second epoch reuses buffers the caller has let go of, and still comes out right.
  held.clear();
  Seen s = run_epoch(loader, 1);
  EXPECT_EQ(s.index, epoch_order(40, 3, 1, true));
}

TEST(DataLoader, WorkerErrorIsRethrownFromNext) {
  for (int workers : {0, 1, 3}) {
    auto ds = std::make_shared<ProbeDataset>(30, /*throw_at=*/17);
    DataLoader loader(ds, 4, false, false, 0, workers);
    loader.start_epoch(0);
    Batch b;
    int good = 0;
    std::string msg;
    try {
      while (loader.next(b)) ++good;
    } catch (const Error& e) {
      msg = e.what();
    }
    EXPECT_EQ(good, 4) << workers << " workers";  // batches 0..3 hold indices 0..15
    EXPECT_EQ(msg, "cannot decode sample 17");
    EXPECT_FALSE(loader.next(b)) << "the epoch ends at the error";
    // The next epoch runs again (and meets the same sample).
    loader.start_epoch(1);
    EXPECT_TRUE(loader.next(b));
    EXPECT_THROW(while (loader.next(b)) {}, Error);
  }
}

TEST(DataLoader, DestructorStopsMidEpoch) {
  auto ds = std::make_shared<ProbeDataset>(100000, -1, /*sleep_us=*/200);
  auto t0 = std::chrono::steady_clock::now();
  {
    DataLoader loader(ds, 64, true, false, 0, 4, 8);
    loader.start_epoch(0);
    Batch b;
    ASSERT_TRUE(loader.next(b));
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // Workers abandon their batches between samples rather than finishing the epoch.
  EXPECT_LT(ds->calls.load(), 64 * 20);
  EXPECT_LT(s, 10.0);
}

TEST(DataLoader, NextStartsEpochZero) {
  auto ds = std::make_shared<ProbeDataset>(12);
  DataLoader a(ds, 5, true, false, 11, 1), b(ds, 5, true, false, 11, 1);
  Batch x;
  std::vector<int64_t> first;
  while (a.next(x))
    for (int64_t i = 0; i < x.size(); ++i) first.push_back((int64_t)x.x.data<float>()[2 * i]);
  EXPECT_EQ(first, run_epoch(b, 0).index);
  EXPECT_FALSE(a.next(x));
}

namespace {

// A device transfer whose copies run late on a background "copy stream" thread, as
// cudaMemcpyAsync's do, and whose consumer is the host: order_after waits for the
// copies, as the compute stream would. A staging buffer refilled before its copy ran, or
// a batch handed out without order_after, shows up as a wrong batch.
class SlowTransfer : public DeviceTransfer {
 public:
  struct SimFence : Fence {
    uint64_t seq = 0;  // copies queued up to and including this buffer's
  };
  SlowTransfer() : thread_([this] { run(); }) {}
  ~SlowTransfer() override {
    {
      std::lock_guard<std::mutex> g(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void* alloc_pinned(size_t bytes) override {
    ++pinned_buffers;
    return std::malloc(bytes);
  }
  void free_pinned(void* p) override {
    --pinned_buffers;
    std::free(p);
  }
  std::unique_ptr<Fence> make_fence() override { return std::make_unique<SimFence>(); }
  Tensor alloc_batch(const Shape& shape, DType dtype) override {
    return Tensor::empty(shape, dtype, Device::cpu(), MemCategory::Data);
  }
  void upload(const Copy* copies, size_t n, Fence& done) override {
    std::lock_guard<std::mutex> g(mu_);
    for (size_t i = 0; i < n; ++i) queue_.push_back(copies[i]);
    queued_ += n;
    static_cast<SimFence&>(done).seq = queued_;
    ++uploads;
    cv_.notify_all();
  }
  void order_after(Fence& f) override {
    ++orders;
    wait_for(static_cast<SimFence&>(f).seq);
  }
  bool reached(Fence& f) override {
    std::lock_guard<std::mutex> g(mu_);
    return done_ >= static_cast<SimFence&>(f).seq;
  }
  void wait(Fence& f) override { wait_for(static_cast<SimFence&>(f).seq); }
  std::atomic<int> pinned_buffers{0};
  std::atomic<int> uploads{0};  // batches queued
  std::atomic<int> orders{0};   // order_after calls: one per batch handed out or dropped

 private:
  void wait_for(uint64_t seq) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_ >= seq; });
  }
  void run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;
      Copy c = queue_.front();
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::microseconds(300));
      std::memcpy(c.dst.raw_data(), c.src, c.dst.nbytes());
      lock.lock();
      queue_.pop_front();
      ++done_;
      cv_.notify_all();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Copy> queue_;
  uint64_t queued_ = 0, done_ = 0;
  bool stop_ = false;
  std::thread thread_;
};

Seen read_batches(const std::vector<Batch>& held) {
  Seen s;
  for (auto& h : held) {
    for (int64_t i = 0; i < h.size(); ++i) {
      s.index.push_back((int64_t)h.x.data<float>()[2 * i]);
      s.aug.push_back(h.x.data<float>()[2 * i + 1]);
      s.label.push_back(h.y.data<int32_t>()[i]);
    }
    s.sizes.push_back(h.size());
  }
  return s;
}

}  // namespace

TEST(DataLoader, StagedCopiesNeverReuseABufferInFlight) {
  auto ds = std::make_shared<ProbeDataset>(301);
  for (int workers : {0, 1, 3}) {
    auto transfer = std::make_shared<SlowTransfer>();
    LoaderOptions o;
    o.batch_size = 8;
    o.seed = 21;
    o.num_workers = workers;
    o.prefetch_batches = 2;
    o.transfer = transfer;
    {
      DataLoader staged(ds, o);
      DataLoader plain(ds, 8, true, false, 21, 2);
      for (int64_t e = 0; e < 2; ++e) {
        staged.start_epoch(e);
        std::vector<Batch> held;
        Batch b;
        while (staged.next(b)) held.push_back(b);
        // No drain here: handing a batch out orders its reader after its copy.
        EXPECT_EQ(read_batches(held), run_epoch(plain, e)) << workers << " workers, epoch " << e;
      }
      // 76 batches went through a few buffers, recycled by their own fences.
      EXPECT_LE(transfer->pinned_buffers.load(), std::max(2, workers) + workers + 2);
      EXPECT_GT(staged.staging_bytes(), 0);
    }
    EXPECT_EQ(transfer->pinned_buffers.load(), 0);
    EXPECT_EQ(transfer->orders.load(), transfer->uploads.load()) << "every upload is ordered before it is let go";
  }
}

TEST(DataLoader, StagedNextBatchUploadsDuringTheStep) {
  auto ds = std::make_shared<ProbeDataset>(200);
  auto transfer = std::make_shared<SlowTransfer>();
  LoaderOptions o;
  o.batch_size = 8;
  o.seed = 6;
  o.num_workers = 2;
  o.prefetch_batches = 3;
  o.transfer = transfer;
  {
    DataLoader loader(ds, o);
    loader.start_epoch(0);
    Batch b;
    int handed = 0, max_lead = 0;
    std::vector<Batch> held;
    while (loader.next(b)) {
      held.push_back(b);
      ++handed;
      // The batch handed out was ordered; at most the one after it is queued ahead.
      int lead = transfer->uploads.load() - handed;
      EXPECT_EQ(transfer->orders.load(), handed);
      EXPECT_GE(lead, 0);
      EXPECT_LE(lead, 1);
      max_lead = std::max(max_lead, lead);
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // the step
    }
    EXPECT_EQ(max_lead, 1) << "no batch was uploaded during a step";
    EXPECT_EQ(transfer->uploads.load(), handed) << "nothing follows the last batch";
    EXPECT_EQ(read_batches(held).index, epoch_order(200, 6, 0, true));

    // skip and start_epoch drop a batch uploaded ahead; what follows is still right.
    auto order = epoch_order(200, 6, 1, true);
    loader.start_epoch(1);
    ASSERT_TRUE(loader.next(b));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(loader.next(b));
    loader.skip(3);
    ASSERT_TRUE(loader.next(b));
    EXPECT_EQ((int64_t)b.x.data<float>()[0], order[5 * 8]);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(loader.next(b));
    EXPECT_EQ((int64_t)b.x.data<float>()[0], order[6 * 8]);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(loader.next(b));
    loader.start_epoch(2);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(loader.next(b));
    EXPECT_EQ((int64_t)b.x.data<float>()[0], epoch_order(200, 6, 2, true)[0]);
    // Shutdown with a batch uploaded ahead.
  }
  EXPECT_EQ(transfer->orders.load(), transfer->uploads.load());
  EXPECT_EQ(transfer->pinned_buffers.load(), 0);
}

TEST(DataLoader, CudaBatchesMatchCpu) {
  if (!cuda_available()) GTEST_SKIP() << "no GPU: " << cuda_unavailable_reason();
  auto ds = std::make_shared<ProbeDataset>(203);
  DataLoader cpu(ds, 16, true, false, 4, 2);
  DataLoader gpu(ds, 16, true, false, 4, 3, 2, Device::cuda());
  for (int64_t e = 0; e < 4; ++e) {
    Seen c = run_epoch(cpu, e);
    Seen g = run_epoch(gpu, e);
    EXPECT_EQ(c, g) << "epoch " << e;
  }
  EXPECT_GT(gpu.staging_bytes(), 0);
  EXPECT_EQ(cpu.staging_bytes(), 0);
}

TEST(DataLoader, CudaBatchesReadOnTheComputeStream) {
  if (!cuda_available()) GTEST_SKIP() << "no GPU: " << cuda_unavailable_reason();
  // Each batch is cloned on the compute stream at once and dropped, with no host sync,
  // so its memory goes back to the cache while that clone may still be queued, and later
  // uploads (on the copy stream) land in it: an upload not ordered against the compute
  // stream, either way, shows up as a wrong clone.
  auto ds = std::make_shared<ProbeDataset>(517);
  DataLoader cpu(ds, 16, true, false, 8, 2);
  DataLoader gpu(ds, 16, true, false, 8, 3, 4, Device::cuda());
  for (int64_t e = 0; e < 3; ++e) {
    gpu.start_epoch(e);
    std::vector<Batch> clones;
    Batch b;
    while (gpu.next(b)) clones.push_back(Batch{b.x.clone(), b.y.clone()});
    b = Batch();
    std::vector<Batch> host;
    for (auto& c : clones) host.push_back(Batch{c.x.to(Device::cpu()), c.y.to(Device::cpu())});
    EXPECT_EQ(read_batches(host), run_epoch(cpu, e)) << "epoch " << e;
  }
  // Dropping a batch uploaded ahead (skip, a new epoch, shutdown) keeps later ones right.
  auto order = epoch_order(517, 8, 5, true);
  gpu.start_epoch(5);
  Batch b;
  ASSERT_TRUE(gpu.next(b));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(gpu.next(b));
  gpu.skip(2);
  ASSERT_TRUE(gpu.next(b));
  EXPECT_EQ((int64_t)b.x.to(Device::cpu()).data<float>()[0], order[4 * 16]);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(gpu.next(b));
}

TEST(DataLoader, RejectsBadArguments) {
  auto ds = std::make_shared<ProbeDataset>(10);
  EXPECT_THROW(DataLoader(ds, 0, true, false, 0), Error);
  EXPECT_THROW(DataLoader(nullptr, 4, true, false, 0), Error);
  if (!cuda_available()) {
    EXPECT_THROW(DataLoader(ds, 4, true, false, 0, 1, 1, Device::cuda()), Error);
  }
}
