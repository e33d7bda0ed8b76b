// Schemas of the neural-network ops: matrix products, convolution, pooling
// and normalisation, plus tensorpod's fused "tp.FusedMatMul".
#include <algorithm>
#include <string>

#include "ops/nn_shapes.h"
#include "ops/op_schema.h"

namespace tensorpod::internal {

void MatMulPlan::BatchOffsets(int64_t i, int64_t* a, int64_t* b) const {
  int64_t oa = 0, ob = 0;
  for (int64_t d = static_cast<int64_t>(batch.size()) - 1; d >= 0; --d) {
    const int64_t c = i % batch[d];
    i /= batch[d];
    oa += c * a_batch_stride[d];
    ob += c * b_batch_stride[d];
  }
  *a = oa;
  *b = ob;
}

StatusOr<MatMulPlan> PlanMatMul(const Shape& a_in, const Shape& b_in) {
  TP_CHECK_ARG(!a_in.empty() && !b_in.empty(),
               "matmul operands must have rank >= 1, got A " << ShapeToString(a_in) << " and B "
                                                             << ShapeToString(b_in));
  Shape a = a_in.size() == 1 ? Shape{1, a_in[0]} : a_in;
  Shape b = b_in.size() == 1 ? Shape{b_in[0], 1} : b_in;
  MatMulPlan p;
  p.m = a[a.size() - 2];
  p.k = a[a.size() - 1];
  p.n = b[b.size() - 1];
  TP_CHECK_ARG(b[b.size() - 2] == p.k, "matmul inner dimensions differ: A "
                                           << ShapeToString(a_in) << " has K=" << p.k << ", B "
                                           << ShapeToString(b_in) << " has K=" << b[b.size() - 2]);
  const Shape a_batch(a.begin(), a.end() - 2);
  const Shape b_batch(b.begin(), b.end() - 2);
  auto batch = BroadcastShapes(a_batch, b_batch);
  if (!batch.ok()) {
    return TP_ERROR(kInvalidArgument, "matmul batch dimensions of A " << ShapeToString(a_in)
                                                                      << " and B " << ShapeToString(b_in)
                                                                      << " cannot be broadcast");
  }
  p.batch = std::move(batch).value();
  const size_t r = p.batch.size();
  p.a_batch_stride.assign(r, 0);
  p.b_batch_stride.assign(r, 0);
  int64_t sa = 1, sb = 1;
  for (size_t i = 0; i < r; ++i) {
    const size_t d = r - 1 - i;
    if (i < a_batch.size()) {
      const int64_t dim = a_batch[a_batch.size() - 1 - i];
      p.a_batch_stride[d] = dim == 1 ? 0 : sa;
      sa *= dim;
    }
    if (i < b_batch.size()) {
      const int64_t dim = b_batch[b_batch.size() - 1 - i];
      p.b_batch_stride[d] = dim == 1 ? 0 : sb;
      sb *= dim;
    }
  }
  p.out_shape = p.batch;
  if (a_in.size() > 1) p.out_shape.push_back(p.m);
  if (b_in.size() > 1) p.out_shape.push_back(p.n);
  return p;
}

StatusOr<WindowAttrs> ParseWindowAttrs(const Attributes& attrs, std::vector<int64_t> kernel) {
  const size_t s = kernel.size();
  WindowAttrs w;
  w.kernel = std::move(kernel);
  w.strides = attrs.GetInts("strides", std::vector<int64_t>(s, 1));
  w.dilations = attrs.GetInts("dilations", std::vector<int64_t>(s, 1));
  w.pads = attrs.GetInts("pads", std::vector<int64_t>(2 * s, 0));
  w.auto_pad = attrs.GetString("auto_pad", "NOTSET");
  w.ceil_mode = attrs.GetInt("ceil_mode", 0) != 0;
  TP_CHECK_ARG(w.strides.size() == s, "attribute \"strides\" has " << w.strides.size()
                                                                   << " values, expected " << s);
  TP_CHECK_ARG(w.dilations.size() == s, "attribute \"dilations\" has "
                                            << w.dilations.size() << " values, expected " << s);
  TP_CHECK_ARG(w.pads.size() == 2 * s,
               "attribute \"pads\" has " << w.pads.size() << " values, expected " << 2 * s);
  for (size_t i = 0; i < s; ++i) {
    TP_CHECK_ARG(w.kernel[i] >= 1, "kernel size " << w.kernel[i] << " must be >= 1");
    TP_CHECK_ARG(w.strides[i] >= 1, "attribute \"strides\" value " << w.strides[i]
                                                                   << " must be >= 1");
    TP_CHECK_ARG(w.dilations[i] >= 1, "attribute \"dilations\" value " << w.dilations[i]
                                                                       << " must be >= 1");
    TP_CHECK_ARG(w.pads[i] >= 0 && w.pads[i + s] >= 0, "attribute \"pads\" must be >= 0");
  }
  TP_CHECK_ARG(w.auto_pad == "NOTSET" || w.auto_pad == "SAME_UPPER" ||
                   w.auto_pad == "SAME_LOWER" || w.auto_pad == "VALID",
               "attribute \"auto_pad\" has unknown value \"" << w.auto_pad << "\"");
  return w;
}

StatusOr<WindowGeometry> ComputeWindowGeometry(const WindowAttrs& w, const Shape& in) {
  const size_t s = w.kernel.size();
  TP_CHECK_ARG(in.size() == s, "input has " << in.size() << " spatial dimensions, the kernel "
                                            << s);
  WindowGeometry g;
  g.out.resize(s);
  g.pad_begin.resize(s);
  g.pad_end.resize(s);
  for (size_t i = 0; i < s; ++i) {
    const int64_t extent = (w.kernel[i] - 1) * w.dilations[i] + 1;
    const int64_t stride = w.strides[i];
    if (w.auto_pad == "SAME_UPPER" || w.auto_pad == "SAME_LOWER") {
      g.out[i] = (in[i] + stride - 1) / stride;
      const int64_t total = std::max<int64_t>(0, (g.out[i] - 1) * stride + extent - in[i]);
      const int64_t small = total / 2;
      g.pad_begin[i] = w.auto_pad == "SAME_UPPER" ? small : total - small;
      g.pad_end[i] = total - g.pad_begin[i];
      continue;
    }
    if (w.auto_pad == "NOTSET") {
      g.pad_begin[i] = w.pads[i];
      g.pad_end[i] = w.pads[i + s];
    }
    const int64_t span = in[i] + g.pad_begin[i] + g.pad_end[i] - extent;
    TP_CHECK_ARG(span >= 0, "the kernel (extent " << extent << " with dilation) is larger than the"
                                                  << " padded input (size " << in[i] << " + pads "
                                                  << g.pad_begin[i] << "," << g.pad_end[i]
                                                  << ") in spatial dimension " << i);
    if (w.ceil_mode) {
      g.out[i] = (span + stride - 1) / stride + 1;
      // A last window that would start inside the end padding is dropped,
      // as onnxruntime and PyTorch do.
      if ((g.out[i] - 1) * stride >= in[i] + g.pad_begin[i]) --g.out[i];
    } else {
      g.out[i] = span / stride + 1;
    }
  }
  return g;
}

StatusOr<AttentionPlan> PlanAttention(const Shape& q, const Shape& k, const Shape& v, const Shape* mask) {
  TP_CHECK_ARG((q.size() == 3 || q.size() == 4) && k.size() == q.size() && v.size() == q.size(),
               "Q, K and V must all have rank 3 or 4, got " << ShapeToString(q) << ", " << ShapeToString(k)
                                                             << ", " << ShapeToString(v));
  const size_t r = q.size();
  for (size_t i = 0; i + 2 < r; ++i) {
    const bool kv_broadcast = k[i] == 1 && v[i] == 1;
    TP_CHECK_ARG(k[i] == v[i] && (q[i] == k[i] || kv_broadcast),
                 "Q, K and V must share their leading dimensions (K and V may both be 1 there), got "
                     << ShapeToString(q) << ", " << ShapeToString(k) << ", " << ShapeToString(v));
  }
  TP_CHECK_ARG(q[r - 1] == k[r - 1], "Q " << ShapeToString(q) << " and K " << ShapeToString(k)
                                          << " differ in their last (head) dimension");
  TP_CHECK_ARG(k[r - 2] == v[r - 2], "K " << ShapeToString(k) << " and V " << ShapeToString(v)
                                          << " differ in their sequence dimension");
  AttentionPlan p;
  p.batch = q[0];
  p.heads = r == 4 ? q[1] : 1;
  p.kv_batch = k[0];
  p.kv_heads = r == 4 ? k[1] : 1;
  p.s = q[r - 2];
  p.skv = k[r - 2];
  p.d = q[r - 1];
  p.dv = v[r - 1];
  p.out_shape = q;
  p.out_shape[r - 1] = p.dv;
  if (mask != nullptr) {
    Shape scores = q;
    scores[r - 1] = p.skv;
    TP_CHECK_ARG(mask->size() <= r, "the mask " << ShapeToString(*mask) << " has more dimensions than the scores "
                                                << ShapeToString(scores));
    // The scores as [B, H, S, Skv]; the mask right-aligned against them.
    const Shape full = r == 4 ? scores : Shape{scores[0], 1, scores[1], scores[2]};
    Shape m(4 - mask->size(), 1);
    m.insert(m.end(), mask->begin(), mask->end());
    if (r == 3 && mask->size() == 3) m = {(*mask)[0], 1, (*mask)[1], (*mask)[2]};
    int64_t stride = 1;
    for (int i = 3; i >= 0; --i) {
      TP_CHECK_ARG(m[i] == full[i] || m[i] == 1, "the mask " << ShapeToString(*mask)
                                                             << " does not broadcast to the scores "
                                                             << ShapeToString(scores));
      p.mask_stride[i] = m[i] == 1 ? 0 : stride;
      stride *= m[i];
    }
  }
  return p;
}

StatusOr<AttentionPlan> PlanAttentionBshd(const Shape& q, const Shape& k, const Shape& v, const Shape* mask) {
  TP_CHECK_ARG(q.size() == 4 && k.size() == 4 && v.size() == 4,
               "Q, K and V in [batch, seq, heads, head size] must have rank 4, got "
                   << ShapeToString(q) << ", " << ShapeToString(k) << ", " << ShapeToString(v));
  auto heads_first = [](Shape s) {
    std::swap(s[1], s[2]);
    return s;
  };
  TP_ASSIGN_OR_RETURN(AttentionPlan p, PlanAttention(heads_first(q), heads_first(k), heads_first(v), mask));
  p.out_shape = heads_first(p.out_shape);
  return p;
}

namespace {

std::string NodeContext(const InferContext& ctx, const char* op) {
  return std::string("node \"") + std::string(ctx.node_name()) + "\" (" + op + ")";
}

// Wraps a validation error with the node's name.
Status InNode(const InferContext& ctx, const char* op, const Status& s) {
  return s.ok() ? s : s.WithContext(NodeContext(ctx, op));
}

Status CheckSameDType(const InferContext& ctx, const char* op, int i, const char* what) {
  TP_CHECK_ARG(ctx.input_dtype(i) == ctx.input_dtype(0),
               NodeContext(ctx, op) << ": input " << what << " has dtype "
                                    << DTypeName(ctx.input_dtype(i)) << ", expected "
                                    << DTypeName(ctx.input_dtype(0)) << " like input 0");
  return Status::Ok();
}

Status InferMatMulImpl(InferContext& ctx, const char* op) {
  TP_RETURN_IF_ERROR(CheckSameDType(ctx, op, 1, "B"));
  auto plan = PlanMatMul(ctx.input_shape(0), ctx.input_shape(1));
  TP_RETURN_IF_ERROR(InNode(ctx, op, plan.status()));
  if (ctx.has_input(2)) {
    TP_RETURN_IF_ERROR(CheckSameDType(ctx, op, 2, "bias"));
    const Shape& bias = ctx.input_shape(2);
    TP_CHECK_ARG(bias.size() == 1 && bias[0] == plan->n,
                 NodeContext(ctx, op) << ": input bias has shape " << ShapeToString(bias)
                                      << ", expected [" << plan->n << "]");
  }
  ctx.SetOutput(0, ctx.input_dtype(0), plan->out_shape);
  return Status::Ok();
}

Status InferMatMul(InferContext& ctx) { return InferMatMulImpl(ctx, "MatMul"); }

// tensorpod's fused attention (made by FuseAttention): softmax(Q K^T *
// tp_scale + mask) V. See PlanAttention.
Status InferAttention(InferContext& ctx) {
  const char* op = "tp.Attention";
  TP_RETURN_IF_ERROR(CheckSameDType(ctx, op, 1, "K"));
  TP_RETURN_IF_ERROR(CheckSameDType(ctx, op, 2, "V"));
  if (ctx.has_input(3)) TP_RETURN_IF_ERROR(CheckSameDType(ctx, op, 3, "mask"));
  TP_CHECK_ARG(IsFloatingPoint(ctx.input_dtype(0)), NodeContext(ctx, op) << ": takes floating-point tensors, got "
                                                                          << DTypeName(ctx.input_dtype(0)));
  const bool bshd = ctx.attrs().GetInt("tp_bshd", 0) != 0;
  auto plan = (bshd ? PlanAttentionBshd : PlanAttention)(ctx.input_shape(0), ctx.input_shape(1), ctx.input_shape(2),
                                                         ctx.has_input(3) ? &ctx.input_shape(3) : nullptr);
  TP_RETURN_IF_ERROR(InNode(ctx, op, plan.status()));
  ctx.SetOutput(0, ctx.input_dtype(0), plan->out_shape);
  return Status::Ok();
}
Status InferFusedMatMul(InferContext& ctx) { return InferMatMulImpl(ctx, "tp.FusedMatMul"); }

Status InferGemm(InferContext& ctx) {
  const char* op = "Gemm";
  const Shape& a = ctx.input_shape(0);
  const Shape& b = ctx.input_shape(1);
  TP_CHECK_ARG(a.size() == 2, NodeContext(ctx, op) << ": input A must be 2-D, got "
                                                   << ShapeToString(a));
  TP_CHECK_ARG(b.size() == 2, NodeContext(ctx, op) << ": input B must be 2-D, got "
                                                   << ShapeToString(b));
  TP_RETURN_IF_ERROR(CheckSameDType(ctx, op, 1, "B"));
  const bool ta = ctx.attrs().GetInt("transA", 0) != 0;
  const bool tb = ctx.attrs().GetInt("transB", 0) != 0;
  const int64_t m = ta ? a[1] : a[0];
  const int64_t k = ta ? a[0] : a[1];
  const int64_t kb = tb ? b[1] : b[0];
  const int64_t n = tb ? b[0] : b[1];
  TP_CHECK_ARG(k == kb, NodeContext(ctx, op) << ": inner dimensions differ: A "
                                             << ShapeToString(a) << (ta ? " (transposed)" : "")
                                             << " and B " << ShapeToString(b)
                                             << (tb ? " (transposed)" : ""));
  if (ctx.has_input(2)) {
    TP_RETURN_IF_ERROR(CheckSameDType(ctx, op, 2, "C"));
    const Shape& c = ctx.input_shape(2);
    const bool ok = c.size() <= 2 && (c.empty() || c.back() == 1 || c.back() == n) &&
                    (c.size() < 2 || c[0] == 1 || c[0] == m);
    TP_CHECK_ARG(ok, NodeContext(ctx, op) << ": input C of shape " << ShapeToString(c)
                                          << " cannot be broadcast to [" << m << "," << n << "]");
  }
  ctx.SetOutput(0, ctx.input_dtype(0), {m, n});
  return Status::Ok();
}

Status InferConv(InferContext& ctx) {
  const char* op = "Conv";
  const Shape& x = ctx.input_shape(0);
  const Shape& w = ctx.input_shape(1);
  TP_CHECK_ARG(x.size() >= 3, NodeContext(ctx, op) << ": input X must have rank >= 3 (N,C,spatial"
                                                   << "...), got " << ShapeToString(x));
  TP_CHECK_ARG(w.size() == x.size(), NodeContext(ctx, op)
                                         << ": input W " << ShapeToString(w)
                                         << " must have the rank of X " << ShapeToString(x));
  TP_RETURN_IF_ERROR(CheckSameDType(ctx, op, 1, "W"));
  const int64_t group = ctx.attrs().GetInt("group", 1);
  TP_CHECK_ARG(group >= 1, NodeContext(ctx, op) << ": attribute \"group\" must be >= 1, got "
                                                << group);
  TP_CHECK_ARG(x[1] % group == 0 && w[0] % group == 0,
               NodeContext(ctx, op) << ": attribute \"group\" (" << group
                                    << ") must divide the input channels (" << x[1]
                                    << ") and the output channels (" << w[0] << ")");
  TP_CHECK_ARG(w[1] * group == x[1],
               NodeContext(ctx, op) << ": input W " << ShapeToString(w) << " expects " << w[1]
                                    << " channels per group (group " << group
                                    << "), but X " << ShapeToString(x) << " has " << x[1]
                                    << " channels");
  const std::vector<int64_t> kernel(w.begin() + 2, w.end());
  if (ctx.attrs().Has("kernel_shape")) {
    TP_CHECK_ARG(ctx.attrs().GetInts("kernel_shape") == kernel,
                 NodeContext(ctx, op) << ": attribute \"kernel_shape\" does not match W "
                                      << ShapeToString(w));
  }
  if (ctx.has_input(2)) {
    TP_RETURN_IF_ERROR(CheckSameDType(ctx, op, 2, "B"));
    TP_CHECK_ARG(ctx.input_shape(2) == Shape{w[0]},
                 NodeContext(ctx, op) << ": input B has shape " << ShapeToString(ctx.input_shape(2))
                                      << ", expected [" << w[0] << "]");
  }
  auto attrs = ParseWindowAttrs(ctx.attrs(), kernel);
  TP_RETURN_IF_ERROR(InNode(ctx, op, attrs.status()));
  auto geo = ComputeWindowGeometry(*attrs, Shape(x.begin() + 2, x.end()));
  TP_RETURN_IF_ERROR(InNode(ctx, op, geo.status()));
  Shape out = {x[0], w[0]};
  out.insert(out.end(), geo->out.begin(), geo->out.end());
  ctx.SetOutput(0, ctx.input_dtype(0), std::move(out));
  return Status::Ok();
}

// tensorpod's Conv with a residual (see FuseConvResidual): Conv's inputs
// plus the shortcut, which must have the output's shape (it is added
// element by element in the blocked layout).
Status InferFusedConv(InferContext& ctx) {
  TP_RETURN_IF_ERROR(InferConv(ctx));
  TP_CHECK_ARG(ctx.has_input(3), NodeContext(ctx, "tp.FusedConv") << ": needs its shortcut input");
  TP_RETURN_IF_ERROR(CheckSameDType(ctx, "tp.FusedConv", 3, "shortcut"));
  const Shape& out = ctx.output_shape(0);
  if (ctx.input_shape(3) != out) {
    // A valid model the fused kernel cannot run, like a broadcasting Add
    // between blocked tensors (see the planner's tp_same_shape check).
    return TP_ERROR(kUnimplemented, NodeContext(ctx, "tp.FusedConv")
                                        << ": the shortcut " << ShapeToString(ctx.input_shape(3))
                                        << " is not the output's shape " << ShapeToString(out)
                                        << " (a broadcasting residual Add); load the model with optimize off");
  }
  return Status::Ok();
}

Status InferPoolImpl(InferContext& ctx, const char* op) {
  const Shape& x = ctx.input_shape(0);
  TP_CHECK_ARG(x.size() >= 3, NodeContext(ctx, op) << ": input X must have rank >= 3 (N,C,spatial"
                                                   << "...), got " << ShapeToString(x));
  auto kernel = ctx.attrs().RequireInts("kernel_shape");
  TP_RETURN_IF_ERROR(InNode(ctx, op, kernel.status()));
  TP_CHECK_ARG(kernel->size() == x.size() - 2,
               NodeContext(ctx, op) << ": attribute \"kernel_shape\" has " << kernel->size()
                                    << " values for input X " << ShapeToString(x));
  auto attrs = ParseWindowAttrs(ctx.attrs(), *kernel);
  TP_RETURN_IF_ERROR(InNode(ctx, op, attrs.status()));
  auto geo = ComputeWindowGeometry(*attrs, Shape(x.begin() + 2, x.end()));
  TP_RETURN_IF_ERROR(InNode(ctx, op, geo.status()));
  Shape out = {x[0], x[1]};
  out.insert(out.end(), geo->out.begin(), geo->out.end());
  ctx.SetOutput(0, ctx.input_dtype(0), out);
  if (ctx.num_outputs() > 1) ctx.SetOutput(1, DType::kI64, out);
  return Status::Ok();
}

Status InferMaxPool(InferContext& ctx) { return InferPoolImpl(ctx, "MaxPool"); }
Status InferAveragePool(InferContext& ctx) { return InferPoolImpl(ctx, "AveragePool"); }

Status InferGlobalPool(InferContext& ctx) {
  const Shape& x = ctx.input_shape(0);
  TP_CHECK_ARG(x.size() >= 3, "node \"" << ctx.node_name()
                                        << "\": input X must have rank >= 3 (N,C,spatial...), got "
                                        << ShapeToString(x));
  Shape out(x.size(), 1);
  out[0] = x[0];
  out[1] = x[1];
  ctx.SetOutput(0, ctx.input_dtype(0), std::move(out));
  return Status::Ok();
}

Status InferBatchNorm(InferContext& ctx) {
  const char* op = "BatchNormalization";
  const Shape& x = ctx.input_shape(0);
  TP_CHECK_ARG(x.size() >= 2, NodeContext(ctx, op) << ": input X must have rank >= 2 (N,C,...), got "
                                                   << ShapeToString(x));
  // Before opset 9, spatial=0 gave each (channel, position) its own statistics.
  const bool spatial = ctx.opset() >= 9 || ctx.attrs().GetInt("spatial", 1) != 0;
  const int64_t features =
      spatial ? x[1] : NumElementsUnchecked(Shape(x.begin() + 1, x.end()));
  static const char* const kNames[] = {"X", "scale", "B", "input_mean", "input_var"};
  for (int i = 1; i < 5; ++i) {
    TP_CHECK_ARG(IsFloatingPoint(ctx.input_dtype(i)),
                 NodeContext(ctx, op) << ": input " << kNames[i] << " must be floating point");
    TP_CHECK_ARG(NumElementsUnchecked(ctx.input_shape(i)) == features,
                 NodeContext(ctx, op) << ": input " << kNames[i] << " has shape "
                                      << ShapeToString(ctx.input_shape(i)) << ", expected "
                                      << features << " elements (one per "
                                      << (spatial ? "channel" : "channel and position") << ")");
  }
  ctx.SetOutput(0, ctx.input_dtype(0), x);
  // Training-mode statistics outputs; the kernel rejects training.
  for (int i = 1; i < ctx.num_outputs(); ++i) ctx.SetOutput(i, ctx.input_dtype(3), {features});
  return Status::Ok();
}

Status InferSoftmaxImpl(InferContext& ctx, const char* op) {
  const int64_t rank = static_cast<int64_t>(ctx.input_shape(0).size());
  const int64_t def = ctx.opset() >= 13 ? -1 : 1;
  const int64_t axis = ctx.attrs().GetInt("axis", def);
  // Before opset 13 the axis only splits the shape in two, so rank itself
  // (an empty trailing part) is allowed.
  const int64_t hi = ctx.opset() >= 13 ? rank - 1 : rank;
  TP_CHECK_ARG(axis >= -rank && axis <= hi && rank >= 1,
               NodeContext(ctx, op) << ": attribute \"axis\" " << axis
                                    << " is out of range for input of rank " << rank);
  ctx.SetOutput(0, ctx.input_dtype(0), ctx.input_shape(0));
  return Status::Ok();
}

Status InferSoftmax(InferContext& ctx) { return InferSoftmaxImpl(ctx, "Softmax"); }
Status InferLogSoftmax(InferContext& ctx) { return InferSoftmaxImpl(ctx, "LogSoftmax"); }

Status InferLayerNorm(InferContext& ctx) {
  const char* op = "LayerNormalization";
  const Shape& x = ctx.input_shape(0);
  const int64_t rank = static_cast<int64_t>(x.size());
  auto axis = NormalizeAxis(ctx.attrs().GetInt("axis", -1), rank, "attribute \"axis\"");
  TP_RETURN_IF_ERROR(InNode(ctx, op, axis.status()));
  const int64_t norm_size = NumElementsUnchecked(Shape(x.begin() + *axis, x.end()));
  static const char* const kNames[] = {"X", "Scale", "B"};
  for (int i = 1; i < 3; ++i) {
    if (!ctx.has_input(i)) continue;
    TP_RETURN_IF_ERROR(CheckSameDType(ctx, op, i, kNames[i]));
    TP_CHECK_ARG(NumElementsUnchecked(ctx.input_shape(i)) == norm_size,
                 NodeContext(ctx, op) << ": input " << kNames[i] << " has shape "
                                      << ShapeToString(ctx.input_shape(i)) << ", expected the "
                                      << "normalised shape " << ShapeToString(
                                             Shape(x.begin() + *axis, x.end())));
  }
  const int64_t stash = ctx.attrs().GetInt("stash_type", 1);
  TP_CHECK_ARG(stash == 1 || stash == 11,
               NodeContext(ctx, op) << ": attribute \"stash_type\" " << stash
                                    << " is not supported (float or double only)");
  ctx.SetOutput(0, ctx.input_dtype(0), x);
  Shape stats(x.begin(), x.begin() + *axis);
  stats.resize(x.size(), 1);
  for (int i = 1; i < ctx.num_outputs(); ++i) {
    ctx.SetOutput(i, stash == 1 ? DType::kF32 : DType::kF64, stats);
  }
  return Status::Ok();
}

}  // namespace

void RegisterNnSchemas(SchemaRegistry* r) {
  r->Add({"MatMul", 2, 2, 1, 1, {}, false, InferMatMul});
  r->Add({"tp.FusedMatMul", 2, 3, 1, 1, {}, false, InferFusedMatMul});
  r->Add({"tp.Attention", 3, 4, 1, 1, {}, false, InferAttention});
  r->Add({"Gemm", 2, 3, 1, 1, {}, false, InferGemm});
  r->Add({"Conv", 2, 3, 1, 1, {}, false, InferConv});
  // X, W, optional B, shortcut (input 3, checked by InferFusedConv).
  r->Add({"tp.FusedConv", 2, 4, 1, 1, {}, false, InferFusedConv});
  r->Add({"MaxPool", 1, 1, 1, 2, {}, false, InferMaxPool});
  r->Add({"AveragePool", 1, 1, 1, 1, {}, false, InferAveragePool});
  r->Add({"GlobalAveragePool", 1, 1, 1, 1, {}, false, InferGlobalPool});
  r->Add({"GlobalMaxPool", 1, 1, 1, 1, {}, false, InferGlobalPool});
  r->Add({"BatchNormalization", 5, 5, 1, 5, {}, false, InferBatchNorm});
  r->Add({"Softmax", 1, 1, 1, 1, {}, false, InferSoftmax});
  r->Add({"LogSoftmax", 1, 1, 1, 1, {}, false, InferLogSoftmax});
  r->Add({"LayerNormalization", 2, 3, 1, 3, {}, false, InferLayerNorm});
  // tensorpod's own: a 4-D float tensor from the blocked layout back to the
  // plain one (see the graph pass AssignBlockedLayouts); same shape.
  r->Add({"tp.ToPlain", 1, 1, 1, 1, {}, false, InferSameAsInput0});
}

}  // namespace tensorpod::internal
