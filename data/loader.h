// DataLoader: shuffled, prefetched batches from a Dataset. The epoch order is a pure
// function of (seed, epoch) and each sample's augmentation Rng of (seed, epoch, index),
// so the batches are the same for any number of worker threads, and a run resumes
// exactly with start_epoch(e) + skip(k). CUDA batches are staged in pinned memory and
// the next one is uploaded on a copy stream while the caller's step runs.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "data/dataset.h"
#include "engine/core/device.h"
#include "engine/core/transfer.h"

namespace sprout::data {

struct LoaderOptions {
  int64_t batch_size = 128;
  bool shuffle = true;
  bool drop_last = false;
  uint64_t seed = 0;
  int num_workers = 2;       // 0: samples are made on the caller's thread inside next()
  int prefetch_batches = 4;  // batches made ahead of the consumer (at least num_workers)
  Device device = Device::cpu();
  // Set for CUDA devices when left empty; when set, batches go through pinned staging.
  std::shared_ptr<DeviceTransfer> transfer;
  // Data-parallel training: this process is `rank` of `ranks`, and reads its slice of
  // every global batch (shard_order).
  int rank = 0, ranks = 1;
};

// The seed of sample `index`'s augmentation Rng in `epoch`.
uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t index);
// The order in which an epoch visits the dataset (a permutation of [0, size)).
std::vector<int64_t> epoch_order(int64_t size, uint64_t seed, int64_t epoch, bool shuffle);
// Rank `rank`'s part of an epoch's `order` when `ranks` processes each take `batch`
// samples a step: of each global batch (batch x ranks consecutive entries) the rank's
// slice, so every rank sees a disjoint part and together they see what one process with
// the global batch would. drop_last leaves out a last global batch that is not full
// (ranks then take equally many steps); otherwise its slices may be short or empty.
std::vector<int64_t> shard_order(const std::vector<int64_t>& order, int64_t batch, int rank, int ranks,
                                 bool drop_last);

class DataLoader : public train::BatchSource {
 public:
  DataLoader(DatasetPtr dataset, const LoaderOptions& options);
  DataLoader(DatasetPtr dataset, int64_t batch_size, bool shuffle, bool drop_last, uint64_t seed,
             int num_workers = 2, int prefetch_batches = 4, Device device = Device::cpu());
  // Stops the workers (finishing at most the sample each is on) and frees the staging.
  ~DataLoader() override;
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Begins epoch `epoch` (any order; the same epoch always gives the same batches)
  // and starts prefetching. next() without a start_epoch begins epoch 0.
  void start_epoch(int64_t epoch) override;
  // Skips the next `batches` batches of the current epoch without making them (resume).
  void skip(int64_t batches) override;
  // The next batch of the epoch; false at the epoch's end. Rethrows a worker's error
  // (which ends the epoch).
  bool next(Batch& out) override;

  int64_t batches_per_epoch() const override;
  // Samples this rank visits in an epoch (the data set's size for a single process).
  int64_t samples_per_epoch() const;
  int64_t epoch() const { return epoch_; }
  // Batches handed out or skipped so far in this epoch.
  int64_t batch_index() const { return deliver_; }
  const Dataset& dataset() const { return *dataset_; }
  const LoaderOptions& options() const { return opt_; }
  // Pinned host bytes held for staging device batches (0 on the CPU).
  int64_t staging_bytes() const;

 private:
  struct Staging;
  struct Ready {
    Tensor x, y;                 // CPU batches; staged ones once uploaded
    Staging* staging = nullptr;  // staged batches: the pinned buffer they are built in
    int64_t count = 0;
    std::exception_ptr error;
  };

  void worker_loop();
  // Makes batch `b` of the current epoch; returns false when abandoned (stop, new epoch).
  bool build(int64_t b, uint64_t generation, int64_t epoch,
             const std::shared_ptr<const std::vector<int64_t>>& order, Ready& r);
  // Gives `r` somewhere to build `count` samples (lock held; may wait for a copy).
  void acquire(int64_t count, std::unique_lock<std::mutex>& lock, Ready& r);
  // CPU batches: a pooled pair the caller has let go of, or new tensors (pooled if full).
  void acquire_cpu(int64_t count, Ready& r);
  // Waits without the lock for the copy out of `oldest`; one worker at a time.
  void wait_for_copy(Staging& oldest, std::unique_lock<std::mutex>& lock);
  // Lock held. An uploaded batch's buffer stays in flight until its fence is reached.
  void release(Ready& r);
  // Staged batches, on the consumer's thread without the lock: queues the copy of a built
  // batch into new device tensors (a failure becomes r.error), and orders the consumer
  // after it before handing it out or dropping it.
  void upload(Ready& r);
  void order_consumer(Ready& r);
  // Lets go of the batch uploaded ahead (start_epoch, skip, errors, shutdown).
  void drop_ahead();
  // next()'s steps, called with the lock held. take_batch: batch `b` from the one uploaded
  // ahead, built now (no workers) or waited for; false when stopping. finish_staged:
  // uploads a staged batch if not yet, then orders the consumer after its copy.
  // fail_epoch: ends the epoch and rethrows r's error, with the lock released.
  bool take_batch(int64_t b, std::unique_lock<std::mutex>& lock, Ready& r);
  void finish_staged(Ready& r, std::unique_lock<std::mutex>& lock);
  [[noreturn]] void fail_epoch(Ready& r, std::unique_lock<std::mutex>& lock);
  // Called without the lock: moves the next built batch into ahead_ and queues
  // its upload, so the copy overlaps the caller's step.
  void upload_ahead(std::unique_lock<std::mutex>& lock);
  void start_workers();

  DatasetPtr dataset_;
  LoaderOptions opt_;
  std::shared_ptr<DeviceTransfer> transfer_;  // null: plain CPU batches
  Shape sample_shape_;
  int64_t sample_numel_ = 0;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;   // workers wait for claimable batches
  std::condition_variable ready_cv_;    // next() waits for the batch it needs
  std::condition_variable staging_cv_;  // workers wait for a pinned buffer
  std::vector<std::thread> workers_;
  // Written under mu_; atomic so a worker can notice mid-batch that its work is stale.
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> generation_{0};  // bumped by start_epoch and errors
  bool started_ = false;
  int64_t epoch_ = 0;
  int64_t num_batches_ = 0;
  int64_t deliver_ = 0;  // next batch next() hands out
  int64_t claim_ = 0;    // next batch a worker takes
  std::shared_ptr<const std::vector<int64_t>> order_;
  std::map<int64_t, Ready> ready_;

  // CPU buffers handed out before; reused once the caller has let go of them.
  std::vector<std::pair<Tensor, Tensor>> cpu_pool_;
  // Staged batches: pinned buffers of one full batch each; in flight until their fence.
  std::vector<std::unique_ptr<Staging>> staging_;
  uint64_t uploads_ = 0;  // orders in-flight buffers, oldest first
  bool waiting_ = false;  // a worker is blocked on a fence (one at a time)
  // The batch after the last one handed out, uploaded while the caller's step runs
  // (consumer thread only); ahead_batch_ is -1 when there is none.
  Ready ahead_;
  int64_t ahead_batch_ = -1;
};

}  // namespace sprout::data
