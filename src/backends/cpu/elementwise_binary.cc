// CPU kernels for the broadcasting elementwise ops: arithmetic, Pow, Mod,
// BitShift, comparisons, logical ops, Where and the variadic
// Sum/Max/Min/Mean.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "backends/cpu/elementwise_broadcast.h"
#include "backends/cpu/elementwise_kernels.h"
#include "backends/cpu/elementwise_ops.h"

namespace tensorpod::internal::elementwise {
namespace {

// ---------------------------------------------------------------------------
// Binary functors. operator() works on the compute type C of both inputs;
// ops with kHasArray also give an Eigen expression used for float and double.

struct AddOp {
  static constexpr bool kHasArray = true;
  template <typename C>
  C operator()(C a, C b) const {
    return static_cast<C>(a + b);
  }
  template <typename X, typename Y>
  static auto Array(const X& x, const Y& y) {
    return x + y;
  }
};

struct SubOp {
  static constexpr bool kHasArray = true;
  template <typename C>
  C operator()(C a, C b) const {
    return static_cast<C>(a - b);
  }
  template <typename X, typename Y>
  static auto Array(const X& x, const Y& y) {
    return x - y;
  }
};

struct MulOp {
  static constexpr bool kHasArray = true;
  template <typename C>
  C operator()(C a, C b) const {
    return static_cast<C>(a * b);
  }
  template <typename X, typename Y>
  static auto Array(const X& x, const Y& y) {
    return x * y;
  }
};

// Integer division truncates toward zero, as in C. A zero divisor is
// rejected before the loop runs (RunBinary); x / -1 is computed as a
// wrapping negation because INT_MIN / -1 traps on x86.
struct DivOp {
  static constexpr bool kHasArray = true;
  static constexpr bool kIntDivisor = true;
  template <typename C>
  C operator()(C a, C b) const {
    if constexpr (std::is_integral_v<C> && std::is_signed_v<C>) {
      using U = std::make_unsigned_t<C>;
      if (b == C(-1))
        return static_cast<C>(static_cast<U>(U(0) - static_cast<U>(a)));
    }
    return static_cast<C>(a / b);
  }
  template <typename X, typename Y>
  static auto Array(const X& x, const Y& y) {
    return x / y;
  }
};

// fmod = false: the remainder takes the divisor's sign (Python's %);
// fmod = true: the dividend's (C's fmod, the only mode for float types).
struct ModOp {
  static constexpr bool kHasArray = false;
  static constexpr bool kIntDivisor = true;
  bool fmod = false;
  template <typename C>
  C operator()(C a, C b) const {
    if constexpr (std::is_floating_point_v<C>) {
      return std::fmod(a, b);
    } else {
      if constexpr (std::is_signed_v<C>) {
        if (b == C(-1)) return C(0);  // INT_MIN % -1 traps on x86
      }
      C r = static_cast<C>(a % b);
      if constexpr (std::is_signed_v<C>) {
        if (!fmod && r != 0 && ((r < 0) != (b < 0))) r = static_cast<C>(r + b);
      }
      return r;
    }
  }
};

// Shifts of unsigned integers; shifting by the bit width or more gives 0.
struct BitShiftOp {
  static constexpr bool kHasArray = false;
  bool left = true;
  template <typename C>
  C operator()(C a, C b) const {
    if (b >= C(sizeof(C) * 8)) return C(0);
    return static_cast<C>(left ? a << b : a >> b);
  }
};

// Max and Min propagate NaN like numpy's maximum/minimum.
struct MaxOp {
  static constexpr bool kHasArray = false;
  template <typename C>
  C operator()(C a, C b) const {
    return (a > b || a != a) ? a : b;
  }
};

struct MinOp {
  static constexpr bool kHasArray = false;
  template <typename C>
  C operator()(C a, C b) const {
    return (a < b || a != a) ? a : b;
  }
};

struct EqualOp {
  static constexpr bool kHasArray = false;
  template <typename C>
  bool operator()(C a, C b) const {
    return a == b;
  }
};

struct LessOp {
  static constexpr bool kHasArray = false;
  template <typename C>
  bool operator()(C a, C b) const {
    return a < b;
  }
};

struct LessOrEqualOp {
  static constexpr bool kHasArray = false;
  template <typename C>
  bool operator()(C a, C b) const {
    return a <= b;
  }
};

struct GreaterOp {
  static constexpr bool kHasArray = false;
  template <typename C>
  bool operator()(C a, C b) const {
    return a > b;
  }
};

struct GreaterOrEqualOp {
  static constexpr bool kHasArray = false;
  template <typename C>
  bool operator()(C a, C b) const {
    return a >= b;
  }
};

struct AndOp {
  static constexpr bool kHasArray = false;
  bool operator()(bool a, bool b) const { return a && b; }
};

struct OrOp {
  static constexpr bool kHasArray = false;
  bool operator()(bool a, bool b) const { return a || b; }
};

struct XorOp {
  static constexpr bool kHasArray = false;
  bool operator()(bool a, bool b) const { return a != b; }
};

// Whether Op divides by its second input, so an integer 0 there must be
// rejected before the loop (it would trap).
template <typename Op, typename = void>
struct HasIntDivisor : std::false_type {};
template <typename Op>
struct HasIntDivisor<Op, std::void_t<decltype(Op::kIntDivisor)>>
    : std::bool_constant<Op::kIntDivisor> {};

// One run of n outputs; sa/sb are 1 where the input advances with the output
// and 0 where one value repeats.
template <typename Op, typename T, typename R>
void BinaryRow(const Op& op, const T* a, int64_t sa, const T* b, int64_t sb,
               R* y, int64_t n) {
  if constexpr (Op::kHasArray && std::is_floating_point_v<T> &&
                std::is_same_v<T, R>) {
    auto out = OutView(y, n);
    if (sa && sb) {
      out = Op::Array(InView(a, n), InView(b, n));
    } else if (sa) {
      out = Op::Array(InView(a, n), ArrayX<T>::Constant(n, *b));
    } else if (sb) {
      out = Op::Array(ArrayX<T>::Constant(n, *a), InView(b, n));
    } else {
      out.setConstant(op(*a, *b));
    }
  } else {
    using C = ComputeT<T>;
    if (sa && sb) {
      for (int64_t i = 0; i < n; ++i)
        y[i] = static_cast<R>(op(C(a[i]), C(b[i])));
    } else if (sa) {
      const C bv = C(*b);
      for (int64_t i = 0; i < n; ++i) y[i] = static_cast<R>(op(C(a[i]), bv));
    } else if (sb) {
      const C av = C(*a);
      for (int64_t i = 0; i < n; ++i) y[i] = static_cast<R>(op(av, C(b[i])));
    } else {
      std::fill(y, y + n, static_cast<R>(op(C(*a), C(*b))));
    }
  }
}

// Computes y = op(a, b) with a and b broadcast to y's shape. kBoolOut: the
// result is bool (comparisons) instead of the inputs' type. y may be a
// (accumulating variadic ops), since every element is read before it is
// written and a full-size input is never broadcast.
template <uint32_t kTypes, bool kBoolOut, typename Op>
Status RunBinary(const std::string& name, const Op& op, const Tensor& a,
                 const Tensor& b, Tensor* y, int threads) {
  TP_CHECK_ARG(a.dtype() == b.dtype(),
               name << ": inputs have different element types "
                    << DTypeName(a.dtype()) << " and " << DTypeName(b.dtype()));
  TP_INTERNAL_CHECK(
      y->dtype() == (kBoolOut ? DType::kBool : a.dtype()),
      name << " output has element type " << DTypeName(y->dtype()));
  BroadcastPlan plan;
  TP_RETURN_IF_ERROR(
      MakeBroadcastPlan(y->shape(), {&a.shape(), &b.shape()}, &plan));
  Status status;
  const bool handled = VisitDType<kTypes>(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    using R = std::conditional_t<kBoolOut, bool, T>;
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    if constexpr (HasIntDivisor<Op>::value && std::is_integral_v<T>) {
      if (std::find(pb, pb + b.num_elements(), T(0)) != pb + b.num_elements()) {
        status = TP_ERROR(kInvalidArgument,
                          name << ": integer division by zero (input 1 "
                                  "holds a 0)");
        return;
      }
    }
    R* py = y->data<R>();
    const int64_t sa = plan.inner_stride(0);
    const int64_t sb = plan.inner_stride(1);
    ForEachBroadcastRow(plan, threads, kParallelGrain,
                        [&](const int64_t* off, int64_t o, int64_t n) {
                          BinaryRow(op, pa + off[0], sa, pb + off[1], sb,
                                    py + o, n);
                        });
  });
  if (!handled) return UnsupportedType(name.c_str(), a.dtype());
  return status;
}

template <typename Op, uint32_t kTypes, bool kBoolOut>
class BinaryKernel final : public Kernel {
 public:
  BinaryKernel(std::string op_type, Op op)
      : op_type_(std::move(op_type)), op_(op) {}
  Status Compute(KernelContext& ctx) const override {
    TP_CHECK_ARG(ctx.has_input(0) && ctx.has_input(1),
                 op_type_ << " needs two inputs");
    return RunBinary<kTypes, kBoolOut>(
        op_type_, op_, ctx.input(0), ctx.input(1), &ctx.output(0), ctx.threads);
  }

 private:
  std::string op_type_;
  Op op_;
};

template <typename Op, uint32_t kTypes, bool kBoolOut = false>
StatusOr<std::unique_ptr<Kernel>> MakeBinary(const NodeDef& node) {
  return std::unique_ptr<Kernel>(
      new BinaryKernel<Op, kTypes, kBoolOut>(node.op_type, Op{}));
}

const Attributes& AttrsOf(const NodeDef& node) {
  static const Attributes kNone;
  return node.attrs ? *node.attrs : kNone;
}

StatusOr<std::unique_ptr<Kernel>> MakeMod(const NodeDef& node) {
  const bool fmod = AttrsOf(node).GetInt("fmod", 0) != 0;
  return std::unique_ptr<Kernel>(
      new BinaryKernel<ModOp, kNumericTypes, false>(node.op_type, ModOp{fmod}));
}

StatusOr<std::unique_ptr<Kernel>> MakeBitShift(const NodeDef& node) {
  const std::string direction = AttrsOf(node).GetString("direction", "");
  TP_CHECK_ARG(
      direction == "LEFT" || direction == "RIGHT",
      "BitShift: attribute direction must be \"LEFT\" or \"RIGHT\", got \""
          << direction << "\"");
  return std::unique_ptr<Kernel>(
      new BinaryKernel<BitShiftOp, kUnsignedIntTypes, false>(
          node.op_type, BitShiftOp{direction == "LEFT"}));
}

// ---------------------------------------------------------------------------
// Pow. The exponent may have another type than the base (opset 12+); the
// result has the base's type. An integer base with an integer exponent is
// computed exactly; with a float exponent in double, then truncated.

int64_t IntPow(int64_t base, int64_t exp) {
  if (exp < 0) {
    if (base == 1) return 1;
    if (base == -1) return (exp & 1) ? -1 : 1;
    return 0;  // |1 / base^exp| < 1 truncates to 0
  }
  // Unsigned arithmetic wraps instead of overflowing.
  uint64_t result = 1;
  uint64_t b = static_cast<uint64_t>(base);
  for (uint64_t e = static_cast<uint64_t>(exp); e != 0; e >>= 1) {
    if (e & 1) result *= b;
    b *= b;
  }
  return static_cast<int64_t>(result);
}

template <typename TB, typename TE>
TB PowValue(TB base, TE exp) {
  if constexpr (std::is_integral_v<TB>) {
    if constexpr (std::is_integral_v<TE>) {
      return static_cast<TB>(
          IntPow(static_cast<int64_t>(base), static_cast<int64_t>(exp)));
    } else {
      return SaturateFloatToInt<TB>(
          std::pow(static_cast<double>(base), ConvertValue<double>(exp)));
    }
  } else {
    using C = ComputeT<TB>;
    return static_cast<TB>(
        std::pow(static_cast<C>(base), ConvertValue<C>(exp)));
  }
}

// Eigen 3.4's vectorised pow is about 3x slower than the C library's, so the
// general case is a scalar loop; x^2 (decomposed LayerNorm, variance) is
// common enough to get its own exact path (x*x is what pow(x, 2) rounds to).
template <typename TB, typename TE>
void PowRow(const TB* a, int64_t sa, const TE* b, int64_t sb, TB* y,
            int64_t n) {
  if constexpr (std::is_same_v<TB, TE> && std::is_floating_point_v<TB>) {
    if (sa && !sb && *b == TB(2)) {
      OutView(y, n) = InView(a, n).square();
      return;
    }
  }
  for (int64_t i = 0; i < n; ++i) y[i] = PowValue(a[i * sa], b[i * sb]);
}

inline constexpr uint32_t kPowBaseTypes =
    kFloatTypes | Bit(DType::kI32) | Bit(DType::kI64);

class PowKernel final : public Kernel {
 public:
  Status Compute(KernelContext& ctx) const override {
    TP_CHECK_ARG(ctx.has_input(0) && ctx.has_input(1), "Pow needs two inputs");
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    Tensor& y = ctx.output(0);
    TP_INTERNAL_CHECK(y.dtype() == a.dtype(),
                      "Pow output has element type " << DTypeName(y.dtype()));
    BroadcastPlan plan;
    TP_RETURN_IF_ERROR(
        MakeBroadcastPlan(y.shape(), {&a.shape(), &b.shape()}, &plan));
    bool exp_handled = true;
    const bool base_handled =
        VisitDType<kPowBaseTypes>(a.dtype(), [&](auto base_tag) {
          using TB = typename decltype(base_tag)::type;
          exp_handled = VisitDType<kNumericTypes>(b.dtype(), [&](auto exp_tag) {
            using TE = typename decltype(exp_tag)::type;
            const TB* pa = a.data<TB>();
            const TE* pb = b.data<TE>();
            TB* py = y.data<TB>();
            const int64_t sa = plan.inner_stride(0);
            const int64_t sb = plan.inner_stride(1);
            ForEachBroadcastRow(plan, ctx.threads, kParallelGrain,
                                [&](const int64_t* off, int64_t o, int64_t n) {
                                  PowRow(pa + off[0], sa, pb + off[1], sb,
                                         py + o, n);
                                });
          });
        });
    if (!base_handled) return UnsupportedType("Pow (base)", a.dtype());
    if (!exp_handled) return UnsupportedType("Pow (exponent)", b.dtype());
    return Status::Ok();
  }
};

StatusOr<std::unique_ptr<Kernel>> MakePow(const NodeDef&) {
  return std::unique_ptr<Kernel>(new PowKernel());
}

// ---------------------------------------------------------------------------
// Where: only moves elements, so it dispatches on element size.

template <typename T>
void WhereRow(const bool* c, int64_t sc, const T* x, int64_t sx, const T* v,
              int64_t sv, T* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = c[i * sc] ? x[i * sx] : v[i * sv];
}

class WhereKernel final : public Kernel {
 public:
  Status Compute(KernelContext& ctx) const override {
    TP_CHECK_ARG(ctx.has_input(0) && ctx.has_input(1) && ctx.has_input(2),
                 "Where needs three inputs");
    const Tensor& c = ctx.input(0);
    const Tensor& x = ctx.input(1);
    const Tensor& v = ctx.input(2);
    Tensor& y = ctx.output(0);
    TP_CHECK_ARG(c.dtype() == DType::kBool,
                 "Where: condition must be bool, got " << DTypeName(c.dtype()));
    TP_CHECK_ARG(x.dtype() == v.dtype(),
                 "Where: X and Y have different element types "
                     << DTypeName(x.dtype()) << " and "
                     << DTypeName(v.dtype()));
    TP_INTERNAL_CHECK(y.dtype() == x.dtype(),
                      "Where output has element type " << DTypeName(y.dtype()));
    BroadcastPlan plan;
    TP_RETURN_IF_ERROR(MakeBroadcastPlan(
        y.shape(), {&c.shape(), &x.shape(), &v.shape()}, &plan));
    switch (DTypeSize(x.dtype())) {
      case 1:
        return Run<uint8_t>(plan, c, x, v, &y, ctx.threads);
      case 2:
        return Run<uint16_t>(plan, c, x, v, &y, ctx.threads);
      case 4:
        return Run<uint32_t>(plan, c, x, v, &y, ctx.threads);
      case 8:
        return Run<uint64_t>(plan, c, x, v, &y, ctx.threads);
      default:
        return UnsupportedType("Where", x.dtype());
    }
  }

 private:
  template <typename T>
  static Status Run(const BroadcastPlan& plan, const Tensor& c, const Tensor& x,
                    const Tensor& v, Tensor* y, int threads) {
    const bool* pc = c.data<bool>();
    const T* px = static_cast<const T*>(x.raw_data());
    const T* pv = static_cast<const T*>(v.raw_data());
    T* py = static_cast<T*>(y->raw_data());
    const int64_t sc = plan.inner_stride(0);
    const int64_t sx = plan.inner_stride(1);
    const int64_t sv = plan.inner_stride(2);
    ForEachBroadcastRow(plan, threads, kParallelGrain,
                        [&](const int64_t* off, int64_t o, int64_t n) {
                          WhereRow(pc + off[0], sc, px + off[1], sx,
                                   pv + off[2], sv, py + o, n);
                        });
    return Status::Ok();
  }
};

StatusOr<std::unique_ptr<Kernel>> MakeWhere(const NodeDef&) {
  return std::unique_ptr<Kernel>(new WhereKernel());
}

// ---------------------------------------------------------------------------
// Variadic Sum/Max/Min/Mean: y = in0 op in1, then y = y op in_k for the rest.

struct ScaleOp {
  static constexpr uint32_t kTypes = kFloatTypes;
  double scale = 1;
  template <typename S>
  void operator()(const S* x, S* y, int64_t n) const {
    OutView(y, n) = InView(x, n) * S(scale);
  }
};

template <typename Op, uint32_t kTypes, bool kMean>
class VariadicKernel final : public Kernel {
 public:
  explicit VariadicKernel(std::string op_type) : op_type_(std::move(op_type)) {}

  Status Compute(KernelContext& ctx) const override {
    std::vector<const Tensor*>::const_iterator it = ctx.inputs.begin();
    auto next_present = [&]() -> const Tensor* {
      while (it != ctx.inputs.end()) {
        const Tensor* t = *it++;
        if (t != nullptr) return t;
      }
      return nullptr;
    };
    const Tensor* first = next_present();
    TP_CHECK_ARG(first != nullptr, op_type_ << " needs at least one input");
    const Tensor* second = next_present();
    Tensor& y = ctx.output(0);
    if (second == nullptr) {
      // One input: the output is that input (its shape is the broadcast one).
      TP_CHECK_ARG(first->dtype() == y.dtype() && first->shape() == y.shape(),
                   op_type_ << ": output does not match the single input");
      if (!VisitDType<kTypes>(first->dtype(), [](auto) {})) {
        return UnsupportedType(op_type_.c_str(), first->dtype());
      }
      if (first->raw_data() != y.raw_data()) {
        std::memcpy(y.raw_data(), first->raw_data(), y.nbytes());
      }
      return Status::Ok();
    }
    TP_RETURN_IF_ERROR((RunBinary<kTypes, false>(op_type_, Op{}, *first,
                                                 *second, &y, ctx.threads)));
    int total = 2;
    for (const Tensor* t = next_present(); t != nullptr;
         t = next_present(), ++total) {
      TP_RETURN_IF_ERROR(
          (RunBinary<kTypes, false>(op_type_, Op{}, y, *t, &y, ctx.threads)));
    }
    if constexpr (kMean) {
      TP_RETURN_IF_ERROR(
          RunUnary(op_type_.c_str(), ScaleOp{1.0 / total}, y, &y, ctx.threads));
    }
    return Status::Ok();
  }

 private:
  std::string op_type_;
};

template <typename Op, uint32_t kTypes, bool kMean = false>
StatusOr<std::unique_ptr<Kernel>> MakeVariadic(const NodeDef& node) {
  return std::unique_ptr<Kernel>(
      new VariadicKernel<Op, kTypes, kMean>(node.op_type));
}

}  // namespace

void RegisterBinaryKernels(KernelRegistry* r) {
  constexpr uint32_t kBool = Bit(DType::kBool);
  r->Add("Add", MakeBinary<AddOp, kNumericTypes>);
  r->Add("Sub", MakeBinary<SubOp, kNumericTypes>);
  r->Add("Mul", MakeBinary<MulOp, kNumericTypes>);
  r->Add("Div", MakeBinary<DivOp, kNumericTypes>);
  r->Add("Pow", MakePow);
  r->Add("Mod", MakeMod);
  r->Add("BitShift", MakeBitShift);
  r->Add("Equal", MakeBinary<EqualOp, kAllTypes, true>);
  r->Add("Less", MakeBinary<LessOp, kNumericTypes, true>);
  r->Add("LessOrEqual", MakeBinary<LessOrEqualOp, kNumericTypes, true>);
  r->Add("Greater", MakeBinary<GreaterOp, kNumericTypes, true>);
  r->Add("GreaterOrEqual", MakeBinary<GreaterOrEqualOp, kNumericTypes, true>);
  r->Add("And", MakeBinary<AndOp, kBool>);
  r->Add("Or", MakeBinary<OrOp, kBool>);
  r->Add("Xor", MakeBinary<XorOp, kBool>);
  r->Add("Where", MakeWhere);
  r->Add("Sum", MakeVariadic<AddOp, kNumericTypes>);
  r->Add("Max", MakeVariadic<MaxOp, kNumericTypes>);
  r->Add("Min", MakeVariadic<MinOp, kNumericTypes>);
  r->Add("Mean", MakeVariadic<AddOp, kFloatTypes, true>);
}

}  // namespace tensorpod::internal::elementwise
