// Launchers of the CUDA elementwise kernels: unary math and activations,
// broadcasting binary ops, comparisons, Where, Cast, and the bias+activation
// epilogue other families (Gemm, MatMul, Conv) apply to their outputs.
//
// Plain types only, so host code of any family can include this header.
// Every launcher enqueues on `stream`, returns cudaGetLastError() of its
// launch (cudaErrorInvalidValue for an op/type pair it does not instantiate)
// and launches nothing for zero elements. Pointers are device memory unless
// stated otherwise; outputs may alias an input of the same shape (every
// element is read before it is written, by the same thread).
//
// Example (a bias + ReLU epilogue on a float16 [rows, cols] GEMM output):
//   TP_CUDA_CHECK(LaunchBiasActivation(kEwF16, out, bias, rows, cols,
//                                      kCudaActRelu, 0.f, 0.f, stream));
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace tensorpod::internal {

// Element types of the launchers' `dtype` arguments. 0..2 are the codes the
// bias+activation launchers take.
enum EwDType : int {
  kEwF32 = 0,
  kEwF16 = 1,
  kEwBF16 = 2,
  kEwF64 = 3,
  kEwI64 = 4,
  kEwI32 = 5,
  kEwI8 = 6,
  kEwU8 = 7,
  kEwBool = 8,
};

// Activations fused into an epilogue (LaunchBiasActivation). alpha/beta are
// LeakyRelu's slope (alpha), Clip's [min, max] (alpha, beta) and
// HardSigmoid's alpha·x + beta; the others ignore them.
enum CudaActivation : int {
  kCudaActNone = 0,
  kCudaActRelu = 1,
  kCudaActLeakyRelu = 2,
  kCudaActSigmoid = 3,
  kCudaActTanh = 4,
  kCudaActClip = 5,
  kCudaActGelu = 6,      // exact: 0.5·x·(1 + erf(x/√2))
  kCudaActGeluTanh = 7,  // tanh approximation
  kCudaActHardSigmoid = 8,
  kCudaActHardSwish = 9,
};

// Unary ops of LaunchEwUnary. Float types (f32, f16, bf16; computed in
// float) for all; i32 and i64 also for Relu, Neg, Abs and Sign. alpha/beta
// as noted.
enum EwUnaryOp : int {
  kEwRelu,
  kEwSigmoid,
  kEwTanh,
  kEwErf,
  kEwExp,
  kEwLog,
  kEwSqrt,
  kEwReciprocal,
  kEwNeg,
  kEwAbs,
  kEwFloor,
  kEwCeil,
  kEwRound,  // half to even
  kEwSin,
  kEwCos,
  kEwTan,
  kEwAsin,
  kEwAcos,
  kEwAtan,
  kEwSinh,
  kEwCosh,
  kEwAsinh,
  kEwAcosh,
  kEwAtanh,
  kEwSoftplus,
  kEwSoftsign,
  kEwSign,
  kEwHardSwish,
  kEwGelu,             // exact (erf) form
  kEwGeluTanh,         // tanh approximation
  kEwElu,              // alpha
  kEwSelu,             // alpha, beta = gamma
  kEwCelu,             // alpha (non-zero)
  kEwLeakyRelu,        // alpha
  kEwHardSigmoid,      // alpha, beta
  kEwThresholdedRelu,  // alpha
  kEwShrink,           // alpha = bias, beta = lambd
  kEwScale,            // x · alpha
  kEwUnaryOpCount,
};

// Binary ops of LaunchEwBinary. Arithmetic, Max/Min and comparisons take
// f32, f16, bf16, i64, i32 (Equal also bool); And/Or/Xor take bool.
// Comparisons and logical ops write bool, the others the inputs' type.
enum EwBinaryOp : int {
  kEwAdd,
  kEwSub,
  kEwMul,
  kEwDiv,   // integers truncate toward zero; x / 0 gives 0
  kEwPow,   // exponent of the base's type; integers exactly (wrapping)
  kEwMax,   // NaN-propagating
  kEwMin,   // NaN-propagating
  kEwMod,   // integers only: the sign of the divisor (Python's %)
  kEwFmod,  // the sign of the dividend (C's fmod)
  kEwEqual,
  kEwLess,
  kEwLessOrEqual,
  kEwGreater,
  kEwGreaterOrEqual,
  kEwAnd,
  kEwOr,
  kEwXor,
  kEwBinaryOpCount,
};

inline constexpr int kEwMaxRank = 8;

// An output shape and the strides (in elements) at which up to three inputs
// are read, with adjacent dimensions merged where every input allows it and
// stride 0 on broadcast dimensions. rank >= 1.
struct EwLayout {
  int rank = 0;
  int num_inputs = 0;
  int64_t dims[kEwMaxRank] = {};
  int64_t strides[3][kEwMaxRank] = {};
};

// Fills *layout for inputs of shapes in_dims[k][0, in_ranks[k]) broadcast
// (numpy rules) to out_dims[0, out_rank) (host arrays). False when an input
// does not broadcast to the output, when num_inputs is not 1..3, or when
// more than kEwMaxRank dimensions remain after merging.
bool MakeEwLayout(const int64_t* out_dims, int out_rank, int num_inputs,
                  const int64_t* const* in_dims, const int* in_ranks,
                  EwLayout* layout);

// y[i] = op(x[i]) for n elements of `dtype`.
cudaError_t LaunchEwUnary(int op, int dtype, const void* x, void* y, int64_t n,
                          float alpha, float beta, cudaStream_t stream);

// y = min(max(x, lo), hi) for f32/f16/bf16/i32/i64 (hi wins when lo > hi;
// NaN stays NaN). lo/hi: device scalars of x's type, or nullptr to use
// lo_value/hi_value (float types) or the type's limits (integers).
cudaError_t LaunchEwClip(int dtype, const void* x, void* y, int64_t n,
                         const void* lo, const void* hi, float lo_value,
                         float hi_value, cudaStream_t stream);

// IsNaN (nan = true) or IsInf with its detect flags, for f32/f16/bf16.
cudaError_t LaunchEwFloatClass(int dtype, const void* x, bool* y, int64_t n,
                               bool nan, bool detect_negative,
                               bool detect_positive, cudaStream_t stream);

cudaError_t LaunchEwNot(const bool* x, bool* y, int64_t n, cudaStream_t stream);

// y = op(a, b) over `layout` (two inputs of `dtype`).
cudaError_t LaunchEwBinary(int op, int dtype, const EwLayout& layout,
                           const void* a, const void* b, void* y,
                           cudaStream_t stream);

// out = cond ? x : y over `layout` (three inputs: cond, x, y), for elements
// of elem_size 1, 2, 4 or 8 bytes.
cudaError_t LaunchEwWhere(int elem_size, const EwLayout& layout,
                          const bool* cond, const void* x, const void* y,
                          void* out, cudaStream_t stream);

// Converts n elements between any two EwDTypes: float to integer truncates
// (saturating, NaN to 0), anything to bool is x != 0.
cudaError_t LaunchEwCast(int from, int to, const void* x, void* y, int64_t n,
                         cudaStream_t stream);

// data[r, c] = act(data[r, c] + bias[c]) in place for a row-major
// [rows, cols] tensor; bias may be nullptr. dtype_code: kEwF32, kEwF16 or
// kEwBF16; act_kind a CudaActivation.
cudaError_t LaunchBiasActivation(int dtype_code, void* data, const void* bias,
                                 int64_t rows, int64_t cols, int act_kind,
                                 float alpha, float beta, cudaStream_t stream);

// Same for an [outer, channels, inner] tensor (NCHW: inner = H·W) with one
// bias per channel.
cudaError_t LaunchChannelBiasActivation(int dtype_code, void* data,
                                        const void* bias, int64_t outer,
                                        int64_t channels, int64_t inner,
                                        int act_kind, float alpha, float beta,
                                        cudaStream_t stream);

}  // namespace tensorpod::internal
