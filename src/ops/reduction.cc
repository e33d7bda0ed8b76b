// Schemas of the reductions (Reduce*, ArgMax/ArgMin, TopK) and of Resize /
// Upsample, which share this family's file for lack of a better home.
#include <cmath>
#include <string>
#include <vector>

#include "ops/op_schema.h"

namespace tensorpod::internal {
namespace {

std::string NodeName(const InferContext& ctx) {
  return "node \"" + std::string(ctx.node_name()) + "\"";
}

// The integer values of a 1-D index input such as axes or K.
StatusOr<std::vector<int64_t>> ReadIndexValues(const InferContext& ctx,
                                               const Tensor& t,
                                               const char* what) {
  TP_CHECK_ARG(t.dtype() == DType::kI64 || t.dtype() == DType::kI32,
               NodeName(ctx) << ": input " << what << " must be int64, got "
                             << DTypeName(t.dtype()));
  TP_CHECK_ARG(t.rank() <= 1, NodeName(ctx) << ": input " << what
                                            << " must be 1-D, got shape "
                                            << ShapeToString(t.shape()));
  std::vector<int64_t> v(t.num_elements());
  for (int64_t i = 0; i < t.num_elements(); ++i) v[i] = t.GetAsInt64(i);
  return v;
}

// Reduce*: the axes come from input 1 from opset `kAxesInputOpset` (13 for
// ReduceSum, 18 for the others) and from the "axes" attribute before it.
// Empty axes reduce everything unless noop_with_empty_axes is set.
template <int kAxesInputOpset>
Status InferReduce(InferContext& ctx) {
  const Shape& in = ctx.input_shape(0);
  const int64_t rank = static_cast<int64_t>(in.size());
  std::vector<int64_t> axes;
  if (ctx.opset() >= kAxesInputOpset) {
    if (ctx.has_input(1)) {
      TP_ASSIGN_OR_RETURN(const Tensor* t, ctx.RequireValue(1, "axes"));
      TP_ASSIGN_OR_RETURN(axes, ReadIndexValues(ctx, *t, "axes"));
    }
  } else {
    TP_CHECK_ARG(!ctx.has_input(1),
                 NodeName(ctx) << ": axes are an attribute before opset "
                               << kAxesInputOpset << ", not an input");
    axes = ctx.attrs().GetInts("axes");
  }
  const bool keepdims = ctx.attrs().GetInt("keepdims", 1) != 0;
  if (axes.empty() && ctx.attrs().GetInt("noop_with_empty_axes", 0) != 0) {
    ctx.SetOutput(0, ctx.input_dtype(0), in);
    return Status::Ok();
  }
  std::vector<bool> reduced(rank, axes.empty());
  for (int64_t a : axes) {
    auto axis = NormalizeAxis(a, rank, "axes");
    if (!axis.ok()) return axis.status().WithContext(NodeName(ctx));
    TP_CHECK_ARG(!reduced[*axis],
                 NodeName(ctx) << ": axis " << a << " appears twice in axes");
    reduced[*axis] = true;
  }
  Shape out;
  for (int64_t i = 0; i < rank; ++i) {
    if (!reduced[i]) {
      out.push_back(in[i]);
    } else if (keepdims) {
      out.push_back(1);
    }
  }
  ctx.SetOutput(0, ctx.input_dtype(0), std::move(out));
  return Status::Ok();
}

// ArgMax / ArgMin: one axis, int64 indices.
Status InferArgReduce(InferContext& ctx) {
  Shape shape = ctx.input_shape(0);
  auto axis = NormalizeAxis(ctx.attrs().GetInt("axis", 0),
                            static_cast<int64_t>(shape.size()), "axis");
  if (!axis.ok()) return axis.status().WithContext(NodeName(ctx));
  TP_CHECK_ARG(shape[*axis] > 0,
               NodeName(ctx)
                   << ": cannot take the arg of an empty axis " << *axis
                   << " of input shape " << ShapeToString(shape));
  if (ctx.attrs().GetInt("keepdims", 1) != 0) {
    shape[*axis] = 1;
  } else {
    shape.erase(shape.begin() + *axis);
  }
  ctx.SetOutput(0, DType::kI64, std::move(shape));
  return Status::Ok();
}

// TopK: k is the "k" attribute before opset 10 and input 1 (a 1-element
// int64 tensor) from opset 10.
Status InferTopK(InferContext& ctx) {
  Shape shape = ctx.input_shape(0);
  auto axis = NormalizeAxis(ctx.attrs().GetInt("axis", -1),
                            static_cast<int64_t>(shape.size()), "axis");
  if (!axis.ok()) return axis.status().WithContext(NodeName(ctx));
  int64_t k = 0;
  if (ctx.opset() >= 10) {
    TP_ASSIGN_OR_RETURN(const Tensor* t, ctx.RequireValue(1, "K"));
    TP_ASSIGN_OR_RETURN(std::vector<int64_t> kv, ReadIndexValues(ctx, *t, "K"));
    TP_CHECK_ARG(kv.size() == 1, NodeName(ctx)
                                     << ": input K must hold one value, got "
                                     << kv.size());
    k = kv[0];
  } else {
    auto ka = ctx.attrs().RequireInt("k");
    if (!ka.ok()) return ka.status().WithContext(NodeName(ctx));
    k = *ka;
  }
  TP_CHECK_ARG(k >= 0 && k <= shape[*axis],
               NodeName(ctx) << ": K = " << k << " must lie in [0, "
                             << shape[*axis] << "], the size of axis " << *axis
                             << " of input shape " << ShapeToString(shape));
  shape[*axis] = k;
  ctx.SetOutput(0, ctx.input_dtype(0), shape);
  if (ctx.num_outputs() > 1) ctx.SetOutput(1, DType::kI64, std::move(shape));
  return Status::Ok();
}

// A present input with at least one element; Resize marks unused scales,
// sizes and roi with empty tensors as often as it omits them.
StatusOr<const Tensor*> NonEmptyValue(const InferContext& ctx, int i,
                                      const char* what) {
  if (!ctx.has_input(i)) return static_cast<const Tensor*>(nullptr);
  TP_ASSIGN_OR_RETURN(const Tensor* t, ctx.RequireValue(i, what));
  return t->num_elements() == 0 ? nullptr : t;
}

// Output shape from per-axis scales: floor(input_dim * scale), as the ONNX
// reference computes it (float32 scales widened to double).
StatusOr<Shape> ScaledShape(const InferContext& ctx,
                            const std::vector<double>& scales) {
  const Shape& in = ctx.input_shape(0);
  TP_CHECK_ARG(scales.size() == in.size(),
               NodeName(ctx) << ": scales has " << scales.size()
                             << " values, input X has rank " << in.size());
  Shape out(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    TP_CHECK_ARG(scales[i] > 0 && std::isfinite(scales[i]),
                 NodeName(ctx) << ": scales[" << i << "] = " << scales[i]
                               << " must be positive");
    out[i] = static_cast<int64_t>(
        std::floor(static_cast<double>(in[i]) * scales[i]));
  }
  return out;
}

StatusOr<std::vector<double>> ReadScales(const InferContext& ctx,
                                         const Tensor& t) {
  TP_CHECK_ARG(IsFloatingPoint(t.dtype()),
               NodeName(ctx) << ": input scales must be float, got "
                             << DTypeName(t.dtype()));
  std::vector<double> v(t.num_elements());
  for (int64_t i = 0; i < t.num_elements(); ++i) v[i] = t.GetAsDouble(i);
  return v;
}

Status SetResizeOutput(InferContext& ctx, Shape out) {
  const Shape& in = ctx.input_shape(0);
  for (size_t i = 0; i < in.size(); ++i) {
    TP_CHECK_ARG(in[i] > 0 || out[i] == 0,
                 NodeName(ctx)
                     << ": cannot resize the empty axis " << i << " of input X "
                     << ShapeToString(in) << " to " << out[i]);
  }
  ctx.SetOutput(0, ctx.input_dtype(0), std::move(out));
  return Status::Ok();
}

// Resize-10: (X, scales). Resize-11+: (X, roi, scales, sizes), where exactly
// one of scales and sizes is given (the other omitted or empty).
Status InferResize(InferContext& ctx) {
  if (ctx.attrs().Has("axes") || ctx.attrs().GetInt("antialias", 0) != 0 ||
      ctx.attrs().Has("keep_aspect_ratio_policy")) {
    return TP_ERROR(kUnimplemented,
                    NodeName(ctx)
                        << ": Resize's opset 18 attributes axes, antialias and "
                           "keep_aspect_ratio_policy are not supported");
  }
  if (ctx.opset() < 11) {
    TP_ASSIGN_OR_RETURN(const Tensor* t, ctx.RequireValue(1, "scales"));
    TP_ASSIGN_OR_RETURN(std::vector<double> scales, ReadScales(ctx, *t));
    TP_ASSIGN_OR_RETURN(Shape out, ScaledShape(ctx, scales));
    return SetResizeOutput(ctx, std::move(out));
  }
  TP_ASSIGN_OR_RETURN(const Tensor* scales, NonEmptyValue(ctx, 2, "scales"));
  TP_ASSIGN_OR_RETURN(const Tensor* sizes, NonEmptyValue(ctx, 3, "sizes"));
  TP_CHECK_ARG(
      (scales == nullptr) != (sizes == nullptr),
      NodeName(ctx)
          << ": exactly one of the inputs scales and sizes must be given, got "
          << (scales ? "both" : "neither"));
  if (scales != nullptr) {
    TP_ASSIGN_OR_RETURN(std::vector<double> s, ReadScales(ctx, *scales));
    TP_ASSIGN_OR_RETURN(Shape out, ScaledShape(ctx, s));
    return SetResizeOutput(ctx, std::move(out));
  }
  TP_ASSIGN_OR_RETURN(Shape out, ReadIndexValues(ctx, *sizes, "sizes"));
  TP_CHECK_ARG(out.size() == ctx.input_shape(0).size(),
               NodeName(ctx) << ": sizes has " << out.size()
                             << " values, input X has rank "
                             << ctx.input_shape(0).size());
  for (size_t i = 0; i < out.size(); ++i) {
    TP_CHECK_ARG(out[i] >= 0, NodeName(ctx)
                                  << ": sizes[" << i << "] = " << out[i]
                                  << " must not be negative");
  }
  return SetResizeOutput(ctx, std::move(out));
}

// Upsample (deprecated in opset 10): scales is an attribute in opsets 7-8
// and input 1 from opset 9.
Status InferUpsample(InferContext& ctx) {
  std::vector<double> scales;
  if (ctx.opset() >= 9) {
    TP_ASSIGN_OR_RETURN(const Tensor* t, ctx.RequireValue(1, "scales"));
    TP_ASSIGN_OR_RETURN(scales, ReadScales(ctx, *t));
  } else {
    TP_CHECK_ARG(ctx.attrs().Has("scales"),
                 NodeName(ctx) << ": attribute scales is required");
    for (float s : ctx.attrs().GetFloats("scales")) scales.push_back(s);
  }
  TP_ASSIGN_OR_RETURN(Shape out, ScaledShape(ctx, scales));
  return SetResizeOutput(ctx, std::move(out));
}

}  // namespace

void RegisterReductionSchemas(SchemaRegistry* r) {
  r->Add({"ReduceSum", 1, 2, 1, 1, {1}, false, InferReduce<13>});
  for (const char* op :
       {"ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
        "ReduceL2", "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"}) {
    r->Add({op, 1, 2, 1, 1, {1}, false, InferReduce<18>});
  }
  r->Add({"ArgMax", 1, 1, 1, 1, {}, false, InferArgReduce});
  r->Add({"ArgMin", 1, 1, 1, 1, {}, false, InferArgReduce});
  r->Add({"TopK", 1, 2, 1, 2, {1}, false, InferTopK});
  // Input 1 is roi from opset 11 (read by the kernel only) and scales in
  // Resize-10 (read here), hence a value input either way.
  r->Add({"Resize", 1, 4, 1, 1, {1, 2, 3}, false, InferResize});
  r->Add({"Upsample", 1, 2, 1, 1, {1}, false, InferUpsample});
}

}  // namespace tensorpod::internal
