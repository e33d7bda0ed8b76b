// Launcher of tensorpod's fused attention, tp.Attention (host code in
// cuda/attention.cc). Plain types only, so kernels/attention.cu needs no
// tensorpod header.
//
// The launcher only enqueues work on `stream` (no allocation, no
// synchronisation: safe under graph capture) and returns cudaGetLastError()
// after its launch, cudaSuccess when there is nothing to do. Data pointers
// are device memory; float16 and bfloat16 are read and written as such and
// computed in float.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace tensorpod::internal::cuda_attention {

// The element type of every operand (Q, K, V, mask and output share it).
enum class Elem { kF32, kF16, kBF16 };

// The problem, flattened: Q [batch, heads, s, d], K [batch, heads, skv, d],
// V [batch, heads, skv, dv], output [batch, heads, s, dv], all dense and
// row-major. mask_stride: the mask's element strides over the scores viewed
// as [batch, heads, s, skv], 0 on broadcast dimensions.
struct AttentionShape {
  int64_t batch = 0;
  int64_t heads = 0;
  int64_t s = 0;
  int64_t skv = 0;
  int64_t d = 0;
  int64_t dv = 0;
  int64_t mask_stride[4] = {0, 0, 0, 0};
  float scale = 1.0f;
};

// out[b, h, i, :] = sum_j softmax_j(scale * dot(Q[b, h, i, :], K[b, h, j, :])
//                                   + mask[b, h, i, j]) * V[b, h, j, :]
// in float, the softmax taken stably (the row maximum subtracted). A row
// whose scores are all -inf comes out NaN, as the unfused graph's softmax
// gives. `mask` may be nullptr (no mask).
// REQUIRES: skv > 0 (an empty key sequence is the caller's to handle); any
// other size may be 0 (nothing to do).
cudaError_t LaunchAttention(Elem elem, const void* q, const void* k,
                            const void* v, const void* mask, void* out,
                            const AttentionShape& shape, cudaStream_t stream);

}  // namespace tensorpod::internal::cuda_attention
