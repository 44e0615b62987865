// SparseLinear and SparseConv2d: structure, initialisation, from_dense, forward.
#include "engine/nn/sparse_layers.h"

#include <algorithm>
#include <climits>
#include <cmath>

#include "engine/core/error.h"
#include "engine/nn/init.h"
#include "engine/ops/sparse_conv.h"
#include "engine/ops/spmm.h"
#include "engine/sparse/parameter.h"

namespace sprout::nn {

namespace {

// Entries (or blocks) to store for a density of a rows x cols matrix.
int64_t count_for(double density, int64_t rows, int64_t cols, int block) {
  SPROUT_CHECK(density >= 0.0 && density <= 1.0, "sparse layer: density ", density, " outside [0, 1]");
  const int64_t grid = ((rows + block - 1) / block) * ((cols + block - 1) / block);
  return std::min<int64_t>(grid, (int64_t)std::llround(density * (double)grid));
}

sparse::SparseParameter random_param(int64_t rows, int64_t cols, double density, int block, Rng& rng, Shape shape) {
  const int64_t n = count_for(density, rows, cols, block);
  return block == 1 ? sparse::make_parameter(sparse::CsrMatrix::random(rows, cols, n, rng), shape)
                    : sparse::make_parameter(sparse::BsrMatrix::random(rows, cols, block, n, rng), shape);
}

// U(-bound, bound) on every stored value (BSR: the overhang of edge blocks stays 0).
void init_values(sparse::SparseParameter& p, double bound, Rng& rng) {
  Tensor v = Tensor::empty(p.values.shape(), p.values.dtype(), Device::cpu(), MemCategory::Weights);
  uniform_(v, -bound, bound, rng);
  if (p.block > 1) {
    const int64_t b = p.block, bb = b * b;
    auto rp = p.row_ptr.to_vector<int32_t>();
    auto ci = p.col_idx.to_vector<int32_t>();
    float* d = v.data<float>();
    for (int64_t R = 0; R + 1 < (int64_t)rp.size(); ++R)
      for (int64_t e = rp[(size_t)R]; e < rp[(size_t)R + 1]; ++e)
        for (int64_t i = 0; i < b; ++i)
          for (int64_t j = 0; j < b; ++j)
            if (R * b + i >= p.rows || (int64_t)ci[(size_t)e] * b + j >= p.cols) d[e * bb + i * b + j] = 0.f;
  }
  p.values.copy_from(v);
}

sparse::SparseParameter masked_param(const Tensor& weight, const Tensor& mask, int block, Shape shape) {
  const int64_t rows = weight.size(0), cols = weight.numel() / std::max<int64_t>(1, weight.size(0));
  SPROUT_CHECK(mask.numel() == weight.numel(), "from_dense: mask ", shape_str(mask.shape()), " for weight ",
               shape_str(weight.shape()));
  Tensor w = weight.to(Device::cpu()).view({rows, cols});
  Tensor m = mask.to(Device::cpu()).view({rows, cols});
  sparse::SparseParameter p = block == 1 ? sparse::make_parameter(sparse::CsrMatrix::from_dense(w, m), shape)
                                 : sparse::make_parameter(sparse::BsrMatrix::from_dense(w, m, block), shape);
  p.to(weight.device());
  return p;
}

// Values gathered from a dense weight (any device) at flat positions.
ValuesAt gather_from(const Tensor& weight) {
  Tensor w = weight.to(Device::cpu());
  return [w](const int64_t* pos, int64_t n, float* out) {
    const float* d = w.data<float>();
    for (int64_t i = 0; i < n; ++i) out[i] = d[pos[i]];
  };
}

}  // namespace

std::vector<int64_t> random_grid_positions(int64_t rows, int64_t cols, double density, int block, Rng& rng) {
  const int64_t grid = ((rows + block - 1) / block) * ((cols + block - 1) / block);
  return sparse::sample_distinct(grid, count_for(density, rows, cols, block), rng);
}

sparse::SparseParameter parameter_at(int64_t rows, int64_t cols, int block, const std::vector<int64_t>& grid_pos,
                                     const ValuesAt& values, Shape shape) {
  const int64_t gr = (rows + block - 1) / block, gc = (cols + block - 1) / block, bb = (int64_t)block * block;
  const int64_t nb = (int64_t)grid_pos.size();
  SPROUT_CHECK(gr < INT32_MAX && gc <= INT32_MAX && nb <= INT32_MAX && nb * bb <= INT64_MAX / 8,
               "sparse layer of ", rows, " x ", cols, " with ", nb, " stored (block) entries: row_ptr and col_idx are "
               "int32, so a layer holds at most 2^31 - 1 (blocks) and 2^31 - 1 (block) rows and columns");
  Tensor row_ptr = Tensor::zeros({gr + 1}, DType::I32, Device::cpu(), MemCategory::Indices);
  Tensor col_idx = Tensor::empty({nb}, DType::I32, Device::cpu(), MemCategory::Indices);
  Tensor vals = Tensor::zeros({nb * bb}, DType::F32, Device::cpu(), MemCategory::Weights);
  int32_t* rp = row_ptr.data<int32_t>();
  int32_t* ci = col_idx.data<int32_t>();
  for (int64_t e = 0; e < nb; ++e) {
    const int64_t q = grid_pos[(size_t)e];
    SPROUT_CHECK(q >= 0 && q < gr * gc && (e == 0 || q > grid_pos[(size_t)e - 1]), "parameter_at: grid position ", q,
                 " out of order or outside a ", gr, " x ", gc, " grid");
    ++rp[q / gc + 1];
    ci[e] = (int32_t)(q % gc);
  }
  for (int64_t r = 0; r < gr; ++r) rp[r + 1] += rp[r];
  if (block == 1) {
    values(grid_pos.data(), nb, vals.data<float>());
  } else {  // every in-range element of the stored blocks, in ascending flat position
    std::vector<int64_t> pos, dest;
    for (int64_t R = 0; R < gr; ++R)
      for (int64_t r = R * block; r < std::min(rows, (R + 1) * block); ++r)
        for (int64_t e = rp[R]; e < rp[R + 1]; ++e)
          for (int64_t c = (int64_t)ci[e] * block; c < std::min(cols, ((int64_t)ci[e] + 1) * block); ++c) {
            pos.push_back(r * cols + c);
            dest.push_back(e * bb + (r - R * block) * block + (c - (int64_t)ci[e] * block));
          }
    std::vector<float> v(pos.size());
    values(pos.data(), (int64_t)pos.size(), v.data());
    for (size_t i = 0; i < pos.size(); ++i) vals.data<float>()[dest[i]] = v[i];
  }
  if (block == 1) {
    sparse::CsrMatrix m{rows, cols, row_ptr, col_idx, vals};
    return sparse::make_parameter(m, std::move(shape));
  }
  sparse::BsrMatrix m{rows, cols, block, row_ptr, col_idx, vals};
  return sparse::make_parameter(m, std::move(shape));
}

// ---- SparseLinear -------------------------------------------------------------------

SparseLinear::SparseLinear(int64_t in, int64_t out, double density, bool has_bias, Rng& rng, int block)
    : in_features(in), out_features(out) {
  weight = random_param(out, in, density, block, rng, {out, in});
  finish(has_bias, &rng);
}

SparseLinear::SparseLinear(const sparse::CsrMatrix& s, bool has_bias, Rng& rng)
    : in_features(s.cols), out_features(s.rows) {
  weight = sparse::make_parameter(s);
  finish(has_bias, &rng);
}

SparseLinear::SparseLinear(const sparse::BsrMatrix& s, bool has_bias, Rng& rng)
    : in_features(s.cols), out_features(s.rows) {
  weight = sparse::make_parameter(s);
  finish(has_bias, &rng);
}

void SparseLinear::finish(bool has_bias, Rng* rng) {
  const double bound = 1.0 / std::sqrt((double)std::max<int64_t>(1, in_features));
  if (rng) init_values(weight, bound, *rng);
  sparse::validate(weight);
  register_sparse_parameter("weight", &weight);
  if (has_bias && !bias.defined()) {
    bias = Tensor::empty({out_features}, DType::F32, Device::cpu(), MemCategory::Weights);
    if (rng) uniform_(bias, -bound, bound, *rng);
  }
  if (bias.defined()) register_parameter("bias", &bias);
  device_ = weight.values.device();
}

std::shared_ptr<SparseLinear> SparseLinear::from_dense(const Linear& dense, const Tensor& mask, int block) {
  std::shared_ptr<SparseLinear> s(new SparseLinear());
  s->in_features = dense.in_features;
  s->out_features = dense.out_features;
  s->weight = masked_param(dense.weight, mask, block, {dense.out_features, dense.in_features});
  if (dense.bias.defined()) s->bias = dense.bias.detach().clone(MemCategory::Weights);
  s->finish(dense.bias.defined(), nullptr);
  return s;
}

std::shared_ptr<SparseLinear> SparseLinear::from_dense(const Linear& dense, double density, Rng& rng, int block) {
  return at_positions(dense, random_grid_positions(dense.out_features, dense.in_features, density, block, rng), block);
}

std::shared_ptr<SparseLinear> SparseLinear::at_positions(const Linear& dense, const std::vector<int64_t>& grid_pos,
                                                         int block) {
  std::shared_ptr<SparseLinear> s(new SparseLinear());
  s->in_features = dense.in_features;
  s->out_features = dense.out_features;
  const WeightDraw* draw = dense.pending_weight ? &*dense.pending_weight : nullptr;
  ValuesAt values = draw ? ValuesAt([draw](const int64_t* p, int64_t n, float* o) { draw->values_at(p, n, o); })
                         : gather_from(dense.weight);
  s->weight = parameter_at(dense.out_features, dense.in_features, block, grid_pos, values,
                           {dense.out_features, dense.in_features});
  if (!draw) s->weight.to(dense.weight.device());
  if (dense.bias.defined()) s->bias = dense.bias.detach().clone(MemCategory::Weights);
  s->finish(dense.bias.defined(), nullptr);
  return s;
}

Tensor SparseLinear::forward(const Tensor& x) { return ops::sparse_linear(x, weight, bias); }

// ---- SparseConv2d -------------------------------------------------------------------

SparseConv2d::SparseConv2d(int64_t in, int64_t out, int64_t k, int64_t s, int64_t pad, double density,
                           bool has_bias, Rng& rng, int block)
    : in_channels(in), out_channels(out), kernel_size(k), stride(s), padding(pad) {
  weight = random_param(out, in * k * k, density, block, rng, {out, in, k, k});
  finish(has_bias, &rng);
}

void SparseConv2d::finish(bool has_bias, Rng* rng) {
  const double bound = 1.0 / std::sqrt((double)std::max<int64_t>(1, in_channels * kernel_size * kernel_size));
  if (rng) init_values(weight, bound, *rng);
  sparse::validate(weight);
  register_sparse_parameter("weight", &weight);
  if (has_bias && !bias.defined()) {
    bias = Tensor::empty({out_channels}, DType::F32, Device::cpu(), MemCategory::Weights);
    if (rng) uniform_(bias, -bound, bound, *rng);
  }
  if (bias.defined()) register_parameter("bias", &bias);
  device_ = weight.values.device();
}

std::shared_ptr<SparseConv2d> SparseConv2d::adopt(const Conv2d& dense, sparse::SparseParameter w) {
  std::shared_ptr<SparseConv2d> s(new SparseConv2d());
  s->in_channels = dense.in_channels;
  s->out_channels = dense.out_channels;
  s->kernel_size = dense.kernel_size;
  s->stride = dense.stride;
  s->padding = dense.padding;
  s->weight = std::move(w);
  if (dense.bias.defined()) s->bias = dense.bias.detach().clone(MemCategory::Weights);
  s->finish(dense.bias.defined(), nullptr);
  return s;
}

std::shared_ptr<SparseConv2d> SparseConv2d::from_dense(const Conv2d& dense, const Tensor& mask, int block) {
  return adopt(dense, masked_param(dense.weight, mask, block, dense.weight.shape()));
}

std::shared_ptr<SparseConv2d> SparseConv2d::from_dense(const Conv2d& dense, double density, Rng& rng, int block) {
  const int64_t rows = dense.out_channels, cols = shape_numel(dense.weight_shape()) / rows;
  return at_positions(dense, random_grid_positions(rows, cols, density, block, rng), block);
}

std::shared_ptr<SparseConv2d> SparseConv2d::at_positions(const Conv2d& dense, const std::vector<int64_t>& grid_pos,
                                                         int block) {
  const Shape shape = dense.weight_shape();
  const int64_t rows = dense.out_channels, cols = shape_numel(shape) / rows;
  const WeightDraw* draw = dense.pending_weight ? &*dense.pending_weight : nullptr;
  ValuesAt values = draw ? ValuesAt([draw](const int64_t* p, int64_t n, float* o) { draw->values_at(p, n, o); })
                         : gather_from(dense.weight);
  sparse::SparseParameter w = parameter_at(rows, cols, block, grid_pos, values, shape);
  if (!draw) w.to(dense.weight.device());
  return adopt(dense, std::move(w));
}

Tensor SparseConv2d::forward(const Tensor& x) {
  return ops::sparse_conv2d(x, weight, bias, kernel_size, stride, padding);
}

}  // namespace sprout::nn
