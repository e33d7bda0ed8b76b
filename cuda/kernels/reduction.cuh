// Launchers of the CUDA reduction family (host code in cuda/reduction.cc):
// Reduce*, ArgMax/ArgMin, Softmax/LogSoftmax, LayerNormalization,
// inference-mode BatchNormalization and the pooling ops. Plain types only,
// so kernels/reduction.cu needs no tensorpod header.
//
// Every launcher only enqueues work on `stream` (no allocation, no
// synchronisation: safe under graph capture) and returns cudaGetLastError()
// after its launches, cudaSuccess when there is nothing to do. Data pointers
// are device memory; float16 and bfloat16 are read and written as such and
// computed in float.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace tensorpod::internal::cuda_reduction {

// Element types of the tensors the launchers read and write. kF64 only
// serves BatchNormalization's parameters; kI32/kI64 only the integer
// reductions that say so.
enum class Elem { kF32, kF16, kBF16, kF64, kI32, kI64 };

// A tensor seen as [outer, len, inner] around the axis (or run of axes) an
// op works along.
struct AxisShape {
  int64_t outer = 1;
  int64_t len = 1;
  int64_t inner = 1;
};

// ---------------------------------------------------------------- Reduce*

enum class ReduceOp {
  kSum,
  kMean,
  kMax,
  kMin,
  kProd,
  kL1,
  kL2,
  kSumSquare,
  kLogSum,
  kLogSumExp
};

// Device workspace LaunchReduce needs for `s` (0: none), 64-byte aligned.
size_t ReduceWorkspaceBytes(const AxisShape& s);

// y[o, i] = the reduction of x[o, :, i] over the middle axis; len == 0
// writes the empty reduction (0, 1, -inf, +inf or NaN by op). Max/Min
// propagate NaN. Float ops on kF32/kF16/kBF16; kSum, kMax and kMin also on
// kI32/kI64 (others: cudaErrorInvalidValue).
// REQUIRES: workspace holds ReduceWorkspaceBytes(s) bytes.
cudaError_t LaunchReduce(ReduceOp op, Elem elem, const void* x, void* y,
                         const AxisShape& s, void* workspace,
                         cudaStream_t stream);

// Reduced axes that stay apart after merging neighbours (axes {0, 2} of a
// 3-D tensor): each output gathers its elements through strides.
inline constexpr int kMaxStridedRank = 8;
struct StridedReduceShape {
  int kept_rank = 0;  // output axes, outermost first
  int64_t kept_dims[kMaxStridedRank] = {};
  int64_t kept_strides[kMaxStridedRank] = {};  // input strides, in elements
  int reduced_rank = 0;
  int64_t reduced_dims[kMaxStridedRank] = {};
  int64_t reduced_strides[kMaxStridedRank] = {};
  int64_t outputs = 0;             // product of kept_dims
  int64_t reduced_count = 0;       // product of reduced_dims, > 0
  bool innermost_reduced = false;  // the input's last axis is reduced
};

cudaError_t LaunchReduceStrided(ReduceOp op, Elem elem, const void* x, void* y,
                                const StridedReduceShape& s,
                                cudaStream_t stream);

// ArgMax (is_max) / ArgMin over the middle axis: the first extreme index,
// the last with select_last; NaN counts as extreme both ways (numpy).
// kF32/kF16/kBF16/kI32/kI64. REQUIRES: s.len > 0.
cudaError_t LaunchArgReduce(bool is_max, bool select_last, Elem elem,
                            const void* x, int64_t* y, const AxisShape& s,
                            cudaStream_t stream);

// ------------------------------------------------------ normalisation ops

// Softmax (log: LogSoftmax) over the middle axis, max-subtracted.
// kF32/kF16/kBF16.
cudaError_t LaunchSoftmax(bool log, Elem elem, const void* x, void* y,
                          const AxisShape& s, cudaStream_t stream);

// LayerNormalization of each of `rows` contiguous rows of `cols` elements:
// y = (x - mean) / sqrt(var + epsilon) * scale + bias (two-pass variance).
// mean and inv_std, when not null, receive the per-row statistics as float,
// or double with stats_f64.
struct LayerNormArgs {
  const void* x = nullptr;
  const void* scale = nullptr;  // [cols], the dtype of x
  const void* bias = nullptr;   // [cols] or null
  void* y = nullptr;
  void* mean = nullptr;     // [rows] or null
  void* inv_std = nullptr;  // [rows] or null
  bool stats_f64 = false;
  int64_t rows = 0;
  int64_t cols = 0;
  float epsilon = 1e-5f;
};

cudaError_t LaunchLayerNorm(Elem elem, const LayerNormArgs& a,
                            cudaStream_t stream);

// Inference-mode BatchNormalization: y = x * a[f] + b[f] with
// a = scale / sqrt(var + epsilon), b = bias - mean * a, where f is the
// feature of x seen as [n, features, inner]. The coefficients are computed
// into `coefficients` first.
struct BatchNormArgs {
  const void* x = nullptr;
  void* y = nullptr;
  const void* params[4] = {};  // scale, B, input_mean, input_var: [features]
  Elem param_elems[4] = {};    // each kF32, kF16, kBF16 or kF64
  int64_t n = 0;
  int64_t features = 0;
  int64_t inner = 0;
  float epsilon = 1e-5f;
  float* coefficients = nullptr;  // workspace of 2 * features floats
};

cudaError_t LaunchBatchNormInference(Elem elem, const BatchNormArgs& a,
                                     cudaStream_t stream);

// -------------------------------------------------------------- pooling

// A pooling window over exactly three spatial dimensions (lower-rank pools
// put size-1 dimensions in front), pads already resolved.
inline constexpr int kPoolDims = 3;
struct PoolWindow {
  int64_t in[kPoolDims] = {};
  int64_t out[kPoolDims] = {};
  int64_t kernel[kPoolDims] = {};
  int64_t stride[kPoolDims] = {};
  int64_t dilation[kPoolDims] = {};
  int64_t pad_begin[kPoolDims] = {};
  int64_t pad_end[kPoolDims] = {};
  int64_t planes = 0;  // N * C
};

// MaxPool (is_max) or AveragePool of NC[D][H]W x into y. AveragePool divides
// by the taps inside the input, or with count_include_pad by the taps
// inside the explicitly padded input. MaxPool writes the flat input index
// of each maximum into `indices` when not null (row-major within a plane,
// column-major with indices_column_major). kF32/kF16/kBF16.
cudaError_t LaunchPool(bool is_max, bool count_include_pad, Elem elem,
                       const void* x, void* y, int64_t* indices,
                       bool indices_column_major, const PoolWindow& w,
                       cudaStream_t stream);

}  // namespace tensorpod::internal::cuda_reduction
