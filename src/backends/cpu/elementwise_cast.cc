// CPU kernels that convert or pass values through: Cast, CastLike, Identity
// and Dropout (inference only).
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>

#include "backends/cpu/elementwise_kernels.h"
#include "backends/cpu/elementwise_ops.h"

namespace tensorpod::internal::elementwise {
namespace {

// double -> float16/bfloat16 in one rounding. Rounding to float toward zero
// and keeping "inexact" in the last bit ("round to odd") and then rounding to
// the 16-bit type gives the correctly rounded result, where two
// round-to-nearest steps could land one unit off.
float DoubleToFloatRoundToOdd(double x) {
  float f = static_cast<float>(x);
  if (!std::isfinite(x) || static_cast<double>(f) == x) return f;
  if (std::fabs(static_cast<double>(f)) > std::fabs(x))
    f = std::nextafter(f, 0.0f);
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  bits |= 1u;
  std::memcpy(&f, &bits, sizeof(bits));
  return f;
}

template <typename To, typename From>
To CastValue(From x) {
  if constexpr (kIsHalfLike<To> && std::is_same_v<From, double>) {
    return static_cast<To>(DoubleToFloatRoundToOdd(x));
  } else {
    return ConvertValue<To>(x);
  }
}

// Converts x into y's element type (all pairs of supported types).
Status CastTensor(const char* op, const Tensor& x, Tensor* y, int threads) {
  TP_INTERNAL_CHECK(x.num_elements() == y->num_elements(),
                    op << " output has " << y->num_elements()
                       << " elements, input " << x.num_elements());
  if (x.dtype() == y->dtype()) {
    if (x.raw_data() != y->raw_data())
      std::memcpy(y->raw_data(), x.raw_data(), x.nbytes());
    return Status::Ok();
  }
  bool to_handled = true;
  const bool from_handled =
      VisitDType<kAllTypes>(x.dtype(), [&](auto from_tag) {
        using From = typename decltype(from_tag)::type;
        to_handled = VisitDType<kAllTypes>(y->dtype(), [&](auto to_tag) {
          using To = typename decltype(to_tag)::type;
          const From* in = x.data<From>();
          To* out = y->data<To>();
          ParallelFor(x.num_elements(), threads, kParallelGrain,
                      [&](int64_t b, int64_t e) {
                        for (int64_t i = b; i < e; ++i)
                          out[i] = CastValue<To>(in[i]);
                      });
        });
      });
  if (!from_handled) return UnsupportedType(op, x.dtype());
  if (!to_handled) return UnsupportedType(op, y->dtype());
  return Status::Ok();
}

// Cast and CastLike: the target type is the output's (shape inference set
// it from "to" or from CastLike's second input).
class CastKernel final : public Kernel {
 public:
  explicit CastKernel(std::string op_type) : op_type_(std::move(op_type)) {}
  Status Compute(KernelContext& ctx) const override {
    return CastTensor(op_type_.c_str(), ctx.input(0), &ctx.output(0),
                      ctx.threads);
  }

 private:
  std::string op_type_;
};

StatusOr<std::unique_ptr<Kernel>> MakeCast(const NodeDef& node) {
  return std::unique_ptr<Kernel>(new CastKernel(node.op_type));
}

Status CopyTensor(const Tensor& x, Tensor* y) {
  TP_INTERNAL_CHECK(
      x.dtype() == y->dtype() && x.num_elements() == y->num_elements(),
      "copy of " << DTypeName(x.dtype()) << ShapeToString(x.shape()) << " into "
                 << DTypeName(y->dtype()) << ShapeToString(y->shape()));
  if (x.raw_data() != y->raw_data())
    std::memcpy(y->raw_data(), x.raw_data(), x.nbytes());
  return Status::Ok();
}

class IdentityKernel final : public Kernel {
 public:
  Status Compute(KernelContext& ctx) const override {
    return CopyTensor(ctx.input(0), &ctx.output(0));
  }
};

StatusOr<std::unique_ptr<Kernel>> MakeIdentity(const NodeDef&) {
  return std::unique_ptr<Kernel>(new IdentityKernel());
}

// Dropout at inference: the output is the input and the optional mask is all
// true (opset 10+: bool; before: ones of the input's type). training_mode
// (input 2, opset 12+) set to true would need random masks: UNIMPLEMENTED.
Status RejectTraining(const Tensor* training_mode) {
  if (training_mode == nullptr || training_mode->num_elements() == 0)
    return Status::Ok();
  if (training_mode->GetAsDouble(0) != 0) {
    return TP_ERROR(kUnimplemented,
                    "Dropout with training_mode=true is not supported "
                    "(tensorpod runs inference only)");
  }
  return Status::Ok();
}

class DropoutKernel final : public Kernel {
 public:
  Status Compute(KernelContext& ctx) const override {
    TP_RETURN_IF_ERROR(
        RejectTraining(ctx.has_input(2) ? &ctx.input(2) : nullptr));
    TP_RETURN_IF_ERROR(CopyTensor(ctx.input(0), &ctx.output(0)));
    if (ctx.outputs.size() < 2 || ctx.outputs[1] == nullptr)
      return Status::Ok();
    Tensor& mask = ctx.output(1);
    const bool handled = VisitDType<kAllTypes>(mask.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* m = mask.data<T>();
      std::fill(m, m + mask.num_elements(), ConvertValue<T>(true));
    });
    return handled ? Status::Ok()
                   : UnsupportedType("Dropout (mask)", mask.dtype());
  }
};

StatusOr<std::unique_ptr<Kernel>> MakeDropout(const NodeDef& node) {
  if (node.constant_inputs.size() > 2) {
    TP_RETURN_IF_ERROR(RejectTraining(node.constant_inputs[2]));
  }
  return std::unique_ptr<Kernel>(new DropoutKernel());
}

}  // namespace

void RegisterCastKernels(KernelRegistry* r) {
  r->Add("Cast", MakeCast);
  r->Add("CastLike", MakeCast);
  r->Add("Identity", MakeIdentity);
  r->Add("Dropout", MakeDropout);
}

}  // namespace tensorpod::internal::elementwise
