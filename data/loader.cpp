// DataLoader internals. Workers claim batch numbers in order, at most
// prefetch_batches ahead of the consumer, and post finished batches to a map keyed by
// batch number, so next() hands them out in epoch order whatever finishes first.
// Device batches are built in pinned staging buffers and copied asynchronously (CUDA:
// on a copy stream); next() hands out one batch and queues the upload of the following
// one, so that copy runs during the caller's step. A buffer is reused once its own
// copy's fence is reached; only a worker that finds every buffer in flight waits for one.
#include "data/loader.h"

#include <algorithm>
#include <atomic>
#include <numeric>

#include "engine/core/error.h"

namespace sprout::data {

namespace {

uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Staging layout: x first, then y at a 256-byte aligned offset.
size_t labels_offset(int64_t batch, int64_t sample_numel) {
  size_t xb = (size_t)(batch * sample_numel) * sizeof(float);
  return (xb + 255) / 256 * 256;
}

}  // namespace

struct DataLoader::Staging {
  // Busy: being built, or built and waiting to be handed out (uploaded or not);
  // InFlight: handed out or dropped, its copies perhaps still running.
  enum class State { Free, Busy, InFlight };
  void* ptr = nullptr;
  size_t bytes = 0;
  State state = State::Free;
  std::unique_ptr<DeviceTransfer::Fence> fence;  // after the copies out of this buffer
  uint64_t upload_seq = 0;                       // uploads_ when it went in flight
};

uint64_t sample_seed(uint64_t seed, int64_t epoch, int64_t index) {
  return mix64(mix64(mix64(seed ^ 0x73616d706c65ull) ^ (uint64_t)epoch) ^ (uint64_t)index);
}

std::vector<int64_t> epoch_order(int64_t size, uint64_t seed, int64_t epoch, bool shuffle) {
  std::vector<int64_t> order((size_t)size);
  std::iota(order.begin(), order.end(), int64_t(0));
  if (shuffle) {
    Rng rng(mix64(mix64(seed ^ 0x6f72646572ull) ^ (uint64_t)epoch));
    rng.shuffle(order);
  }
  return order;
}

std::vector<int64_t> shard_order(const std::vector<int64_t>& order, int64_t batch, int rank, int ranks,
                                 bool drop_last) {
  const int64_t n = (int64_t)order.size(), global = batch * ranks;
  std::vector<int64_t> mine;
  mine.reserve((size_t)((n + ranks - 1) / ranks));
  for (int64_t start = 0; start < n; start += global) {
    if (drop_last && start + global > n) break;
    const int64_t from = std::min(n, start + rank * batch), to = std::min(n, from + batch);
    mine.insert(mine.end(), order.begin() + from, order.begin() + to);
  }
  return mine;
}

DataLoader::DataLoader(DatasetPtr dataset, int64_t batch_size, bool shuffle, bool drop_last,
                       uint64_t seed, int num_workers, int prefetch_batches, Device device)
    : DataLoader(std::move(dataset), LoaderOptions{batch_size, shuffle, drop_last, seed, num_workers,
                                                   prefetch_batches, device, nullptr, 0, 1}) {}

DataLoader::DataLoader(DatasetPtr dataset, const LoaderOptions& options)
    : dataset_(std::move(dataset)), opt_(options) {
  SPROUT_CHECK(dataset_ != nullptr, "DataLoader needs a dataset");
  SPROUT_CHECK(opt_.batch_size > 0, "DataLoader: batch_size must be positive, got ", opt_.batch_size);
  SPROUT_CHECK(opt_.num_workers >= 0, "DataLoader: num_workers must be >= 0, got ", opt_.num_workers);
  SPROUT_CHECK(opt_.ranks >= 1 && opt_.rank >= 0 && opt_.rank < opt_.ranks, "DataLoader: rank ", opt_.rank,
               " of ", opt_.ranks);
  transfer_ = opt_.transfer;
  if (!transfer_ && opt_.device.is_cuda()) transfer_ = make_cuda_transfer(opt_.device);
  // Fewer batches in flight than workers would leave workers idle.
  opt_.prefetch_batches = std::max({opt_.prefetch_batches, opt_.num_workers, 1});
  sample_shape_ = dataset_->sample_shape();
  sample_numel_ = shape_numel(sample_shape_);
}

DataLoader::~DataLoader() {
  {
    std::lock_guard<std::mutex> g(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  ready_cv_.notify_all();
  staging_cv_.notify_all();
  for (auto& t : workers_) t.join();
  // A failing device at shutdown must not turn into std::terminate: a buffer whose copy
  // cannot be waited for is leaked rather than freed under it.
  try {
    drop_ahead();
  } catch (...) {
  }
  ready_.clear();
  for (auto& s : staging_) {
    try {
      if (s->state == Staging::State::InFlight) transfer_->wait(*s->fence);
      transfer_->free_pinned(s->ptr);
    } catch (...) {
    }
  }
}

int64_t DataLoader::samples_per_epoch() const {
  const int64_t n = dataset_->size(), b = opt_.batch_size;
  if (opt_.ranks <= 1) return n;
  const int64_t global = b * opt_.ranks, full = n / global;
  const int64_t rest = opt_.drop_last ? 0 : std::clamp(n - full * global - opt_.rank * b, int64_t(0), b);
  return full * b + rest;
}

int64_t DataLoader::batches_per_epoch() const {
  const int64_t n = samples_per_epoch();
  return opt_.drop_last ? n / opt_.batch_size : (n + opt_.batch_size - 1) / opt_.batch_size;
}

int64_t DataLoader::staging_bytes() const {
  std::lock_guard<std::mutex> g(mu_);
  int64_t total = 0;
  for (auto& s : staging_) total += (int64_t)s->bytes;
  return total;
}

void DataLoader::start_workers() {
  for (int i = 0; i < opt_.num_workers; ++i) workers_.emplace_back([this] { worker_loop(); });
}

void DataLoader::start_epoch(int64_t epoch) {
  std::vector<int64_t> all = epoch_order(dataset_->size(), opt_.seed, epoch, opt_.shuffle);
  if (opt_.ranks > 1) all = shard_order(all, opt_.batch_size, opt_.rank, opt_.ranks, opt_.drop_last);
  auto order = std::make_shared<const std::vector<int64_t>>(std::move(all));
  drop_ahead();
  {
    std::lock_guard<std::mutex> g(mu_);
    ++generation_;
    epoch_ = epoch;
    order_ = std::move(order);
    num_batches_ = batches_per_epoch();
    deliver_ = claim_ = 0;
    for (auto& kv : ready_) release(kv.second);
    ready_.clear();
    started_ = true;
    if (workers_.empty()) start_workers();
  }
  work_cv_.notify_all();
  staging_cv_.notify_all();
}

void DataLoader::skip(int64_t batches) {
  SPROUT_CHECK(batches >= 0, "DataLoader::skip: negative count ", batches);
  if (!started_) start_epoch(0);
  int64_t upto = 0;
  {
    std::lock_guard<std::mutex> g(mu_);
    deliver_ = std::min(num_batches_, deliver_ + batches);
    claim_ = std::max(claim_, deliver_);
    for (auto it = ready_.begin(); it != ready_.end() && it->first < deliver_;) {
      release(it->second);
      it = ready_.erase(it);
    }
    upto = deliver_;
  }
  work_cv_.notify_all();
  staging_cv_.notify_all();
  if (ahead_batch_ >= 0 && ahead_batch_ < upto) drop_ahead();
}

void DataLoader::release(Ready& r) {
  if (r.staging) {
    if (r.x.defined()) {
      r.staging->state = Staging::State::InFlight;
      r.staging->upload_seq = ++uploads_;
    } else {
      r.staging->state = Staging::State::Free;
    }
    r.staging = nullptr;
  }
  r.x = Tensor();
  r.y = Tensor();
}

void DataLoader::upload(Ready& r) {
  try {
    Shape xs = sample_shape_;
    xs.insert(xs.begin(), r.count);
    Tensor x = transfer_->alloc_batch(xs, DType::F32);
    Tensor y = transfer_->alloc_batch({r.count}, DType::I32);
    const char* base = static_cast<const char*>(r.staging->ptr);
    DeviceTransfer::Copy copies[2] = {{x, base}, {y, base + labels_offset(opt_.batch_size, sample_numel_)}};
    transfer_->upload(copies, 2, *r.staging->fence);
    r.x = std::move(x);
    r.y = std::move(y);
  } catch (...) {
    r.error = std::current_exception();
  }
}

void DataLoader::order_consumer(Ready& r) {
  if (r.staging && r.x.defined()) transfer_->order_after(*r.staging->fence);
}

void DataLoader::drop_ahead() {
  if (ahead_batch_ < 0) return;
  Ready r = std::move(ahead_);
  ahead_ = Ready();
  ahead_batch_ = -1;
  std::exception_ptr err;
  try {
    order_consumer(r);
  } catch (...) {
    err = std::current_exception();
  }
  {
    std::lock_guard<std::mutex> g(mu_);
    release(r);
  }
  staging_cv_.notify_all();
  if (err) std::rethrow_exception(err);
}

void DataLoader::acquire_cpu(int64_t count, Ready& r) {
  Shape xs = sample_shape_;
  xs.insert(xs.begin(), count);
  bool full = count == opt_.batch_size;
  // A pooled pair is free again once the caller dropped every reference to it.
  for (auto& p : cpu_pool_) {
    if (full && p.first.impl_ptr().use_count() == 1 && p.first.impl()->storage.use_count() == 1 &&
        p.second.impl_ptr().use_count() == 1 && p.second.impl()->storage.use_count() == 1) {
      // Pairs with the release in the caller's last reference drop, so its reads of
      // the old batch happen before the worker overwrites it.
      std::atomic_thread_fence(std::memory_order_acquire);
      r.x = p.first;
      r.y = p.second;
      return;
    }
  }
  r.x = Tensor::empty(xs, DType::F32, Device::cpu(), MemCategory::Data);
  r.y = Tensor::empty({count}, DType::I32, Device::cpu(), MemCategory::Data);
  size_t cap = (size_t)(opt_.prefetch_batches + opt_.num_workers + 2);
  if (full && cpu_pool_.size() < cap) cpu_pool_.emplace_back(r.x, r.y);
}

void DataLoader::wait_for_copy(Staging& oldest, std::unique_lock<std::mutex>& lock) {
  waiting_ = true;
  lock.unlock();
  std::exception_ptr err;
  try {
    transfer_->wait(*oldest.fence);
  } catch (...) {
    err = std::current_exception();
  }
  lock.lock();
  waiting_ = false;
  staging_cv_.notify_all();
  if (err) std::rethrow_exception(err);
}

void DataLoader::acquire(int64_t count, std::unique_lock<std::mutex>& lock, Ready& r) {
  if (!transfer_) {
    acquire_cpu(count, r);
    return;
  }
  size_t cap = (size_t)(opt_.prefetch_batches + opt_.num_workers + 2);
  while (true) {
    if (stop_) throw Error("DataLoader stopped");
    Staging* oldest = nullptr;
    for (auto& s : staging_) {
      if (s->state == Staging::State::InFlight && transfer_->reached(*s->fence)) s->state = Staging::State::Free;
      if (s->state == Staging::State::Free) {
        s->state = Staging::State::Busy;
        r.staging = s.get();
        return;
      }
      if (s->state == Staging::State::InFlight && (!oldest || s->upload_seq < oldest->upload_seq))
        oldest = s.get();
    }
    if (staging_.size() < cap) {
      auto s = std::make_unique<Staging>();
      s->fence = transfer_->make_fence();
      s->bytes = labels_offset(opt_.batch_size, sample_numel_) + (size_t)opt_.batch_size * sizeof(int32_t);
      s->ptr = transfer_->alloc_pinned(s->bytes);
      s->state = Staging::State::Busy;
      r.staging = s.get();
      staging_.push_back(std::move(s));
      return;
    }
    if (!oldest || waiting_) {
      staging_cv_.wait(lock);
      continue;
    }
    // Every buffer is being filled or copied out of: wait for the copy queued first,
    // not for the whole device. The next pass finds its buffer free.
    wait_for_copy(*oldest, lock);
  }
}

bool DataLoader::build(int64_t b, uint64_t generation, int64_t epoch,
                       const std::shared_ptr<const std::vector<int64_t>>& order, Ready& r) {
  try {
    int64_t start = b * opt_.batch_size;
    float* x = r.staging ? static_cast<float*>(r.staging->ptr) : r.x.data<float>();
    int32_t* y = r.staging ? reinterpret_cast<int32_t*>(static_cast<char*>(r.staging->ptr) +
                                                        labels_offset(opt_.batch_size, sample_numel_))
                           : r.y.data<int32_t>();
    for (int64_t i = 0; i < r.count; ++i) {
      if (stop_.load(std::memory_order_relaxed) || generation_.load(std::memory_order_relaxed) != generation)
        return false;
      int64_t index = (*order)[(size_t)(start + i)];
      Rng rng(sample_seed(opt_.seed, epoch, index));
      dataset_->get(index, x + i * sample_numel_, y + i, rng);
    }
  } catch (...) {
    r.error = std::current_exception();
  }
  return true;
}

void DataLoader::worker_loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    work_cv_.wait(lock, [&] {
      return stop_ || (started_ && claim_ < num_batches_ && claim_ < deliver_ + opt_.prefetch_batches);
    });
    if (stop_) return;
    int64_t b = claim_++;
    uint64_t generation = generation_;
    int64_t epoch = epoch_;
    auto order = order_;
    Ready r;
    r.count = std::min(opt_.batch_size, (int64_t)order->size() - b * opt_.batch_size);
    bool made = true;
    try {
      acquire(r.count, lock, r);
    } catch (...) {
      r.error = std::current_exception();
    }
    if (stop_) {
      release(r);
      return;
    }
    if (!r.error) {
      lock.unlock();
      made = build(b, generation, epoch, order, r);
      lock.lock();
    }
    if (made && generation == generation_ && b >= deliver_) {
      ready_[b] = std::move(r);
      ready_cv_.notify_all();
    } else {
      release(r);
      staging_cv_.notify_all();
    }
  }
}

bool DataLoader::take_batch(int64_t b, std::unique_lock<std::mutex>& lock, Ready& r) {
  if (ahead_batch_ == b) {
    r = std::move(ahead_);
    ahead_ = Ready();
    ahead_batch_ = -1;
  } else if (opt_.num_workers == 0) {
    claim_ = std::max(claim_, b + 1);
    r.count = std::min(opt_.batch_size, (int64_t)order_->size() - b * opt_.batch_size);
    try {
      acquire(r.count, lock, r);
    } catch (...) {
      r.error = std::current_exception();
    }
    if (!r.error) {
      uint64_t generation = generation_;
      auto order = order_;
      lock.unlock();
      build(b, generation, epoch_, order, r);
      lock.lock();
    }
  } else {
    ready_cv_.wait(lock, [&] { return stop_ || ready_.count(b) > 0; });
    if (stop_) return false;
    r = std::move(ready_[b]);
    ready_.erase(b);
  }
  return true;
}

void DataLoader::finish_staged(Ready& r, std::unique_lock<std::mutex>& lock) {
  // Uploaded ahead by the previous next(), or now when the batch was not built in time.
  lock.unlock();
  if (!r.x.defined()) upload(r);
  if (!r.error) {
    try {
      order_consumer(r);
    } catch (...) {
      r.error = std::current_exception();
    }
  }
  lock.lock();
}

void DataLoader::fail_epoch(Ready& r, std::unique_lock<std::mutex>& lock) {
  // The epoch ends here: drop what the workers made ahead and stop their work.
  ++generation_;
  deliver_ = claim_ = num_batches_;
  for (auto& kv : ready_) release(kv.second);
  ready_.clear();
  release(r);
  lock.unlock();
  staging_cv_.notify_all();
  std::rethrow_exception(r.error);
}

void DataLoader::upload_ahead(std::unique_lock<std::mutex>& lock) {
  lock.lock();
  auto it = ready_.find(deliver_);
  if (it != ready_.end() && !it->second.error && it->second.staging) {
    ahead_ = std::move(it->second);
    ahead_batch_ = deliver_;
    ready_.erase(it);
  }
  lock.unlock();
  if (ahead_batch_ >= 0) upload(ahead_);  // a failure is rethrown when that batch is due
}

bool DataLoader::next(Batch& out) {
  if (!started_) start_epoch(0);
  std::unique_lock<std::mutex> lock(mu_);
  if (deliver_ >= num_batches_) return false;
  int64_t b = deliver_;
  Ready r;
  if (!take_batch(b, lock, r)) return false;
  ++deliver_;
  if (!r.error && r.staging) finish_staged(r, lock);
  if (r.error) fail_epoch(r, lock);
  Tensor x = r.x, y = r.y;
  release(r);  // staged: its buffer is in flight until the copy's fence
  lock.unlock();
  work_cv_.notify_all();
  staging_cv_.notify_all();
  out = Batch{std::move(x), std::move(y)};
  if (!transfer_) return true;

  // Queue the next batch's upload now, so it runs on the copy stream during the caller's
  // step; its consumer wait is queued only when it is handed out, or that step would wait.
  upload_ahead(lock);
  return true;
}

}  // namespace sprout::data
