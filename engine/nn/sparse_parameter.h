// nn's name for the sparse weight a sparse layer owns (engine/sparse/sparse_parameter.h).
#pragma once
#include "engine/sparse/sparse_parameter.h"

namespace sprout::nn {
using SparseParameter = sparse::SparseParameter;
}  // namespace sprout::nn
