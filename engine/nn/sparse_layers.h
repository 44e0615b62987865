// Sparse twins of Linear and Conv2d: the weight is a sparse::SparseParameter (CSR, or BSR with
// block > 1) from construction on, initialised like PyTorch on the stored entries,
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with the dense fan-in. from_dense() builds one
// from a dense layer and a mask or a density, for config-driven sparsification.
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "engine/core/rng.h"
#include "engine/nn/conv_layers.h"
#include "engine/nn/layers.h"
#include "engine/nn/module.h"
#include "engine/sparse/parameter.h"
#include "engine/sparse/matrix.h"

namespace sprout::nn {

// Initial values at ascending flat positions row * cols + col of the dense weight.
using ValuesAt = std::function<void(const int64_t* pos, int64_t n, float* out)>;

// Sorted grid positions (entries, or blocks for BSR) of a uniformly random structure at
// `density` of a rows x cols weight: what from_dense(dense, density, rng) keeps.
std::vector<int64_t> random_grid_positions(int64_t rows, int64_t cols, double density, int block, Rng& rng);
// A CSR (block 1) or BSR structure at sorted distinct grid positions, values from
// `values` (BSR overhang 0), built without any tensor of the dense shape; `shape` is the
// dense weight's shape. An error before int32 indices would overflow.
sparse::SparseParameter parameter_at(int64_t rows, int64_t cols, int block, const std::vector<int64_t>& grid_pos,
                                     const ValuesAt& values, Shape shape);

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
  // The dense layer's weights at sorted grid positions: gathered from its weight, or
  // drawn from its pending recipe (so the dense weight never exists); its bias.
  static std::shared_ptr<SparseLinear> at_positions(const Linear& dense, const std::vector<int64_t>& grid_pos,
                                                    int block = 1);

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
  static std::shared_ptr<SparseConv2d> at_positions(const Conv2d& dense, const std::vector<int64_t>& grid_pos,
                                                    int block = 1);

  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "SparseConv2d"; }
  int64_t in_channels = 0, out_channels = 0, kernel_size = 1, stride = 1, padding = 0;
  sparse::SparseParameter weight;  // rows = Cout, cols = Cin * k * k; dense_shape [Cout, Cin, k, k]
  Tensor bias;

 private:
  SparseConv2d() = default;
  // A layer with `dense`'s geometry and bias around the weight w.
  static std::shared_ptr<SparseConv2d> adopt(const Conv2d& dense, sparse::SparseParameter w);
  void finish(bool has_bias, Rng* rng);
};

}  // namespace sprout::nn
