// CsrMatrix / BsrMatrix construction, conversion and validation. These run on the
// host (device matrices are copied over and back): they build structures at setup
// time and check them in tests, never inside a training step.
#include "engine/sparse/matrix.h"

#include <algorithm>
#include <unordered_set>

#include "engine/core/error.h"
#include "engine/sparse/transpose.h"

namespace sprout::sparse {

namespace {

Tensor host(const Tensor& t) { return t.is_cuda() ? t.to(Device::cpu()) : t; }

double get(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::F32: return t.data<float>()[i];
    case DType::F64: return t.data<double>()[i];
    case DType::I32: return t.data<int32_t>()[i];
    case DType::I64: return (double)t.data<int64_t>()[i];
    case DType::U8: return t.data<uint8_t>()[i];
  }
  return 0;
}

void set(Tensor& t, int64_t i, double v) {
  if (t.dtype() == DType::F64) t.data<double>()[i] = v;
  else t.data<float>()[i] = (float)v;
}

void check_float(DType dt, const char* what) {
  SPROUT_CHECK(is_floating(dt), what, ": values must be F32 or F64, got ", dtype_name(dt));
}

// rows/cols of a dense tensor seen as a matrix [size(0), rest].
void matrix_dims(const Tensor& d, int64_t* rows, int64_t* cols) {
  SPROUT_CHECK(d.dim() >= 1, "sparse: a dense matrix needs at least one dimension");
  *rows = d.size(0);
  *cols = d.dim() == 1 ? 1 : shape_numel(Shape(d.shape().begin() + 1, d.shape().end()));
}

Tensor index_tensor(const std::vector<int32_t>& v) {
  return Tensor::from_vector<int32_t>(v, {(int64_t)v.size()});
}

}  // namespace

std::vector<int64_t> sample_distinct(int64_t n, int64_t k, Rng& rng) {
  SPROUT_CHECK(k >= 0 && k <= n, "sample_distinct: cannot pick ", k, " of ", n);
  if (k > n / 2) {  // pick the complement, then invert
    std::vector<int64_t> skip = sample_distinct(n, n - k, rng);
    std::vector<int64_t> out;
    out.reserve((size_t)k);
    size_t s = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (s < skip.size() && skip[s] == i) { ++s; continue; }
      out.push_back(i);
    }
    return out;
  }
  std::unordered_set<int64_t> chosen;
  chosen.reserve((size_t)k * 2);
  std::vector<int64_t> out;
  out.reserve((size_t)k);
  for (int64_t j = n - k; j < n; ++j) {
    int64_t t = (int64_t)rng.below((uint64_t)j + 1);
    int64_t pick = chosen.count(t) ? j : t;
    chosen.insert(pick);
    out.push_back(pick);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void validate_structure(const Tensor& row_ptr_in, const Tensor& col_idx_in, int64_t grid_rows,
                        int64_t grid_cols, const char* what) {
  SPROUT_CHECK(row_ptr_in.defined() && col_idx_in.defined(), what, ": structure tensors missing");
  SPROUT_CHECK(row_ptr_in.dtype() == DType::I32 && col_idx_in.dtype() == DType::I32, what,
               ": row_ptr and col_idx must be I32");
  SPROUT_CHECK(row_ptr_in.numel() == grid_rows + 1, what, ": row_ptr has ", row_ptr_in.numel(),
               " entries for ", grid_rows, " rows");
  Tensor rp = host(row_ptr_in), ci = host(col_idx_in);
  const int32_t* r = rp.data<int32_t>();
  const int32_t* c = ci.data<int32_t>();
  const int64_t nnz = ci.numel();
  SPROUT_CHECK(r[0] == 0, what, ": row_ptr[0] is ", r[0], ", not 0");
  SPROUT_CHECK(r[grid_rows] == nnz, what, ": row_ptr ends at ", r[grid_rows], " but there are ",
               nnz, " column indices");
  // Monotone from 0 to nnz first, so no row below reads past col_idx.
  for (int64_t i = 0; i < grid_rows; ++i)
    SPROUT_CHECK(r[i] <= r[i + 1] && r[i + 1] <= nnz, what, ": row_ptr[", i + 1, "] is ", r[i + 1],
                 r[i] > r[i + 1] ? ", row_ptr decreases at row " + std::to_string(i)
                                 : ", past the " + std::to_string(nnz) + " column indices");
  for (int64_t i = 0; i < grid_rows; ++i) {
    for (int64_t j = r[i]; j < r[i + 1]; ++j) {
      SPROUT_CHECK(c[j] >= 0 && c[j] < grid_cols, what, ": row ", i, " has column ", c[j],
                   " outside [0, ", grid_cols, ")");
      if (j > r[i]) {
        SPROUT_CHECK(c[j] != c[j - 1], what, ": row ", i, " repeats column ", c[j]);
        SPROUT_CHECK(c[j] > c[j - 1], what, ": row ", i, " has unsorted columns (", c[j - 1],
                     " before ", c[j], ")");
      }
    }
  }
}

// ---- CSR -------------------------------------------------------------------------

CsrMatrix CsrMatrix::from_dense(const Tensor& dense) { return from_dense(dense, dense); }

CsrMatrix CsrMatrix::from_dense(const Tensor& dense_in, const Tensor& mask_in) {
  check_float(dense_in.dtype(), "CsrMatrix::from_dense");
  SPROUT_CHECK(dense_in.numel() == mask_in.numel(), "CsrMatrix::from_dense: mask ",
               shape_str(mask_in.shape()), " does not match ", shape_str(dense_in.shape()));
  Tensor d = host(dense_in), m = host(mask_in);
  CsrMatrix out;
  matrix_dims(d, &out.rows, &out.cols);
  std::vector<int32_t> rp((size_t)out.rows + 1, 0), ci;
  std::vector<double> vals;
  for (int64_t r = 0; r < out.rows; ++r) {
    for (int64_t c = 0; c < out.cols; ++c) {
      int64_t i = r * out.cols + c;
      if (get(m, i) != 0) {
        ci.push_back((int32_t)c);
        vals.push_back(get(d, i));
      }
    }
    rp[(size_t)r + 1] = (int32_t)ci.size();
  }
  out.row_ptr = index_tensor(rp);
  out.col_idx = index_tensor(ci);
  out.values = Tensor::empty({(int64_t)vals.size()}, d.dtype());
  for (size_t i = 0; i < vals.size(); ++i) set(out.values, (int64_t)i, vals[i]);
  return dense_in.is_cuda() ? out.to(dense_in.device()) : out;
}

static CsrMatrix csr_from_positions(int64_t rows, int64_t cols, const std::vector<int64_t>& pos,
                                    Rng& rng, DType dt) {
  CsrMatrix out;
  out.rows = rows;
  out.cols = cols;
  std::vector<int32_t> rp((size_t)rows + 1, 0), ci(pos.size());
  for (size_t i = 0; i < pos.size(); ++i) {
    ++rp[(size_t)(pos[i] / cols) + 1];
    ci[i] = (int32_t)(pos[i] % cols);
  }
  for (int64_t r = 0; r < rows; ++r) rp[(size_t)r + 1] += rp[(size_t)r];
  out.row_ptr = index_tensor(rp);
  out.col_idx = index_tensor(ci);
  out.values = Tensor::empty({(int64_t)pos.size()}, dt);
  for (int64_t i = 0; i < (int64_t)pos.size(); ++i) set(out.values, i, rng.uniform(-1.0, 1.0));
  return out;
}

CsrMatrix CsrMatrix::random(int64_t rows, int64_t cols, int64_t nnz, Rng& rng, DType dt) {
  check_float(dt, "CsrMatrix::random");
  SPROUT_CHECK(rows >= 0 && cols >= 0 && nnz >= 0 && nnz <= rows * cols, "CsrMatrix::random: ",
               nnz, " entries do not fit ", rows, " x ", cols);
  return csr_from_positions(rows, cols, sample_distinct(rows * cols, nnz, rng), rng, dt);
}

CsrMatrix CsrMatrix::random_per_row(int64_t rows, int64_t cols, int64_t k, Rng& rng, DType dt) {
  check_float(dt, "CsrMatrix::random_per_row");
  SPROUT_CHECK(k >= 0 && k <= cols, "CsrMatrix::random_per_row: ", k, " entries per row of ", cols);
  std::vector<int64_t> pos;
  pos.reserve((size_t)(rows * k));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c : sample_distinct(cols, k, rng)) pos.push_back(r * cols + c);
  return csr_from_positions(rows, cols, pos, rng, dt);
}

Tensor CsrMatrix::to_dense() const {
  Tensor rp = host(row_ptr), ci = host(col_idx), v = host(values);
  Tensor d = Tensor::zeros({rows, cols}, v.dtype());
  const int32_t* r = rp.data<int32_t>();
  const int32_t* c = ci.data<int32_t>();
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = r[i]; j < r[i + 1]; ++j) set(d, i * cols + c[j], get(v, j));
  return device().is_cpu() ? d : d.to(device());
}

void CsrMatrix::validate() const {
  validate_structure(row_ptr, col_idx, rows, cols, "CSR matrix");
  SPROUT_CHECK(values.defined() && values.numel() == nnz(), "CSR matrix: ",
               values.defined() ? values.numel() : 0, " values for ", nnz(), " entries");
}

CsrMatrix CsrMatrix::to(Device dev) const {
  CsrMatrix out = *this;
  out.row_ptr = row_ptr.to(dev, MemCategory::Indices);
  out.col_idx = col_idx.to(dev, MemCategory::Indices);
  out.values = values.to(dev, MemCategory::Weights);
  return out;
}

CsrMatrix CsrMatrix::transposed() const {
  TransposedStructure t = transpose_structure(row_ptr, col_idx, rows, cols);
  CsrMatrix out;
  out.rows = cols;
  out.cols = rows;
  out.row_ptr = t.row_ptr;
  out.col_idx = t.col_idx;
  out.values = gather_values(values, t.perm, 1);
  return out;
}

// ---- BSR -------------------------------------------------------------------------

BsrMatrix BsrMatrix::from_dense(const Tensor& dense, int block) { return from_dense(dense, dense, block); }

BsrMatrix BsrMatrix::from_dense(const Tensor& dense_in, const Tensor& mask_in, int block) {
  check_float(dense_in.dtype(), "BsrMatrix::from_dense");
  SPROUT_CHECK(block >= 2 && block <= 32, "BsrMatrix: block size ", block, " outside [2, 32]");
  SPROUT_CHECK(dense_in.numel() == mask_in.numel(), "BsrMatrix::from_dense: mask does not match");
  Tensor d = host(dense_in), m = host(mask_in);
  BsrMatrix out;
  matrix_dims(d, &out.rows, &out.cols);
  out.block = block;
  const int64_t br = out.block_rows(), bc = out.block_cols();
  std::vector<int32_t> rp((size_t)br + 1, 0), ci;
  std::vector<double> vals;
  for (int64_t R = 0; R < br; ++R) {
    for (int64_t C = 0; C < bc; ++C) {
      bool any = false;
      for (int64_t i = R * block; i < std::min(out.rows, (R + 1) * block) && !any; ++i)
        for (int64_t j = C * block; j < std::min(out.cols, (C + 1) * block) && !any; ++j)
          any = get(m, i * out.cols + j) != 0;
      if (!any) continue;
      ci.push_back((int32_t)C);
      for (int64_t i = 0; i < block; ++i)
        for (int64_t j = 0; j < block; ++j) {
          int64_t r = R * block + i, c = C * block + j;
          vals.push_back(r < out.rows && c < out.cols ? get(d, r * out.cols + c) : 0.0);
        }
    }
    rp[(size_t)R + 1] = (int32_t)ci.size();
  }
  out.row_ptr = index_tensor(rp);
  out.col_idx = index_tensor(ci);
  out.values = Tensor::empty({(int64_t)vals.size()}, d.dtype());
  for (size_t i = 0; i < vals.size(); ++i) set(out.values, (int64_t)i, vals[i]);
  return dense_in.is_cuda() ? out.to(dense_in.device()) : out;
}

BsrMatrix BsrMatrix::random(int64_t rows, int64_t cols, int block, int64_t nnz_blocks, Rng& rng,
                            DType dt) {
  check_float(dt, "BsrMatrix::random");
  SPROUT_CHECK(block >= 2 && block <= 32, "BsrMatrix: block size ", block, " outside [2, 32]");
  BsrMatrix out;
  out.rows = rows;
  out.cols = cols;
  out.block = block;
  const int64_t br = out.block_rows(), bc = out.block_cols(), bb = (int64_t)block * block;
  SPROUT_CHECK(nnz_blocks >= 0 && nnz_blocks <= br * bc, "BsrMatrix::random: ", nnz_blocks,
               " blocks do not fit a ", br, " x ", bc, " grid");
  std::vector<int64_t> pos = sample_distinct(br * bc, nnz_blocks, rng);
  std::vector<int32_t> rp((size_t)br + 1, 0), ci(pos.size());
  for (size_t i = 0; i < pos.size(); ++i) {
    ++rp[(size_t)(pos[i] / bc) + 1];
    ci[i] = (int32_t)(pos[i] % bc);
  }
  for (int64_t r = 0; r < br; ++r) rp[(size_t)r + 1] += rp[(size_t)r];
  out.row_ptr = index_tensor(rp);
  out.col_idx = index_tensor(ci);
  out.values = Tensor::zeros({nnz_blocks * bb}, dt);
  for (int64_t e = 0; e < nnz_blocks; ++e) {
    const int64_t R = pos[(size_t)e] / bc, C = pos[(size_t)e] % bc;
    for (int64_t i = 0; i < block; ++i)
      for (int64_t j = 0; j < block; ++j)
        if (R * block + i < rows && C * block + j < cols)
          set(out.values, e * bb + i * block + j, rng.uniform(-1.0, 1.0));
  }
  return out;
}

Tensor BsrMatrix::to_dense() const {
  Tensor rp = host(row_ptr), ci = host(col_idx), v = host(values);
  Tensor d = Tensor::zeros({rows, cols}, v.dtype());
  const int32_t* r = rp.data<int32_t>();
  const int32_t* c = ci.data<int32_t>();
  const int64_t bb = (int64_t)block * block;
  for (int64_t R = 0; R < block_rows(); ++R)
    for (int64_t e = r[R]; e < r[R + 1]; ++e)
      for (int64_t i = 0; i < block; ++i)
        for (int64_t j = 0; j < block; ++j) {
          int64_t rr = R * block + i, cc = (int64_t)c[e] * block + j;
          if (rr < rows && cc < cols) set(d, rr * cols + cc, get(v, e * bb + i * block + j));
        }
  return device().is_cpu() ? d : d.to(device());
}

void BsrMatrix::validate() const {
  SPROUT_CHECK(block >= 2 && block <= 32, "BSR matrix: block size ", block, " outside [2, 32]");
  validate_structure(row_ptr, col_idx, block_rows(), block_cols(), "BSR matrix");
  SPROUT_CHECK(values.defined() && values.numel() == nnz_blocks() * block * block, "BSR matrix: ",
               values.defined() ? values.numel() : 0, " values for ", nnz_blocks(), " blocks of ",
               block, "x", block);
}

BsrMatrix BsrMatrix::to(Device dev) const {
  BsrMatrix out = *this;
  out.row_ptr = row_ptr.to(dev, MemCategory::Indices);
  out.col_idx = col_idx.to(dev, MemCategory::Indices);
  out.values = values.to(dev, MemCategory::Weights);
  return out;
}

BsrMatrix BsrMatrix::transposed() const {
  TransposedStructure t = transpose_structure(row_ptr, col_idx, block_rows(), block_cols());
  BsrMatrix out;
  out.rows = cols;
  out.cols = rows;
  out.block = block;
  out.row_ptr = t.row_ptr;
  out.col_idx = t.col_idx;
  // Gather the blocks, then transpose each one.
  Tensor g = host(gather_values(values, t.perm, (int64_t)block * block));
  Tensor v = Tensor::empty(g.shape(), g.dtype());
  const int64_t bb = (int64_t)block * block;
  for (int64_t e = 0; e < nnz_blocks(); ++e)
    for (int64_t i = 0; i < block; ++i)
      for (int64_t j = 0; j < block; ++j) set(v, e * bb + j * block + i, get(g, e * bb + i * block + j));
  out.values = device().is_cpu() ? v : v.to(device());
  return out;
}

}  // namespace sprout::sparse
