// Host-to-device transfer beside the compute stream: pinned staging memory, copies on
// a copy stream, and fences (CUDA events) that order the two streams without the host
// waiting. The engine's one interface to CUDA streams and events outside the ops; the
// data loader stages its batches through it.
#pragma once
#include <cstddef>
#include <memory>

#include "engine/core/tensor.h"

namespace sprout {

// How staged batches reach a device: pinned host buffers, asynchronous copies out of
// them, and a fence per buffer that says when its copies have completed. The CUDA one
// copies on a copy stream that runs beside the compute stream; tests substitute a
// simulated one to check the staging protocol without a GPU.
class DeviceTransfer {
 public:
  // A point in the copy queue: recorded after one buffer's copies, re-recorded on reuse.
  class Fence {
   public:
    virtual ~Fence() = default;
  };
  struct Copy {
    Tensor dst;       // receives dst.nbytes()
    const void* src;  // pinned
  };
  virtual ~DeviceTransfer() = default;
  virtual void* alloc_pinned(size_t bytes) = 0;
  virtual void free_pinned(void* p) = 0;
  virtual std::unique_ptr<Fence> make_fence() = 0;
  // A batch tensor on the device (category data), ready to receive a copy.
  virtual Tensor alloc_batch(const Shape& shape, DType dtype) = 0;
  // Queues `copies` after the consumer's work queued so far (which may still use memory
  // alloc_batch just handed out) and records `done` after them; returns before they run.
  // When it throws, none of them is left running.
  virtual void upload(const Copy* copies, size_t n, Fence& done) = 0;
  // Orders the consumer's work queued from now on after the copies before `f`; called
  // before a batch is handed out or its memory can be reused (CUDA: a queued stream wait,
  // the host does not block).
  virtual void order_after(Fence& f) = 0;
  // Whether the copies before `f` have completed (never blocks), and a wait for them.
  virtual bool reached(Fence& f) = 0;
  virtual void wait(Fence& f) = 0;
};

// Pinned memory from the CUDA runtime, copies on its copy stream, and events.
// Throws unless `device` is a usable CUDA device.
std::shared_ptr<DeviceTransfer> make_cuda_transfer(Device device);

}  // namespace sprout
