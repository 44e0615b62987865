// Every CUDA kernel family's launcher declarations, for engine/ops/dispatch.h.
#pragma once
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/gemm.h"
#include "kernels/cuda/loss.h"
#include "kernels/cuda/optim.h"
#include "kernels/cuda/im2col.h"
#include "kernels/cuda/conv_cudnn.h"
#include "kernels/cuda/batchnorm.h"
#include "kernels/cuda/pool.h"
#include "kernels/cuda/spmm.h"
#include "kernels/cuda/sddmm.h"
#include "kernels/cuda/topology.h"
