// The activation a graph pass fused into a Gemm, Conv or tp.FusedMatMul
// node, as the CUDA kernels of those ops apply it: parse it once when the
// kernel is created, then hand kind/alpha/beta to LaunchBiasActivation
// (kernels/elementwise.cuh) after the main computation.
//
// Example (in a kernel factory):
//   TP_ASSIGN_OR_RETURN(CudaActivationSpec act,
//                       ParseFusedActivation(*node.attrs));
//   ...
//   TP_CUDA_CHECK(LaunchBiasActivation(kEwF32, y, bias, m, n, act.kind,
//                                      act.alpha, act.beta, stream));
#pragma once

#include "core/status.h"
#include "kernels/elementwise.cuh"
#include "ops/attributes.h"

namespace tensorpod::internal {

struct CudaActivationSpec {
  CudaActivation kind = kCudaActNone;
  float alpha = 0.0f;  // LeakyRelu's slope; Clip's min
  float beta = 0.0f;   // Clip's max
};

// Reads the fused node's "tp_activation" (string; absent or "" = none; the
// names the graph passes write: Relu, LeakyRelu, Sigmoid, Tanh, Gelu (erf
// form), Clip), "tp_alpha" (LeakyRelu, default 0.01) and "tp_clip_min" /
// "tp_clip_max" (Clip, defaults -inf / +inf). UNIMPLEMENTED naming the
// activation for any other name.
StatusOr<CudaActivationSpec> ParseFusedActivation(const Attributes& attrs);

}  // namespace tensorpod::internal
