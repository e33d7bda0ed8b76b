// Kernels of the CUDA reduction family; see reduction.cuh for the contracts.
//
// Note [Reduction layouts]
// The reductions and normalisations see their input as [outer, len, inner]
// and work along the middle axis.
// - inner == 1 (contiguous rows): a warp per row while a row fits the
//   warp's registers or a short loop (len <= 1024), a block per row beyond.
//   Loads are 16-byte vectors when the row length and the pointers allow.
// - inner > 1: consecutive threads take consecutive inner columns, so every
//   step along `len` is a coalesced read.
// Reduce* also splits the reduced axis over several blocks when there are
// too few outputs to fill the GPU, merging the partial results in a second
// kernel; reduced axes that are not adjacent are gathered through strides.
// Pooling computes one output element per thread.
// Arithmetic is in float for floating types (int64 for integers); float16
// and bfloat16 convert on load and store.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "kernels/reduction.cuh"

namespace tensorpod::internal::cuda_reduction {
namespace {

constexpr int kWarpSize = 32;
constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kBlockThreads = 256;
constexpr int kWarpsPerBlock = kBlockThreads / kWarpSize;
// Grid-stride loops cover any size; grids stop growing here.
constexpr int64_t kMaxGridX = int64_t{1} << 20;
constexpr int64_t kMaxGridY = 65535;
// Enough blocks to occupy every SM of the largest supported GPUs.
constexpr int64_t kTargetBlocks = 1024;
// Rows up to this length take a thread each (Reduce*, ArgMax/ArgMin,
// Softmax): a warp would leave most lanes idle.
constexpr int64_t kThreadRowMaxLen = 8;
// Rows up to this length take a warp each (Reduce*, ArgMax/ArgMin, and
// Softmax/LayerNorm, which keep the row in registers).
constexpr int64_t kWarpRowMaxLen = 1024;
// Reduce* splits a row or a column block no finer than this many elements.
constexpr int64_t kMinRowSegment = 4096;
constexpr int64_t kMinColumnSegment = 256;
// Column reductions: a block is kColumnTile columns by kColumnRows threads
// along the reduced axis.
constexpr int kColumnTile = 32;
constexpr int kColumnRows = 8;

__host__ __device__ constexpr int64_t CeilDiv(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

template <typename A>
__host__ __device__ constexpr A Min(A a, A b) {
  return a < b ? a : b;
}
template <typename A>
__host__ __device__ constexpr A Max(A a, A b) {
  return a < b ? b : a;
}

unsigned GridX(int64_t tasks) {
  return static_cast<unsigned>(std::clamp<int64_t>(tasks, 1, kMaxGridX));
}

bool Aligned16(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

// ------------------------------------------------------------ element types

// Traits<T>::Wide is the type T computes in; Load widens, Store narrows.
template <typename T>
struct Traits;
template <>
struct Traits<float> {
  using Wide = float;
  static __device__ __forceinline__ float Load(float v) { return v; }
  static __device__ __forceinline__ float Store(float v) { return v; }
  static __device__ __forceinline__ float Lowest() { return -INFINITY; }
  static __device__ __forceinline__ float Highest() { return INFINITY; }
};
template <>
struct Traits<__half> {
  using Wide = float;
  static __device__ __forceinline__ float Load(__half v) {
    return __half2float(v);
  }
  static __device__ __forceinline__ __half Store(float v) {
    return __float2half_rn(v);
  }
  static __device__ __forceinline__ float Lowest() { return -INFINITY; }
  static __device__ __forceinline__ float Highest() { return INFINITY; }
};
template <>
struct Traits<__nv_bfloat16> {
  using Wide = float;
  static __device__ __forceinline__ float Load(__nv_bfloat16 v) {
    return __bfloat162float(v);
  }
  static __device__ __forceinline__ __nv_bfloat16 Store(float v) {
    return __float2bfloat16_rn(v);
  }
  static __device__ __forceinline__ float Lowest() { return -INFINITY; }
  static __device__ __forceinline__ float Highest() { return INFINITY; }
};
template <>
struct Traits<int32_t> {
  using Wide = int64_t;
  static __device__ __forceinline__ int64_t Load(int32_t v) { return v; }
  static __device__ __forceinline__ int32_t Store(int64_t v) {
    return static_cast<int32_t>(v);
  }
  static __device__ __forceinline__ int64_t Lowest() { return INT32_MIN; }
  static __device__ __forceinline__ int64_t Highest() { return INT32_MAX; }
};
template <>
struct Traits<int64_t> {
  using Wide = int64_t;
  static __device__ __forceinline__ int64_t Load(int64_t v) { return v; }
  static __device__ __forceinline__ int64_t Store(int64_t v) { return v; }
  static __device__ __forceinline__ int64_t Lowest() { return INT64_MIN; }
  static __device__ __forceinline__ int64_t Highest() { return INT64_MAX; }
};

template <typename T>
using Wide = typename Traits<T>::Wide;

// kVec elements loaded or stored as one access of up to 16 bytes.
template <typename T, int kVec>
struct alignas(sizeof(T) * kVec) Pack {
  T v[kVec];
};
// Elements per 16-byte access.
template <typename T>
constexpr int kVecOf = 16 / static_cast<int>(sizeof(T));

template <typename T>
struct Tag {
  using type = T;
};

// Calls f(Tag<T>{}) for a floating element type.
template <typename F>
cudaError_t WithFloatElem(Elem e, F&& f) {
  switch (e) {
    case Elem::kF32:
      return f(Tag<float>{});
    case Elem::kF16:
      return f(Tag<__half>{});
    case Elem::kBF16:
      return f(Tag<__nv_bfloat16>{});
    default:
      return cudaErrorInvalidValue;
  }
}

// Calls f(Tag<T>{}) for a floating or integer element type.
template <typename F>
cudaError_t WithElem(Elem e, F&& f) {
  switch (e) {
    case Elem::kI32:
      return f(Tag<int32_t>{});
    case Elem::kI64:
      return f(Tag<int64_t>{});
    default:
      return WithFloatElem(e, std::forward<F>(f));
  }
}

template <bool kValue>
using BoolConstant = std::integral_constant<bool, kValue>;

template <typename F>
cudaError_t WithBools(bool a, bool b, F&& f) {
  if (a)
    return b ? f(BoolConstant<true>{}, BoolConstant<true>{})
             : f(BoolConstant<true>{}, BoolConstant<false>{});
  return b ? f(BoolConstant<false>{}, BoolConstant<true>{})
           : f(BoolConstant<false>{}, BoolConstant<false>{});
}

// ------------------------------------------------------- warp and block merge

// Running maximum and the sum of exp(x - m) over the values seen: one pass
// of Softmax's statistics and ReduceLogSumExp's accumulator.
struct MaxSum {
  float m;
  float s;
};

__device__ __forceinline__ MaxSum MaxSumAdd(MaxSum a, float v) {
  if (v > a.m) {
    a.s = a.s * expf(a.m - v) + 1.0f;  // a.m == -inf: a.s is 0
    a.m = v;
  } else if (v != -INFINITY) {  // -inf adds nothing, also while a.m is -inf
    a.s += expf(v - a.m);       // NaN v makes the sum NaN
  }
  return a;
}

__device__ __forceinline__ float MaxSumScale(float m_part, float m) {
  return m_part == -INFINITY ? 0.0f : expf(m_part - m);
}

__device__ __forceinline__ MaxSum MaxSumMerge(MaxSum a, MaxSum b) {
  const float m = fmaxf(a.m, b.m);
  if (m == -INFINITY) return MaxSum{m, 0.0f};
  return MaxSum{m, a.s * MaxSumScale(a.m, m) + b.s * MaxSumScale(b.m, m)};
}

template <typename V>
struct ArgBest {
  V v;
  int64_t i;  // -1: nothing seen yet
};

__device__ __forceinline__ float ShflXor(float v, int mask) {
  return __shfl_xor_sync(kFullMask, v, mask);
}
__device__ __forceinline__ int64_t ShflXor(int64_t v, int mask) {
  return static_cast<int64_t>(
      __shfl_xor_sync(kFullMask, static_cast<long long>(v), mask));
}
__device__ __forceinline__ MaxSum ShflXor(MaxSum v, int mask) {
  return MaxSum{ShflXor(v.m, mask), ShflXor(v.s, mask)};
}
template <typename V>
__device__ __forceinline__ ArgBest<V> ShflXor(ArgBest<V> v, int mask) {
  return ArgBest<V>{ShflXor(v.v, mask), ShflXor(v.i, mask)};
}

// Merges a value over the warp; every lane gets the result. R provides Acc
// and Merge(a, b) (BlockMerge also Init()). REQUIRES: the whole warp calls
// it.
template <typename R>
__device__ __forceinline__ typename R::Acc WarpMerge(typename R::Acc a) {
#pragma unroll
  for (int mask = kWarpSize / 2; mask > 0; mask >>= 1)
    a = R::Merge(a, ShflXor(a, mask));
  return a;
}

// Merges a value over a 1-D block; every thread gets the result.
// REQUIRES: the whole block calls it; blockDim.x is a multiple of 32.
template <typename R>
__device__ typename R::Acc BlockMerge(typename R::Acc a) {
  __shared__ typename R::Acc partial[kWarpSize];
  const int lane = threadIdx.x % kWarpSize;
  const int warp = threadIdx.x / kWarpSize;
  a = WarpMerge<R>(a);
  __syncthreads();  // the previous call's readers are done with `partial`
  if (lane == 0) partial[warp] = a;
  __syncthreads();
  a = lane < static_cast<int>(blockDim.x / kWarpSize) ? partial[lane]
                                                      : R::Init();
  return WarpMerge<R>(a);
}

struct FloatSum {
  using Acc = float;
  static __device__ __forceinline__ float Init() { return 0.0f; }
  static __device__ __forceinline__ float Merge(float a, float b) {
    return a + b;
  }
};
struct FloatMax {
  using Acc = float;
  static __device__ __forceinline__ float Merge(float a, float b) {
    return fmaxf(a, b);
  }
};
struct MaxSumReducer {
  using Acc = MaxSum;
  static __device__ __forceinline__ MaxSum Init() {
    return MaxSum{-INFINITY, 0.0f};
  }
  static __device__ __forceinline__ MaxSum Merge(MaxSum a, MaxSum b) {
    return MaxSumMerge(a, b);
  }
};

// ------------------------------------------------------------------ Reduce*

// Maximum and minimum that propagate NaN (a != a only for NaN).
template <typename V>
__device__ __forceinline__ V MaxNan(V a, V b) {
  return (a > b || a != a) ? a : b;
}
template <typename V>
__device__ __forceinline__ V MinNan(V a, V b) {
  return (a < b || a != a) ? a : b;
}

// The accumulator of one Reduce* op on element type T: Init, Add (one
// element), Merge (two accumulators) and Finish (the result of `n`
// elements). Integer types only instantiate kSum, kMax and kMin.
template <ReduceOp kOp, typename T>
struct Reducer {
  using V = Wide<T>;
  using Acc = std::conditional_t<kOp == ReduceOp::kLogSumExp, MaxSum, V>;

  static __device__ __forceinline__ Acc Init() {
    if constexpr (kOp == ReduceOp::kLogSumExp) {
      return MaxSum{-INFINITY, 0.0f};
    } else if constexpr (kOp == ReduceOp::kMax) {
      return Traits<T>::Lowest();
    } else if constexpr (kOp == ReduceOp::kMin) {
      return Traits<T>::Highest();
    } else if constexpr (kOp == ReduceOp::kProd) {
      return V(1);
    } else {
      return V(0);
    }
  }

  static __device__ __forceinline__ Acc Add(Acc a, V x) {
    if constexpr (kOp == ReduceOp::kLogSumExp) {
      return MaxSumAdd(a, x);
    } else if constexpr (kOp == ReduceOp::kMax) {
      return MaxNan(a, x);
    } else if constexpr (kOp == ReduceOp::kMin) {
      return MinNan(a, x);
    } else if constexpr (kOp == ReduceOp::kProd) {
      return a * x;
    } else if constexpr (kOp == ReduceOp::kL1) {
      return a + fabsf(x);
    } else if constexpr (kOp == ReduceOp::kL2 || kOp == ReduceOp::kSumSquare) {
      return a + x * x;
    } else {
      return a + x;
    }
  }

  static __device__ __forceinline__ Acc Merge(Acc a, Acc b) {
    if constexpr (kOp == ReduceOp::kLogSumExp) {
      return MaxSumMerge(a, b);
    } else if constexpr (kOp == ReduceOp::kMax) {
      return MaxNan(a, b);
    } else if constexpr (kOp == ReduceOp::kMin) {
      return MinNan(a, b);
    } else if constexpr (kOp == ReduceOp::kProd) {
      return a * b;
    } else {
      return a + b;
    }
  }

  static __device__ __forceinline__ V Finish(Acc a, int64_t n) {
    if constexpr (kOp == ReduceOp::kLogSumExp) {
      // An infinite or NaN maximum is already the answer (as on the CPU).
      return isfinite(a.m) ? a.m + logf(a.s) : a.m;
    } else if constexpr (kOp == ReduceOp::kMean) {
      return a / static_cast<float>(n);
    } else if constexpr (kOp == ReduceOp::kL2) {
      return sqrtf(a);
    } else if constexpr (kOp == ReduceOp::kLogSum) {
      return logf(a);
    } else {
      return a;
    }
  }
};

// Partial results are stored as Acc, at most 8 bytes each.
constexpr size_t kMaxAccBytes = 8;

// Rows of up to kThreadRowMaxLen elements: a thread each.
template <typename T, ReduceOp kOp>
__global__ void ReduceRowsThreadKernel(const T* x, T* y, int64_t rows,
                                       int64_t len) {
  using R = Reducer<kOp, T>;
  for (int64_t row =
           static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
       row < rows; row += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const T* p = x + row * len;
    typename R::Acc acc = R::Init();
    for (int64_t i = 0; i < len; ++i) acc = R::Add(acc, Traits<T>::Load(p[i]));
    y[row] = Traits<T>::Store(R::Finish(acc, len));
  }
}

// Rows of up to kWarpRowMaxLen elements: a warp each.
template <typename T, ReduceOp kOp, int kVec>
__global__ void __launch_bounds__(kBlockThreads)
    ReduceRowsWarpKernel(const T* x, T* y, int64_t rows, int64_t len) {
  using R = Reducer<kOp, T>;
  const int lane = threadIdx.x % kWarpSize;
  for (int64_t row = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock +
                     threadIdx.x / kWarpSize;
       row < rows; row += static_cast<int64_t>(gridDim.x) * kWarpsPerBlock) {
    const T* p = x + row * len;
    typename R::Acc acc = R::Init();
#pragma unroll 4
    for (int64_t i = static_cast<int64_t>(lane) * kVec; i < len;
         i += kWarpSize * kVec) {
      const Pack<T, kVec> pack = *reinterpret_cast<const Pack<T, kVec>*>(p + i);
#pragma unroll
      for (int k = 0; k < kVec; ++k)
        acc = R::Add(acc, Traits<T>::Load(pack.v[k]));
    }
    acc = WarpMerge<R>(acc);
    if (lane == 0) y[row] = Traits<T>::Store(R::Finish(acc, len));
  }
}

// Long rows: a block per row, or per segment of `seg` elements of a row
// (blockIdx.y) whose partial result goes to partial[segment][row].
template <typename T, ReduceOp kOp, int kVec>
__global__ void __launch_bounds__(kBlockThreads)
    ReduceRowsBlockKernel(const T* x, T* y,
                          typename Reducer<kOp, T>::Acc* partial, int64_t rows,
                          int64_t len, int64_t seg) {
  using R = Reducer<kOp, T>;
  const int64_t begin = static_cast<int64_t>(blockIdx.y) * seg;
  const int64_t end = Min(len, begin + seg);
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* p = x + row * len;
    typename R::Acc acc = R::Init();
#pragma unroll 4
    for (int64_t i = begin + static_cast<int64_t>(threadIdx.x) * kVec; i < end;
         i += static_cast<int64_t>(blockDim.x) * kVec) {
      const Pack<T, kVec> pack = *reinterpret_cast<const Pack<T, kVec>*>(p + i);
#pragma unroll
      for (int k = 0; k < kVec; ++k)
        acc = R::Add(acc, Traits<T>::Load(pack.v[k]));
    }
    acc = BlockMerge<R>(acc);
    if (threadIdx.x == 0) {
      if (partial != nullptr) {
        partial[blockIdx.y * rows + row] = acc;
      } else {
        y[row] = Traits<T>::Store(R::Finish(acc, len));
      }
    }
  }
}

// inner > 1: a block covers kColumnTile columns of one outer index, its
// kColumnRows thread rows splitting the reduced axis (or the segment
// blockIdx.y of it, whose partial result goes to partial[segment][output]).
template <typename T, ReduceOp kOp>
__global__ void __launch_bounds__(kColumnTile* kColumnRows)
    ReduceColumnsKernel(const T* x, T* y,
                        typename Reducer<kOp, T>::Acc* partial, int64_t outer,
                        int64_t len, int64_t inner, int64_t seg) {
  using R = Reducer<kOp, T>;
  __shared__ typename R::Acc tile[kColumnRows][kColumnTile];
  const int64_t tiles = CeilDiv(inner, kColumnTile);
  const int64_t begin = static_cast<int64_t>(blockIdx.y) * seg;
  const int64_t end = Min(len, begin + seg);
  for (int64_t task = blockIdx.x; task < outer * tiles; task += gridDim.x) {
    const int64_t o = task / tiles;
    const int64_t j = (task % tiles) * kColumnTile + threadIdx.x;
    typename R::Acc acc = R::Init();
    if (j < inner) {
      const T* p = x + o * len * inner + j;
#pragma unroll 4
      for (int64_t r = begin + threadIdx.y; r < end; r += kColumnRows) {
        acc = R::Add(acc, Traits<T>::Load(p[r * inner]));
      }
    }
    tile[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && j < inner) {
#pragma unroll
      for (int k = 1; k < kColumnRows; ++k)
        acc = R::Merge(acc, tile[k][threadIdx.x]);
      const int64_t out = o * inner + j;
      if (partial != nullptr) {
        partial[blockIdx.y * outer * inner + out] = acc;
      } else {
        y[out] = Traits<T>::Store(R::Finish(acc, len));
      }
    }
    __syncthreads();  // `tile` is rewritten by the next task
  }
}

// Merges the `splits` partial results of each output.
template <typename T, ReduceOp kOp>
__global__ void ReduceFinishKernel(const typename Reducer<kOp, T>::Acc* partial,
                                   T* y, int64_t outputs, int64_t splits,
                                   int64_t len) {
  using R = Reducer<kOp, T>;
  for (int64_t o = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
       o < outputs; o += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    typename R::Acc acc = partial[o];
    for (int64_t s = 1; s < splits; ++s)
      acc = R::Merge(acc, partial[s * outputs + o]);
    y[o] = Traits<T>::Store(R::Finish(acc, len));
  }
}

// Non-adjacent reduced axes: kGroup threads per output (a warp when the
// innermost axis is reduced, so that lanes read neighbours; one thread
// otherwise, so that neighbouring threads do).
template <typename T, ReduceOp kOp, int kGroup>
__global__ void __launch_bounds__(kBlockThreads)
    ReduceStridedKernel(const T* x, T* y, StridedReduceShape s) {
  using R = Reducer<kOp, T>;
  constexpr int kGroupsPerBlock = kBlockThreads / kGroup;
  const int lane = threadIdx.x % kGroup;
  for (int64_t o = static_cast<int64_t>(blockIdx.x) * kGroupsPerBlock +
                   threadIdx.x / kGroup;
       o < s.outputs; o += static_cast<int64_t>(gridDim.x) * kGroupsPerBlock) {
    int64_t base = 0;
    int64_t rest = o;
    for (int d = s.kept_rank - 1; d >= 0; --d) {
      base += (rest % s.kept_dims[d]) * s.kept_strides[d];
      rest /= s.kept_dims[d];
    }
    typename R::Acc acc = R::Init();
    for (int64_t r = lane; r < s.reduced_count; r += kGroup) {
      int64_t offset = base;
      int64_t q = r;
      for (int d = s.reduced_rank - 1; d >= 0; --d) {
        offset += (q % s.reduced_dims[d]) * s.reduced_strides[d];
        q /= s.reduced_dims[d];
      }
      acc = R::Add(acc, Traits<T>::Load(x[offset]));
    }
    if constexpr (kGroup > 1) acc = WarpMerge<R>(acc);
    if (lane == 0) y[o] = Traits<T>::Store(R::Finish(acc, s.reduced_count));
  }
}

// Calls f(std::integral_constant<ReduceOp, op>{}) with the ops element type
// T has (see Reducer).
template <typename T, typename F>
cudaError_t WithReduceOp(ReduceOp op, F&& f) {
  using Op = ReduceOp;
  switch (op) {
    case Op::kSum:
      return f(std::integral_constant<Op, Op::kSum>{});
    case Op::kMax:
      return f(std::integral_constant<Op, Op::kMax>{});
    case Op::kMin:
      return f(std::integral_constant<Op, Op::kMin>{});
    default:
      break;
  }
  if constexpr (std::is_same_v<Wide<T>, float>) {
    switch (op) {
      case Op::kMean:
        return f(std::integral_constant<Op, Op::kMean>{});
      case Op::kProd:
        return f(std::integral_constant<Op, Op::kProd>{});
      case Op::kL1:
        return f(std::integral_constant<Op, Op::kL1>{});
      case Op::kL2:
        return f(std::integral_constant<Op, Op::kL2>{});
      case Op::kSumSquare:
        return f(std::integral_constant<Op, Op::kSumSquare>{});
      case Op::kLogSum:
        return f(std::integral_constant<Op, Op::kLogSum>{});
      case Op::kLogSumExp:
        return f(std::integral_constant<Op, Op::kLogSumExp>{});
      default:
        break;
    }
  }
  return cudaErrorInvalidValue;
}

enum class ReduceMode { kRowsThread, kRowsWarp, kRowsBlock, kColumns };

struct ReducePlan {
  ReduceMode mode = ReduceMode::kRowsThread;
  AxisShape shape;  // as launched (an empty len moves everything to outer)
  int64_t splits =
      1;  // blocks along the reduced axis, > 1: partials in the workspace
  int64_t seg = 0;  // reduced elements per split
};

ReducePlan PlanReduce(const AxisShape& s) {
  ReducePlan p;
  p.shape = s;
  p.seg = s.len;
  if (s.len == 0) {
    p.shape = AxisShape{s.outer * s.inner, 0, 1};
    return p;
  }
  if (s.inner == 1) {
    if (s.len <= kThreadRowMaxLen) return p;
    p.mode = ReduceMode::kRowsWarp;
    if (s.len <= kWarpRowMaxLen) return p;
    p.mode = ReduceMode::kRowsBlock;
    const int64_t wanted = CeilDiv(kTargetBlocks, s.outer);
    p.splits = std::clamp<int64_t>(
        std::min(wanted, CeilDiv(s.len, kMinRowSegment)), 1, kMaxGridY);
    // Segments start at multiples of 16 elements: vector loads stay aligned.
    p.seg = CeilDiv(CeilDiv(s.len, p.splits), 16) * 16;
  } else {
    p.mode = ReduceMode::kColumns;
    const int64_t wanted =
        CeilDiv(kTargetBlocks, s.outer * CeilDiv(s.inner, kColumnTile));
    p.splits = std::clamp<int64_t>(
        std::min(wanted, CeilDiv(s.len, kMinColumnSegment)), 1, kMaxGridY);
    p.seg = CeilDiv(s.len, p.splits);
  }
  p.splits = CeilDiv(s.len, p.seg);
  return p;
}

template <typename T, ReduceOp kOp>
cudaError_t RunReduce(const T* x, T* y, const ReducePlan& p, void* workspace,
                      cudaStream_t stream) {
  using Acc = typename Reducer<kOp, T>::Acc;
  static_assert(sizeof(Acc) <= kMaxAccBytes,
                "partial results must fit the workspace");
  const AxisShape& s = p.shape;
  const int64_t outputs = s.outer * s.inner;
  Acc* partial = p.splits > 1 ? static_cast<Acc*>(workspace) : nullptr;
  constexpr int kVec = kVecOf<T>;
  const bool vectorize = s.len % kVec == 0 && Aligned16(x);
  switch (p.mode) {
    case ReduceMode::kRowsThread:
      ReduceRowsThreadKernel<T, kOp>
          <<<GridX(CeilDiv(s.outer, kBlockThreads)), kBlockThreads, 0,
             stream>>>(x, y, s.outer, s.len);
      break;
    case ReduceMode::kRowsWarp: {
      const unsigned grid = GridX(CeilDiv(s.outer, kWarpsPerBlock));
      if (vectorize) {
        ReduceRowsWarpKernel<T, kOp, kVec>
            <<<grid, kBlockThreads, 0, stream>>>(x, y, s.outer, s.len);
      } else {
        ReduceRowsWarpKernel<T, kOp, 1>
            <<<grid, kBlockThreads, 0, stream>>>(x, y, s.outer, s.len);
      }
      break;
    }
    case ReduceMode::kRowsBlock: {
      const dim3 grid(GridX(s.outer), static_cast<unsigned>(p.splits));
      if (vectorize) {
        ReduceRowsBlockKernel<T, kOp, kVec><<<grid, kBlockThreads, 0, stream>>>(
            x, y, partial, s.outer, s.len, p.seg);
      } else {
        ReduceRowsBlockKernel<T, kOp, 1><<<grid, kBlockThreads, 0, stream>>>(
            x, y, partial, s.outer, s.len, p.seg);
      }
      break;
    }
    case ReduceMode::kColumns: {
      const dim3 grid(GridX(s.outer * CeilDiv(s.inner, kColumnTile)),
                      static_cast<unsigned>(p.splits));
      const dim3 block(kColumnTile, kColumnRows);
      ReduceColumnsKernel<T, kOp><<<grid, block, 0, stream>>>(
          x, y, partial, s.outer, s.len, s.inner, p.seg);
      break;
    }
  }
  if (partial != nullptr) {
    ReduceFinishKernel<T, kOp>
        <<<GridX(CeilDiv(outputs, kBlockThreads)), kBlockThreads, 0, stream>>>(
            partial, y, outputs, p.splits, s.len);
  }
  return cudaGetLastError();
}

// -------------------------------------------------------- ArgMax / ArgMin

// Candidates ordered by value (NaN beyond every number), then by index.
template <typename T, bool kMax, bool kLast>
struct ArgReducer {
  using V = Wide<T>;
  using Acc = ArgBest<V>;
  static __device__ __forceinline__ Acc Init() { return Acc{V(0), -1}; }
  // Whether a beats b.
  static __device__ __forceinline__ bool Beats(const Acc& a, const Acc& b) {
    if (b.i < 0) return a.i >= 0;
    if (a.i < 0) return false;
    const bool a_nan = a.v != a.v;
    const bool b_nan = b.v != b.v;
    if (a_nan || b_nan)
      return a_nan && b_nan ? (kLast ? a.i > b.i : a.i < b.i) : a_nan;
    if (a.v == b.v) return kLast ? a.i > b.i : a.i < b.i;
    return kMax ? a.v > b.v : a.v < b.v;
  }
  static __device__ __forceinline__ Acc Merge(Acc a, Acc b) {
    return Beats(b, a) ? b : a;
  }
};

template <typename T, bool kMax, bool kLast>
__global__ void __launch_bounds__(kBlockThreads)
    ArgRowsWarpKernel(const T* x, int64_t* y, int64_t rows, int64_t len) {
  using R = ArgReducer<T, kMax, kLast>;
  const int lane = threadIdx.x % kWarpSize;
  for (int64_t row = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock +
                     threadIdx.x / kWarpSize;
       row < rows; row += static_cast<int64_t>(gridDim.x) * kWarpsPerBlock) {
    const T* p = x + row * len;
    typename R::Acc acc = R::Init();
    for (int64_t i = lane; i < len; i += kWarpSize)
      acc = R::Merge(acc, {Traits<T>::Load(p[i]), i});
    acc = WarpMerge<R>(acc);
    if (lane == 0) y[row] = acc.i;
  }
}

template <typename T, bool kMax, bool kLast>
__global__ void __launch_bounds__(kBlockThreads)
    ArgRowsBlockKernel(const T* x, int64_t* y, int64_t rows, int64_t len) {
  using R = ArgReducer<T, kMax, kLast>;
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* p = x + row * len;
    typename R::Acc acc = R::Init();
    for (int64_t i = threadIdx.x; i < len; i += blockDim.x)
      acc = R::Merge(acc, {Traits<T>::Load(p[i]), i});
    acc = BlockMerge<R>(acc);
    if (threadIdx.x == 0) y[row] = acc.i;
  }
}

// inner > 1, or short rows: a thread per (outer, inner) column.
template <typename T, bool kMax, bool kLast>
__global__ void ArgColumnsKernel(const T* x, int64_t* y, int64_t outer,
                                 int64_t len, int64_t inner) {
  using R = ArgReducer<T, kMax, kLast>;
  for (int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
       c < outer * inner; c += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const T* p = x + (c / inner) * len * inner + c % inner;
    typename R::Acc acc = R::Init();
    for (int64_t r = 0; r < len; ++r)
      acc = R::Merge(acc, {Traits<T>::Load(p[r * inner]), r});
    y[c] = acc.i;
  }
}

// ---------------------------------------------------------------- Softmax

// Lane `lane`'s share of a row of `len` elements in a warp-per-row kernel:
// chunks of kVec consecutive elements starting at (c * 32 + lane) * kVec
// for c < kPerLane / kVec; `fill` past the end of the row.
template <typename T, int kPerLane, int kVec>
__device__ __forceinline__ void LoadRow(const T* row, int len, int lane,
                                        float fill, float (&v)[kPerLane]) {
#pragma unroll
  for (int c = 0; c < kPerLane / kVec; ++c) {
    const int i = (c * kWarpSize + lane) * kVec;
    if (i < len) {
      const Pack<T, kVec> pack =
          *reinterpret_cast<const Pack<T, kVec>*>(row + i);
#pragma unroll
      for (int k = 0; k < kVec; ++k)
        v[c * kVec + k] = Traits<T>::Load(pack.v[k]);
    } else {
#pragma unroll
      for (int k = 0; k < kVec; ++k) v[c * kVec + k] = fill;
    }
  }
}

template <typename T, int kPerLane, int kVec>
__device__ __forceinline__ void StoreRow(T* row, int len, int lane,
                                         const float (&v)[kPerLane]) {
#pragma unroll
  for (int c = 0; c < kPerLane / kVec; ++c) {
    const int i = (c * kWarpSize + lane) * kVec;
    if (i < len) {
      Pack<T, kVec> pack;
#pragma unroll
      for (int k = 0; k < kVec; ++k)
        pack.v[k] = Traits<T>::Store(v[c * kVec + k]);
      *reinterpret_cast<Pack<T, kVec>*>(row + i) = pack;
    }
  }
}

// Rows of up to 32 * kPerLane elements, held in registers: one read, one
// write.
template <typename T, int kPerLane, int kVec>
__global__ void __launch_bounds__(kBlockThreads)
    SoftmaxWarpKernel(const T* x, T* y, int64_t rows, int len, bool log) {
  const int lane = threadIdx.x % kWarpSize;
  for (int64_t row = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock +
                     threadIdx.x / kWarpSize;
       row < rows; row += static_cast<int64_t>(gridDim.x) * kWarpsPerBlock) {
    float v[kPerLane];
    LoadRow<T, kPerLane, kVec>(x + row * len, len, lane, -INFINITY, v);
    float m = -INFINITY;
#pragma unroll
    for (int k = 0; k < kPerLane; ++k) m = fmaxf(m, v[k]);
    m = WarpMerge<FloatMax>(m);
    float sum = 0.0f;
    if (log) {
#pragma unroll
      for (int k = 0; k < kPerLane; ++k)
        sum += expf(v[k] - m);  // padding: exp(-inf) = 0
      const float log_sum = logf(WarpMerge<FloatSum>(sum));
#pragma unroll
      for (int k = 0; k < kPerLane; ++k) v[k] = (v[k] - m) - log_sum;
    } else {
#pragma unroll
      for (int k = 0; k < kPerLane; ++k) {
        v[k] = expf(v[k] - m);
        sum += v[k];
      }
      const float inv = 1.0f / WarpMerge<FloatSum>(sum);
#pragma unroll
      for (int k = 0; k < kPerLane; ++k) v[k] *= inv;
    }
    StoreRow<T, kPerLane, kVec>(y + row * len, len, lane, v);
  }
}

// Longer rows: a block per row; one pass for the statistics (online
// maximum and sum), one to write.
template <typename T, int kVec>
__global__ void __launch_bounds__(kBlockThreads)
    SoftmaxBlockKernel(const T* x, T* y, int64_t rows, int64_t len, bool log) {
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* xr = x + row * len;
    T* yr = y + row * len;
    MaxSum a = MaxSumReducer::Init();
    for (int64_t i = static_cast<int64_t>(threadIdx.x) * kVec; i < len;
         i += static_cast<int64_t>(blockDim.x) * kVec) {
      const Pack<T, kVec> pack =
          *reinterpret_cast<const Pack<T, kVec>*>(xr + i);
#pragma unroll
      for (int k = 0; k < kVec; ++k)
        a = MaxSumAdd(a, Traits<T>::Load(pack.v[k]));
    }
    a = BlockMerge<MaxSumReducer>(a);
    const float log_sum = logf(a.s);
    const float inv = 1.0f / a.s;
    for (int64_t i = static_cast<int64_t>(threadIdx.x) * kVec; i < len;
         i += static_cast<int64_t>(blockDim.x) * kVec) {
      const Pack<T, kVec> in = *reinterpret_cast<const Pack<T, kVec>*>(xr + i);
      Pack<T, kVec> out;
#pragma unroll
      for (int k = 0; k < kVec; ++k) {
        const float d = Traits<T>::Load(in.v[k]) - a.m;
        out.v[k] = Traits<T>::Store(log ? d - log_sum : expf(d) * inv);
      }
      *reinterpret_cast<Pack<T, kVec>*>(yr + i) = out;
    }
  }
}

// inner > 1, or short rows: a thread per (outer, inner) column.
template <typename T>
__global__ void SoftmaxColumnsKernel(const T* x, T* y, int64_t outer,
                                     int64_t len, int64_t inner, bool log) {
  for (int64_t c = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
       c < outer * inner; c += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t base = (c / inner) * len * inner + c % inner;
    MaxSum a = MaxSumReducer::Init();
    for (int64_t r = 0; r < len; ++r)
      a = MaxSumAdd(a, Traits<T>::Load(x[base + r * inner]));
    const float log_sum = logf(a.s);
    const float inv = 1.0f / a.s;
    for (int64_t r = 0; r < len; ++r) {
      const float d = Traits<T>::Load(x[base + r * inner]) - a.m;
      y[base + r * inner] = Traits<T>::Store(log ? d - log_sum : expf(d) * inv);
    }
  }
}

// Elements per lane of a warp-per-row kernel for rows of `len` <= 1024:
// the next power of two of len / 32.
int PerLaneFor(int64_t len) {
  int per_lane = 1;
  while (per_lane * kWarpSize < len) per_lane *= 2;
  return per_lane;
}

// Calls f(std::integral_constant<int, kPerLane>, std::integral_constant<int,
// kVec>) for a warp-per-row kernel on T: kVec is the 16-byte vector width
// (at most kPerLane) when `vectorize`, else 1.
template <typename T, typename F>
cudaError_t WithRowShape(int per_lane, bool vectorize, F&& f) {
  auto with_vec = [&](auto per_lane_c) {
    constexpr int kPerLane = decltype(per_lane_c)::value;
    constexpr int kVec = Min(kPerLane, kVecOf<T>);
    if (vectorize) return f(per_lane_c, std::integral_constant<int, kVec>{});
    return f(per_lane_c, std::integral_constant<int, 1>{});
  };
  switch (per_lane) {
    case 1:
      return with_vec(std::integral_constant<int, 1>{});
    case 2:
      return with_vec(std::integral_constant<int, 2>{});
    case 4:
      return with_vec(std::integral_constant<int, 4>{});
    case 8:
      return with_vec(std::integral_constant<int, 8>{});
    case 16:
      return with_vec(std::integral_constant<int, 16>{});
    case 32:
      return with_vec(std::integral_constant<int, 32>{});
    default:
      return cudaErrorInvalidValue;
  }
}

// ------------------------------------------------------ LayerNormalization

__device__ __forceinline__ void StoreStat(void* p, bool f64, int64_t i,
                                          float v) {
  if (p == nullptr) return;
  if (f64) {
    static_cast<double*>(p)[i] = v;
  } else {
    static_cast<float*>(p)[i] = v;
  }
}

// Rows of up to 1024 elements, held in registers.
template <typename T, int kPerLane, int kVec>
__global__ void __launch_bounds__(kBlockThreads)
    LayerNormWarpKernel(LayerNormArgs a) {
  const T* x = static_cast<const T*>(a.x);
  const T* scale = static_cast<const T*>(a.scale);
  const T* bias = static_cast<const T*>(a.bias);
  T* y = static_cast<T*>(a.y);
  const int cols = static_cast<int>(a.cols);
  const int lane = threadIdx.x % kWarpSize;
  for (int64_t row = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock +
                     threadIdx.x / kWarpSize;
       row < a.rows; row += static_cast<int64_t>(gridDim.x) * kWarpsPerBlock) {
    float v[kPerLane];
    LoadRow<T, kPerLane, kVec>(x + row * cols, cols, lane, 0.0f, v);
    float sum = 0.0f;
#pragma unroll
    for (int k = 0; k < kPerLane; ++k) sum += v[k];
    const float mean = WarpMerge<FloatSum>(sum) / static_cast<float>(cols);
    float squares = 0.0f;
#pragma unroll
    for (int c = 0; c < kPerLane / kVec; ++c) {
      if ((c * kWarpSize + lane) * kVec < cols) {
#pragma unroll
        for (int k = 0; k < kVec; ++k) {
          const float d = v[c * kVec + k] - mean;
          squares += d * d;
        }
      }
    }
    const float var = WarpMerge<FloatSum>(squares) / static_cast<float>(cols);
    const float inv_std = 1.0f / sqrtf(var + a.epsilon);
    float g[kPerLane];
    float b[kPerLane];
    LoadRow<T, kPerLane, kVec>(scale, cols, lane, 0.0f, g);
    if (bias != nullptr) {
      LoadRow<T, kPerLane, kVec>(bias, cols, lane, 0.0f, b);
    } else {
#pragma unroll
      for (int k = 0; k < kPerLane; ++k) b[k] = 0.0f;
    }
#pragma unroll
    for (int k = 0; k < kPerLane; ++k)
      v[k] = (v[k] - mean) * inv_std * g[k] + b[k];
    StoreRow<T, kPerLane, kVec>(y + row * cols, cols, lane, v);
    if (lane == 0) {
      StoreStat(a.mean, a.stats_f64, row, mean);
      StoreStat(a.inv_std, a.stats_f64, row, inv_std);
    }
  }
}

// Longer rows: a block per row, three passes over the row (mean, variance,
// output); the second and third mostly hit the cache.
template <typename T, int kVec>
__global__ void __launch_bounds__(kBlockThreads)
    LayerNormBlockKernel(LayerNormArgs a) {
  const T* x = static_cast<const T*>(a.x);
  const T* scale = static_cast<const T*>(a.scale);
  const T* bias = static_cast<const T*>(a.bias);
  T* y = static_cast<T*>(a.y);
  const int64_t cols = a.cols;
  const int64_t first = static_cast<int64_t>(threadIdx.x) * kVec;
  const int64_t step = static_cast<int64_t>(blockDim.x) * kVec;
  for (int64_t row = blockIdx.x; row < a.rows; row += gridDim.x) {
    const T* xr = x + row * cols;
    T* yr = y + row * cols;
    float sum = 0.0f;
    for (int64_t i = first; i < cols; i += step) {
      const Pack<T, kVec> in = *reinterpret_cast<const Pack<T, kVec>*>(xr + i);
#pragma unroll
      for (int k = 0; k < kVec; ++k) sum += Traits<T>::Load(in.v[k]);
    }
    const float mean = BlockMerge<FloatSum>(sum) / static_cast<float>(cols);
    float squares = 0.0f;
    for (int64_t i = first; i < cols; i += step) {
      const Pack<T, kVec> in = *reinterpret_cast<const Pack<T, kVec>*>(xr + i);
#pragma unroll
      for (int k = 0; k < kVec; ++k) {
        const float d = Traits<T>::Load(in.v[k]) - mean;
        squares += d * d;
      }
    }
    const float var = BlockMerge<FloatSum>(squares) / static_cast<float>(cols);
    const float inv_std = 1.0f / sqrtf(var + a.epsilon);
    for (int64_t i = first; i < cols; i += step) {
      const Pack<T, kVec> in = *reinterpret_cast<const Pack<T, kVec>*>(xr + i);
      const Pack<T, kVec> g =
          *reinterpret_cast<const Pack<T, kVec>*>(scale + i);
      Pack<T, kVec> out;
#pragma unroll
      for (int k = 0; k < kVec; ++k) {
        const float b = bias != nullptr ? Traits<T>::Load(bias[i + k]) : 0.0f;
        out.v[k] = Traits<T>::Store((Traits<T>::Load(in.v[k]) - mean) *
                                        inv_std * Traits<T>::Load(g.v[k]) +
                                    b);
      }
      *reinterpret_cast<Pack<T, kVec>*>(yr + i) = out;
    }
    if (threadIdx.x == 0) {
      StoreStat(a.mean, a.stats_f64, row, mean);
      StoreStat(a.inv_std, a.stats_f64, row, inv_std);
    }
  }
}

// ------------------------------------------------------ BatchNormalization

__device__ __forceinline__ double LoadParam(const void* p, Elem e, int64_t i) {
  switch (e) {
    case Elem::kF16:
      return __half2float(static_cast<const __half*>(p)[i]);
    case Elem::kBF16:
      return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    case Elem::kF64:
      return static_cast<const double*>(p)[i];
    default:
      return static_cast<const float*>(p)[i];
  }
}

// coefficients[f] = a, coefficients[features + f] = b (see reduction.cuh),
// computed in double like the CPU kernel.
__global__ void BatchNormCoefficientsKernel(BatchNormArgs a) {
  for (int64_t f = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
       f < a.features; f += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const double scale = LoadParam(a.params[0], a.param_elems[0], f);
    const double bias = LoadParam(a.params[1], a.param_elems[1], f);
    const double mean = LoadParam(a.params[2], a.param_elems[2], f);
    const double var = LoadParam(a.params[3], a.param_elems[3], f);
    const double mul = scale / sqrt(var + static_cast<double>(a.epsilon));
    a.coefficients[f] = static_cast<float>(mul);
    a.coefficients[a.features + f] = static_cast<float>(bias - mean * mul);
  }
}

// Planes of `inner` >= 32 elements: blockIdx.y walks the (n, feature)
// planes, x the positions of one plane.
template <typename T>
__global__ void BatchNormPlanesKernel(const T* x, T* y,
                                      const float* coefficients, int64_t planes,
                                      int64_t features, int64_t inner) {
  for (int64_t p = blockIdx.y; p < planes; p += gridDim.y) {
    const int64_t f = p % features;
    const float mul = coefficients[f];
    const float add = coefficients[features + f];
    const T* xp = x + p * inner;
    T* yp = y + p * inner;
    for (int64_t i =
             static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
         i < inner; i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
      yp[i] = Traits<T>::Store(Traits<T>::Load(xp[i]) * mul + add);
    }
  }
}

// Small planes: a thread per element.
template <typename T>
__global__ void BatchNormFlatKernel(const T* x, T* y, const float* coefficients,
                                    int64_t total, int64_t features,
                                    int64_t inner) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
       i < total; i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t f = (i / inner) % features;
    y[i] = Traits<T>::Store(Traits<T>::Load(x[i]) * coefficients[f] +
                            coefficients[features + f]);
  }
}

// ---------------------------------------------------------------- pooling

// For output position o along dimension d: the kernel taps [lo, hi) inside
// the input, the input position of tap 0, and the taps inside the
// explicitly padded input (count_include_pad ignores the taps ceil_mode
// adds past the end padding). Mirrors the CPU kernel's ComputeTaps.
struct TapRange {
  int64_t start, lo, hi, padded;
};

__device__ __forceinline__ TapRange PoolTaps(const PoolWindow& w, int d,
                                             int64_t o) {
  const int64_t start = o * w.stride[d] - w.pad_begin[d];
  const int64_t dil = w.dilation[d];
  const int64_t lo = start < 0 ? (-start + dil - 1) / dil : 0;
  const int64_t last = w.in[d] - 1 - start;  // largest offset still inside
  const int64_t hi = last < 0 ? 0 : Min(w.kernel[d], last / dil + 1);
  const int64_t padded_last = w.in[d] + w.pad_end[d] - 1 - start;
  const int64_t padded =
      padded_last < 0 ? 0 : Min(w.kernel[d], padded_last / dil + 1);
  return TapRange{start, lo, Max(lo, hi), padded};
}

// A thread per output element.
template <typename T>
__global__ void PoolKernel(const T* x, T* y, int64_t* indices,
                           bool column_major, bool is_max,
                           bool count_include_pad, PoolWindow w) {
  const int64_t in_size = w.in[0] * w.in[1] * w.in[2];
  const int64_t total = w.planes * w.out[0] * w.out[1] * w.out[2];
  for (int64_t idx =
           static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
       idx < total; idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t o2 = idx % w.out[2];
    int64_t t = idx / w.out[2];
    const int64_t o1 = t % w.out[1];
    t /= w.out[1];
    const int64_t o0 = t % w.out[0];
    const int64_t p = t / w.out[0];
    const TapRange t0 = PoolTaps(w, 0, o0);
    const TapRange t1 = PoolTaps(w, 1, o1);
    const TapRange t2 = PoolTaps(w, 2, o2);
    const T* xp = x + p * in_size;
    if (is_max) {
      float best = -FLT_MAX;  // the CPU kernel's numeric_limits::lowest()
      int64_t best_at = 0;    // row-major offset in the plane
      for (int64_t k0 = t0.lo; k0 < t0.hi; ++k0) {
        const int64_t i0 = t0.start + k0 * w.dilation[0];
        for (int64_t k1 = t1.lo; k1 < t1.hi; ++k1) {
          const int64_t row =
              (i0 * w.in[1] + t1.start + k1 * w.dilation[1]) * w.in[2] +
              t2.start;
          for (int64_t k2 = t2.lo; k2 < t2.hi; ++k2) {
            const int64_t at = row + k2 * w.dilation[2];
            const float v = Traits<T>::Load(xp[at]);
            if (v > best) {
              best = v;
              best_at = at;
            }
          }
        }
      }
      y[idx] = Traits<T>::Store(best);
      if (indices != nullptr) {
        int64_t flat = best_at;
        if (column_major) {
          const int64_t i2 = best_at % w.in[2];
          const int64_t i1 = (best_at / w.in[2]) % w.in[1];
          const int64_t i0 = best_at / (w.in[2] * w.in[1]);
          flat = i0 + i1 * w.in[0] + i2 * w.in[0] * w.in[1];
        }
        indices[idx] = p * in_size + flat;
      }
    } else {
      float sum = 0.0f;
      for (int64_t k0 = t0.lo; k0 < t0.hi; ++k0) {
        const int64_t i0 = t0.start + k0 * w.dilation[0];
        for (int64_t k1 = t1.lo; k1 < t1.hi; ++k1) {
          const int64_t row =
              (i0 * w.in[1] + t1.start + k1 * w.dilation[1]) * w.in[2] +
              t2.start;
          for (int64_t k2 = t2.lo; k2 < t2.hi; ++k2)
            sum += Traits<T>::Load(xp[row + k2 * w.dilation[2]]);
        }
      }
      const int64_t count =
          count_include_pad
              ? t0.padded * t1.padded * t2.padded
              : (t0.hi - t0.lo) * (t1.hi - t1.lo) * (t2.hi - t2.lo);
      y[idx] =
          Traits<T>::Store(count > 0 ? sum / static_cast<float>(count) : 0.0f);
    }
  }
}

}  // namespace

// ------------------------------------------------------------------ launchers

size_t ReduceWorkspaceBytes(const AxisShape& s) {
  if (s.outer * s.inner == 0) return 0;
  const ReducePlan p = PlanReduce(s);
  if (p.splits <= 1) return 0;
  return static_cast<size_t>(p.splits) *
         static_cast<size_t>(p.shape.outer * p.shape.inner) * kMaxAccBytes;
}

cudaError_t LaunchReduce(ReduceOp op, Elem elem, const void* x, void* y,
                         const AxisShape& s, void* workspace,
                         cudaStream_t stream) {
  if (s.outer * s.inner == 0) return cudaSuccess;
  const ReducePlan plan = PlanReduce(s);
  return WithElem(elem, [&](auto tag) {
    using T = typename decltype(tag)::type;
    return WithReduceOp<T>(op, [&](auto op_c) {
      return RunReduce<T, decltype(op_c)::value>(static_cast<const T*>(x),
                                                 static_cast<T*>(y), plan,
                                                 workspace, stream);
    });
  });
}

cudaError_t LaunchReduceStrided(ReduceOp op, Elem elem, const void* x, void* y,
                                const StridedReduceShape& s,
                                cudaStream_t stream) {
  if (s.outputs == 0) return cudaSuccess;
  if (s.kept_rank > kMaxStridedRank || s.reduced_rank > kMaxStridedRank ||
      s.reduced_count <= 0) {
    return cudaErrorInvalidValue;
  }
  return WithElem(elem, [&](auto tag) {
    using T = typename decltype(tag)::type;
    return WithReduceOp<T>(op, [&](auto op_c) {
      constexpr ReduceOp kOp = decltype(op_c)::value;
      const T* xt = static_cast<const T*>(x);
      T* yt = static_cast<T*>(y);
      if (s.innermost_reduced) {
        ReduceStridedKernel<T, kOp, kWarpSize>
            <<<GridX(CeilDiv(s.outputs, kWarpsPerBlock)), kBlockThreads, 0,
               stream>>>(xt, yt, s);
      } else {
        ReduceStridedKernel<T, kOp, 1>
            <<<GridX(CeilDiv(s.outputs, kBlockThreads)), kBlockThreads, 0,
               stream>>>(xt, yt, s);
      }
      return cudaGetLastError();
    });
  });
}

cudaError_t LaunchArgReduce(bool is_max, bool select_last, Elem elem,
                            const void* x, int64_t* y, const AxisShape& s,
                            cudaStream_t stream) {
  if (s.outer * s.inner == 0) return cudaSuccess;
  if (s.len <= 0) return cudaErrorInvalidValue;
  return WithElem(elem, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xt = static_cast<const T*>(x);
    return WithBools(is_max, select_last, [&](auto max_c, auto last_c) {
      constexpr bool kMax = decltype(max_c)::value;
      constexpr bool kLast = decltype(last_c)::value;
      if (s.inner > 1 || s.len <= kThreadRowMaxLen) {
        ArgColumnsKernel<T, kMax, kLast>
            <<<GridX(CeilDiv(s.outer * s.inner, kBlockThreads)), kBlockThreads,
               0, stream>>>(xt, y, s.outer, s.len, s.inner);
      } else if (s.len <= kWarpRowMaxLen) {
        ArgRowsWarpKernel<T, kMax, kLast>
            <<<GridX(CeilDiv(s.outer, kWarpsPerBlock)), kBlockThreads, 0,
               stream>>>(xt, y, s.outer, s.len);
      } else {
        ArgRowsBlockKernel<T, kMax, kLast>
            <<<GridX(s.outer), kBlockThreads, 0, stream>>>(xt, y, s.outer,
                                                           s.len);
      }
      return cudaGetLastError();
    });
  });
}

cudaError_t LaunchSoftmax(bool log, Elem elem, const void* x, void* y,
                          const AxisShape& s, cudaStream_t stream) {
  if (s.outer * s.len * s.inner == 0) return cudaSuccess;
  return WithFloatElem(elem, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xt = static_cast<const T*>(x);
    T* yt = static_cast<T*>(y);
    if (s.inner > 1 || s.len <= kThreadRowMaxLen) {
      SoftmaxColumnsKernel<T>
          <<<GridX(CeilDiv(s.outer * s.inner, kBlockThreads)), kBlockThreads, 0,
             stream>>>(xt, yt, s.outer, s.len, s.inner, log);
      return cudaGetLastError();
    }
    if (s.len <= kWarpRowMaxLen) {
      const int per_lane = PerLaneFor(s.len);
      const bool vectorize =
          s.len % Min(per_lane, kVecOf<T>) == 0 && Aligned16(x) && Aligned16(y);
      return WithRowShape<T>(
          per_lane, vectorize, [&](auto per_lane_c, auto vec_c) {
            SoftmaxWarpKernel<T, decltype(per_lane_c)::value,
                              decltype(vec_c)::value>
                <<<GridX(CeilDiv(s.outer, kWarpsPerBlock)), kBlockThreads, 0,
                   stream>>>(xt, yt, s.outer, static_cast<int>(s.len), log);
            return cudaGetLastError();
          });
    }
    if (s.len % kVecOf<T> == 0 && Aligned16(x) && Aligned16(y)) {
      SoftmaxBlockKernel<T, kVecOf<T>>
          <<<GridX(s.outer), kBlockThreads, 0, stream>>>(xt, yt, s.outer, s.len,
                                                         log);
    } else {
      SoftmaxBlockKernel<T, 1><<<GridX(s.outer), kBlockThreads, 0, stream>>>(
          xt, yt, s.outer, s.len, log);
    }
    return cudaGetLastError();
  });
}

cudaError_t LaunchLayerNorm(Elem elem, const LayerNormArgs& a,
                            cudaStream_t stream) {
  if (a.rows == 0) return cudaSuccess;
  return WithFloatElem(elem, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const bool aligned = Aligned16(a.x) && Aligned16(a.y) &&
                         Aligned16(a.scale) && Aligned16(a.bias);
    if (a.cols <= kWarpRowMaxLen) {
      const int per_lane = PerLaneFor(a.cols);
      const bool vectorize = aligned && a.cols % Min(per_lane, kVecOf<T>) == 0;
      return WithRowShape<T>(
          per_lane, vectorize, [&](auto per_lane_c, auto vec_c) {
            LayerNormWarpKernel<T, decltype(per_lane_c)::value,
                                decltype(vec_c)::value>
                <<<GridX(CeilDiv(a.rows, kWarpsPerBlock)), kBlockThreads, 0,
                   stream>>>(a);
            return cudaGetLastError();
          });
    }
    if (aligned && a.cols % kVecOf<T> == 0) {
      LayerNormBlockKernel<T, kVecOf<T>>
          <<<GridX(a.rows), kBlockThreads, 0, stream>>>(a);
    } else {
      LayerNormBlockKernel<T, 1>
          <<<GridX(a.rows), kBlockThreads, 0, stream>>>(a);
    }
    return cudaGetLastError();
  });
}

cudaError_t LaunchBatchNormInference(Elem elem, const BatchNormArgs& a,
                                     cudaStream_t stream) {
  const int64_t planes = a.n * a.features;
  if (planes * a.inner == 0) return cudaSuccess;
  for (Elem e : a.param_elems) {
    if (e != Elem::kF32 && e != Elem::kF16 && e != Elem::kBF16 &&
        e != Elem::kF64)
      return cudaErrorInvalidValue;
  }
  return WithFloatElem(elem, [&](auto tag) {
    using T = typename decltype(tag)::type;
    BatchNormCoefficientsKernel<<<GridX(CeilDiv(a.features, kBlockThreads)),
                                  kBlockThreads, 0, stream>>>(a);
    const T* x = static_cast<const T*>(a.x);
    T* y = static_cast<T*>(a.y);
    if (a.inner >= kWarpSize) {
      const dim3 grid(GridX(CeilDiv(a.inner, kBlockThreads)),
                      static_cast<unsigned>(std::min(planes, kMaxGridY)));
      BatchNormPlanesKernel<T><<<grid, kBlockThreads, 0, stream>>>(
          x, y, a.coefficients, planes, a.features, a.inner);
    } else {
      BatchNormFlatKernel<T><<<GridX(CeilDiv(planes * a.inner, kBlockThreads)),
                               kBlockThreads, 0, stream>>>(
          x, y, a.coefficients, planes * a.inner, a.features, a.inner);
    }
    return cudaGetLastError();
  });
}

cudaError_t LaunchPool(bool is_max, bool count_include_pad, Elem elem,
                       const void* x, void* y, int64_t* indices,
                       bool indices_column_major, const PoolWindow& w,
                       cudaStream_t stream) {
  const int64_t total = w.planes * w.out[0] * w.out[1] * w.out[2];
  if (total == 0) return cudaSuccess;
  return WithFloatElem(elem, [&](auto tag) {
    using T = typename decltype(tag)::type;
    PoolKernel<T>
        <<<GridX(CeilDiv(total, kBlockThreads)), kBlockThreads, 0, stream>>>(
            static_cast<const T*>(x), static_cast<T*>(y), indices,
            indices_column_major, is_max, count_include_pad, w);
    return cudaGetLastError();
  });
}

}  // namespace tensorpod::internal::cuda_reduction
