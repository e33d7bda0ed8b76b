// Schemas of the elementwise ops: unary math and activations, broadcasting
// binary and variadic ops (arithmetic, Pow, Mod, BitShift, comparisons,
// logical ops), Where, Clip, Cast, CastLike, Identity and Dropout.
#include <limits>
#include <string>

#include "ops/op_schema.h"

namespace tensorpod::internal {
namespace {

// Names the node in messages: `Add node "x"`.
struct NodeRef {
  const char* op;
  std::string_view name;
};

std::ostream& operator<<(std::ostream& os, const NodeRef& n) {
  return os << n.op << " node \"" << n.name << "\"";
}

NodeRef Node(const InferContext& ctx, const char* op) {
  return NodeRef{op, ctx.node_name()};
}

Status RequireInput(const InferContext& ctx, const char* op, int i) {
  TP_CHECK_ARG(ctx.has_input(i), Node(ctx, op)
                                     << ": input " << i << " is required");
  return Status::Ok();
}

// All present inputs must share input 0's element type.
Status CheckSameTypes(const InferContext& ctx, const char* op, int first,
                      int last) {
  const DType t = ctx.input_dtype(first);
  for (int i = first + 1; i <= last && i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) continue;
    TP_CHECK_ARG(ctx.input_dtype(i) == t,
                 Node(ctx, op)
                     << ": input " << i << " has element type "
                     << DTypeName(ctx.input_dtype(i)) << " but input " << first
                     << " has " << DTypeName(t) << "; they must match");
  }
  return Status::Ok();
}

Status CheckBool(const InferContext& ctx, const char* op, int i) {
  TP_CHECK_ARG(ctx.input_dtype(i) == DType::kBool,
               Node(ctx, op) << ": input " << i << " must be bool, got "
                             << DTypeName(ctx.input_dtype(i)));
  return Status::Ok();
}

// The numpy broadcast of every present input in [first, last].
StatusOr<Shape> BroadcastInputs(const InferContext& ctx, const char* op,
                                int first, int last) {
  Shape out = ctx.input_shape(first);
  for (int i = first + 1; i <= last && i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) continue;
    auto s = BroadcastShapes(out, ctx.input_shape(i));
    TP_CHECK_ARG(s.ok(),
                 Node(ctx, op)
                     << ": input " << i << " of shape "
                     << ShapeToString(ctx.input_shape(i))
                     << " cannot be broadcast with shape " << ShapeToString(out)
                     << (i - first > 1 ? " (the earlier inputs' broadcast)"
                                       : ""));
    out = std::move(s).value();
  }
  return out;
}

// Op names as template arguments, so one inference function serves many ops
// and still names the op in its messages.
constexpr char kAdd[] = "Add";
constexpr char kSub[] = "Sub";
constexpr char kMul[] = "Mul";
constexpr char kDiv[] = "Div";
constexpr char kEqual[] = "Equal";
constexpr char kLess[] = "Less";
constexpr char kLessOrEqual[] = "LessOrEqual";
constexpr char kGreater[] = "Greater";
constexpr char kGreaterOrEqual[] = "GreaterOrEqual";
constexpr char kAnd[] = "And";
constexpr char kOr[] = "Or";
constexpr char kXor[] = "Xor";
constexpr char kSum[] = "Sum";
constexpr char kMax[] = "Max";
constexpr char kMin[] = "Min";
constexpr char kMean[] = "Mean";
constexpr char kMod[] = "Mod";
constexpr char kBitShift[] = "BitShift";

// Two inputs of one type, broadcast; the result has their type, or bool.
template <const char* kOp, bool kBoolOut>
Status InferBinary(InferContext& ctx) {
  TP_RETURN_IF_ERROR(RequireInput(ctx, kOp, 0));
  TP_RETURN_IF_ERROR(RequireInput(ctx, kOp, 1));
  TP_RETURN_IF_ERROR(CheckSameTypes(ctx, kOp, 0, 1));
  TP_ASSIGN_OR_RETURN(Shape out, BroadcastInputs(ctx, kOp, 0, 1));
  ctx.SetOutput(0, kBoolOut ? DType::kBool : ctx.input_dtype(0),
                std::move(out));
  return Status::Ok();
}

template <const char* kOp>
Status InferLogical(InferContext& ctx) {
  TP_RETURN_IF_ERROR(RequireInput(ctx, kOp, 0));
  TP_RETURN_IF_ERROR(RequireInput(ctx, kOp, 1));
  TP_RETURN_IF_ERROR(CheckBool(ctx, kOp, 0));
  TP_RETURN_IF_ERROR(CheckBool(ctx, kOp, 1));
  TP_ASSIGN_OR_RETURN(Shape out, BroadcastInputs(ctx, kOp, 0, 1));
  ctx.SetOutput(0, DType::kBool, std::move(out));
  return Status::Ok();
}

// Sum/Max/Min/Mean: one or more inputs of one type, all broadcast together.
template <const char* kOp>
Status InferVariadic(InferContext& ctx) {
  TP_RETURN_IF_ERROR(RequireInput(ctx, kOp, 0));
  TP_RETURN_IF_ERROR(CheckSameTypes(ctx, kOp, 0, ctx.num_inputs() - 1));
  TP_ASSIGN_OR_RETURN(Shape out,
                      BroadcastInputs(ctx, kOp, 0, ctx.num_inputs() - 1));
  ctx.SetOutput(0, ctx.input_dtype(0), std::move(out));
  return Status::Ok();
}

Status InferMod(InferContext& ctx) {
  TP_RETURN_IF_ERROR((InferBinary<kMod, false>(ctx)));
  const int64_t fmod = ctx.attrs().GetInt("fmod", 0);
  TP_CHECK_ARG(fmod == 0 || fmod == 1,
               Node(ctx, kMod)
                   << ": attribute fmod must be 0 or 1, got " << fmod);
  TP_CHECK_ARG(fmod == 1 || !IsFloatingPoint(ctx.input_dtype(0)),
               Node(ctx, kMod) << ": floating-point inputs need fmod = 1");
  return Status::Ok();
}

Status InferBitShift(InferContext& ctx) {
  TP_RETURN_IF_ERROR((InferBinary<kBitShift, false>(ctx)));
  const std::string direction = ctx.attrs().GetString("direction", "");
  TP_CHECK_ARG(direction == "LEFT" || direction == "RIGHT",
               Node(ctx, kBitShift)
                   << ": attribute direction must be \"LEFT\" or \"RIGHT\", "
                      "got \""
                   << direction << "\"");
  return Status::Ok();
}

// The exponent may have another numeric type; the result has the base's.
Status InferPow(InferContext& ctx) {
  TP_RETURN_IF_ERROR(RequireInput(ctx, "Pow", 0));
  TP_RETURN_IF_ERROR(RequireInput(ctx, "Pow", 1));
  TP_CHECK_ARG(
      ctx.input_dtype(0) != DType::kBool && ctx.input_dtype(1) != DType::kBool,
      Node(ctx, "Pow") << ": bool operands are not allowed");
  TP_ASSIGN_OR_RETURN(Shape out, BroadcastInputs(ctx, "Pow", 0, 1));
  ctx.SetOutput(0, ctx.input_dtype(0), std::move(out));
  return Status::Ok();
}

Status InferNot(InferContext& ctx) {
  TP_RETURN_IF_ERROR(RequireInput(ctx, "Not", 0));
  TP_RETURN_IF_ERROR(CheckBool(ctx, "Not", 0));
  ctx.SetOutput(0, DType::kBool, ctx.input_shape(0));
  return Status::Ok();
}

Status InferWhere(InferContext& ctx) {
  for (int i = 0; i < 3; ++i) TP_RETURN_IF_ERROR(RequireInput(ctx, "Where", i));
  TP_RETURN_IF_ERROR(CheckBool(ctx, "Where", 0));
  TP_RETURN_IF_ERROR(CheckSameTypes(ctx, "Where", 1, 2));
  TP_ASSIGN_OR_RETURN(Shape out, BroadcastInputs(ctx, "Where", 0, 2));
  ctx.SetOutput(0, ctx.input_dtype(1), std::move(out));
  return Status::Ok();
}

Status InferUnary(InferContext& ctx) {
  TP_CHECK_ARG(ctx.has_input(0),
               "node \"" << ctx.node_name() << "\": input 0 is required");
  ctx.SetOutput(0, ctx.input_dtype(0), ctx.input_shape(0));
  return Status::Ok();
}

// IsNaN, IsInf: bool flags of the same shape.
Status InferFloatClass(InferContext& ctx) {
  TP_CHECK_ARG(ctx.has_input(0),
               "node \"" << ctx.node_name() << "\": input 0 is required");
  ctx.SetOutput(0, DType::kBool, ctx.input_shape(0));
  return Status::Ok();
}

Status InferGelu(InferContext& ctx) {
  const std::string approximate = ctx.attrs().GetString("approximate", "none");
  TP_CHECK_ARG(
      approximate == "none" || approximate == "tanh",
      Node(ctx, "Gelu")
          << ": attribute approximate must be \"none\" or \"tanh\", got \""
          << approximate << "\"");
  return InferUnary(ctx);
}

// Opset 11+: optional scalar inputs min (1) and max (2) of the input's type.
Status InferClip(InferContext& ctx) {
  TP_RETURN_IF_ERROR(RequireInput(ctx, "Clip", 0));
  const char* names[] = {"", "min", "max"};
  for (int i = 1; i < 3; ++i) {
    if (!ctx.has_input(i)) continue;
    TP_CHECK_ARG(ctx.opset() >= 11,
                 Node(ctx, "Clip") << ": input " << names[i]
                                   << " needs opset 11 (before, min and max "
                                      "are attributes)");
    TP_CHECK_ARG(ctx.input_dtype(i) == ctx.input_dtype(0),
                 Node(ctx, "Clip")
                     << ": input " << names[i] << " has element type "
                     << DTypeName(ctx.input_dtype(i)) << ", expected "
                     << DTypeName(ctx.input_dtype(0)));
    TP_CHECK_ARG(NumElementsUnchecked(ctx.input_shape(i)) == 1,
                 Node(ctx, "Clip") << ": input " << names[i]
                                   << " must be a scalar, got shape "
                                   << ShapeToString(ctx.input_shape(i)));
  }
  ctx.SetOutput(0, ctx.input_dtype(0), ctx.input_shape(0));
  return Status::Ok();
}

// ONNX TensorProto.DataType numbers to tensorpod's types.
StatusOr<DType> DTypeFromOnnx(const InferContext& ctx, int64_t to) {
  const DType t = DTypeFromOnnxType(to);
  if (t != DType::kUndefined) return t;
  if (to == 8 || (to >= 14 && to <= 20)) {
    return TP_ERROR(kUnimplemented, Node(ctx, "Cast") << ": casting to ONNX type " << to
                                                      << " (string, complex or float8) is not supported");
  }
  return TP_ERROR(kInvalidArgument,
                  Node(ctx, "Cast") << ": attribute to = " << to << " is not an ONNX TensorProto data type");
}

Status InferCast(InferContext& ctx) {
  TP_RETURN_IF_ERROR(RequireInput(ctx, "Cast", 0));
  auto to = ctx.attrs().RequireInt("to");
  if (!to.ok())
    return to.status().WithContext("Cast node \"" +
                                   std::string(ctx.node_name()) + "\"");
  TP_ASSIGN_OR_RETURN(DType t, DTypeFromOnnx(ctx, *to));
  ctx.SetOutput(0, t, ctx.input_shape(0));
  return Status::Ok();
}

Status InferCastLike(InferContext& ctx) {
  TP_RETURN_IF_ERROR(RequireInput(ctx, "CastLike", 0));
  TP_RETURN_IF_ERROR(RequireInput(ctx, "CastLike", 1));
  ctx.SetOutput(0, ctx.input_dtype(1), ctx.input_shape(0));
  return Status::Ok();
}

// Inference-only Dropout: output = input; the optional mask is bool from
// opset 10 (the input's type before). training_mode, when known to be true,
// is rejected here; otherwise the kernel checks it when it runs.
Status InferDropout(InferContext& ctx) {
  TP_RETURN_IF_ERROR(RequireInput(ctx, "Dropout", 0));
  if (const Tensor* training = ctx.input_value(2);
      training != nullptr && training->num_elements() > 0 &&
      training->GetAsDouble(0) != 0) {
    return TP_ERROR(kUnimplemented,
                    Node(ctx, "Dropout")
                        << ": training_mode=true is not supported (tensorpod "
                           "runs inference only)");
  }
  ctx.SetOutput(0, ctx.input_dtype(0), ctx.input_shape(0));
  if (ctx.num_outputs() > 1) {
    ctx.SetOutput(1, ctx.opset() >= 10 ? DType::kBool : ctx.input_dtype(0),
                  ctx.input_shape(0));
  }
  return Status::Ok();
}

}  // namespace

void RegisterElementwiseSchemas(SchemaRegistry* r) {
  for (const char* op :
       {"Sqrt",       "Exp",   "Log",     "Neg",      "Abs",
        "Erf",        "Tanh",  "Sigmoid", "Relu",     "LeakyRelu",
        "Reciprocal", "Floor", "Ceil",    "Softplus", "HardSigmoid",
        "Identity",   "Round", "Sign",    "Sin",      "Cos",
        "Tan",        "Asin",  "Acos",    "Atan",     "Sinh",
        "Cosh",       "Asinh", "Acosh",   "Atanh",    "Softsign",
        "HardSwish",  "Elu",   "Selu",    "Celu",     "ThresholdedRelu",
        "Shrink"}) {
    r->Add({op, 1, 1, 1, 1, {}, false, InferUnary});
  }
  r->Add({"IsNaN", 1, 1, 1, 1, {}, false, InferFloatClass});
  r->Add({"IsInf", 1, 1, 1, 1, {}, false, InferFloatClass});
  r->Add({"Gelu", 1, 1, 1, 1, {}, false, InferGelu});
  r->Add({"Not", 1, 1, 1, 1, {}, false, InferNot});
  r->Add({"Clip", 1, 3, 1, 1, {}, false, InferClip});
  r->Add({"Cast", 1, 1, 1, 1, {}, false, InferCast});
  r->Add({"CastLike", 2, 2, 1, 1, {}, false, InferCastLike});
  r->Add({"Dropout", 1, 3, 1, 2, {}, false, InferDropout});

  r->Add({"Add", 2, 2, 1, 1, {}, false, InferBinary<kAdd, false>});
  r->Add({"Sub", 2, 2, 1, 1, {}, false, InferBinary<kSub, false>});
  r->Add({"Mul", 2, 2, 1, 1, {}, false, InferBinary<kMul, false>});
  r->Add({"Div", 2, 2, 1, 1, {}, false, InferBinary<kDiv, false>});
  r->Add({"Pow", 2, 2, 1, 1, {}, false, InferPow});
  r->Add({"Mod", 2, 2, 1, 1, {}, false, InferMod});
  r->Add({"BitShift", 2, 2, 1, 1, {}, false, InferBitShift});
  r->Add({"Equal", 2, 2, 1, 1, {}, false, InferBinary<kEqual, true>});
  r->Add({"Less", 2, 2, 1, 1, {}, false, InferBinary<kLess, true>});
  r->Add(
      {"LessOrEqual", 2, 2, 1, 1, {}, false, InferBinary<kLessOrEqual, true>});
  r->Add({"Greater", 2, 2, 1, 1, {}, false, InferBinary<kGreater, true>});
  r->Add({"GreaterOrEqual",
          2,
          2,
          1,
          1,
          {},
          false,
          InferBinary<kGreaterOrEqual, true>});
  r->Add({"And", 2, 2, 1, 1, {}, false, InferLogical<kAnd>});
  r->Add({"Or", 2, 2, 1, 1, {}, false, InferLogical<kOr>});
  r->Add({"Xor", 2, 2, 1, 1, {}, false, InferLogical<kXor>});
  r->Add({"Where", 3, 3, 1, 1, {}, false, InferWhere});
  r->Add({"Sum", 1, -1, 1, 1, {}, false, InferVariadic<kSum>});
  r->Add({"Max", 1, -1, 1, 1, {}, false, InferVariadic<kMax>});
  r->Add({"Min", 1, -1, 1, 1, {}, false, InferVariadic<kMin>});
  r->Add({"Mean", 1, -1, 1, 1, {}, false, InferVariadic<kMean>});
}

}  // namespace tensorpod::internal
