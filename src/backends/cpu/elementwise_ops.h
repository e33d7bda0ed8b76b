// Building blocks shared by the CPU elementwise kernels: dtype visitation,
// Eigen views of raw buffers, value conversions, and the unary math functors
// with their driver. Internal to the CPU backend; everything here is
// stateless or immutable after construction, so safe to share between
// threads.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <unsupported/Eigen/SpecialFunctions>

#include "backends/cpu/parallel.h"
#include "core/dtype.h"
#include "core/status.h"
#include "core/tensor.h"

namespace tensorpod::internal::elementwise {

// Minimum elements per parallel chunk: below this, thread start-up costs
// more than the arithmetic saves.
inline constexpr int64_t kParallelGrain = 16384;

// ---------------------------------------------------------------------------
// Dtype visitation. A mask of DType bits says, at compile time, which element
// types an op instantiates, so an op never compiles for a type it rejects.

constexpr uint32_t Bit(DType t) { return 1u << static_cast<int>(t); }

inline constexpr uint32_t kFloatTypes =
    Bit(DType::kF32) | Bit(DType::kF64) | Bit(DType::kF16) | Bit(DType::kBF16);
inline constexpr uint32_t kSignedIntTypes =
    Bit(DType::kI8) | Bit(DType::kI16) | Bit(DType::kI32) | Bit(DType::kI64);
inline constexpr uint32_t kUnsignedIntTypes =
    Bit(DType::kU8) | Bit(DType::kU16) | Bit(DType::kU32) | Bit(DType::kU64);
inline constexpr uint32_t kIntTypes = kSignedIntTypes | kUnsignedIntTypes;
inline constexpr uint32_t kSignedTypes = kFloatTypes | kSignedIntTypes;
inline constexpr uint32_t kNumericTypes = kFloatTypes | kIntTypes;
inline constexpr uint32_t kAllTypes = kNumericTypes | Bit(DType::kBool);

template <typename T>
struct TypeTag {
  using type = T;
};

// float16 and bfloat16 are stored as Eigen's 16-bit types (same layout as
// tensorpod's uint16 patterns) and computed in float.
template <typename T>
inline constexpr bool kIsHalfLike =
    std::is_same_v<T, Eigen::half> || std::is_same_v<T, Eigen::bfloat16>;

template <typename T>
using ComputeT = std::conditional_t<kIsHalfLike<T>, float, T>;

template <uint32_t kMask, DType D, typename T, typename Fn>
bool VisitIf(Fn& fn) {
  if constexpr ((kMask & Bit(D)) != 0) {
    fn(TypeTag<T>{});
    return true;
  } else {
    return false;
  }
}

// Calls fn(TypeTag<T>{}) with the storage type of `t` and returns true, or
// returns false when `t` is not in kMask.
template <uint32_t kMask, typename Fn>
bool VisitDType(DType t, Fn&& fn) {
  switch (t) {
    case DType::kF32:
      return VisitIf<kMask, DType::kF32, float>(fn);
    case DType::kF64:
      return VisitIf<kMask, DType::kF64, double>(fn);
    case DType::kF16:
      return VisitIf<kMask, DType::kF16, Eigen::half>(fn);
    case DType::kBF16:
      return VisitIf<kMask, DType::kBF16, Eigen::bfloat16>(fn);
    case DType::kI64:
      return VisitIf<kMask, DType::kI64, int64_t>(fn);
    case DType::kI32:
      return VisitIf<kMask, DType::kI32, int32_t>(fn);
    case DType::kI16:
      return VisitIf<kMask, DType::kI16, int16_t>(fn);
    case DType::kI8:
      return VisitIf<kMask, DType::kI8, int8_t>(fn);
    case DType::kU8:
      return VisitIf<kMask, DType::kU8, uint8_t>(fn);
    case DType::kU16:
      return VisitIf<kMask, DType::kU16, uint16_t>(fn);
    case DType::kU32:
      return VisitIf<kMask, DType::kU32, uint32_t>(fn);
    case DType::kU64:
      return VisitIf<kMask, DType::kU64, uint64_t>(fn);
    case DType::kBool:
      return VisitIf<kMask, DType::kBool, bool>(fn);
    case DType::kUndefined:
      return false;
  }
  return false;
}

inline Status UnsupportedType(const char* op, DType t) {
  return TP_ERROR(kUnimplemented,
                  op << " does not support element type " << DTypeName(t));
}

// ---------------------------------------------------------------------------
// Eigen views of contiguous buffers.

template <typename T>
using ArrayX = Eigen::Array<T, Eigen::Dynamic, 1>;

template <typename T>
Eigen::Map<ArrayX<T>> OutView(T* p, int64_t n) {
  return Eigen::Map<ArrayX<T>>(p, n);
}

template <typename T>
Eigen::Map<const ArrayX<T>> InView(const T* p, int64_t n) {
  return Eigen::Map<const ArrayX<T>>(p, n);
}

// ---------------------------------------------------------------------------
// Value conversion with defined results for every input (Cast, integer Pow).

// A float to integer conversion that saturates and maps NaN to 0, so an
// out-of-range value gives a stated result instead of undefined behaviour.
template <typename To, typename From>
To SaturateFloatToInt(From x) {
  if (!(x == x)) return To(0);
  // 2^digits is exactly representable in any float type and is the first
  // value above To's maximum; the minimum is 0 or -2^digits.
  constexpr From kUpper =
      From(std::numeric_limits<To>::max() / 2 + 1) * From(2);
  constexpr From kLower = static_cast<From>(std::numeric_limits<To>::min());
  if (x >= kUpper) return std::numeric_limits<To>::max();
  if (x <= kLower) return std::numeric_limits<To>::min();
  return static_cast<To>(x);
}

// Converts one element between any two storage types.
template <typename To, typename From>
To ConvertValue(From x) {
  if constexpr (std::is_same_v<To, From>) {
    return x;
  } else if constexpr (kIsHalfLike<From>) {
    return ConvertValue<To>(static_cast<float>(x));
  } else if constexpr (std::is_same_v<To, bool>) {
    return x != From(0);
  } else if constexpr (kIsHalfLike<To>) {
    return static_cast<To>(static_cast<float>(x));
  } else if constexpr (std::is_integral_v<To> &&
                       std::is_floating_point_v<From>) {
    return SaturateFloatToInt<To>(x);
  } else {
    return static_cast<To>(x);
  }
}

// ---------------------------------------------------------------------------
// Unary functors. Each maps n contiguous values of its compute type S
// (float for float16/bfloat16) from x to y; x may equal y. kTypes lists the
// element types the op accepts.

// A float-only functor whose body is one Eigen expression of `in`.
#define TP_EW_FLOAT_UNARY(Name, expr)                    \
  struct Name {                                          \
    static constexpr uint32_t kTypes = kFloatTypes;      \
    template <typename S>                                \
    void operator()(const S* x, S* y, int64_t n) const { \
      auto in = InView(x, n);                            \
      OutView(y, n) = (expr);                            \
    }                                                    \
  }

TP_EW_FLOAT_UNARY(SqrtOp, in.sqrt());
TP_EW_FLOAT_UNARY(ExpOp, in.exp());
TP_EW_FLOAT_UNARY(LogOp, in.log());
TP_EW_FLOAT_UNARY(ErfOp, in.erf());
TP_EW_FLOAT_UNARY(TanhOp, in.tanh());
// Eigen's logistic stays finite for any |x|: for float it switches to exp(x)
// below -9 and saturates at 1 above ~15.7; for double 1/(1+exp(-x)) tends to
// 0 or 1 without producing NaN.
TP_EW_FLOAT_UNARY(SigmoidOp, in.logistic());
TP_EW_FLOAT_UNARY(ReciprocalOp, in.inverse());
TP_EW_FLOAT_UNARY(FloorOp, in.floor());
TP_EW_FLOAT_UNARY(CeilOp, in.ceil());
// ONNX Round breaks ties to even, which is rint's default rounding mode.
TP_EW_FLOAT_UNARY(RoundOp, in.rint());
TP_EW_FLOAT_UNARY(SinOp, in.sin());
TP_EW_FLOAT_UNARY(CosOp, in.cos());
TP_EW_FLOAT_UNARY(TanOp, in.tan());
TP_EW_FLOAT_UNARY(AsinOp, in.asin());
TP_EW_FLOAT_UNARY(AcosOp, in.acos());
TP_EW_FLOAT_UNARY(AtanOp, in.atan());
TP_EW_FLOAT_UNARY(SinhOp, in.sinh());
TP_EW_FLOAT_UNARY(CoshOp, in.cosh());
TP_EW_FLOAT_UNARY(AsinhOp, in.asinh());
TP_EW_FLOAT_UNARY(AcoshOp, in.acosh());
TP_EW_FLOAT_UNARY(AtanhOp, in.atanh());
TP_EW_FLOAT_UNARY(SoftsignOp, in / (S(1) + in.abs()));
TP_EW_FLOAT_UNARY(HardSwishOp,
                  in*(in* S(1.0 / 6) + S(0.5)).max(S(0)).min(S(1)));

#undef TP_EW_FLOAT_UNARY

// log(1 + exp(x)) rewritten as max(x, 0) + log1p(exp(-|x|)) so neither
// large positive nor large negative x overflows.
struct SoftplusOp {
  static constexpr uint32_t kTypes = kFloatTypes;
  template <typename S>
  void operator()(const S* x, S* y, int64_t n) const {
    auto in = InView(x, n);
    OutView(y, n) = in.max(S(0)) + (-in.abs()).exp().log1p();
  }
};

struct NegOp {
  static constexpr uint32_t kTypes = kSignedTypes;
  template <typename S>
  void operator()(const S* x, S* y, int64_t n) const {
    OutView(y, n) = -InView(x, n);
  }
};

struct AbsOp {
  static constexpr uint32_t kTypes = kNumericTypes;
  template <typename S>
  void operator()(const S* x, S* y, int64_t n) const {
    if constexpr (std::is_unsigned_v<S>) {
      if (x != y) std::memcpy(y, x, sizeof(S) * n);
    } else {
      OutView(y, n) = InView(x, n).abs();
    }
  }
};

struct ReluOp {
  static constexpr uint32_t kTypes = kSignedTypes;
  template <typename S>
  void operator()(const S* x, S* y, int64_t n) const {
    OutView(y, n) = InView(x, n).max(S(0));
  }
};

struct SignOp {
  static constexpr uint32_t kTypes = kNumericTypes;
  template <typename S>
  void operator()(const S* x, S* y, int64_t n) const {
    for (int64_t i = 0; i < n; ++i) {
      if constexpr (std::is_unsigned_v<S>) {
        y[i] = static_cast<S>(x[i] != S(0));
      } else {
        y[i] = static_cast<S>((x[i] > S(0)) - (x[i] < S(0)));
      }
    }
  }
};

struct LeakyReluOp {
  static constexpr uint32_t kTypes = kFloatTypes;
  float alpha = 0.01f;
  template <typename S>
  void operator()(const S* x, S* y, int64_t n) const {
    auto in = InView(x, n);
    OutView(y, n) = in.max(S(0)) + in.min(S(0)) * S(alpha);
  }
};

struct HardSigmoidOp {
  static constexpr uint32_t kTypes = kFloatTypes;
  float alpha = 0.2f;
  float beta = 0.5f;
  template <typename S>
  void operator()(const S* x, S* y, int64_t n) const {
    OutView(y, n) = (InView(x, n) * S(alpha) + S(beta)).max(S(0)).min(S(1));
  }
};

// The exponential-linear family, with expm1 for accuracy near 0:
// Elu: x > 0 ? x : alpha·(e^x − 1); Selu: gamma·Elu; Celu: max(0, x) +
// min(0, alpha·(e^(x/alpha) − 1)).
struct EluOp {
  static constexpr uint32_t kTypes = kFloatTypes;
  float alpha = 1.0f;
  template <typename S>
  void operator()(const S* x, S* y, int64_t n) const {
    auto in = InView(x, n);
    OutView(y, n) = in.max(S(0)) + S(alpha) * in.min(S(0)).expm1();
  }
};

struct SeluOp {
  static constexpr uint32_t kTypes = kFloatTypes;
  float alpha = 1.67326319217681884765625f;
  float gamma = 1.05070102214813232421875f;
  template <typename S>
  void operator()(const S* x, S* y, int64_t n) const {
    auto in = InView(x, n);
    OutView(y, n) = S(gamma) * (in.max(S(0)) + S(alpha) * in.min(S(0)).expm1());
  }
};

struct CeluOp {
  static constexpr uint32_t kTypes = kFloatTypes;
  float alpha = 1.0f;
  template <typename S>
  void operator()(const S* x, S* y, int64_t n) const {
    auto in = InView(x, n);
    OutView(y, n) = in.max(S(0)) + S(alpha) * (in.min(S(0)) / S(alpha)).expm1();
  }
};

struct ThresholdedReluOp {
  static constexpr uint32_t kTypes = kFloatTypes;
  float alpha = 1.0f;
  template <typename S>
  void operator()(const S* x, S* y, int64_t n) const {
    auto in = InView(x, n);
    OutView(y, n) = (in > S(alpha)).select(in, S(0));
  }
};

// x < -lambd ? x + bias : x > lambd ? x - bias : 0.
struct ShrinkOp {
  static constexpr uint32_t kTypes = kFloatTypes;
  float bias = 0.0f;
  float lambd = 0.5f;
  template <typename S>
  void operator()(const S* x, S* y, int64_t n) const {
    auto in = InView(x, n);
    OutView(y, n) =
        (in < S(-lambd))
            .select(in + S(bias), (in > S(lambd)).select(in - S(bias), S(0)));
  }
};

// GELU, exact (0.5·x·(1 + erf(x/√2))) or with the tanh approximation
// (0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))).
struct GeluOp {
  static constexpr uint32_t kTypes = kFloatTypes;
  bool tanh_approximation = false;
  template <typename S>
  void operator()(const S* x, S* y, int64_t n) const {
    auto in = InView(x, n);
    if (tanh_approximation) {
      const S k = S(0.7978845608028654);  // sqrt(2/pi)
      OutView(y, n) =
          S(0.5) * in * (S(1) + ((in + S(0.044715) * in.cube()) * k).tanh());
    } else {
      const S k = S(0.7071067811865476);  // 1/sqrt(2)
      OutView(y, n) = S(0.5) * in * (S(1) + (in * k).erf());
    }
  }
};

// Clip to [lo, hi] in the compute type S. When lo > hi every element becomes
// hi, as ONNX specifies. An omitted float bound is infinite, so it never
// changes a value (not even an infinity, as numpy's clip with None).
template <typename S>
struct ClipOp {
  static constexpr S kLowest = std::numeric_limits<S>::has_infinity
                                   ? -std::numeric_limits<S>::infinity()
                                   : std::numeric_limits<S>::lowest();
  static constexpr S kHighest = std::numeric_limits<S>::has_infinity
                                    ? std::numeric_limits<S>::infinity()
                                    : std::numeric_limits<S>::max();
  S lo = kLowest;
  S hi = kHighest;
  void operator()(const S* x, S* y, int64_t n) const {
    OutView(y, n) = InView(x, n).max(lo).min(hi);
  }
};

// ---------------------------------------------------------------------------
// Unary driver.

// float16/bfloat16 are widened in blocks on the stack so the float functor
// runs vectorised and nothing is allocated.
inline constexpr int64_t kConvertBlock = 512;

template <typename T, typename Op>
void UnaryRange(const Op& op, const T* x, T* y, int64_t n) {
  if constexpr (kIsHalfLike<T>) {
    float buf[kConvertBlock];
    for (int64_t b = 0; b < n; b += kConvertBlock) {
      const int64_t m = std::min(kConvertBlock, n - b);
      for (int64_t i = 0; i < m; ++i) buf[i] = static_cast<float>(x[b + i]);
      op(buf, buf, m);
      for (int64_t i = 0; i < m; ++i) y[b + i] = static_cast<T>(buf[i]);
    }
  } else {
    op(x, y, n);
  }
}

// Applies op to all of x into y (same shape and type), split across
// `threads` for large tensors.
template <typename T, typename Op>
void RunUnaryTyped(const Op& op, const T* x, T* y, int64_t n, int threads) {
  ParallelFor(n, threads, kParallelGrain, [&](int64_t b, int64_t e) {
    UnaryRange<T>(op, x + b, y + b, e - b);
  });
}

template <typename Op>
Status RunUnary(const char* op_name, const Op& op, const Tensor& x, Tensor* y,
                int threads) {
  TP_INTERNAL_CHECK(
      y->dtype() == x.dtype() && y->num_elements() == x.num_elements(),
      op_name << " output does not match its input");
  const bool handled = VisitDType<Op::kTypes>(x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    RunUnaryTyped<T>(op, x.data<T>(), y->data<T>(), x.num_elements(), threads);
  });
  return handled ? Status::Ok() : UnsupportedType(op_name, x.dtype());
}

}  // namespace tensorpod::internal::elementwise
