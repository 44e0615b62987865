// Sparse twins of Linear and Conv2d: the weight is a sparse::SparseParameter (CSR, or BSR with
// block > 1) from construction on, initialised like PyTorch on the stored entries,
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with the dense fan-in. from_dense() builds one
// from a dense layer and a mask or a density, for config-driven sparsification.
#pragma once
#include <memory>

#include "engine/core/rng.h"
#include "engine/nn/conv_layers.h"
#include "engine/nn/layers.h"
#include "engine/nn/module.h"
#include "engine/sparse/parameter.h"
#include "engine/sparse/matrix.h"

namespace sprout::nn {

class SparseLinear : public Module {
 public:
  // round(density * in * out) entries (blocks for BSR) at uniformly drawn positions.
  SparseLinear(int64_t in, int64_t out, double density, bool bias, Rng& rng, int block = 1);
  // The given structure [out, in]; its values are replaced by the initialisation.
  SparseLinear(const sparse::CsrMatrix& structure, bool bias, Rng& rng);
  SparseLinear(const sparse::BsrMatrix& structure, bool bias, Rng& rng);
  // The dense layer's weights where mask != 0 (mask [out, in], any dtype; BSR keeps
  // whole blocks touching the mask), and its bias.
  static std::shared_ptr<SparseLinear> from_dense(const Linear& dense, const Tensor& mask, int block = 1);
  // A uniformly random mask at `density`.
  static std::shared_ptr<SparseLinear> from_dense(const Linear& dense, double density, Rng& rng, int block = 1);

  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "SparseLinear"; }
  int64_t in_features = 0, out_features = 0;
  sparse::SparseParameter weight;  // rows = out, cols = in
  Tensor bias;

 private:
  SparseLinear() = default;
  void finish(bool has_bias, Rng* rng);
};

class SparseConv2d : public Module {
 public:
  // weight: Cout x (Cin * k * k), round(density * dense size) entries (blocks for BSR).
  SparseConv2d(int64_t in, int64_t out, int64_t k, int64_t stride, int64_t pad, double density, bool bias,
               Rng& rng, int block = 1);
  static std::shared_ptr<SparseConv2d> from_dense(const Conv2d& dense, const Tensor& mask, int block = 1);
  static std::shared_ptr<SparseConv2d> from_dense(const Conv2d& dense, double density, Rng& rng, int block = 1);

  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "SparseConv2d"; }
  int64_t in_channels = 0, out_channels = 0, kernel_size = 1, stride = 1, padding = 0;
  sparse::SparseParameter weight;  // rows = Cout, cols = Cin * k * k; dense_shape [Cout, Cin, k, k]
  Tensor bias;

 private:
  SparseConv2d() = default;
  void finish(bool has_bias, Rng* rng);
};

}  // namespace sprout::nn
