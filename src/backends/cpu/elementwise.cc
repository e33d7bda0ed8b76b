// CPU kernels for the unary elementwise ops, and the family's kernel table.
// Float32 runs through Eigen's vectorised array functions; float16 and
// bfloat16 are widened to float in blocks; integer types (where an op allows
// them) use the same Eigen expressions on their own type.
#include <cmath>
#include <memory>
#include <string>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/elementwise_kernels.h"
#include "backends/cpu/elementwise_ops.h"

namespace tensorpod::internal {
namespace elementwise {
namespace {

const Attributes& AttrsOf(const NodeDef& node) {
  static const Attributes kNone;
  return node.attrs ? *node.attrs : kNone;
}

template <typename Op>
class UnaryKernel final : public Kernel {
 public:
  UnaryKernel(std::string op_type, Op op)
      : op_type_(std::move(op_type)), op_(op) {}
  Status Compute(KernelContext& ctx) const override {
    return RunUnary(op_type_.c_str(), op_, ctx.input(0), &ctx.output(0),
                    ctx.threads);
  }

 private:
  std::string op_type_;
  Op op_;
};

template <typename Op>
StatusOr<std::unique_ptr<Kernel>> MakeUnary(const NodeDef& node, Op op) {
  return std::unique_ptr<Kernel>(new UnaryKernel<Op>(node.op_type, op));
}

template <typename Op>
StatusOr<std::unique_ptr<Kernel>> MakeSimpleUnary(const NodeDef& node) {
  return MakeUnary(node, Op{});
}

StatusOr<std::unique_ptr<Kernel>> MakeLeakyRelu(const NodeDef& node) {
  return MakeUnary(node, LeakyReluOp{AttrsOf(node).GetFloat("alpha", 0.01f)});
}

StatusOr<std::unique_ptr<Kernel>> MakeHardSigmoid(const NodeDef& node) {
  const Attributes& attrs = AttrsOf(node);
  return MakeUnary(node, HardSigmoidOp{attrs.GetFloat("alpha", 0.2f),
                                       attrs.GetFloat("beta", 0.5f)});
}

StatusOr<std::unique_ptr<Kernel>> MakeGelu(const NodeDef& node) {
  const std::string approximate =
      AttrsOf(node).GetString("approximate", "none");
  TP_CHECK_ARG(
      approximate == "none" || approximate == "tanh",
      "Gelu: attribute approximate must be \"none\" or \"tanh\", got \""
          << approximate << "\"");
  return MakeUnary(node, GeluOp{approximate == "tanh"});
}

StatusOr<std::unique_ptr<Kernel>> MakeElu(const NodeDef& node) {
  return MakeUnary(node, EluOp{AttrsOf(node).GetFloat("alpha", 1.0f)});
}

StatusOr<std::unique_ptr<Kernel>> MakeSelu(const NodeDef& node) {
  const Attributes& attrs = AttrsOf(node);
  SeluOp op;
  op.alpha = attrs.GetFloat("alpha", op.alpha);
  op.gamma = attrs.GetFloat("gamma", op.gamma);
  return MakeUnary(node, op);
}

StatusOr<std::unique_ptr<Kernel>> MakeCelu(const NodeDef& node) {
  const float alpha = AttrsOf(node).GetFloat("alpha", 1.0f);
  TP_CHECK_ARG(alpha != 0, "Celu: attribute alpha must not be 0");
  return MakeUnary(node, CeluOp{alpha});
}

StatusOr<std::unique_ptr<Kernel>> MakeThresholdedRelu(const NodeDef& node) {
  return MakeUnary(node,
                   ThresholdedReluOp{AttrsOf(node).GetFloat("alpha", 1.0f)});
}

StatusOr<std::unique_ptr<Kernel>> MakeShrink(const NodeDef& node) {
  const Attributes& attrs = AttrsOf(node);
  return MakeUnary(node, ShrinkOp{attrs.GetFloat("bias", 0.0f),
                                  attrs.GetFloat("lambd", 0.5f)});
}

// IsNaN and IsInf: float types in, bool out.
class FloatClassKernel final : public Kernel {
 public:
  // nan: IsNaN; otherwise IsInf detecting the infinities whose flag is set.
  FloatClassKernel(bool nan, bool negative, bool positive)
      : nan_(nan), negative_(negative), positive_(positive) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    TP_INTERNAL_CHECK(
        y.dtype() == DType::kBool && y.num_elements() == x.num_elements(),
        "IsNaN/IsInf output does not match its input");
    const bool handled = VisitDType<kFloatTypes>(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* in = x.data<T>();
      bool* out = y.data<bool>();
      ParallelFor(x.num_elements(), ctx.threads, kParallelGrain,
                  [&](int64_t b, int64_t e) {
                    for (int64_t i = b; i < e; ++i) {
                      const auto v = static_cast<ComputeT<T>>(in[i]);
                      out[i] = nan_ ? std::isnan(v)
                                    : std::isinf(v) &&
                                          (v > 0 ? positive_ : negative_);
                    }
                  });
    });
    return handled ? Status::Ok()
                   : UnsupportedType(nan_ ? "IsNaN" : "IsInf", x.dtype());
  }

 private:
  bool nan_;
  bool negative_;
  bool positive_;
};

StatusOr<std::unique_ptr<Kernel>> MakeIsNaN(const NodeDef&) {
  return std::unique_ptr<Kernel>(new FloatClassKernel(true, false, false));
}

StatusOr<std::unique_ptr<Kernel>> MakeIsInf(const NodeDef& node) {
  const Attributes& attrs = AttrsOf(node);
  return std::unique_ptr<Kernel>(
      new FloatClassKernel(false, attrs.GetInt("detect_negative", 1) != 0,
                           attrs.GetInt("detect_positive", 1) != 0));
}

struct NotOp {
  static constexpr uint32_t kTypes = Bit(DType::kBool);
  void operator()(const bool* x, bool* y, int64_t n) const {
    for (int64_t i = 0; i < n; ++i) y[i] = !x[i];
  }
};

// Clip takes its bounds from attributes before opset 11 and from optional
// scalar inputs (of the input's type) from opset 11 on.
class ClipKernel final : public Kernel {
 public:
  ClipKernel(int opset, const Attributes& attrs)
      : bounds_from_inputs_(opset >= 11),
        attr_min_(attrs.GetFloat("min", ClipOp<float>::kLowest)),
        attr_max_(attrs.GetFloat("max", ClipOp<float>::kHighest)) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    TP_INTERNAL_CHECK(
        y.dtype() == x.dtype() && y.num_elements() == x.num_elements(),
        "Clip output does not match its input");
    Status status;
    const bool handled = VisitDType<kNumericTypes>(x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      using S = ComputeT<T>;
      ClipOp<S> op;
      if (!bounds_from_inputs_) {
        op.lo = static_cast<S>(attr_min_);
        op.hi = static_cast<S>(attr_max_);
      } else {
        status = ReadBound<T>(ctx, 1, "min", &op.lo);
        if (status.ok()) status = ReadBound<T>(ctx, 2, "max", &op.hi);
        if (!status.ok()) return;
      }
      RunUnaryTyped<T>(op, x.data<T>(), y.data<T>(), x.num_elements(),
                       ctx.threads);
    });
    if (!handled) return UnsupportedType("Clip", x.dtype());
    return status;
  }

 private:
  // Leaves *bound unchanged when the input is omitted.
  template <typename T, typename S>
  static Status ReadBound(const KernelContext& ctx, int i, const char* name,
                          S* bound) {
    if (!ctx.has_input(i)) return Status::Ok();
    const Tensor& t = ctx.input(i);
    TP_CHECK_ARG(t.dtype() == ctx.input(0).dtype(),
                 "Clip: input " << name << " has element type "
                                << DTypeName(t.dtype()) << ", expected "
                                << DTypeName(ctx.input(0).dtype()));
    TP_CHECK_ARG(t.num_elements() == 1,
                 "Clip: input " << name << " must be a scalar, got shape "
                                << ShapeToString(t.shape()));
    *bound = static_cast<S>(t.data<T>()[0]);
    return Status::Ok();
  }

  bool bounds_from_inputs_;
  float attr_min_;
  float attr_max_;
};

StatusOr<std::unique_ptr<Kernel>> MakeClip(const NodeDef& node) {
  return std::unique_ptr<Kernel>(new ClipKernel(node.opset, AttrsOf(node)));
}

}  // namespace
}  // namespace elementwise

void RegisterElementwiseKernels(KernelRegistry* r) {
  // The table below names this family's functors.
  using namespace elementwise;  // NOLINT(build/namespaces)
  r->Add("Sqrt", MakeSimpleUnary<SqrtOp>);
  r->Add("Exp", MakeSimpleUnary<ExpOp>);
  r->Add("Log", MakeSimpleUnary<LogOp>);
  r->Add("Erf", MakeSimpleUnary<ErfOp>);
  r->Add("Tanh", MakeSimpleUnary<TanhOp>);
  r->Add("Sigmoid", MakeSimpleUnary<SigmoidOp>);
  r->Add("Reciprocal", MakeSimpleUnary<ReciprocalOp>);
  r->Add("Floor", MakeSimpleUnary<FloorOp>);
  r->Add("Ceil", MakeSimpleUnary<CeilOp>);
  r->Add("Softplus", MakeSimpleUnary<SoftplusOp>);
  r->Add("Neg", MakeSimpleUnary<NegOp>);
  r->Add("Abs", MakeSimpleUnary<AbsOp>);
  r->Add("Relu", MakeSimpleUnary<ReluOp>);
  r->Add("Not", MakeSimpleUnary<NotOp>);
  r->Add("Round", MakeSimpleUnary<RoundOp>);
  r->Add("Sign", MakeSimpleUnary<SignOp>);
  r->Add("Sin", MakeSimpleUnary<SinOp>);
  r->Add("Cos", MakeSimpleUnary<CosOp>);
  r->Add("Tan", MakeSimpleUnary<TanOp>);
  r->Add("Asin", MakeSimpleUnary<AsinOp>);
  r->Add("Acos", MakeSimpleUnary<AcosOp>);
  r->Add("Atan", MakeSimpleUnary<AtanOp>);
  r->Add("Sinh", MakeSimpleUnary<SinhOp>);
  r->Add("Cosh", MakeSimpleUnary<CoshOp>);
  r->Add("Asinh", MakeSimpleUnary<AsinhOp>);
  r->Add("Acosh", MakeSimpleUnary<AcoshOp>);
  r->Add("Atanh", MakeSimpleUnary<AtanhOp>);
  r->Add("Softsign", MakeSimpleUnary<SoftsignOp>);
  r->Add("HardSwish", MakeSimpleUnary<HardSwishOp>);
  r->Add("Elu", MakeElu);
  r->Add("Selu", MakeSelu);
  r->Add("Celu", MakeCelu);
  r->Add("ThresholdedRelu", MakeThresholdedRelu);
  r->Add("Shrink", MakeShrink);
  r->Add("IsNaN", MakeIsNaN);
  r->Add("IsInf", MakeIsInf);
  r->Add("LeakyRelu", MakeLeakyRelu);
  r->Add("HardSigmoid", MakeHardSigmoid);
  r->Add("Gelu", MakeGelu);
  r->Add("Clip", MakeClip);
  RegisterBinaryKernels(r);
  RegisterCastKernels(r);
}

}  // namespace tensorpod::internal
