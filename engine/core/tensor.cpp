// Tensor and Storage: creation, copies across devices, views.
#include "engine/core/tensor.h"

#include <cstring>

#include "engine/core/dispatch.h"
#include "engine/core/error.h"

namespace sprout {

Storage::Storage(size_t bytes, Device dev, MemCategory cat)
    : bytes_(bytes), device_(dev), category_(cat) {
  data_ = Allocator::allocate(bytes, dev, cat);
}

Storage::~Storage() { Allocator::deallocate(data_, bytes_, device_, category_); }

Tensor Tensor::empty(const Shape& shape, DType dt, Device dev) {
  return empty(shape, dt, dev, current_mem_category());
}

Tensor Tensor::empty(const Shape& shape, DType dt, Device dev, MemCategory cat) {
  for (int64_t d : shape) SPROUT_CHECK(d >= 0, "negative extent in shape ", shape_str(shape));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>((size_t)shape_numel(shape) * dtype_size(dt), dev, cat);
  impl->shape = shape;
  impl->dtype = dt;
  return Tensor(impl);
}

Tensor Tensor::zeros(const Shape& shape, DType dt, Device dev) {
  return zeros(shape, dt, dev, current_mem_category());
}

Tensor Tensor::zeros(const Shape& shape, DType dt, Device dev, MemCategory cat) {
  Tensor t = empty(shape, dt, dev, cat);
  t.zero_();
  return t;
}

Tensor Tensor::full(const Shape& shape, double value, DType dt, Device dev) {
  if (dev.is_cuda() && dt == DType::F32) {  // filled on the stream: no host upload inside a step
    Tensor t = empty(shape, dt, dev);
    SPROUT_ON_CUDA(kernels::cuda::fill(t.data<float>(), (float)value, t.numel(), stream()));
    return t;
  }
  Tensor h = empty(shape, dt, Device::cpu());
  int64_t n = h.numel();
  switch (dt) {
    case DType::F32: { float* p = h.data<float>(); for (int64_t i = 0; i < n; ++i) p[i] = (float)value; break; }
    case DType::F64: { double* p = h.data<double>(); for (int64_t i = 0; i < n; ++i) p[i] = value; break; }
    case DType::I32: { int32_t* p = h.data<int32_t>(); for (int64_t i = 0; i < n; ++i) p[i] = (int32_t)value; break; }
    case DType::I64: { int64_t* p = h.data<int64_t>(); for (int64_t i = 0; i < n; ++i) p[i] = (int64_t)value; break; }
    case DType::U8: { std::memset(h.raw_data(), (int)value, (size_t)n); break; }
  }
  return dev.is_cpu() ? h : h.to(dev);
}

int64_t Tensor::size(int64_t d) const {
  int64_t n = dim();
  if (d < 0) d += n;
  SPROUT_CHECK(d >= 0 && d < n, "dimension ", d, " out of range for shape ", shape_str(shape()));
  return impl_->shape[(size_t)d];
}

void Tensor::copy_from(const Tensor& src) {
  SPROUT_CHECK(numel() == src.numel() && dtype() == src.dtype(), "copy_from: ",
               shape_str(src.shape()), " ", dtype_name(src.dtype()), " into ",
               shape_str(shape()), " ", dtype_name(dtype()));
  size_t n = nbytes();
  if (n == 0) return;
  bool sc = src.is_cuda(), dc = is_cuda();
  if (!sc && !dc) std::memcpy(raw_data(), src.raw_data(), n);
  else kernels::cuda::copy(raw_data(), src.raw_data(), n, sc && dc ? 2 : (dc ? 0 : 1));
}

Tensor Tensor::to(Device dev) const { return to(dev, current_mem_category()); }

Tensor Tensor::to(Device dev, MemCategory cat) const {
  Tensor out = empty(shape(), dtype(), dev, cat);
  out.copy_from(*this);
  return out;
}

Tensor Tensor::to_dtype(DType dt) const {
  SPROUT_CHECK(!is_cuda(), "to_dtype runs on the CPU");
  if (dt == dtype()) return clone();
  Tensor out = empty(shape(), dt, device());
  int64_t n = numel();
  auto get = [&](int64_t i) -> double {
    switch (dtype()) {
      case DType::F32: return data<float>()[i];
      case DType::F64: return data<double>()[i];
      case DType::I32: return data<int32_t>()[i];
      case DType::I64: return (double)data<int64_t>()[i];
      case DType::U8: return data<uint8_t>()[i];
    }
    return 0;
  };
  for (int64_t i = 0; i < n; ++i) {
    double v = get(i);
    switch (dt) {
      case DType::F32: out.data<float>()[i] = (float)v; break;
      case DType::F64: out.data<double>()[i] = v; break;
      case DType::I32: out.data<int32_t>()[i] = (int32_t)v; break;
      case DType::I64: out.data<int64_t>()[i] = (int64_t)v; break;
      case DType::U8: out.data<uint8_t>()[i] = (uint8_t)v; break;
    }
  }
  return out;
}

Tensor Tensor::clone() const { return to(device()); }
Tensor Tensor::clone(MemCategory cat) const { return to(device(), cat); }

void Tensor::zero_() {
  if (nbytes() == 0) return;
  if (is_cuda()) kernels::cuda::memset_zero(raw_data(), nbytes());
  else std::memset(raw_data(), 0, nbytes());
}

Tensor Tensor::view(const Shape& s) const {
  SPROUT_CHECK(shape_numel(s) == numel(), "view: cannot view ", shape_str(shape()), " as ",
               shape_str(s));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->byte_offset = impl_->byte_offset;
  impl->shape = s;
  impl->dtype = impl_->dtype;
  return Tensor(impl);
}

Tensor Tensor::slice(int64_t start, int64_t count) const {
  SPROUT_CHECK(dim() >= 1 && start >= 0 && count >= 0 && start + count <= size(0), "slice: rows [", start, ", ",
               start + count, ") of ", shape_str(shape()));
  int64_t row = 1;
  for (int64_t d = 1; d < dim(); ++d) row *= size(d);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->byte_offset = impl_->byte_offset + (size_t)(start * row) * dtype_size(impl_->dtype);
  impl->shape = shape();
  impl->shape[0] = count;
  impl->dtype = impl_->dtype;
  return Tensor(impl);
}

Tensor Tensor::detach() const {
  Tensor t = view(shape());
  return t;
}

double Tensor::item() const {
  SPROUT_CHECK(numel() == 1, "item() needs one element, tensor has shape ", shape_str(shape()));
  Tensor h = is_cuda() ? to(Device::cpu()) : *this;
  switch (dtype()) {
    case DType::F32: return h.data<float>()[0];
    case DType::F64: return h.data<double>()[0];
    case DType::I32: return h.data<int32_t>()[0];
    case DType::I64: return (double)h.data<int64_t>()[0];
    case DType::U8: return h.data<uint8_t>()[0];
  }
  return 0;
}

}  // namespace sprout
