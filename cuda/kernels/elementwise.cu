// CUDA elementwise kernels. Every op is a small functor mapping one element
// of each input (storage types) to one output element; two kernels run any
// functor:
//  - ContigKernel: inputs that are either the output's shape or a single
//    value (same-shape binary ops, scalar operands, unary ops, Cast), with
//    16-byte vector loads and stores when the pointers allow;
//  - BroadcastKernel: any numpy broadcast (EwLayout, up to 8 merged dims),
//    with 32-bit index arithmetic and multiply-shift division while the
//    output has fewer than 2^31 elements, and vector loads along the
//    innermost dimension when its length is a multiple of the vector width
//    (row-broadcast bias adds, per-channel bias, column broadcasts).
// float16/bfloat16 are computed in float and rounded once on store.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <limits>
#include <type_traits>

#include "elementwise.cuh"

// Device helpers are host-callable too, so the index arithmetic and the
// functors can be checked on a machine without a GPU.
#define TP_EW_HD __host__ __device__ __forceinline__
#if defined(__CUDA_ARCH__)
#define TP_EW_UNROLL _Pragma("unroll")
#else
#define TP_EW_UNROLL
#endif

namespace tensorpod::internal {
namespace {

constexpr int kThreads = 256;

unsigned GridFor(int64_t work) {
  const int64_t blocks = (work + kThreads - 1) / kThreads;
  constexpr int64_t kMaxBlocks = 65535 * 8;
  return static_cast<unsigned>(
      blocks < 1 ? 1 : (blocks > kMaxBlocks ? kMaxBlocks : blocks));
}

// ---------------------------------------------------------------------------
// Element types and conversions.

template <typename T>
struct TypeTag {
  using type = T;
};

template <typename T>
inline constexpr bool kIsHalfLike =
    std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;
template <typename T>
inline constexpr bool kIsFloatLike = std::is_same_v<T, float> || kIsHalfLike<T>;
template <typename T>
inline constexpr bool kIsInt32Or64 =
    std::is_same_v<T, int32_t> || std::is_same_v<T, int64_t>;

// The type arithmetic happens in: float for the 16-bit floats.
template <typename T>
using ComputeT = std::conditional_t<kIsHalfLike<T>, float, T>;

template <typename T>
TP_EW_HD ComputeT<T> Widen(T x) {
  if constexpr (std::is_same_v<T, __half>) {
    return __half2float(x);
  } else if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    return __bfloat162float(x);
  } else {
    return x;
  }
}

// Float to integer with stated results out of range: saturates, NaN gives 0
// (the CPU backend's rule).
template <typename To, typename From>
TP_EW_HD To SaturateToInt(From x) {
  if (!(x == x)) return To(0);
  // 2^digits is exact in any float type and the first value above To's max.
  constexpr From kUpper =
      From(std::numeric_limits<To>::max() / 2 + 1) * From(2);
  constexpr From kLower = static_cast<From>(std::numeric_limits<To>::min());
  if (x >= kUpper) return std::numeric_limits<To>::max();
  if (x <= kLower) return std::numeric_limits<To>::min();
  return static_cast<To>(x);
}

// One element from any storage type to any other (Cast's semantics).
template <typename To, typename From>
TP_EW_HD To Convert(From x) {
  if constexpr (std::is_same_v<To, From>) {
    return x;
  } else if constexpr (kIsHalfLike<From>) {
    return Convert<To>(Widen(x));
  } else if constexpr (std::is_same_v<To, bool>) {
    return x != From(0);
  } else if constexpr (std::is_same_v<To, __half>) {
    if constexpr (std::is_same_v<From, double>) {
      return __double2half(x);
    } else {
      return __float2half_rn(static_cast<float>(x));
    }
  } else if constexpr (std::is_same_v<To, __nv_bfloat16>) {
    if constexpr (std::is_same_v<From, double>) {
      return __double2bfloat16(x);
    } else {
      return __float2bfloat16_rn(static_cast<float>(x));
    }
  } else if constexpr (std::is_integral_v<To> &&
                       std::is_floating_point_v<From>) {
    return SaturateToInt<To>(x);
  } else {
    return static_cast<To>(x);
  }
}

// Calls fn(TypeTag<T>{}) with the storage type of an EwDType.
template <typename Fn>
cudaError_t VisitEwType(int dtype, Fn&& fn) {
  switch (dtype) {
    case kEwF32:
      return fn(TypeTag<float>{});
    case kEwF16:
      return fn(TypeTag<__half>{});
    case kEwBF16:
      return fn(TypeTag<__nv_bfloat16>{});
    case kEwF64:
      return fn(TypeTag<double>{});
    case kEwI64:
      return fn(TypeTag<int64_t>{});
    case kEwI32:
      return fn(TypeTag<int32_t>{});
    case kEwI8:
      return fn(TypeTag<int8_t>{});
    case kEwU8:
      return fn(TypeTag<uint8_t>{});
    case kEwBool:
      return fn(TypeTag<bool>{});
    default:
      return cudaErrorInvalidValue;
  }
}

// ---------------------------------------------------------------------------
// Index arithmetic for the broadcast kernel.

// n / d for n < 2^31 as a multiply-high and a shift (Granlund & Montgomery):
// with s = ceil(log2 d) and m = floor(2^32·(2^s − d)/d) + 1 (< 2^32),
// n / d = (umulhi(n, m) + n) >> s, and the sum fits 32 bits since
// umulhi(n, m) <= n < 2^31.
struct FastDivU32 {
  uint32_t divisor = 1;
  uint32_t magic = 1;
  uint32_t shift = 0;

  FastDivU32() = default;
  explicit FastDivU32(uint32_t d) : divisor(d) {
    while (shift < 32 && (uint64_t{1} << shift) < d) ++shift;
    magic = static_cast<uint32_t>(
        ((uint64_t{1} << 32) * ((uint64_t{1} << shift) - d)) / d + 1);
  }
  TP_EW_HD uint32_t Div(uint32_t n) const {
#if defined(__CUDA_ARCH__)
    const uint32_t hi = __umulhi(n, magic);
#else
    const uint32_t hi = static_cast<uint32_t>((uint64_t{n} * magic) >> 32);
#endif
    return (hi + n) >> shift;
  }
};

// Plain division, for outputs of 2^31 elements or more.
struct DivI64 {
  int64_t divisor = 1;

  DivI64() = default;
  explicit DivI64(int64_t d) : divisor(d) {}
  TP_EW_HD int64_t Div(int64_t n) const { return n / divisor; }
};

// EwLayout in the kernel's index type. The innermost dimension counts
// vectors when the kernel runs vectorised (its stride is scaled to match).
template <typename Div, typename Index>
struct OffsetCalc {
  int rank = 1;
  Div div[kEwMaxRank];
  Index strides[3][kEwMaxRank] = {};
};

template <typename Div, typename Index>
OffsetCalc<Div, Index> MakeOffsetCalc(const EwLayout& layout, int vec) {
  OffsetCalc<Div, Index> calc;
  calc.rank = layout.rank;
  const int last = layout.rank - 1;
  for (int d = 0; d < layout.rank; ++d) {
    const int64_t scale = d == last ? vec : 1;
    calc.div[d] = Div(static_cast<Index>(layout.dims[d] / scale));
    for (int k = 0; k < layout.num_inputs; ++k) {
      calc.strides[k][d] = static_cast<Index>(layout.strides[k][d] * scale);
    }
  }
  return calc;
}

// The offsets of output position w (row-major over calc's dims) in each of
// the kArity inputs.
template <int kArity, typename Div, typename Index>
TP_EW_HD void Offsets(const OffsetCalc<Div, Index>& calc, Index w,
                      Index (&off)[3]) {
  TP_EW_UNROLL
  for (int k = 0; k < 3; ++k) off[k] = 0;
  TP_EW_UNROLL
  for (int d = kEwMaxRank - 1; d >= 1; --d) {
    if (d < calc.rank) {
      const Index q = calc.div[d].Div(w);
      const Index idx = w - q * static_cast<Index>(calc.div[d].divisor);
      TP_EW_UNROLL
      for (int k = 0; k < kArity; ++k) off[k] += idx * calc.strides[k][d];
      w = q;
    }
  }
  TP_EW_UNROLL
  for (int k = 0; k < kArity; ++k) off[k] += w * calc.strides[k][0];
}

// ---------------------------------------------------------------------------
// The two generic kernels. A functor Fn declares Out, In0..In2 (storage
// types; unused inputs repeat In0), kArity, Init() (run once per thread
// before the loop, e.g. to read device scalars) and operator().

template <typename T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

template <typename Fn>
constexpr int VecWidth() {
  size_t widest = sizeof(typename Fn::Out);
  if (sizeof(typename Fn::In0) > widest) widest = sizeof(typename Fn::In0);
  if (Fn::kArity >= 2 && sizeof(typename Fn::In1) > widest)
    widest = sizeof(typename Fn::In1);
  if (Fn::kArity >= 3 && sizeof(typename Fn::In2) > widest)
    widest = sizeof(typename Fn::In2);
  return static_cast<int>(16 / widest);
}

struct EwArgs {
  const void* in[3];
  void* out;
};

// V elements at p + i, or p[i] repeated when `repeat`; default values for
// an input the functor does not take.
template <bool kUsed, int V, typename T, typename I>
TP_EW_HD Pack<T, V> LoadPack(const T* p, I i, bool repeat) {
  Pack<T, V> r{};
  if constexpr (kUsed) {
    if (repeat) {
      const T v = p[i];
      TP_EW_UNROLL
      for (int j = 0; j < V; ++j) r.v[j] = v;
    } else {
      r = *reinterpret_cast<const Pack<T, V>*>(p + i);
    }
  }
  return r;
}

template <bool kUsed, typename T, typename I>
TP_EW_HD T LoadOne(const T* p, I i) {
  if constexpr (kUsed) {
    return p[i];
  } else {
    return T{};
  }
}

template <typename Fn>
TP_EW_HD typename Fn::Out Apply(const Fn& fn, typename Fn::In0 a,
                                typename Fn::In1 b, typename Fn::In2 c) {
  if constexpr (Fn::kArity == 1) {
    return fn(a);
  } else if constexpr (Fn::kArity == 2) {
    return fn(a, b);
  } else {
    return fn(a, b, c);
  }
}

// Inputs of n elements or of one (bit k of scalar_mask set for input k).
// vec: every pointer is aligned to its vector, so all but the last n % V
// elements go through 16-byte accesses. The thread handles the positions
// first, first + step, ... (a grid-stride loop; host-callable for tests).
template <typename Fn>
TP_EW_HD void ContigBody(const Fn& fn, const EwArgs& args, int64_t n,
                         unsigned scalar_mask, bool vec, int64_t first,
                         int64_t step) {
  using Out = typename Fn::Out;
  using In0 = typename Fn::In0;
  using In1 = typename Fn::In1;
  using In2 = typename Fn::In2;
  constexpr int V = VecWidth<Fn>();
  constexpr int A = Fn::kArity;
  Fn f = fn;
  f.Init();
  const In0* a = static_cast<const In0*>(args.in[0]);
  const In1* b = static_cast<const In1*>(args.in[1]);
  const In2* c = static_cast<const In2*>(args.in[2]);
  Out* y = static_cast<Out*>(args.out);
  const bool sa = (scalar_mask & 1u) != 0;
  const bool sb = (scalar_mask & 2u) != 0;
  const bool sc = (scalar_mask & 4u) != 0;
  int64_t done = 0;
  if (vec) {
    const int64_t packs = n / V;
    for (int64_t p = first; p < packs; p += step) {
      const int64_t i = p * V;
      const Pack<In0, V> va = LoadPack<true, V>(a, sa ? 0 : i, sa);
      const Pack<In1, V> vb = LoadPack<(A >= 2), V>(b, sb ? 0 : i, sb);
      const Pack<In2, V> vc = LoadPack<(A >= 3), V>(c, sc ? 0 : i, sc);
      Pack<Out, V> r;
      TP_EW_UNROLL
      for (int j = 0; j < V; ++j) r.v[j] = Apply(f, va.v[j], vb.v[j], vc.v[j]);
      *reinterpret_cast<Pack<Out, V>*>(y + i) = r;
    }
    done = packs * V;
  }
  for (int64_t i = done + first; i < n; i += step) {
    y[i] =
        Apply(f, LoadOne<true>(a, sa ? 0 : i), LoadOne<(A >= 2)>(b, sb ? 0 : i),
              LoadOne<(A >= 3)>(c, sc ? 0 : i));
  }
}

template <typename Fn>
__global__ void __launch_bounds__(kThreads)
    ContigKernel(Fn fn, EwArgs args, int64_t n, unsigned scalar_mask,
                 bool vec) {
  ContigBody(fn, args, n, scalar_mask, vec,
             static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x,
             static_cast<int64_t>(gridDim.x) * blockDim.x);
}

// Any broadcast: `work` positions over calc's dims (vectors of V outputs
// along the innermost dimension when vec). Bit k of repeat_mask: input k has
// stride 0 innermost, so one value serves a whole vector. Grid-stride as
// ContigBody.
template <typename Fn, typename Div, typename Index>
TP_EW_HD void BroadcastBody(const Fn& fn, const EwArgs& args,
                            const OffsetCalc<Div, Index>& calc, Index work,
                            unsigned repeat_mask, bool vec, Index first,
                            Index step) {
  using Out = typename Fn::Out;
  using In0 = typename Fn::In0;
  using In1 = typename Fn::In1;
  using In2 = typename Fn::In2;
  constexpr int V = VecWidth<Fn>();
  constexpr int A = Fn::kArity;
  Fn f = fn;
  f.Init();
  const In0* a = static_cast<const In0*>(args.in[0]);
  const In1* b = static_cast<const In1*>(args.in[1]);
  const In2* c = static_cast<const In2*>(args.in[2]);
  Out* y = static_cast<Out*>(args.out);
  const bool ra = (repeat_mask & 1u) != 0;
  const bool rb = (repeat_mask & 2u) != 0;
  const bool rc = (repeat_mask & 4u) != 0;
  for (Index w = first; w < work; w += step) {
    Index off[3];
    Offsets<A>(calc, w, off);
    if (vec) {
      const Pack<In0, V> va = LoadPack<true, V>(a, off[0], ra);
      const Pack<In1, V> vb = LoadPack<(A >= 2), V>(b, off[1], rb);
      const Pack<In2, V> vc = LoadPack<(A >= 3), V>(c, off[2], rc);
      Pack<Out, V> r;
      TP_EW_UNROLL
      for (int j = 0; j < V; ++j) r.v[j] = Apply(f, va.v[j], vb.v[j], vc.v[j]);
      *reinterpret_cast<Pack<Out, V>*>(y + w * V) = r;
    } else {
      y[w] = Apply(f, LoadOne<true>(a, off[0]), LoadOne<(A >= 2)>(b, off[1]),
                   LoadOne<(A >= 3)>(c, off[2]));
    }
  }
}

template <typename Fn, typename Div, typename Index>
__global__ void __launch_bounds__(kThreads)
    BroadcastKernel(Fn fn, EwArgs args, OffsetCalc<Div, Index> calc, Index work,
                    unsigned repeat_mask, bool vec) {
  BroadcastBody(fn, args, calc, work, repeat_mask, vec,
                static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x,
                static_cast<Index>(gridDim.x) * blockDim.x);
}

bool Aligned(const void* p, size_t bytes) {
  return reinterpret_cast<uintptr_t>(p) % bytes == 0;
}

template <typename Fn>
cudaError_t LaunchContig(const Fn& fn, const EwArgs& args, int64_t n,
                         unsigned scalar_mask, bool vec, cudaStream_t stream) {
  const int64_t work = vec ? n / VecWidth<Fn>() : n;
  ContigKernel<Fn>
      <<<GridFor(work), kThreads, 0, stream>>>(fn, args, n, scalar_mask, vec);
  return cudaGetLastError();
}

// Runs fn over `layout` with the inputs in[0, Fn::kArity) into out.
template <typename Fn>
cudaError_t RunEw(const Fn& fn, const EwLayout& layout, const void* in0,
                  const void* in1, const void* in2, void* out,
                  cudaStream_t stream) {
  constexpr int V = VecWidth<Fn>();
  constexpr int A = Fn::kArity;
  if (layout.rank < 1 || layout.num_inputs != A) return cudaErrorInvalidValue;
  int64_t n = 1;
  for (int d = 0; d < layout.rank; ++d) n *= layout.dims[d];
  if (n <= 0) return n == 0 ? cudaSuccess : cudaErrorInvalidValue;
  const EwArgs args{{in0, in1, in2}, out};
  const size_t in_bytes[3] = {sizeof(typename Fn::In0),
                              sizeof(typename Fn::In1),
                              sizeof(typename Fn::In2)};
  const int last = layout.rank - 1;
  unsigned repeat_mask = 0;
  bool vec = V > 1 && Aligned(out, V * sizeof(typename Fn::Out));
  for (int k = 0; k < A; ++k) {
    if (layout.strides[k][last] == 0) {
      repeat_mask |= 1u << k;
    } else {
      vec = vec && Aligned(args.in[k], V * in_bytes[k]);
    }
  }
  if (layout.rank == 1)
    return LaunchContig(fn, args, n, repeat_mask, vec, stream);
  vec = vec && layout.dims[last] % V == 0;
  const int width = vec ? V : 1;
  const int64_t work = n / width;
  if (n <= std::numeric_limits<int32_t>::max()) {
    const auto calc = MakeOffsetCalc<FastDivU32, uint32_t>(layout, width);
    BroadcastKernel<Fn, FastDivU32, uint32_t>
        <<<GridFor(work), kThreads, 0, stream>>>(
            fn, args, calc, static_cast<uint32_t>(work), repeat_mask, vec);
  } else {
    const auto calc = MakeOffsetCalc<DivI64, int64_t>(layout, width);
    BroadcastKernel<Fn, DivI64, int64_t>
        <<<GridFor(work), kThreads, 0, stream>>>(fn, args, calc, work,
                                                 repeat_mask, vec);
  }
  return cudaGetLastError();
}

// A unary functor over n elements (only ContigKernel is instantiated).
template <typename Fn>
cudaError_t RunFlat(const Fn& fn, int64_t n, const void* x, void* y,
                    cudaStream_t stream) {
  static_assert(Fn::kArity == 1, "RunFlat takes unary functors");
  if (n <= 0) return n == 0 ? cudaSuccess : cudaErrorInvalidValue;
  constexpr int V = VecWidth<Fn>();
  const bool vec = V > 1 && Aligned(x, V * sizeof(typename Fn::In0)) &&
                   Aligned(y, V * sizeof(typename Fn::Out));
  return LaunchContig(fn, EwArgs{{x, nullptr, nullptr}, y}, n, 0u, vec, stream);
}

// ---------------------------------------------------------------------------
// Unary ops.

// x < lo ? lo : x, then > hi ? hi : that: hi wins when lo > hi, NaN passes.
template <typename C>
TP_EW_HD C Clamp(C x, C lo, C hi) {
  const C r = x < lo ? lo : x;
  return r > hi ? hi : r;
}

template <int kOp>
TP_EW_HD float UnaryMath(float x, float alpha, float beta) {
  if constexpr (kOp == kEwRelu) {
    return x < 0.0f ? 0.0f : x;
  } else if constexpr (kOp == kEwSigmoid) {
    // expf(-x) overflows to inf for x < -88, giving exactly 0.
    return 1.0f / (1.0f + expf(-x));
  } else if constexpr (kOp == kEwTanh) {
    return tanhf(x);
  } else if constexpr (kOp == kEwErf) {
    return erff(x);
  } else if constexpr (kOp == kEwExp) {
    return expf(x);
  } else if constexpr (kOp == kEwLog) {
    return logf(x);
  } else if constexpr (kOp == kEwSqrt) {
    return sqrtf(x);
  } else if constexpr (kOp == kEwReciprocal) {
    return 1.0f / x;
  } else if constexpr (kOp == kEwNeg) {
    return -x;
  } else if constexpr (kOp == kEwAbs) {
    return fabsf(x);
  } else if constexpr (kOp == kEwFloor) {
    return floorf(x);
  } else if constexpr (kOp == kEwCeil) {
    return ceilf(x);
  } else if constexpr (kOp == kEwRound) {
    return rintf(x);  // the default rounding mode breaks ties to even
  } else if constexpr (kOp == kEwSin) {
    return sinf(x);
  } else if constexpr (kOp == kEwCos) {
    return cosf(x);
  } else if constexpr (kOp == kEwTan) {
    return tanf(x);
  } else if constexpr (kOp == kEwAsin) {
    return asinf(x);
  } else if constexpr (kOp == kEwAcos) {
    return acosf(x);
  } else if constexpr (kOp == kEwAtan) {
    return atanf(x);
  } else if constexpr (kOp == kEwSinh) {
    return sinhf(x);
  } else if constexpr (kOp == kEwCosh) {
    return coshf(x);
  } else if constexpr (kOp == kEwAsinh) {
    return asinhf(x);
  } else if constexpr (kOp == kEwAcosh) {
    return acoshf(x);
  } else if constexpr (kOp == kEwAtanh) {
    return atanhf(x);
  } else if constexpr (kOp == kEwSoftplus) {
    // log(1 + e^x) without overflow for large |x|.
    return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x)));
  } else if constexpr (kOp == kEwSoftsign) {
    return x / (1.0f + fabsf(x));
  } else if constexpr (kOp == kEwSign) {
    return static_cast<float>((x > 0.0f) - (x < 0.0f));
  } else if constexpr (kOp == kEwHardSwish) {
    return x * Clamp(x * (1.0f / 6.0f) + 0.5f, 0.0f, 1.0f);
  } else if constexpr (kOp == kEwGelu) {
    return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
  } else if constexpr (kOp == kEwGeluTanh) {
    const float inner = 0.79788456080286536f * (x + 0.044715f * x * x * x);
    return 0.5f * x * (1.0f + tanhf(inner));
  } else if constexpr (kOp == kEwElu) {
    return x > 0.0f ? x : alpha * expm1f(x);
  } else if constexpr (kOp == kEwSelu) {
    return beta * (x > 0.0f ? x : alpha * expm1f(x));
  } else if constexpr (kOp == kEwCelu) {
    return x > 0.0f ? x : alpha * expm1f(x / alpha);
  } else if constexpr (kOp == kEwLeakyRelu) {
    return x < 0.0f ? x * alpha : x;
  } else if constexpr (kOp == kEwHardSigmoid) {
    return Clamp(alpha * x + beta, 0.0f, 1.0f);
  } else if constexpr (kOp == kEwThresholdedRelu) {
    return x > alpha ? x : 0.0f;
  } else if constexpr (kOp == kEwShrink) {
    return x < -beta ? x + alpha : (x > beta ? x - alpha : 0.0f);
  } else {
    static_assert(kOp == kEwScale, "unhandled unary op");
    return x * alpha;
  }
}

// Integer ops wrap like two's complement (-INT_MIN = INT_MIN).
constexpr bool IntUnaryOp(int op) {
  return op == kEwRelu || op == kEwNeg || op == kEwAbs || op == kEwSign;
}

template <int kOp, typename T>
TP_EW_HD T IntUnaryMath(T x) {
  using U = std::make_unsigned_t<T>;
  const T neg = static_cast<T>(U(0) - static_cast<U>(x));
  if constexpr (kOp == kEwRelu) {
    return x < 0 ? T(0) : x;
  } else if constexpr (kOp == kEwNeg) {
    return neg;
  } else if constexpr (kOp == kEwAbs) {
    return x < 0 ? neg : x;
  } else {
    static_assert(kOp == kEwSign, "unhandled integer unary op");
    return static_cast<T>((x > 0) - (x < 0));
  }
}

template <int kOp, typename T>
constexpr bool UnaryTypeOk() {
  return kIsFloatLike<T> || (kIsInt32Or64<T> && IntUnaryOp(kOp));
}

template <typename T, int kOp>
struct UnaryFn {
  using Out = T;
  using In0 = T;
  using In1 = T;
  using In2 = T;
  static constexpr int kArity = 1;
  float alpha = 0.0f;
  float beta = 0.0f;
  TP_EW_HD void Init() {}
  TP_EW_HD T operator()(T x) const {
    if constexpr (std::is_integral_v<T>) {
      return IntUnaryMath<kOp>(x);
    } else {
      return Convert<T>(UnaryMath<kOp>(Widen(x), alpha, beta));
    }
  }
};

template <int kOp = 0>
cudaError_t DispatchUnary(int op, int dtype, const void* x, void* y, int64_t n,
                          float alpha, float beta, cudaStream_t stream) {
  if (op == kOp) {
    return VisitEwType(dtype, [&](auto tag) -> cudaError_t {
      using T = typename decltype(tag)::type;
      if constexpr (UnaryTypeOk<kOp, T>()) {
        UnaryFn<T, kOp> fn;
        fn.alpha = alpha;
        fn.beta = beta;
        return RunFlat(fn, n, x, y, stream);
      } else {
        return cudaErrorInvalidValue;
      }
    });
  }
  if constexpr (kOp + 1 < kEwUnaryOpCount) {
    return DispatchUnary<kOp + 1>(op, dtype, x, y, n, alpha, beta, stream);
  } else {
    return cudaErrorInvalidValue;
  }
}

// Clip with bounds read once per thread from device scalars when given.
template <typename T>
struct ClipFn {
  using Out = T;
  using In0 = T;
  using In1 = T;
  using In2 = T;
  static constexpr int kArity = 1;
  using C = ComputeT<T>;
  const T* lo_ptr = nullptr;
  const T* hi_ptr = nullptr;
  C lo{};
  C hi{};
  TP_EW_HD void Init() {
    if (lo_ptr != nullptr) lo = Widen(*lo_ptr);
    if (hi_ptr != nullptr) hi = Widen(*hi_ptr);
  }
  TP_EW_HD T operator()(T x) const {
    return Convert<T>(Clamp(Widen(x), lo, hi));
  }
};

template <typename T>
struct FloatClassFn {
  using Out = bool;
  using In0 = T;
  using In1 = T;
  using In2 = T;
  static constexpr int kArity = 1;
  bool nan = true;
  bool negative = false;
  bool positive = false;
  TP_EW_HD void Init() {}
  TP_EW_HD bool operator()(T x) const {
    const float v = Widen(x);
    if (nan) return v != v;
    if (fabsf(v) != std::numeric_limits<float>::infinity()) return false;
    return v > 0.0f ? positive : negative;
  }
};

struct NotFn {
  using Out = bool;
  using In0 = bool;
  using In1 = bool;
  using In2 = bool;
  static constexpr int kArity = 1;
  TP_EW_HD void Init() {}
  TP_EW_HD bool operator()(bool x) const { return !x; }
};

// ---------------------------------------------------------------------------
// Binary ops.

constexpr bool PredicateOp(int op) { return op >= kEwEqual && op <= kEwXor; }

template <int kOp, typename T>
constexpr bool BinaryTypeOk() {
  if constexpr (kOp == kEwAnd || kOp == kEwOr || kOp == kEwXor) {
    return std::is_same_v<T, bool>;
  } else if constexpr (kOp == kEwMod) {
    return kIsInt32Or64<T>;
  } else if constexpr (kOp == kEwEqual) {
    return kIsFloatLike<T> || kIsInt32Or64<T> || std::is_same_v<T, bool>;
  } else {
    return kIsFloatLike<T> || kIsInt32Or64<T>;
  }
}

// base^exp for integers, exactly with wrapping (the CPU backend's IntPow):
// negative exponents truncate 1/base^|exp| toward zero.
TP_EW_HD int64_t IntPow(int64_t base, int64_t exp) {
  if (exp < 0) {
    if (base == 1) return 1;
    if (base == -1) return (exp & 1) ? -1 : 1;
    return 0;
  }
  uint64_t result = 1;
  uint64_t b = static_cast<uint64_t>(base);
  for (uint64_t e = static_cast<uint64_t>(exp); e != 0; e >>= 1) {
    if (e & 1) result *= b;
    b *= b;
  }
  return static_cast<int64_t>(result);
}

// C: float for the float types, the type itself for integers and bool.
template <int kOp, typename C>
TP_EW_HD auto BinaryMath(C a, C b) {
  constexpr bool kFloat = std::is_floating_point_v<C>;
  if constexpr (kOp == kEwAdd) {
    return static_cast<C>(a + b);
  } else if constexpr (kOp == kEwSub) {
    return static_cast<C>(a - b);
  } else if constexpr (kOp == kEwMul) {
    return static_cast<C>(a * b);
  } else if constexpr (kOp == kEwDiv) {
    if constexpr (kFloat) {
      return a / b;
    } else {
      // The CPU backend rejects a zero divisor; a kernel cannot, so it gives
      // 0. x / -1 is a wrapping negation (INT_MIN / -1 overflows).
      using U = std::make_unsigned_t<C>;
      if (b == 0) return C(0);
      if (b == C(-1)) return static_cast<C>(U(0) - static_cast<U>(a));
      return static_cast<C>(a / b);
    }
  } else if constexpr (kOp == kEwPow) {
    if constexpr (kFloat) {
      return b == 2.0f ? a * a : powf(a, b);  // x^2 exactly, as on the CPU
    } else {
      return static_cast<C>(IntPow(a, b));
    }
  } else if constexpr (kOp == kEwMax) {
    if constexpr (kFloat) {
      return (a > b || a != a) ? a : b;  // NaN propagates, as numpy's maximum
    } else {
      return a > b ? a : b;
    }
  } else if constexpr (kOp == kEwMin) {
    if constexpr (kFloat) {
      return (a < b || a != a) ? a : b;
    } else {
      return a < b ? a : b;
    }
  } else if constexpr (kOp == kEwMod || kOp == kEwFmod) {
    if constexpr (kFloat) {
      return fmodf(a, b);
    } else {
      // A zero divisor gives 0 (see Div); x % -1 is 0 (INT_MIN % -1 traps).
      if (b == 0 || b == C(-1)) return C(0);
      C r = static_cast<C>(a % b);
      if (kOp == kEwMod && r != 0 && ((r < 0) != (b < 0)))
        r = static_cast<C>(r + b);
      return r;
    }
  } else if constexpr (kOp == kEwEqual) {
    return a == b;
  } else if constexpr (kOp == kEwLess) {
    return a < b;
  } else if constexpr (kOp == kEwLessOrEqual) {
    return a <= b;
  } else if constexpr (kOp == kEwGreater) {
    return a > b;
  } else if constexpr (kOp == kEwGreaterOrEqual) {
    return a >= b;
  } else if constexpr (kOp == kEwAnd) {
    return a && b;
  } else if constexpr (kOp == kEwOr) {
    return a || b;
  } else {
    static_assert(kOp == kEwXor, "unhandled binary op");
    return a != b;
  }
}

template <typename T, int kOp>
struct BinaryFn {
  using Out = std::conditional_t<PredicateOp(kOp), bool, T>;
  using In0 = T;
  using In1 = T;
  using In2 = T;
  static constexpr int kArity = 2;
  TP_EW_HD void Init() {}
  TP_EW_HD Out operator()(T a, T b) const {
    return Convert<Out>(BinaryMath<kOp, ComputeT<T>>(Widen(a), Widen(b)));
  }
};

template <int kOp = 0>
cudaError_t DispatchBinary(int op, int dtype, const EwLayout& layout,
                           const void* a, const void* b, void* y,
                           cudaStream_t stream) {
  if (op == kOp) {
    return VisitEwType(dtype, [&](auto tag) -> cudaError_t {
      using T = typename decltype(tag)::type;
      if constexpr (BinaryTypeOk<kOp, T>()) {
        return RunEw(BinaryFn<T, kOp>{}, layout, a, b, nullptr, y, stream);
      } else {
        return cudaErrorInvalidValue;
      }
    });
  }
  if constexpr (kOp + 1 < kEwBinaryOpCount) {
    return DispatchBinary<kOp + 1>(op, dtype, layout, a, b, y, stream);
  } else {
    return cudaErrorInvalidValue;
  }
}

// Where moves bits: U is an unsigned type of the element's size.
template <typename U>
struct WhereFn {
  using Out = U;
  using In0 = bool;
  using In1 = U;
  using In2 = U;
  static constexpr int kArity = 3;
  TP_EW_HD void Init() {}
  TP_EW_HD U operator()(bool c, U x, U y) const { return c ? x : y; }
};

template <typename To, typename From>
struct CastFn {
  using Out = To;
  using In0 = From;
  using In1 = From;
  using In2 = From;
  static constexpr int kArity = 1;
  TP_EW_HD void Init() {}
  TP_EW_HD To operator()(From x) const { return Convert<To>(x); }
};

// ---------------------------------------------------------------------------
// Bias + activation epilogues.

TP_EW_HD float Activate(int kind, float x, float alpha, float beta) {
  switch (kind) {
    case kCudaActRelu:
      return UnaryMath<kEwRelu>(x, alpha, beta);
    case kCudaActLeakyRelu:
      return UnaryMath<kEwLeakyRelu>(x, alpha, beta);
    case kCudaActSigmoid:
      return UnaryMath<kEwSigmoid>(x, alpha, beta);
    case kCudaActTanh:
      return UnaryMath<kEwTanh>(x, alpha, beta);
    case kCudaActClip:
      return Clamp(x, alpha, beta);
    case kCudaActGelu:
      return UnaryMath<kEwGelu>(x, alpha, beta);
    case kCudaActGeluTanh:
      return UnaryMath<kEwGeluTanh>(x, alpha, beta);
    case kCudaActHardSigmoid:
      return UnaryMath<kEwHardSigmoid>(x, alpha, beta);
    case kCudaActHardSwish:
      return UnaryMath<kEwHardSwish>(x, alpha, beta);
    default:
      return x;
  }
}

template <typename T>
struct ActivationFn {
  using Out = T;
  using In0 = T;
  using In1 = T;
  using In2 = T;
  static constexpr int kArity = 1;
  int kind = kCudaActNone;
  float alpha = 0.0f;
  float beta = 0.0f;
  TP_EW_HD void Init() {}
  TP_EW_HD T operator()(T x) const {
    return Convert<T>(Activate(kind, Widen(x), alpha, beta));
  }
};

// The sum is rounded once, after the activation.
template <typename T>
struct BiasActivationFn {
  using Out = T;
  using In0 = T;
  using In1 = T;
  using In2 = T;
  static constexpr int kArity = 2;
  int kind = kCudaActNone;
  float alpha = 0.0f;
  float beta = 0.0f;
  TP_EW_HD void Init() {}
  TP_EW_HD T operator()(T x, T bias) const {
    return Convert<T>(Activate(kind, Widen(x) + Widen(bias), alpha, beta));
  }
};

// data (of out_dims) = act(data + bias) with bias broadcast from bias_dims.
cudaError_t RunBiasActivation(int dtype, void* data, const void* bias,
                              const int64_t* out_dims, int out_rank,
                              const int64_t* bias_dims, int bias_rank,
                              int act_kind, float alpha, float beta,
                              cudaStream_t stream) {
  if (act_kind < kCudaActNone || act_kind > kCudaActHardSwish)
    return cudaErrorInvalidValue;
  int64_t n = 1;
  for (int d = 0; d < out_rank; ++d) {
    if (out_dims[d] < 0) return cudaErrorInvalidValue;
    n *= out_dims[d];
  }
  if (n == 0 || (bias == nullptr && act_kind == kCudaActNone))
    return cudaSuccess;
  return VisitEwType(dtype, [&](auto tag) -> cudaError_t {
    using T = typename decltype(tag)::type;
    if constexpr (kIsFloatLike<T>) {
      if (bias == nullptr) {
        ActivationFn<T> fn;
        fn.kind = act_kind;
        fn.alpha = alpha;
        fn.beta = beta;
        return RunFlat(fn, n, data, data, stream);
      }
      EwLayout layout;
      const int64_t* dims[2] = {out_dims, bias_dims};
      const int ranks[2] = {out_rank, bias_rank};
      if (!MakeEwLayout(out_dims, out_rank, 2, dims, ranks, &layout)) {
        return cudaErrorInvalidValue;
      }
      BiasActivationFn<T> fn;
      fn.kind = act_kind;
      fn.alpha = alpha;
      fn.beta = beta;
      return RunEw(fn, layout, data, bias, nullptr, data, stream);
    } else {
      return cudaErrorInvalidValue;
    }
  });
}

}  // namespace

// ---------------------------------------------------------------------------
// Launchers.

bool MakeEwLayout(const int64_t* out_dims, int out_rank, int num_inputs,
                  const int64_t* const* in_dims, const int* in_ranks,
                  EwLayout* layout) {
  if (num_inputs < 1 || num_inputs > 3 || out_rank < 0) return false;
  for (int k = 0; k < num_inputs; ++k) {
    if (in_ranks[k] < 0 || in_ranks[k] > out_rank) return false;
  }
  // Merged dimensions, innermost first.
  int64_t dims[kEwMaxRank];
  int64_t strides[3][kEwMaxRank];
  int rank = 0;
  int64_t dense[3] = {1, 1, 1};  // each input's stride for dimension d
  for (int d = out_rank - 1; d >= 0; --d) {
    const int64_t size = out_dims[d];
    if (size < 0) return false;
    int64_t s[3] = {0, 0, 0};
    for (int k = 0; k < num_inputs; ++k) {
      const int in_d = d - (out_rank - in_ranks[k]);
      const int64_t in_size = in_d >= 0 ? in_dims[k][in_d] : 1;
      if (in_size != size && in_size != 1) return false;
      s[k] = in_size == 1 ? 0 : dense[k];
      dense[k] *= in_size;
    }
    if (size == 1) continue;
    bool merge = rank > 0;
    for (int k = 0; k < num_inputs && merge; ++k) {
      merge = s[k] == strides[k][rank - 1] * dims[rank - 1];
    }
    if (merge) {
      dims[rank - 1] *= size;
      continue;
    }
    if (rank == kEwMaxRank) return false;
    dims[rank] = size;
    for (int k = 0; k < num_inputs; ++k) strides[k][rank] = s[k];
    ++rank;
  }
  EwLayout out;
  out.num_inputs = num_inputs;
  if (rank == 0) {  // a single element
    out.rank = 1;
    out.dims[0] = 1;
  } else {
    out.rank = rank;
    for (int d = 0; d < rank; ++d) {
      out.dims[d] = dims[rank - 1 - d];
      for (int k = 0; k < num_inputs; ++k)
        out.strides[k][d] = strides[k][rank - 1 - d];
    }
  }
  *layout = out;
  return true;
}

cudaError_t LaunchEwUnary(int op, int dtype, const void* x, void* y, int64_t n,
                          float alpha, float beta, cudaStream_t stream) {
  return DispatchUnary(op, dtype, x, y, n, alpha, beta, stream);
}

cudaError_t LaunchEwClip(int dtype, const void* x, void* y, int64_t n,
                         const void* lo, const void* hi, float lo_value,
                         float hi_value, cudaStream_t stream) {
  return VisitEwType(dtype, [&](auto tag) -> cudaError_t {
    using T = typename decltype(tag)::type;
    if constexpr (kIsFloatLike<T> || kIsInt32Or64<T>) {
      ClipFn<T> fn;
      fn.lo_ptr = static_cast<const T*>(lo);
      fn.hi_ptr = static_cast<const T*>(hi);
      if constexpr (kIsFloatLike<T>) {
        fn.lo = lo_value;
        fn.hi = hi_value;
      } else {
        fn.lo = std::numeric_limits<T>::lowest();
        fn.hi = std::numeric_limits<T>::max();
      }
      return RunFlat(fn, n, x, y, stream);
    } else {
      return cudaErrorInvalidValue;
    }
  });
}

cudaError_t LaunchEwFloatClass(int dtype, const void* x, bool* y, int64_t n,
                               bool nan, bool detect_negative,
                               bool detect_positive, cudaStream_t stream) {
  return VisitEwType(dtype, [&](auto tag) -> cudaError_t {
    using T = typename decltype(tag)::type;
    if constexpr (kIsFloatLike<T>) {
      FloatClassFn<T> fn;
      fn.nan = nan;
      fn.negative = detect_negative;
      fn.positive = detect_positive;
      return RunFlat(fn, n, x, y, stream);
    } else {
      return cudaErrorInvalidValue;
    }
  });
}

cudaError_t LaunchEwNot(const bool* x, bool* y, int64_t n,
                        cudaStream_t stream) {
  return RunFlat(NotFn{}, n, x, y, stream);
}

cudaError_t LaunchEwBinary(int op, int dtype, const EwLayout& layout,
                           const void* a, const void* b, void* y,
                           cudaStream_t stream) {
  return DispatchBinary(op, dtype, layout, a, b, y, stream);
}

cudaError_t LaunchEwWhere(int elem_size, const EwLayout& layout,
                          const bool* cond, const void* x, const void* y,
                          void* out, cudaStream_t stream) {
  switch (elem_size) {
    case 1:
      return RunEw(WhereFn<uint8_t>{}, layout, cond, x, y, out, stream);
    case 2:
      return RunEw(WhereFn<uint16_t>{}, layout, cond, x, y, out, stream);
    case 4:
      return RunEw(WhereFn<uint32_t>{}, layout, cond, x, y, out, stream);
    case 8:
      return RunEw(WhereFn<uint64_t>{}, layout, cond, x, y, out, stream);
    default:
      return cudaErrorInvalidValue;
  }
}

cudaError_t LaunchEwCast(int from, int to, const void* x, void* y, int64_t n,
                         cudaStream_t stream) {
  return VisitEwType(from, [&](auto from_tag) -> cudaError_t {
    using From = typename decltype(from_tag)::type;
    return VisitEwType(to, [&](auto to_tag) -> cudaError_t {
      using To = typename decltype(to_tag)::type;
      return RunFlat(CastFn<To, From>{}, n, x, y, stream);
    });
  });
}

cudaError_t LaunchBiasActivation(int dtype_code, void* data, const void* bias,
                                 int64_t rows, int64_t cols, int act_kind,
                                 float alpha, float beta, cudaStream_t stream) {
  const int64_t dims[2] = {rows, cols};
  return RunBiasActivation(dtype_code, data, bias, dims, 2, &dims[1], 1,
                           act_kind, alpha, beta, stream);
}

cudaError_t LaunchChannelBiasActivation(int dtype_code, void* data,
                                        const void* bias, int64_t outer,
                                        int64_t channels, int64_t inner,
                                        int act_kind, float alpha, float beta,
                                        cudaStream_t stream) {
  const int64_t dims[3] = {outer, channels, inner};
  const int64_t bias_dims[2] = {channels, 1};
  return RunBiasActivation(dtype_code, data, bias, dims, 3, bias_dims, 2,
                           act_kind, alpha, beta, stream);
}

}  // namespace tensorpod::internal
