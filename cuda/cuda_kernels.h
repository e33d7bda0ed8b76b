// The CUDA backend's kernel families: one registration function per family,
// called from CudaBackend's constructor (cuda_backend.cc). Each family is
// host code in cuda/<family>.cc and launchers in cuda/kernels/<family>.cu.
#pragma once

#include "backend/backend.h"

namespace tensorpod::internal {

// Unary/binary elementwise (broadcasting), activations, comparisons, Where,
// Cast (cuda/elementwise.cc).
void RegisterCudaElementwiseKernels(KernelRegistry* r);
// Layout and indexing: Reshape-like views, Transpose, Gather, Concat, Slice,
// Split, Pad, Expand, Resize (cuda/tensor.cc).
void RegisterCudaTensorKernels(KernelRegistry* r);
// MatMul, Gemm, tp.FusedMatMul (cuBLASLt), Conv (cuDNN) (cuda/nn.cc).
void RegisterCudaNnKernels(KernelRegistry* r);
// tp.Attention: fused softmax(Q K^T * scale + mask) V (cuda/attention.cc).
void RegisterCudaAttentionKernels(KernelRegistry* r);
// Reduce*, ArgMax/ArgMin, Softmax/LogSoftmax, LayerNormalization,
// BatchNormalization, pooling (cuda/reduction.cc).
void RegisterCudaReductionKernels(KernelRegistry* r);

}  // namespace tensorpod::internal
