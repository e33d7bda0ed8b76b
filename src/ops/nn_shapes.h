// Shape arithmetic shared by the nn ops' schemas (src/ops/nn.cc) and their
// CPU kernels: matrix-product broadcasting and the sliding-window geometry
// of Conv and the pooling ops. Kept in one place so that inference and the
// kernels can never disagree on an output size or a padding. Pure functions;
// thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/shape.h"
#include "core/status.h"
#include "ops/attributes.h"

namespace tensorpod::internal {

// How a numpy-style matmul of A and B maps onto a loop of 2-D products.
// Rank-1 operands are promoted ([K] -> [1,K] for A, [K,1] for B) and the
// promoted axis dropped from the output.
struct MatMulPlan {
  Shape out_shape;
  int64_t m = 0, n = 0, k = 0;
  Shape batch;                          // broadcast batch dimensions
  std::vector<int64_t> a_batch_stride;  // per batch dim, in whole matrices; 0 = broadcast
  std::vector<int64_t> b_batch_stride;
  int64_t batch_count() const { return NumElementsUnchecked(batch); }
  // Matrix offsets (in matrices, not elements) of batch entry `i`.
  void BatchOffsets(int64_t i, int64_t* a, int64_t* b) const;
};

StatusOr<MatMulPlan> PlanMatMul(const Shape& a, const Shape& b);

// Conv and pooling window attributes for `spatial` spatial dimensions.
struct WindowAttrs {
  std::vector<int64_t> kernel;
  std::vector<int64_t> strides;
  std::vector<int64_t> dilations;
  std::vector<int64_t> pads;  // ONNX order: all begins, then all ends
  std::string auto_pad = "NOTSET";
  bool ceil_mode = false;
};

struct WindowGeometry {
  std::vector<int64_t> out;  // output spatial sizes
  std::vector<int64_t> pad_begin;
  std::vector<int64_t> pad_end;
};

// Reads strides, dilations, pads, auto_pad and ceil_mode (defaults where
// absent) and checks their lengths and values against `kernel`.
StatusOr<WindowAttrs> ParseWindowAttrs(const Attributes& attrs, std::vector<int64_t> kernel);

// Output sizes and effective pads for input spatial sizes `in`;
// INVALID_ARGUMENT when the (dilated) kernel does not fit the padded input.
StatusOr<WindowGeometry> ComputeWindowGeometry(const WindowAttrs& w, const Shape& in);

// tp.Attention's operands: Q [.., S, D], K [.., Skv, D], V [.., Skv, Dv]
// with equal leading dims, or K and V both 1 where Q is not (rank 3 or 4), and an optional additive mask
// broadcastable to the scores [.., S, Skv]. Flattened sizes and the mask's
// element strides over the scores viewed as [B, H, S, Skv] (0 on broadcast
// dimensions). Shared by shape inference and every backend's kernel.
struct AttentionPlan {
  int64_t batch = 1, heads = 1, s = 0, skv = 0, d = 0, dv = 0;
  // K's and V's own batch and head counts: Q's, or 1 where they broadcast
  // over Q's (multi-query attention shares one K/V head), as MatMul would.
  int64_t kv_batch = 1, kv_heads = 1;
  bool kv_broadcast() const { return kv_batch != batch || kv_heads != heads; }
  int64_t mask_stride[4] = {0, 0, 0, 0};
  Shape out_shape;
};
StatusOr<AttentionPlan> PlanAttention(const Shape& q, const Shape& k, const Shape& v, const Shape* mask);

// The same for tp.Attention with tp_bshd = 1 (see FoldAttentionTransposes):
// Q [B, S, H, D], K [B, Skv, H, D], V [B, Skv, H, Dv] and the output
// [B, S, H, Dv], heads interleaved in each row; the mask still broadcasts to
// the scores [B, H, S, Skv].
StatusOr<AttentionPlan> PlanAttentionBshd(const Shape& q, const Shape& k, const Shape& v, const Shape* mask);

}  // namespace tensorpod::internal
