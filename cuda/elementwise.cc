// CUDA elementwise kernels: host code (validation, attribute parsing, dtype
// dispatch); launchers in kernels/elementwise.cu. Semantics follow the CPU
// kernels (src/backends/cpu/elementwise*.cc), except that an integer
// division or modulo by zero gives 0 instead of an error (a kernel cannot
// report it without reading device memory back).
#include "kernels/elementwise.cuh"

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "activation.h"
#include "cuda_common.h"
#include "cuda_kernels.h"

namespace tensorpod::internal {
namespace {

constexpr uint32_t Bit(DType t) { return 1u << static_cast<int>(t); }

constexpr uint32_t kFloatTypes =
    Bit(DType::kF32) | Bit(DType::kF16) | Bit(DType::kBF16);
constexpr uint32_t kIntTypes = Bit(DType::kI32) | Bit(DType::kI64);
constexpr uint32_t kNumericTypes = kFloatTypes | kIntTypes;
constexpr uint32_t kBoolType = Bit(DType::kBool);
constexpr uint32_t kCastTypes = kNumericTypes | kBoolType | Bit(DType::kF64) |
                                Bit(DType::kI8) | Bit(DType::kU8);

bool InMask(DType t, uint32_t mask) { return (mask & Bit(t)) != 0; }

// Predicates accept an element type not known at load.
bool Accepts(DType t, uint32_t mask) {
  return t == DType::kUndefined || InMask(t, mask);
}

// The launchers' EwDType for a type in kCastTypes; -1 for any other.
int EwTypeOf(DType t) {
  switch (t) {
    case DType::kF32:
      return kEwF32;
    case DType::kF16:
      return kEwF16;
    case DType::kBF16:
      return kEwBF16;
    case DType::kF64:
      return kEwF64;
    case DType::kI64:
      return kEwI64;
    case DType::kI32:
      return kEwI32;
    case DType::kI8:
      return kEwI8;
    case DType::kU8:
      return kEwU8;
    case DType::kBool:
      return kEwBool;
    default:
      return -1;
  }
}

const Attributes& AttrsOf(const NodeDef& node) {
  static const Attributes kNone;
  return node.attrs ? *node.attrs : kNone;
}

// `Add node "name"`, for messages.
std::string Describe(const NodeDef& node) {
  return node.op_type + " node \"" + node.name + "\"";
}

Status UnsupportedType(const std::string& what, DType t) {
  return TP_ERROR(kUnimplemented, "CUDA " << what << ": element type "
                                          << DTypeName(t)
                                          << " is not supported");
}

// Predicate: every input's type (where known) is in kMask.
template <uint32_t kMask>
bool InputsIn(const NodeDef& node) {
  for (DType t : node.input_dtypes) {
    if (!Accepts(t, kMask)) return false;
  }
  return true;
}

// Predicate: every known input type is in kMask, and they are all equal.
template <uint32_t kMask>
bool SameInputsIn(const NodeDef& node) {
  DType seen = DType::kUndefined;
  for (DType t : node.input_dtypes) {
    if (t == DType::kUndefined) continue;
    if (!InMask(t, kMask) || (seen != DType::kUndefined && t != seen))
      return false;
    seen = t;
  }
  return true;
}

Status BuildLayout(const std::string& what, const Shape& out,
                   std::initializer_list<const Shape*> inputs,
                   EwLayout* layout) {
  const int64_t* dims[3] = {};
  int ranks[3] = {};
  int k = 0;
  for (const Shape* s : inputs) {
    dims[k] = s->data();
    ranks[k] = static_cast<int>(s->size());
    ++k;
  }
  if (!MakeEwLayout(out.data(), static_cast<int>(out.size()), k, dims, ranks,
                    layout)) {
    std::string shapes;
    for (const Shape* s : inputs)
      shapes += (shapes.empty() ? "" : ", ") + ShapeToString(*s);
    return TP_ERROR(kUnimplemented,
                    "CUDA " << what << ": inputs of shapes " << shapes
                            << " and output " << ShapeToString(out)
                            << " do not broadcast, or keep more than "
                            << kEwMaxRank << " dimensions after merging");
  }
  return Status::Ok();
}

Status CopyDeviceTensor(const Tensor& x, Tensor* y, cudaStream_t stream) {
  if (x.raw_data() == y->raw_data() || x.nbytes() == 0) return Status::Ok();
  TP_CUDA_CHECK(cudaMemcpyAsync(y->raw_data(), x.raw_data(), x.nbytes(),
                                cudaMemcpyDeviceToDevice, stream));
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Unary ops.

class UnaryKernel final : public Kernel {
 public:
  UnaryKernel(const NodeDef& node, int op, uint32_t types, float alpha,
              float beta)
      : what_(Describe(node)),
        op_(op),
        types_(types),
        alpha_(alpha),
        beta_(beta) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    if (!InMask(x.dtype(), types_)) return UnsupportedType(what_, x.dtype());
    TP_INTERNAL_CHECK(
        y.dtype() == x.dtype() && y.num_elements() == x.num_elements(),
        what_ << ": output does not match its input");
    if (x.num_elements() == 0) return Status::Ok();
    TP_ASSIGN_OR_RETURN(CudaStream * stream, StreamOf(ctx));
    TP_CUDA_CHECK(LaunchEwUnary(op_, EwTypeOf(x.dtype()), x.raw_data(),
                                y.raw_data(), x.num_elements(), alpha_, beta_,
                                stream->get()));
    return Status::Ok();
  }

 private:
  std::string what_;
  int op_;
  uint32_t types_;
  float alpha_;
  float beta_;
};

StatusOr<std::unique_ptr<Kernel>> NewUnary(const NodeDef& node, int op,
                                           uint32_t types, float alpha = 0.0f,
                                           float beta = 0.0f) {
  return std::unique_ptr<Kernel>(new UnaryKernel(node, op, types, alpha, beta));
}

template <int kOp, uint32_t kTypes>
StatusOr<std::unique_ptr<Kernel>> MakeUnary(const NodeDef& node) {
  return NewUnary(node, kOp, kTypes);
}

StatusOr<std::unique_ptr<Kernel>> MakeLeakyRelu(const NodeDef& node) {
  return NewUnary(node, kEwLeakyRelu, kFloatTypes,
                  AttrsOf(node).GetFloat("alpha", 0.01f));
}

StatusOr<std::unique_ptr<Kernel>> MakeHardSigmoid(const NodeDef& node) {
  const Attributes& attrs = AttrsOf(node);
  return NewUnary(node, kEwHardSigmoid, kFloatTypes,
                  attrs.GetFloat("alpha", 0.2f), attrs.GetFloat("beta", 0.5f));
}

StatusOr<std::unique_ptr<Kernel>> MakeElu(const NodeDef& node) {
  return NewUnary(node, kEwElu, kFloatTypes,
                  AttrsOf(node).GetFloat("alpha", 1.0f));
}

StatusOr<std::unique_ptr<Kernel>> MakeSelu(const NodeDef& node) {
  const Attributes& attrs = AttrsOf(node);
  return NewUnary(node, kEwSelu, kFloatTypes,
                  attrs.GetFloat("alpha", 1.67326319217681884765625f),
                  attrs.GetFloat("gamma", 1.05070102214813232421875f));
}

StatusOr<std::unique_ptr<Kernel>> MakeCelu(const NodeDef& node) {
  const float alpha = AttrsOf(node).GetFloat("alpha", 1.0f);
  TP_CHECK_ARG(alpha != 0, Describe(node) << ": attribute alpha must not be 0");
  return NewUnary(node, kEwCelu, kFloatTypes, alpha);
}

StatusOr<std::unique_ptr<Kernel>> MakeThresholdedRelu(const NodeDef& node) {
  return NewUnary(node, kEwThresholdedRelu, kFloatTypes,
                  AttrsOf(node).GetFloat("alpha", 1.0f));
}

StatusOr<std::unique_ptr<Kernel>> MakeShrink(const NodeDef& node) {
  const Attributes& attrs = AttrsOf(node);
  return NewUnary(node, kEwShrink, kFloatTypes, attrs.GetFloat("bias", 0.0f),
                  attrs.GetFloat("lambd", 0.5f));
}

StatusOr<std::unique_ptr<Kernel>> MakeGelu(const NodeDef& node) {
  const std::string approximate =
      AttrsOf(node).GetString("approximate", "none");
  TP_CHECK_ARG(
      approximate == "none" || approximate == "tanh",
      Describe(node)
          << ": attribute approximate must be \"none\" or \"tanh\", got \""
          << approximate << "\"");
  return NewUnary(node, approximate == "tanh" ? kEwGeluTanh : kEwGelu,
                  kFloatTypes);
}

// Clip's bounds are attributes before opset 11 (float types only) and
// optional scalar inputs of the input's type from opset 11 on, read by the
// kernel itself.
class ClipKernel final : public Kernel {
 public:
  explicit ClipKernel(const NodeDef& node)
      : what_(Describe(node)),
        bounds_from_inputs_(node.opset >= 11),
        attr_min_(AttrsOf(node).GetFloat(
            "min", -std::numeric_limits<float>::infinity())),
        attr_max_(AttrsOf(node).GetFloat(
            "max", std::numeric_limits<float>::infinity())) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    if (!InMask(x.dtype(), bounds_from_inputs_ ? kNumericTypes : kFloatTypes)) {
      return UnsupportedType(what_, x.dtype());
    }
    TP_INTERNAL_CHECK(
        y.dtype() == x.dtype() && y.num_elements() == x.num_elements(),
        what_ << ": output does not match its input");
    const void* bounds[2] = {nullptr, nullptr};
    if (bounds_from_inputs_) {
      for (int i = 1; i <= 2; ++i) {
        if (!ctx.has_input(i)) continue;
        const Tensor& t = ctx.input(i);
        const char* name = i == 1 ? "min" : "max";
        TP_CHECK_ARG(t.dtype() == x.dtype(),
                     what_ << ": input " << name << " has element type "
                           << DTypeName(t.dtype()) << ", expected "
                           << DTypeName(x.dtype()));
        TP_CHECK_ARG(t.num_elements() == 1,
                     what_ << ": input " << name
                           << " must be a scalar, got shape "
                           << ShapeToString(t.shape()));
        bounds[i - 1] = t.raw_data();
      }
    }
    if (x.num_elements() == 0) return Status::Ok();
    const float inf = std::numeric_limits<float>::infinity();
    TP_ASSIGN_OR_RETURN(CudaStream * stream, StreamOf(ctx));
    TP_CUDA_CHECK(LaunchEwClip(
        EwTypeOf(x.dtype()), x.raw_data(), y.raw_data(), x.num_elements(),
        bounds[0], bounds[1], bounds_from_inputs_ ? -inf : attr_min_,
        bounds_from_inputs_ ? inf : attr_max_, stream->get()));
    return Status::Ok();
  }

 private:
  std::string what_;
  bool bounds_from_inputs_;
  float attr_min_;
  float attr_max_;
};

StatusOr<std::unique_ptr<Kernel>> MakeClip(const NodeDef& node) {
  return std::unique_ptr<Kernel>(new ClipKernel(node));
}

bool SupportsClip(const NodeDef& node) {
  return node.opset >= 11 ? InputsIn<kNumericTypes>(node)
                          : InputsIn<kFloatTypes>(node);
}

// IsNaN and IsInf: float types in, bool out.
class FloatClassKernel final : public Kernel {
 public:
  FloatClassKernel(const NodeDef& node, bool nan, bool negative, bool positive)
      : what_(Describe(node)),
        nan_(nan),
        negative_(negative),
        positive_(positive) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    if (!InMask(x.dtype(), kFloatTypes))
      return UnsupportedType(what_, x.dtype());
    TP_INTERNAL_CHECK(
        y.dtype() == DType::kBool && y.num_elements() == x.num_elements(),
        what_ << ": output does not match its input");
    if (x.num_elements() == 0) return Status::Ok();
    TP_ASSIGN_OR_RETURN(CudaStream * stream, StreamOf(ctx));
    TP_CUDA_CHECK(LaunchEwFloatClass(EwTypeOf(x.dtype()), x.raw_data(),
                                     y.data<bool>(), x.num_elements(), nan_,
                                     negative_, positive_, stream->get()));
    return Status::Ok();
  }

 private:
  std::string what_;
  bool nan_;
  bool negative_;
  bool positive_;
};

StatusOr<std::unique_ptr<Kernel>> MakeIsNaN(const NodeDef& node) {
  return std::unique_ptr<Kernel>(
      new FloatClassKernel(node, true, false, false));
}

StatusOr<std::unique_ptr<Kernel>> MakeIsInf(const NodeDef& node) {
  const Attributes& attrs = AttrsOf(node);
  return std::unique_ptr<Kernel>(
      new FloatClassKernel(node, false, attrs.GetInt("detect_negative", 1) != 0,
                           attrs.GetInt("detect_positive", 1) != 0));
}

class NotKernel final : public Kernel {
 public:
  explicit NotKernel(const NodeDef& node) : what_(Describe(node)) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    if (x.dtype() != DType::kBool) return UnsupportedType(what_, x.dtype());
    TP_INTERNAL_CHECK(
        y.dtype() == DType::kBool && y.num_elements() == x.num_elements(),
        what_ << ": output does not match its input");
    if (x.num_elements() == 0) return Status::Ok();
    TP_ASSIGN_OR_RETURN(CudaStream * stream, StreamOf(ctx));
    TP_CUDA_CHECK(LaunchEwNot(x.data<bool>(), y.data<bool>(), x.num_elements(),
                              stream->get()));
    return Status::Ok();
  }

 private:
  std::string what_;
};

StatusOr<std::unique_ptr<Kernel>> MakeNot(const NodeDef& node) {
  return std::unique_ptr<Kernel>(new NotKernel(node));
}

// ---------------------------------------------------------------------------
// Broadcasting binary ops.

Status LaunchBinary(const std::string& what, int op, const Tensor& a,
                    const Tensor& b, Tensor* y, cudaStream_t stream) {
  EwLayout layout;
  TP_RETURN_IF_ERROR(
      BuildLayout(what, y->shape(), {&a.shape(), &b.shape()}, &layout));
  TP_CUDA_CHECK(LaunchEwBinary(op, EwTypeOf(a.dtype()), layout, a.raw_data(),
                               b.raw_data(), y->raw_data(), stream));
  return Status::Ok();
}

// Both inputs of one type in `types`; float types run float_op, the others
// int_op (they differ only for Mod).
class BinaryKernel final : public Kernel {
 public:
  BinaryKernel(const NodeDef& node, int float_op, int int_op, uint32_t types,
               bool bool_out)
      : what_(Describe(node)),
        float_op_(float_op),
        int_op_(int_op),
        types_(types),
        bool_out_(bool_out) {}

  Status Compute(KernelContext& ctx) const override {
    TP_CHECK_ARG(ctx.has_input(0) && ctx.has_input(1),
                 what_ << " needs two inputs");
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    Tensor& y = ctx.output(0);
    if (a.dtype() != b.dtype()) {
      return TP_ERROR(kUnimplemented,
                      "CUDA " << what_ << ": inputs of element types "
                              << DTypeName(a.dtype()) << " and "
                              << DTypeName(b.dtype())
                              << " (only equal types are supported)");
    }
    if (!InMask(a.dtype(), types_)) return UnsupportedType(what_, a.dtype());
    TP_INTERNAL_CHECK(
        y.dtype() == (bool_out_ ? DType::kBool : a.dtype()),
        what_ << ": output has element type " << DTypeName(y.dtype()));
    if (y.num_elements() == 0) return Status::Ok();
    TP_ASSIGN_OR_RETURN(CudaStream * stream, StreamOf(ctx));
    const int op = IsFloatingPoint(a.dtype()) ? float_op_ : int_op_;
    return LaunchBinary(what_, op, a, b, &y, stream->get());
  }

 private:
  std::string what_;
  int float_op_;
  int int_op_;
  uint32_t types_;
  bool bool_out_;
};

template <int kOp, uint32_t kTypes, bool kBoolOut = false>
StatusOr<std::unique_ptr<Kernel>> MakeBinary(const NodeDef& node) {
  return std::unique_ptr<Kernel>(
      new BinaryKernel(node, kOp, kOp, kTypes, kBoolOut));
}

// Float types need fmod = 1 (the schema checks); integers take either.
StatusOr<std::unique_ptr<Kernel>> MakeMod(const NodeDef& node) {
  const bool fmod = AttrsOf(node).GetInt("fmod", 0) != 0;
  return std::unique_ptr<Kernel>(new BinaryKernel(
      node, kEwFmod, fmod ? kEwFmod : kEwMod, kNumericTypes, false));
}

class WhereKernel final : public Kernel {
 public:
  explicit WhereKernel(const NodeDef& node) : what_(Describe(node)) {}

  Status Compute(KernelContext& ctx) const override {
    TP_CHECK_ARG(ctx.has_input(0) && ctx.has_input(1) && ctx.has_input(2),
                 what_ << " needs three inputs");
    const Tensor& c = ctx.input(0);
    const Tensor& x = ctx.input(1);
    const Tensor& v = ctx.input(2);
    Tensor& y = ctx.output(0);
    TP_CHECK_ARG(
        c.dtype() == DType::kBool,
        what_ << ": condition must be bool, got " << DTypeName(c.dtype()));
    TP_CHECK_ARG(x.dtype() == v.dtype(),
                 what_ << ": X and Y have different element types "
                       << DTypeName(x.dtype()) << " and "
                       << DTypeName(v.dtype()));
    TP_INTERNAL_CHECK(
        y.dtype() == x.dtype(),
        what_ << ": output has element type " << DTypeName(y.dtype()));
    if (y.num_elements() == 0) return Status::Ok();
    EwLayout layout;
    TP_RETURN_IF_ERROR(BuildLayout(
        what_, y.shape(), {&c.shape(), &x.shape(), &v.shape()}, &layout));
    TP_ASSIGN_OR_RETURN(CudaStream * stream, StreamOf(ctx));
    TP_CUDA_CHECK(LaunchEwWhere(static_cast<int>(DTypeSize(x.dtype())), layout,
                                c.data<bool>(), x.raw_data(), v.raw_data(),
                                y.raw_data(), stream->get()));
    return Status::Ok();
  }

 private:
  std::string what_;
};

StatusOr<std::unique_ptr<Kernel>> MakeWhere(const NodeDef& node) {
  return std::unique_ptr<Kernel>(new WhereKernel(node));
}

bool SupportsWhere(const NodeDef& node) {
  return node.input_dtypes.empty() || Accepts(node.input_dtypes[0], kBoolType);
}

// Sum/Max/Min/Mean: y = in0 op in1, then y = y op in_k for the rest (y has
// the full broadcast shape, so reading it while writing it is safe); Mean
// then scales by 1/count. One input is copied.
class VariadicKernel final : public Kernel {
 public:
  VariadicKernel(const NodeDef& node, int op, uint32_t types, bool mean)
      : what_(Describe(node)), op_(op), types_(types), mean_(mean) {}

  Status Compute(KernelContext& ctx) const override {
    std::vector<const Tensor*> inputs;
    for (const Tensor* t : ctx.inputs) {
      if (t != nullptr) inputs.push_back(t);
    }
    TP_CHECK_ARG(!inputs.empty(), what_ << " needs at least one input");
    const DType dtype = inputs[0]->dtype();
    for (const Tensor* t : inputs) {
      TP_CHECK_ARG(t->dtype() == dtype,
                   what_ << ": inputs have different element types "
                         << DTypeName(dtype) << " and "
                         << DTypeName(t->dtype()));
    }
    if (!InMask(dtype, types_)) return UnsupportedType(what_, dtype);
    Tensor& y = ctx.output(0);
    TP_INTERNAL_CHECK(y.dtype() == dtype, what_ << ": output has element type "
                                                << DTypeName(y.dtype()));
    if (y.num_elements() == 0) return Status::Ok();
    TP_ASSIGN_OR_RETURN(CudaStream * stream, StreamOf(ctx));
    if (inputs.size() == 1) {
      TP_CHECK_ARG(inputs[0]->shape() == y.shape(),
                   what_ << ": output does not match the single input");
      return CopyDeviceTensor(*inputs[0], &y, stream->get());
    }
    TP_RETURN_IF_ERROR(
        LaunchBinary(what_, op_, *inputs[0], *inputs[1], &y, stream->get()));
    for (size_t k = 2; k < inputs.size(); ++k) {
      TP_RETURN_IF_ERROR(
          LaunchBinary(what_, op_, y, *inputs[k], &y, stream->get()));
    }
    if (mean_) {
      TP_CUDA_CHECK(LaunchEwUnary(kEwScale, EwTypeOf(dtype), y.raw_data(),
                                  y.raw_data(), y.num_elements(),
                                  1.0f / static_cast<float>(inputs.size()),
                                  0.0f, stream->get()));
    }
    return Status::Ok();
  }

 private:
  std::string what_;
  int op_;
  uint32_t types_;
  bool mean_;
};

template <int kOp, uint32_t kTypes, bool kMean = false>
StatusOr<std::unique_ptr<Kernel>> MakeVariadic(const NodeDef& node) {
  return std::unique_ptr<Kernel>(new VariadicKernel(node, kOp, kTypes, kMean));
}

// ---------------------------------------------------------------------------
// Cast, CastLike, Identity, Dropout.

// Cast and CastLike: the target type is the output's (shape inference set
// it from "to" or from CastLike's second input).
class CastKernel final : public Kernel {
 public:
  explicit CastKernel(const NodeDef& node) : what_(Describe(node)) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    TP_INTERNAL_CHECK(x.num_elements() == y.num_elements(),
                      what_ << ": output has " << y.num_elements()
                            << " elements, input " << x.num_elements());
    TP_ASSIGN_OR_RETURN(CudaStream * stream, StreamOf(ctx));
    if (x.dtype() == y.dtype()) return CopyDeviceTensor(x, &y, stream->get());
    if (!InMask(x.dtype(), kCastTypes))
      return UnsupportedType(what_, x.dtype());
    if (!InMask(y.dtype(), kCastTypes))
      return UnsupportedType(what_ + " (target)", y.dtype());
    if (x.num_elements() == 0) return Status::Ok();
    TP_CUDA_CHECK(LaunchEwCast(EwTypeOf(x.dtype()), EwTypeOf(y.dtype()),
                               x.raw_data(), y.raw_data(), x.num_elements(),
                               stream->get()));
    return Status::Ok();
  }

 private:
  std::string what_;
};

StatusOr<std::unique_ptr<Kernel>> MakeCast(const NodeDef& node) {
  return std::unique_ptr<Kernel>(new CastKernel(node));
}

bool SupportsCast(const NodeDef& node) {
  if (!node.input_dtypes.empty() && !Accepts(node.input_dtypes[0], kCastTypes))
    return false;
  // Only the types the CUDA kernel produces.
  const DType target = DTypeFromOnnxType(AttrsOf(node).GetInt("to", 0));
  return target != DType::kUndefined && Accepts(target, kCastTypes);
}

class IdentityKernel final : public Kernel {
 public:
  Status Compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    TP_INTERNAL_CHECK(
        x.dtype() == y.dtype() && x.num_elements() == y.num_elements(),
        "Identity: output does not match its input");
    TP_ASSIGN_OR_RETURN(CudaStream * stream, StreamOf(ctx));
    return CopyDeviceTensor(x, &y, stream->get());
  }
};

StatusOr<std::unique_ptr<Kernel>> MakeIdentity(const NodeDef&) {
  return std::unique_ptr<Kernel>(new IdentityKernel());
}

// Dropout at inference: the output is the input, the optional mask all
// true. training_mode (input 2) can only be checked when it is a constant;
// SupportsDropout leaves the other nodes, and pre-opset-10 masks (of the
// input's type), to the CPU backend.
class DropoutKernel final : public Kernel {
 public:
  Status Compute(KernelContext& ctx) const override {
    TP_ASSIGN_OR_RETURN(CudaStream * stream, StreamOf(ctx));
    TP_RETURN_IF_ERROR(
        CopyDeviceTensor(ctx.input(0), &ctx.output(0), stream->get()));
    if (ctx.outputs.size() < 2 || ctx.outputs[1] == nullptr)
      return Status::Ok();
    Tensor& mask = ctx.output(1);
    TP_INTERNAL_CHECK(
        mask.dtype() == DType::kBool,
        "Dropout: mask has element type " << DTypeName(mask.dtype()));
    if (mask.nbytes() == 0) return Status::Ok();
    TP_CUDA_CHECK(
        cudaMemsetAsync(mask.raw_data(), 1, mask.nbytes(), stream->get()));
    return Status::Ok();
  }
};

StatusOr<std::unique_ptr<Kernel>> MakeDropout(const NodeDef& node) {
  const Tensor* training =
      node.constant_inputs.size() > 2 ? node.constant_inputs[2] : nullptr;
  if (training != nullptr && training->num_elements() > 0 &&
      training->GetAsDouble(0) != 0) {
    return TP_ERROR(kUnimplemented,
                    Describe(node) << ": training_mode=true is not supported "
                                      "(tensorpod runs inference only)");
  }
  return std::unique_ptr<Kernel>(new DropoutKernel());
}

bool SupportsDropout(const NodeDef& node) {
  if (node.opset < 10 && node.num_outputs > 1) return false;
  if (node.input_dtypes.size() <= 2 ||
      node.input_dtypes[2] == DType::kUndefined)
    return true;
  return node.constant_inputs.size() > 2 && node.constant_inputs[2] != nullptr;
}

template <int kOp, uint32_t kTypes>
void AddUnary(KernelRegistry* r, const char* op_type) {
  r->Add(op_type, &MakeUnary<kOp, kTypes>, &InputsIn<kTypes>);
}

}  // namespace

StatusOr<CudaActivationSpec> ParseFusedActivation(const Attributes& attrs) {
  const std::string name = attrs.GetString("tp_activation", "");
  CudaActivationSpec spec;
  if (name.empty()) return spec;
  if (name == "Relu") {
    spec.kind = kCudaActRelu;
  } else if (name == "LeakyRelu") {
    spec.kind = kCudaActLeakyRelu;
    spec.alpha = attrs.GetFloat("tp_alpha", 0.01f);
  } else if (name == "Sigmoid") {
    spec.kind = kCudaActSigmoid;
  } else if (name == "Tanh") {
    spec.kind = kCudaActTanh;
  } else if (name == "Gelu") {
    spec.kind = kCudaActGelu;
  } else if (name == "Clip") {
    spec.kind = kCudaActClip;
    spec.alpha =
        attrs.GetFloat("tp_clip_min", -std::numeric_limits<float>::infinity());
    spec.beta =
        attrs.GetFloat("tp_clip_max", std::numeric_limits<float>::infinity());
  } else {
    return TP_ERROR(kUnimplemented,
                    "CUDA: fused activation \""
                        << name
                        << "\" is not supported (expected one of Relu, "
                           "LeakyRelu, Sigmoid, Tanh, Gelu, Clip)");
  }
  return spec;
}

void RegisterCudaElementwiseKernels(KernelRegistry* r) {
  constexpr uint32_t kF = kFloatTypes;
  constexpr uint32_t kFI = kNumericTypes;
  AddUnary<kEwRelu, kFI>(r, "Relu");
  AddUnary<kEwNeg, kFI>(r, "Neg");
  AddUnary<kEwAbs, kFI>(r, "Abs");
  AddUnary<kEwSign, kFI>(r, "Sign");
  AddUnary<kEwSigmoid, kF>(r, "Sigmoid");
  AddUnary<kEwTanh, kF>(r, "Tanh");
  AddUnary<kEwErf, kF>(r, "Erf");
  AddUnary<kEwExp, kF>(r, "Exp");
  AddUnary<kEwLog, kF>(r, "Log");
  AddUnary<kEwSqrt, kF>(r, "Sqrt");
  AddUnary<kEwReciprocal, kF>(r, "Reciprocal");
  AddUnary<kEwFloor, kF>(r, "Floor");
  AddUnary<kEwCeil, kF>(r, "Ceil");
  AddUnary<kEwRound, kF>(r, "Round");
  AddUnary<kEwSin, kF>(r, "Sin");
  AddUnary<kEwCos, kF>(r, "Cos");
  AddUnary<kEwTan, kF>(r, "Tan");
  AddUnary<kEwAsin, kF>(r, "Asin");
  AddUnary<kEwAcos, kF>(r, "Acos");
  AddUnary<kEwAtan, kF>(r, "Atan");
  AddUnary<kEwSinh, kF>(r, "Sinh");
  AddUnary<kEwCosh, kF>(r, "Cosh");
  AddUnary<kEwAsinh, kF>(r, "Asinh");
  AddUnary<kEwAcosh, kF>(r, "Acosh");
  AddUnary<kEwAtanh, kF>(r, "Atanh");
  AddUnary<kEwSoftplus, kF>(r, "Softplus");
  AddUnary<kEwSoftsign, kF>(r, "Softsign");
  AddUnary<kEwHardSwish, kF>(r, "HardSwish");
  r->Add("LeakyRelu", &MakeLeakyRelu, &InputsIn<kF>);
  r->Add("HardSigmoid", &MakeHardSigmoid, &InputsIn<kF>);
  r->Add("Elu", &MakeElu, &InputsIn<kF>);
  r->Add("Selu", &MakeSelu, &InputsIn<kF>);
  r->Add("Celu", &MakeCelu, &InputsIn<kF>);
  r->Add("ThresholdedRelu", &MakeThresholdedRelu, &InputsIn<kF>);
  r->Add("Shrink", &MakeShrink, &InputsIn<kF>);
  r->Add("Gelu", &MakeGelu, &InputsIn<kF>);
  r->Add("Clip", &MakeClip, &SupportsClip);
  r->Add("IsNaN", &MakeIsNaN, &InputsIn<kF>);
  r->Add("IsInf", &MakeIsInf, &InputsIn<kF>);
  r->Add("Not", &MakeNot, &InputsIn<kBoolType>);

  r->Add("Add", &MakeBinary<kEwAdd, kFI>, &SameInputsIn<kFI>);
  r->Add("Sub", &MakeBinary<kEwSub, kFI>, &SameInputsIn<kFI>);
  r->Add("Mul", &MakeBinary<kEwMul, kFI>, &SameInputsIn<kFI>);
  r->Add("Div", &MakeBinary<kEwDiv, kFI>, &SameInputsIn<kFI>);
  r->Add("Pow", &MakeBinary<kEwPow, kFI>, &SameInputsIn<kFI>);
  r->Add("Mod", &MakeMod, &SameInputsIn<kFI>);
  r->Add("Equal", &MakeBinary<kEwEqual, kFI | kBoolType, true>,
         &SameInputsIn<kFI | kBoolType>);
  r->Add("Less", &MakeBinary<kEwLess, kFI, true>, &SameInputsIn<kFI>);
  r->Add("LessOrEqual", &MakeBinary<kEwLessOrEqual, kFI, true>,
         &SameInputsIn<kFI>);
  r->Add("Greater", &MakeBinary<kEwGreater, kFI, true>, &SameInputsIn<kFI>);
  r->Add("GreaterOrEqual", &MakeBinary<kEwGreaterOrEqual, kFI, true>,
         &SameInputsIn<kFI>);
  r->Add("And", &MakeBinary<kEwAnd, kBoolType, true>, &SameInputsIn<kBoolType>);
  r->Add("Or", &MakeBinary<kEwOr, kBoolType, true>, &SameInputsIn<kBoolType>);
  r->Add("Xor", &MakeBinary<kEwXor, kBoolType, true>, &SameInputsIn<kBoolType>);
  r->Add("Where", &MakeWhere, &SupportsWhere);
  r->Add("Sum", &MakeVariadic<kEwAdd, kFI>, &SameInputsIn<kFI>);
  r->Add("Max", &MakeVariadic<kEwMax, kFI>, &SameInputsIn<kFI>);
  r->Add("Min", &MakeVariadic<kEwMin, kFI>, &SameInputsIn<kFI>);
  r->Add("Mean", &MakeVariadic<kEwAdd, kF, true>, &SameInputsIn<kF>);

  r->Add("Cast", &MakeCast, &SupportsCast);
  r->Add("CastLike", &MakeCast, &InputsIn<kCastTypes>);
  r->Add("Identity", &MakeIdentity);
  r->Add("Dropout", &MakeDropout, &SupportsDropout);
}

}  // namespace tensorpod::internal
