// The CUDA DeviceTransfer: pinned memory from the runtime, uploads on its copy stream,
// events as fences.
#include "engine/core/transfer.h"

#include <mutex>

#include "engine/core/error.h"
#include "kernels/cuda/runtime.h"

namespace sprout {

namespace {

struct CudaFence : DeviceTransfer::Fence {
  cudaEvent_t event = kernels::cuda::event_create();
  ~CudaFence() override { kernels::cuda::event_destroy(event); }
};

// Uploads run on the copy stream; the compute stream, which every kernel, library call
// and device copy uses, is the consumer. The caching allocator knows nothing of streams:
// a freed block goes to the next allocation at once, while work queued on it may still
// be running. Every past use of a block was queued before its free (in program order on
// the freeing thread, and the cache's mutex orders that free before our allocation),
// either on the compute stream or, by an earlier upload, on the copy stream. So:
//  1. Before writing into memory alloc_batch just returned, the copy stream waits for an
//     event recorded now on the compute stream: past compute users of the block are
//     done; past copy-stream users are ahead of us on the copy stream itself.
//  2. The batch's fence is recorded on the copy stream after its copies, and the compute
//     stream waits on it (order_after) before the loader hands the batch out or drops
//     it unread. So the step that reads it, and the next owner of its memory (a compute
//     user, or a later upload that by 1 waits for the compute stream), run after the copy.
//     Allocator::empty_cache synchronises the compute stream before cudaFree, which by 2
//     covers the copies into every freed block.
//  3. The loader refills a pinned buffer only once its own fence is reached.
// Records and waits are queued: the host waits for nothing in the steady state.
class CudaTransfer : public DeviceTransfer {
 public:
  explicit CudaTransfer(Device device) : device_(device), compute_point_(kernels::cuda::event_create()) {}
  ~CudaTransfer() override { kernels::cuda::event_destroy(compute_point_); }
  void* alloc_pinned(size_t bytes) override { return kernels::cuda::host_pinned_malloc(bytes); }
  void free_pinned(void* p) override { kernels::cuda::host_pinned_free(p); }
  std::unique_ptr<Fence> make_fence() override { return std::make_unique<CudaFence>(); }
  Tensor alloc_batch(const Shape& shape, DType dtype) override {
    return Tensor::empty(shape, dtype, device_, MemCategory::Data);
  }
  void upload(const Copy* copies, size_t n, Fence& done) override {
    cudaStream_t copy = kernels::cuda::copy_stream();
    std::lock_guard<std::mutex> g(mu_);  // compute_point_ is one event for every upload
    try {
      kernels::cuda::event_record(compute_point_, kernels::cuda::stream());
      kernels::cuda::stream_wait_event(copy, compute_point_);
      for (size_t i = 0; i < n; ++i)
        kernels::cuda::copy_to_device_async(copies[i].dst.raw_data(), copies[i].src,
                                            copies[i].dst.nbytes(), copy);
      kernels::cuda::event_record(event(done), copy);
    } catch (...) {
      // The caller frees the tensors and reuses the buffer: nothing may still run on them.
      try {
        kernels::cuda::stream_synchronize(copy);
      } catch (...) {
      }
      throw;
    }
  }
  void order_after(Fence& f) override { kernels::cuda::stream_wait_event(kernels::cuda::stream(), event(f)); }
  bool reached(Fence& f) override { return kernels::cuda::event_query(event(f)); }
  void wait(Fence& f) override { kernels::cuda::event_synchronize(event(f)); }

 private:
  static cudaEvent_t event(Fence& f) { return static_cast<CudaFence&>(f).event; }
  Device device_;
  std::mutex mu_;
  cudaEvent_t compute_point_;
};

}  // namespace

std::shared_ptr<DeviceTransfer> make_cuda_transfer(Device device) {
  SPROUT_CHECK(device.is_cuda(), "make_cuda_transfer needs a CUDA device, got ", device.str());
  SPROUT_CHECK(cuda_available(), "DataLoader: device ", device.str(), " requested but ", cuda_unavailable_reason());
  return std::make_shared<CudaTransfer>(device);
}

}  // namespace sprout
