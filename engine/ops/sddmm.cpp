// The SDDMM op: argument checks, kernel choice through the registry, workspace.
#include "engine/ops/sddmm.h"

#include "engine/ops/sparse_support.h"

namespace sprout::ops {

using kernels::SparseKernel;
using namespace detail;

void sddmm_into(const sparse::SparseParameter& w, const Tensor& x, const Tensor& y, Tensor& out,
                bool accumulate, const SparseKernel* kernel) {
  check_values(w, out, "sddmm");
  check_same(x, y, "sddmm");
  check_same(x, out, "sddmm");
  int64_t bx, rx, nx, by, ry, ny;
  batch_dims(x, &bx, &rx, &nx, "sddmm");
  batch_dims(y, &by, &ry, &ny, "sddmm");
  SPROUT_CHECK(rx == w.rows && ry == w.cols && nx == ny && bx == by, "sddmm: x ",
               shape_str(x.shape()), " and y ", shape_str(y.shape()), " for a ", w.rows, " x ",
               w.cols, " structure");
  const SparseKernel& kk = pick(w, x.device(), kernel);
  for_dtype(x, "sddmm", [&](auto tag) {
    using T = decltype(tag);
    const auto& f = fns_of<T>(kk);
    SPROUT_CHECK(f.sddmm, "sparse kernel '", kk.name, "' has no ", dtype_name(x.dtype()), " SDDMM");
    kernels::SddmmArgs<T> a;
    a.a = sparse::operand<T>(w, Tensor(), nullptr);
    a.n = nx;
    a.batch = bx;
    a.x = x.data<T>();
    a.ldx = nx;
    a.stride_x = rx * nx;
    a.y = y.data<T>();
    a.ldy = ny;
    a.stride_y = ry * ny;
    a.out = out.data<T>();
    a.accumulate = accumulate;
    call_sddmm(f, a, x.device());
  });
}

}  // namespace sprout::ops
