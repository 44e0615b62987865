// The unfolding-free sparse convolution on the GPU (kernels/cuda/sparse_conv.*, through
// cuda_rowsplit, the CUDA kernel that reads rows at offsets) against its CPU twin: for
// 1x1, 3x3 and 7x7 kernels, strides 1 and 2, the forward output, the input gradient and
// the values' gradient agree to 1e-4 (relative) in one chunk and in uneven chunks, and
// the offsets built on the device equal the CPU's exactly. Each case skips, saying why,
// when no GPU answers.
#include "engine/ops/im2col.h"
#include "engine/ops/sparse_conv.h"
#include "engine/ops/sparse_conv_implicit.h"
#include "kernels/cpu/sparse_conv.h"
#include "kernels/sparse_registry.h"
#include "sparse_testing.h"

namespace sprout {
namespace {

using namespace testing;

constexpr double kTol = 1e-4;
constexpr int64_t kN = 3, kC = 5, kH = 11, kW = 9, kO = 7;

struct Case {
  int64_t k, stride, pad;
};
const Case kCases[] = {{1, 1, 0}, {1, 2, 0}, {3, 1, 1}, {3, 2, 1}, {7, 2, 3}};

std::string name_of(const Case& c) {
  return "k" + std::to_string(c.k) + " s" + std::to_string(c.stride) + " p" + std::to_string(c.pad);
}

ops::ConvGeometry geometry(const Case& c) {
  const int64_t ho = (kH + 2 * c.pad - c.k) / c.stride + 1, wo = (kW + 2 * c.pad - c.k) / c.stride + 1;
  return ops::ConvGeometry{kN, kC, kH, kW, kO, c.k, c.k, c.stride, c.pad, ho, wo};
}

// A random CSR weight [O, C k k] at density 0.3, with row 0 empty and row 1 full.
sparse::SparseParameter weight(const Case& c, uint64_t seed) {
  return make_param(edge_mask("conv", kO, kC * c.k * c.k, 0.3, seed), 1, DType::F32, seed + 1, nullptr);
}

sparse::SparseParameter on_gpu(const sparse::SparseParameter& p) {
  sparse::SparseParameter g = p;
  g.to(Device::cuda());
  return g;
}

// The convolution workspace budget that gives `images` images per chunk of the
// implicit passes (the same per-image count they use).
size_t budget_for(const ops::ConvGeometry& g, int64_t images) {
  const auto one = kernels::cpu::ImplicitConv::make(g.C, g.H, g.W, g.O, g.kh, g.stride, g.pad, 1);
  const int64_t per_image = 2 * (one.in_size() + g.O * one.out_cols()) + one.g_size() + one.dx_size();
  return (size_t)(images * per_image) * sizeof(float);
}

// cuda_rowsplit as the CUDA CSR kernel and the unfolding-free path forced, for one
// test; both, and the convolution workspace budget, restored after.
struct ImplicitOnCuda {
  size_t budget = ops::conv_workspace_bytes();
  ImplicitOnCuda() {
    kernels::select_sparse_kernel("cuda_rowsplit");
    ops::set_sparse_conv_path(ops::SparseConvPath::Implicit);
  }
  ~ImplicitOnCuda() {
    kernels::reset_sparse_kernel_selection();
    ops::set_sparse_conv_path(ops::SparseConvPath::Auto);
    ops::set_conv_workspace_bytes(budget);
  }
};

struct Passes {
  Tensor y, dx, dv;
};

Passes implicit_passes(const sparse::SparseParameter& p, const Tensor& x, const Tensor& gy,
                       const ops::ConvGeometry& g) {
  Passes r;
  r.y = ops::detail::implicit_conv_forward(x, p, p.values, g);
  std::vector<Tensor> d = ops::detail::implicit_conv_backward(p, p.values, x, true, true, g, gy);
  r.dx = d[0];
  r.dv = d[1];
  return r;
}

// The implicit passes themselves (also for the 1x1 stride-1 case, which sparse_conv2d
// multiplies directly), in one chunk and in chunks of 2 + 1 images.
TEST(SparseConvImplicitCuda, PassesMatchCpu) {
  SPROUT_SKIP_IF_NO_DEVICE(Device::cuda());
  ImplicitOnCuda on;
  uint64_t seed = 100;
  for (const Case& c : kCases) {
    const ops::ConvGeometry g = geometry(c);
    const sparse::SparseParameter p = weight(c, seed += 10);
    const sparse::SparseParameter pg = on_gpu(p);
    const Tensor x = randn({kN, kC, kH, kW}, seed + 2, DType::F32);
    const Tensor gy = randn({kN, kO, g.Hout, g.Wout}, seed + 3, DType::F32);
    for (int64_t images : {kN, int64_t(2)}) {
      SCOPED_TRACE(name_of(c) + ", " + std::to_string(images) + " images per chunk");
      ops::set_conv_workspace_bytes(budget_for(g, images));
      const Passes cpu = implicit_passes(p, x, gy, g);
      const Passes gpu = implicit_passes(pg, x.to(Device::cuda()), gy.to(Device::cuda()), g);
      ASSERT_TRUE(gpu.y.is_cuda() && gpu.dx.is_cuda() && gpu.dv.is_cuda());
      EXPECT_LE(rel_error(gpu.y, cpu.y), kTol) << "y";
      EXPECT_LE(rel_error(gpu.dx, cpu.dx), kTol) << "dx";
      EXPECT_LE(rel_error(gpu.dv, cpu.dv), kTol) << "dv";
    }
  }
}

std::vector<int32_t> host_ints(const Tensor& t, int64_t n) {
  std::vector<int32_t> v = t.to(Device::cpu()).to_vector<int32_t>();
  v.resize((size_t)n);
  return v;
}

// The device-built structure equals the CPU's entry for entry (the sort is stable), for
// one image and for several per chunk, and for a weight with nothing stored.
TEST(SparseConvImplicitCuda, OffsetsEqualCpu) {
  SPROUT_SKIP_IF_NO_DEVICE(Device::cuda());
  uint64_t seed = 200;
  for (const Case& c : kCases)
    for (double density : {0.3, 0.0})
      for (int64_t nb : {int64_t(1), kN}) {
        SCOPED_TRACE(name_of(c) + ", density " + std::to_string(density) + ", " + std::to_string(nb) + " images");
        const ops::ConvGeometry g = geometry(c);
        seed += 10;
        const sparse::SparseParameter p =
            make_param(edge_mask("conv", kO, kC * c.k * c.k, density, seed, density > 0), 1, DType::F32, seed + 1,
                       nullptr);
        const sparse::SparseParameter pg = on_gpu(p);
        const int64_t nnz = sparse::nnz_blocks(p), slots = c.stride * c.stride * (kC + 1);
        EXPECT_EQ(host_ints(ops::detail::implicit_entry_offsets(pg, g, nb), nnz),
                  host_ints(ops::detail::implicit_entry_offsets(p, g, nb), nnz));
        const ops::detail::TransposedOffsets cpu = ops::detail::implicit_transposed_offsets(p, g, nb);
        const ops::detail::TransposedOffsets gpu = ops::detail::implicit_transposed_offsets(pg, g, nb);
        ASSERT_TRUE(gpu.row_ptr.is_cuda() && gpu.off.is_cuda() && gpu.perm.is_cuda());
        EXPECT_EQ(host_ints(gpu.row_ptr, slots), host_ints(cpu.row_ptr, slots)) << "t_row_ptr";
        EXPECT_EQ(host_ints(gpu.off, nnz), host_ints(cpu.off, nnz)) << "off";
        EXPECT_EQ(host_ints(gpu.perm, nnz), host_ints(cpu.perm, nnz)) << "perm";
      }
}

struct OpResult {
  Tensor y, dx, dv;
};

OpResult run_conv(sparse::SparseParameter p, const Tensor& x0, const Tensor& gy, const Case& c, Device dev) {
  p.to(dev);
  p.values.set_requires_grad(true);
  Tensor x = x0.to(dev);
  x.set_requires_grad(true);
  Tensor y = ops::sparse_conv2d(x, p, Tensor(), c.k, c.stride, c.pad);
  y.backward(gy.to(dev));
  return {y, x.grad(), p.values.grad()};
}

// sparse_conv2d with the path forced: on CUDA it runs unfolding-free (or would throw)
// and agrees with the CPU.
TEST(SparseConvImplicitCuda, ForcedOpMatchesCpu) {
  SPROUT_SKIP_IF_NO_DEVICE(Device::cuda());
  ImplicitOnCuda on;
  uint64_t seed = 300;
  for (const Case& c : kCases) {
    SCOPED_TRACE(name_of(c));
    const ops::ConvGeometry g = geometry(c);
    const sparse::SparseParameter p = weight(c, seed += 10);
    const Tensor x = randn({kN, kC, kH, kW}, seed + 2, DType::F32);
    const Tensor gy = randn({kN, kO, g.Hout, g.Wout}, seed + 3, DType::F32);
    const OpResult cpu = run_conv(p, x, gy, c, Device::cpu());
    const OpResult gpu = run_conv(p, x, gy, c, Device::cuda());
    EXPECT_LE(rel_error(gpu.y, cpu.y), kTol) << "y";
    EXPECT_LE(rel_error(gpu.dx, cpu.dx), kTol) << "dx";
    EXPECT_LE(rel_error(gpu.dv, cpu.dv), kTol) << "dv";
  }
}

// cuSPARSE (the default CUDA CSR kernel) cannot read rows at offsets: forced, the path
// says so and names the kernel.
TEST(SparseConvImplicitCuda, RefusesKernelsWithoutOffsetRows) {
  SPROUT_SKIP_IF_NO_DEVICE(Device::cuda());
  kernels::select_sparse_kernel("cuda_cusparse");
  ops::set_sparse_conv_path(ops::SparseConvPath::Implicit);
  sparse::SparseParameter p = on_gpu(weight(Case{3, 1, 1}, 400));
  const Tensor x = randn({1, kC, 6, 6}, 401, DType::F32, Device::cuda());
  try {
    ops::sparse_conv2d(x, p, Tensor(), 3, 1, 1);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cuda_cusparse"), std::string::npos) << e.what();
  }
  kernels::reset_sparse_kernel_selection();
  ops::set_sparse_conv_path(ops::SparseConvPath::Auto);
}

}  // namespace
}  // namespace sprout
