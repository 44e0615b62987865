// Tensor: a contiguous, typed view of a Storage on one device, plus the autograd
// fields (requires_grad, grad, grad_fn). Shape-changing views share storage.
#pragma once
#include <memory>
#include <vector>

#include "engine/core/allocator.h"
#include "engine/core/device.h"
#include "engine/core/dtype.h"
#include "engine/core/shape.h"

namespace sprout {

namespace autograd { struct Node; }

// One allocation. Freed through the Allocator with the category it was made in.
class Storage {
 public:
  Storage(size_t bytes, Device dev, MemCategory cat);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }
  MemCategory category() const { return category_; }
  // Something a higher layer computed from these bytes and keeps only while they live
  // (a sparse layer's transposed structure, keyed by its col_idx); null when unset.
  std::shared_ptr<const void> derived;
 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  Device device_;
  MemCategory category_;
};

class Tensor;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  size_t byte_offset = 0;
  Shape shape;
  DType dtype = DType::F32;
  // autograd
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;
  std::shared_ptr<autograd::Node> grad_fn;
  std::shared_ptr<autograd::Node> grad_accumulator;  // leaves only, made on first use
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // Creation. `cat` defaults to the current MemoryScope category.
  static Tensor empty(const Shape& shape, DType dt = DType::F32, Device dev = Device::cpu());
  static Tensor empty(const Shape& shape, DType dt, Device dev, MemCategory cat);
  static Tensor zeros(const Shape& shape, DType dt = DType::F32, Device dev = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dt, Device dev, MemCategory cat);
  static Tensor full(const Shape& shape, double value, DType dt = DType::F32,
                     Device dev = Device::cpu());
  template <class T>
  static Tensor from_vector(const std::vector<T>& v, const Shape& shape,
                            Device dev = Device::cpu());

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl_->shape; }
  int64_t dim() const { return (int64_t)impl_->shape.size(); }
  int64_t size(int64_t d) const;
  int64_t numel() const { return shape_numel(impl_->shape); }
  size_t nbytes() const { return (size_t)numel() * dtype_size(impl_->dtype); }
  DType dtype() const { return impl_->dtype; }
  Device device() const { return impl_->storage->device(); }
  bool is_cuda() const { return device().is_cuda(); }
  MemCategory category() const { return impl_->storage->category(); }

  void* raw_data() const {
    return static_cast<char*>(impl_->storage->data()) + impl_->byte_offset;
  }
  template <class T> T* data() const {
    SPROUT_CHECK(dtype_of<T>::value == dtype(), "tensor holds ", dtype_name(dtype()),
                 ", asked for ", dtype_name(dtype_of<T>::value));
    return static_cast<T*>(raw_data());
  }

  // Copies (a new storage in category `cat`; the current category by default).
  Tensor to(Device dev) const;
  Tensor to(Device dev, MemCategory cat) const;
  Tensor to_dtype(DType dt) const;  // CPU only
  Tensor clone() const;
  Tensor clone(MemCategory cat) const;
  void copy_from(const Tensor& src);  // same numel and dtype; any devices
  void zero_();
  // A view with another shape over the same storage; no autograd (see ops::reshape).
  Tensor view(const Shape& shape) const;
  // Rows [start, start + count) along dimension 0, sharing storage (no autograd).
  Tensor slice(int64_t start, int64_t count) const;

  template <class T> std::vector<T> to_vector() const;
  double item() const;  // one-element float tensor to host

  // autograd
  bool requires_grad() const { return impl_ && impl_->requires_grad; }
  Tensor& set_requires_grad(bool r) { impl_->requires_grad = r; return *this; }
  Tensor grad() const { return impl_->grad ? Tensor(impl_->grad) : Tensor(); }
  void set_grad(const Tensor& g) { impl_->grad = g.impl_; }
  const std::shared_ptr<autograd::Node>& grad_fn() const { return impl_->grad_fn; }
  bool is_leaf() const { return impl_->grad_fn == nullptr; }
  // Drops the graph: the same data as a leaf that does not require grad.
  Tensor detach() const;
  // Runs backpropagation from this scalar (or with the given output gradient).
  void backward() const;
  void backward(const Tensor& grad_output) const;

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool same(const Tensor& o) const { return impl_ == o.impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

template <class T>
Tensor Tensor::from_vector(const std::vector<T>& v, const Shape& shape, Device dev) {
  SPROUT_CHECK((int64_t)v.size() == shape_numel(shape), "from_vector: ", v.size(),
               " values for shape ", shape_str(shape));
  Tensor host = empty(shape, dtype_of<T>::value, Device::cpu());
  std::copy(v.begin(), v.end(), host.data<T>());
  return dev.is_cpu() ? host : host.to(dev);
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  Tensor h = is_cuda() ? to(Device::cpu()) : *this;
  const T* p = h.data<T>();
  return std::vector<T>(p, p + numel());
}

}  // namespace sprout
