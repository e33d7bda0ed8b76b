// Schemas of the data-movement ops: Reshape, Flatten, Transpose, Concat,
// Split, Slice, Gather, Unsqueeze, Squeeze, Shape, Size, Expand,
// ConstantOfShape, Constant, Range, Tile, Pad.
#include "ops/tensor.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "ops/op_schema.h"

namespace tensorpod::internal {

std::string IntList::ToString() const {
  std::string s = "[";
  for (int64_t i = 0; i < size_; ++i) {
    if (i) s += ",";
    s += std::to_string((*this)[i]);
  }
  return s + "]";
}

Status CheckIntTensor(const Tensor& t, std::string_view where,
                      const char* what) {
  TP_CHECK_ARG(t.dtype() == DType::kI64 || t.dtype() == DType::kI32,
               where << ": input " << what << " must be int64 or int32, got "
                     << DTypeName(t.dtype()));
  TP_CHECK_ARG(t.rank() <= 1, where << ": input " << what
                                    << " must be a 1-D list, got shape "
                                    << ShapeToString(t.shape()));
  return Status::Ok();
}

StatusOr<IntList> AttrIntList(const Attributes& attrs, const char* name,
                              std::string_view where) {
  auto it = attrs.map().find(name);
  if (it == attrs.map().end()) return IntList();
  if (auto* v = std::get_if<std::vector<int64_t>>(&it->second)) {
    return IntList(v->data(), static_cast<int64_t>(v->size()));
  }
  if (auto* v = std::get_if<int64_t>(&it->second)) return IntList(v, 1);
  return TP_ERROR(kInvalidArgument,
                  where << ": attribute \"" << name << "\" must be ints");
}

Status ResolveSlice(std::string_view where, const Shape& input_shape,
                    const IntList& starts, const IntList& ends,
                    const IntList& axes, const IntList& steps, SliceAxis* out) {
  const int64_t rank = static_cast<int64_t>(input_shape.size());
  for (int64_t d = 0; d < rank; ++d) out[d] = SliceAxis{0, 1, input_shape[d]};
  const int64_t n = starts.size();
  TP_CHECK_ARG(ends.size() == n, where << ": starts " << starts.ToString()
                                       << " and ends " << ends.ToString()
                                       << " differ in length");
  TP_CHECK_ARG(!axes.present() || axes.size() == n,
               where << ": axes " << axes.ToString() << " and starts "
                     << starts.ToString() << " differ in length");
  TP_CHECK_ARG(!steps.present() || steps.size() == n,
               where << ": steps " << steps.ToString() << " and starts "
                     << starts.ToString() << " differ in length");
  TP_CHECK_ARG(n <= rank,
               where << ": " << n << " starts for input of rank " << rank);
  // A bit per dimension catches repeated axes without allocating.
  uint64_t seen = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t raw_axis = axes.present() ? axes[i] : i;
    const int64_t axis = raw_axis < 0 ? raw_axis + rank : raw_axis;
    TP_CHECK_ARG(axis >= 0 && axis < rank,
                 where << ": axis " << raw_axis
                       << " is out of range for input of rank " << rank);
    TP_CHECK_ARG(axis >= 64 || !(seen >> axis & 1),
                 where << ": axis " << raw_axis << " is given twice in "
                       << axes.ToString());
    if (axis < 64) seen |= uint64_t{1} << axis;
    const int64_t step = steps.present() ? steps[i] : 1;
    TP_CHECK_ARG(step != 0, where << ": step for axis " << raw_axis << " is 0");
    const int64_t dim = input_shape[axis];
    int64_t start = starts[i];
    int64_t end = ends[i];
    // Adding dim to a negative value cannot overflow; positive ones are clamped
    // below.
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    int64_t count = 0;
    if (step > 0) {
      start = std::clamp<int64_t>(start, 0, dim);
      end = std::clamp<int64_t>(end, 0, dim);
      if (end > start) count = 1 + (end - start - 1) / step;
    } else if (dim > 0) {
      start = std::clamp<int64_t>(start, 0, dim - 1);
      end = std::clamp<int64_t>(end, -1, dim - 1);
      // -step overflows for INT64_MIN; any step beyond -dim reads one element.
      const int64_t back = step < -dim ? dim : -step;
      if (start > end) count = 1 + (start - end - 1) / back;
    }
    out[axis] = SliceAxis{count > 0 ? start : 0, step, count};
  }
  return Status::Ok();
}

StatusOr<PadMode> ParsePadMode(const Attributes& attrs,
                               std::string_view where) {
  const std::string mode = attrs.GetString("mode", "constant");
  if (mode == "constant") return PadMode::kConstant;
  if (mode == "reflect") return PadMode::kReflect;
  if (mode == "edge") return PadMode::kEdge;
  return TP_ERROR(kInvalidArgument,
                  where << ": attribute \"mode\" is \"" << mode
                        << "\"; expected constant, reflect or edge");
}

Status ResolvePads(std::string_view where, const Shape& input_shape,
                   const IntList& pads, PadMode mode, int64_t* begin,
                   int64_t* end) {
  const int64_t rank = static_cast<int64_t>(input_shape.size());
  TP_CHECK_ARG(pads.size() == 2 * rank, where << ": pads " << pads.ToString()
                                              << " has " << pads.size()
                                              << " values; input of rank "
                                              << rank << " needs " << 2 * rank);
  for (int64_t d = 0; d < rank; ++d) {
    const int64_t dim = input_shape[d];
    const int64_t b = pads[d];
    const int64_t e = pads[d + rank];
    // Crops are applied first, so together they must fit in the dimension.
    TP_CHECK_ARG(
        b >= -dim && e >= -dim && (b < 0 ? -b : 0) + (e < 0 ? -e : 0) <= dim,
        where << ": pads " << pads.ToString() << " crop more than dimension "
              << d << " of size " << dim);
    const int64_t crop_b = b < 0 ? -b : 0;
    const int64_t crop_e = e < 0 ? -e : 0;
    const int64_t kept = dim - crop_b - crop_e;
    const int64_t grow_b = b > 0 ? b : 0;
    const int64_t grow_e = e > 0 ? e : 0;
    TP_CHECK_ARG(
        grow_b <= std::numeric_limits<int64_t>::max() - kept - grow_e,
        where << ": pads " << pads.ToString() << " overflow dimension " << d);
    if (mode == PadMode::kReflect && (grow_b > 0 || grow_e > 0)) {
      TP_CHECK_ARG(grow_b < kept && grow_e < kept,
                   where << ": reflect pads " << pads.ToString()
                         << " must be smaller than dimension " << d << " ("
                         << kept << " after cropping)");
    }
    if (mode == PadMode::kEdge && (grow_b > 0 || grow_e > 0)) {
      TP_CHECK_ARG(kept > 0,
                   where << ": edge padding of empty dimension " << d);
    }
    begin[d] = b;
    end[d] = e;
  }
  return Status::Ok();
}

void ShapeOpRange(int64_t rank, const Attributes& attrs, int opset,
                  int64_t* start, int64_t* count) {
  int64_t s = 0;
  int64_t e = rank;
  if (opset >= 15) {
    s = attrs.GetInt("start", 0);
    e = attrs.GetInt("end", rank);
  }
  auto clamp = [rank](int64_t v) {
    return std::clamp<int64_t>(v < 0 ? v + rank : v, 0, rank);
  };
  s = clamp(s);
  e = clamp(e);
  *start = s;
  *count = std::max<int64_t>(0, e - s);
}

StatusOr<Tensor> ConstantOpValue(const Attributes& attrs,
                                 std::string_view where) {
  for (const char* unsupported :
       {"value_string", "value_strings", "sparse_value"}) {
    if (attrs.Has(unsupported)) {
      return TP_ERROR(kUnimplemented, where << ": Constant attribute \""
                                            << unsupported
                                            << "\" is not supported");
    }
  }
  int found = 0;
  for (const char* name :
       {"value", "value_float", "value_floats", "value_int", "value_ints"}) {
    found += attrs.Has(name) ? 1 : 0;
  }
  TP_CHECK_ARG(
      found == 1,
      where << ": a Constant needs exactly one value attribute, got " << found);
  if (const Tensor* t = attrs.GetTensor("value")) {
    if (DTypeSize(t->dtype()) == 0) {
      return TP_ERROR(kUnimplemented, where << ": Constant of undefined type");
    }
    return *t;
  }
  TP_CHECK_ARG(!attrs.Has("value"),
               where << ": attribute \"value\" must be a tensor");
  auto make = [](DType dtype, Shape shape,
                 const void* data) -> StatusOr<Tensor> {
    TP_ASSIGN_OR_RETURN(Tensor t, Tensor::Empty(dtype, shape));
    if (t.nbytes() > 0) std::memcpy(t.raw_data(), data, t.nbytes());
    return t;
  };
  if (attrs.Has("value_float")) {
    const float f = attrs.GetFloat("value_float", 0.0f);
    return make(DType::kF32, {}, &f);
  }
  if (attrs.Has("value_int")) {
    auto i = attrs.RequireInt("value_int");
    if (!i.ok()) return i.status().WithContext(std::string(where));
    return make(DType::kI64, {}, &*i);
  }
  if (attrs.Has("value_floats")) {
    const std::vector<float> fs = attrs.GetFloats("value_floats");
    return make(DType::kF32, {static_cast<int64_t>(fs.size())}, fs.data());
  }
  const std::vector<int64_t> is = attrs.GetInts("value_ints");
  return make(DType::kI64, {static_cast<int64_t>(is.size())}, is.data());
}

namespace {

std::string Where(const InferContext& ctx, const char* op) {
  return std::string(op) + " node \"" + std::string(ctx.node_name()) + "\"";
}

// The value of input i as an IntList; the value must be known.
StatusOr<IntList> ValueIntList(const InferContext& ctx, int i,
                               std::string_view where, const char* what) {
  auto value = ctx.RequireValue(i, what);
  if (!value.ok()) return value.status().WithContext(std::string(where));
  TP_RETURN_IF_ERROR(CheckIntTensor(**value, where, what));
  return IntList(*value);
}

// An element count with the node named on overflow.
StatusOr<int64_t> CountOf(const Shape& shape, std::string_view where,
                          const char* what) {
  auto n = NumElements(shape);
  if (!n.ok()) return n.status().WithContext(std::string(where) + ": " + what);
  return n;
}

StatusOr<int64_t> AxisOf(int64_t axis, int64_t rank, std::string_view where) {
  auto a = NormalizeAxis(axis, rank, "axis");
  if (!a.ok()) return a.status().WithContext(std::string(where));
  return a;
}

Status InferReshape(InferContext& ctx) {
  const std::string where = Where(ctx, "Reshape");
  TP_ASSIGN_OR_RETURN(IntList shape, ValueIntList(ctx, 1, where, "\"shape\""));
  const bool allow_zero =
      ctx.opset() >= 14 && ctx.attrs().GetInt("allowzero", 0) != 0;
  const Shape& in = ctx.input_shape(0);
  Shape out(shape.size());
  int64_t inferred = -1;
  bool has_zero = false;
  for (int64_t i = 0; i < shape.size(); ++i) {
    int64_t v = shape[i];
    if (v == -1) {
      TP_CHECK_ARG(inferred < 0, where << ": input \"shape\" "
                                       << shape.ToString()
                                       << " has more than one -1");
      inferred = i;
      out[i] = 1;
      continue;
    }
    if (v == 0 && !allow_zero) {
      TP_CHECK_ARG(i < static_cast<int64_t>(in.size()),
                   where << ": input \"shape\" " << shape.ToString()
                         << " copies dimension " << i
                         << " (a 0) that input \"data\" " << ShapeToString(in)
                         << " lacks");
      v = in[i];
    }
    has_zero |= v == 0;
    TP_CHECK_ARG(v >= 0, where << ": input \"shape\" " << shape.ToString()
                               << " has a negative dimension " << v);
    out[i] = v;
  }
  TP_CHECK_ARG(!(allow_zero && has_zero && inferred >= 0),
               where << ": input \"shape\" " << shape.ToString()
                     << " has both 0 and -1 while allowzero is set");
  TP_ASSIGN_OR_RETURN(int64_t in_count, CountOf(in, where, "input \"data\""));
  TP_ASSIGN_OR_RETURN(int64_t known, CountOf(out, where, "input \"shape\""));
  if (inferred >= 0) {
    TP_CHECK_ARG(known != 0 && in_count % known == 0,
                 where << ": input \"shape\" " << shape.ToString()
                       << " cannot hold the " << in_count
                       << " elements of input \"data\" " << ShapeToString(in));
    out[inferred] = in_count / known;
  } else {
    TP_CHECK_ARG(known == in_count,
                 where << ": input \"shape\" " << shape.ToString() << " has "
                       << known << " elements but input \"data\" "
                       << ShapeToString(in) << " has " << in_count);
  }
  ctx.SetOutput(0, ctx.input_dtype(0), std::move(out));
  return Status::Ok();
}

Status InferFlatten(InferContext& ctx) {
  const std::string where = Where(ctx, "Flatten");
  const Shape& in = ctx.input_shape(0);
  const int64_t rank = static_cast<int64_t>(in.size());
  int64_t axis = ctx.attrs().GetInt("axis", 1);
  TP_CHECK_ARG(axis >= -rank && axis <= rank,
               where << ": attribute \"axis\" " << axis
                     << " is out of range for rank " << rank);
  if (axis < 0) axis += rank;
  TP_ASSIGN_OR_RETURN(
      int64_t outer,
      CountOf(Shape(in.begin(), in.begin() + axis), where, "input"));
  TP_ASSIGN_OR_RETURN(int64_t inner, CountOf(Shape(in.begin() + axis, in.end()),
                                             where, "input"));
  ctx.SetOutput(0, ctx.input_dtype(0), {outer, inner});
  return Status::Ok();
}

Status InferTranspose(InferContext& ctx) {
  const std::string where = Where(ctx, "Transpose");
  const Shape& in = ctx.input_shape(0);
  const int64_t rank = static_cast<int64_t>(in.size());
  std::vector<int64_t> perm = ctx.attrs().GetInts("perm");
  if (!ctx.attrs().Has("perm")) {
    for (int64_t i = rank - 1; i >= 0; --i) perm.push_back(i);
  }
  TP_CHECK_ARG(static_cast<int64_t>(perm.size()) == rank,
               where << ": attribute \"perm\" " << ShapeToString(perm)
                     << " has " << perm.size() << " entries for input of rank "
                     << rank);
  std::vector<bool> used(rank, false);
  Shape out(rank);
  for (int64_t i = 0; i < rank; ++i) {
    TP_CHECK_ARG(perm[i] >= 0 && perm[i] < rank && !used[perm[i]],
                 where << ": attribute \"perm\" " << ShapeToString(perm)
                       << " is not a permutation of 0.." << rank - 1);
    used[perm[i]] = true;
    out[i] = in[perm[i]];
  }
  ctx.SetOutput(0, ctx.input_dtype(0), std::move(out));
  return Status::Ok();
}

Status InferConcat(InferContext& ctx) {
  const std::string where = Where(ctx, "Concat");
  TP_CHECK_ARG(ctx.num_inputs() >= 1 && ctx.has_input(0),
               where << ": needs at least one input");
  auto axis_attr = ctx.attrs().RequireInt("axis");
  if (!axis_attr.ok()) return axis_attr.status().WithContext(where);
  Shape out = ctx.input_shape(0);
  const int64_t rank = static_cast<int64_t>(out.size());
  TP_CHECK_ARG(rank >= 1,
               where << ": input 0 is a scalar; Concat needs rank >= 1");
  TP_ASSIGN_OR_RETURN(const int64_t axis, AxisOf(*axis_attr, rank, where));
  const DType dtype = ctx.input_dtype(0);
  for (int i = 1; i < ctx.num_inputs(); ++i) {
    TP_CHECK_ARG(ctx.has_input(i), where << ": input " << i << " is missing");
    const Shape& s = ctx.input_shape(i);
    TP_CHECK_ARG(ctx.input_dtype(i) == dtype,
                 where << ": input " << i << " is "
                       << DTypeName(ctx.input_dtype(i)) << " but input 0 is "
                       << DTypeName(dtype));
    bool match = static_cast<int64_t>(s.size()) == rank;
    for (int64_t d = 0; match && d < rank; ++d)
      match = d == axis || s[d] == out[d];
    TP_CHECK_ARG(match, where << ": input " << i << " " << ShapeToString(s)
                              << " does not match input 0 "
                              << ShapeToString(ctx.input_shape(0))
                              << " outside axis " << axis);
    TP_CHECK_ARG(out[axis] <= std::numeric_limits<int64_t>::max() - s[axis],
                 where << ": concatenated axis " << axis << " overflows");
    out[axis] += s[axis];
  }
  TP_RETURN_IF_ERROR(CountOf(out, where, "output").status());
  ctx.SetOutput(0, dtype, std::move(out));
  return Status::Ok();
}

Status InferSplit(InferContext& ctx) {
  const std::string where = Where(ctx, "Split");
  const Shape& in = ctx.input_shape(0);
  const int64_t rank = static_cast<int64_t>(in.size());
  TP_CHECK_ARG(rank >= 1,
               where << ": input is a scalar; Split needs rank >= 1");
  TP_ASSIGN_OR_RETURN(const int64_t axis,
                      AxisOf(ctx.attrs().GetInt("axis", 0), rank, where));
  const int64_t n = ctx.num_outputs();
  const int64_t dim = in[axis];
  IntList split;
  if (ctx.opset() < 13) {
    TP_ASSIGN_OR_RETURN(split, AttrIntList(ctx.attrs(), "split", where));
  } else if (ctx.has_input(1)) {
    TP_ASSIGN_OR_RETURN(split, ValueIntList(ctx, 1, where, "\"split\""));
  }
  Shape out = in;
  if (!split.present()) {
    TP_CHECK_ARG(dim % n == 0, where << ": dimension " << axis << " of size "
                                     << dim << " does not split into " << n
                                     << " equal parts");
    out[axis] = dim / n;
    for (int i = 0; i < n; ++i) ctx.SetOutput(i, ctx.input_dtype(0), out);
    return Status::Ok();
  }
  TP_CHECK_ARG(split.size() == n, where << ": split " << split.ToString()
                                        << " has " << split.size()
                                        << " sizes for " << n << " outputs");
  int64_t sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    TP_CHECK_ARG(split[i] >= 0 && split[i] <= dim - sum,
                 where << ": split " << split.ToString()
                       << " does not sum to dimension " << axis << " of size "
                       << dim);
    sum += split[i];
  }
  TP_CHECK_ARG(sum == dim, where << ": split " << split.ToString()
                                 << " sums to " << sum << ", not to dimension "
                                 << axis << " of size " << dim);
  for (int i = 0; i < n; ++i) {
    out[axis] = split[i];
    ctx.SetOutput(i, ctx.input_dtype(0), out);
  }
  return Status::Ok();
}

Status InferSlice(InferContext& ctx) {
  const std::string where = Where(ctx, "Slice");
  const Shape& in = ctx.input_shape(0);
  IntList starts, ends, axes, steps;
  if (ctx.opset() < 10) {
    TP_ASSIGN_OR_RETURN(starts, AttrIntList(ctx.attrs(), "starts", where));
    TP_ASSIGN_OR_RETURN(ends, AttrIntList(ctx.attrs(), "ends", where));
    TP_ASSIGN_OR_RETURN(axes, AttrIntList(ctx.attrs(), "axes", where));
    TP_CHECK_ARG(starts.present() && ends.present(),
                 where << ": attributes \"starts\" and \"ends\" are required");
  } else {
    TP_ASSIGN_OR_RETURN(starts, ValueIntList(ctx, 1, where, "\"starts\""));
    TP_ASSIGN_OR_RETURN(ends, ValueIntList(ctx, 2, where, "\"ends\""));
    if (ctx.has_input(3)) {
      TP_ASSIGN_OR_RETURN(axes, ValueIntList(ctx, 3, where, "\"axes\""));
    }
    if (ctx.has_input(4)) {
      TP_ASSIGN_OR_RETURN(steps, ValueIntList(ctx, 4, where, "\"steps\""));
    }
  }
  std::vector<SliceAxis> ranges(in.size());
  TP_RETURN_IF_ERROR(
      ResolveSlice(where, in, starts, ends, axes, steps, ranges.data()));
  Shape out(in.size());
  for (size_t d = 0; d < in.size(); ++d) out[d] = ranges[d].count;
  ctx.SetOutput(0, ctx.input_dtype(0), std::move(out));
  return Status::Ok();
}

Status InferGather(InferContext& ctx) {
  const std::string where = Where(ctx, "Gather");
  const Shape& data = ctx.input_shape(0);
  const int64_t rank = static_cast<int64_t>(data.size());
  TP_CHECK_ARG(rank >= 1,
               where << ": input \"data\" is a scalar; Gather needs rank >= 1");
  TP_ASSIGN_OR_RETURN(const int64_t axis,
                      AxisOf(ctx.attrs().GetInt("axis", 0), rank, where));
  const DType idx = ctx.input_dtype(1);
  TP_CHECK_ARG(idx == DType::kI64 || idx == DType::kI32,
               where << ": input \"indices\" must be int64 or int32, got "
                     << DTypeName(idx));
  Shape out(data.begin(), data.begin() + axis);
  const Shape& indices = ctx.input_shape(1);
  out.insert(out.end(), indices.begin(), indices.end());
  out.insert(out.end(), data.begin() + axis + 1, data.end());
  TP_RETURN_IF_ERROR(CountOf(out, where, "output").status());
  ctx.SetOutput(0, ctx.input_dtype(0), std::move(out));
  return Status::Ok();
}

// Squeeze and Unsqueeze take their axes from an attribute before opset 13
// and from input 1 since.
StatusOr<IntList> SqueezeAxes(const InferContext& ctx, std::string_view where) {
  if (ctx.opset() < 13) return AttrIntList(ctx.attrs(), "axes", where);
  if (!ctx.has_input(1)) return IntList();
  return ValueIntList(ctx, 1, where, "\"axes\"");
}

Status InferUnsqueeze(InferContext& ctx) {
  const std::string where = Where(ctx, "Unsqueeze");
  TP_ASSIGN_OR_RETURN(IntList axes, SqueezeAxes(ctx, where));
  TP_CHECK_ARG(axes.present(), where << ": axes are required");
  const Shape& in = ctx.input_shape(0);
  const int64_t out_rank = static_cast<int64_t>(in.size()) + axes.size();
  std::vector<bool> inserted(out_rank, false);
  for (int64_t i = 0; i < axes.size(); ++i) {
    const int64_t a = axes[i] < 0 ? axes[i] + out_rank : axes[i];
    TP_CHECK_ARG(a >= 0 && a < out_rank,
                 where << ": axis " << axes[i]
                       << " is out of range for output rank " << out_rank);
    TP_CHECK_ARG(!inserted[a], where << ": axis " << axes[i]
                                     << " is given twice in "
                                     << axes.ToString());
    inserted[a] = true;
  }
  Shape out(out_rank);
  for (int64_t d = 0, j = 0; d < out_rank; ++d)
    out[d] = inserted[d] ? 1 : in[j++];
  ctx.SetOutput(0, ctx.input_dtype(0), std::move(out));
  return Status::Ok();
}

Status InferSqueeze(InferContext& ctx) {
  const std::string where = Where(ctx, "Squeeze");
  TP_ASSIGN_OR_RETURN(IntList axes, SqueezeAxes(ctx, where));
  const Shape& in = ctx.input_shape(0);
  const int64_t rank = static_cast<int64_t>(in.size());
  std::vector<bool> removed(rank, false);
  if (axes.size() == 0) {
    for (int64_t d = 0; d < rank; ++d) removed[d] = in[d] == 1;
  }
  for (int64_t i = 0; i < axes.size(); ++i) {
    const int64_t a = axes[i] < 0 ? axes[i] + rank : axes[i];
    TP_CHECK_ARG(a >= 0 && a < rank,
                 where << ": axis " << axes[i]
                       << " is out of range for input of rank " << rank);
    TP_CHECK_ARG(!removed[a], where << ": axis " << axes[i]
                                    << " is given twice in "
                                    << axes.ToString());
    TP_CHECK_ARG(in[a] == 1, where << ": axis " << axes[i] << " of input "
                                   << ShapeToString(in) << " has size " << in[a]
                                   << ", not 1");
    removed[a] = true;
  }
  Shape out;
  for (int64_t d = 0; d < rank; ++d) {
    if (!removed[d]) out.push_back(in[d]);
  }
  ctx.SetOutput(0, ctx.input_dtype(0), std::move(out));
  return Status::Ok();
}

Status InferShape(InferContext& ctx) {
  int64_t start = 0;
  int64_t count = 0;
  ShapeOpRange(static_cast<int64_t>(ctx.input_shape(0).size()), ctx.attrs(),
               ctx.opset(), &start, &count);
  ctx.SetOutput(0, DType::kI64, {count});
  return Status::Ok();
}

Status InferSize(InferContext& ctx) {
  ctx.SetOutput(0, DType::kI64, {});
  return Status::Ok();
}

Status InferExpand(InferContext& ctx) {
  const std::string where = Where(ctx, "Expand");
  TP_ASSIGN_OR_RETURN(IntList shape, ValueIntList(ctx, 1, where, "\"shape\""));
  Shape target(shape.size());
  for (int64_t i = 0; i < shape.size(); ++i) {
    TP_CHECK_ARG(shape[i] >= 0, where << ": input \"shape\" "
                                      << shape.ToString()
                                      << " has a negative dimension");
    target[i] = shape[i];
  }
  auto out = BroadcastShapes(ctx.input_shape(0), target);
  if (!out.ok()) return out.status().WithContext(where + ": input \"shape\"");
  TP_RETURN_IF_ERROR(CountOf(*out, where, "output").status());
  ctx.SetOutput(0, ctx.input_dtype(0), std::move(out).value());
  return Status::Ok();
}

Status InferConstantOfShape(InferContext& ctx) {
  const std::string where = Where(ctx, "ConstantOfShape");
  TP_ASSIGN_OR_RETURN(IntList shape, ValueIntList(ctx, 0, where, "\"input\""));
  Shape out(shape.size());
  for (int64_t i = 0; i < shape.size(); ++i) {
    TP_CHECK_ARG(shape[i] >= 0, where << ": input \"input\" "
                                      << shape.ToString()
                                      << " has a negative dimension");
    out[i] = shape[i];
  }
  TP_RETURN_IF_ERROR(CountOf(out, where, "input \"input\"").status());
  DType dtype = DType::kF32;
  if (const Tensor* value = ctx.attrs().GetTensor("value")) {
    TP_CHECK_ARG(
        value->num_elements() == 1 && DTypeSize(value->dtype()) > 0,
        where << ": attribute \"value\" must hold one element, got shape "
              << ShapeToString(value->shape()));
    dtype = value->dtype();
  } else {
    TP_CHECK_ARG(!ctx.attrs().Has("value"),
                 where << ": attribute \"value\" must be a tensor");
  }
  ctx.SetOutput(0, dtype, std::move(out));
  return Status::Ok();
}

Status InferConstant(InferContext& ctx) {
  TP_ASSIGN_OR_RETURN(Tensor value,
                      ConstantOpValue(ctx.attrs(), Where(ctx, "Constant")));
  ctx.SetOutput(0, value.dtype(), value.shape());
  return Status::Ok();
}

// How many values Range produces: max(ceil((limit - start) / delta), 0),
// with the difference taken in the input type as the ONNX reference does.
template <typename T>
StatusOr<int64_t> RangeCount(const Tensor& start_t, const Tensor& limit_t,
                             const Tensor& delta_t, std::string_view where) {
  const T start = start_t.data<T>()[0];
  const T limit = limit_t.data<T>()[0];
  const T delta = delta_t.data<T>()[0];
  TP_CHECK_ARG(delta != T(0), where << ": input \"delta\" is 0");
  double n;
  if constexpr (std::is_integral_v<T>) {
    // Integers: exact ceiling division in 128 bits, so int64 extremes work.
    const __int128 diff = static_cast<__int128>(limit) - start;
    const __int128 d = delta;
    __int128 q = diff / d;
    if ((diff % d != 0) && ((diff < 0) == (d < 0))) ++q;
    n = static_cast<double>(q);
  } else {
    n = std::ceil(static_cast<double>(static_cast<T>(limit - start)) /
                  static_cast<double>(delta));
    TP_CHECK_ARG(std::isfinite(n), where << ": start " << start << ", limit "
                                         << limit << " and delta " << delta
                                         << " give no finite count");
  }
  if (n <= 0) return int64_t{0};
  TP_CHECK_ARG(n < 9.0e18,
               where << ": range of " << n << " values is too large");
  return static_cast<int64_t>(n);
}

Status InferRange(InferContext& ctx) {
  const std::string where = Where(ctx, "Range");
  const char* names[3] = {"\"start\"", "\"limit\"", "\"delta\""};
  const Tensor* t[3];
  for (int i = 0; i < 3; ++i) {
    auto v = ctx.RequireValue(i, names[i]);
    if (!v.ok()) return v.status().WithContext(where);
    t[i] = *v;
    TP_CHECK_ARG(t[i]->num_elements() == 1,
                 where << ": input " << names[i]
                       << " must be a scalar, got shape "
                       << ShapeToString(t[i]->shape()));
    TP_CHECK_ARG(t[i]->dtype() == t[0]->dtype(),
                 where << ": input " << names[i] << " is "
                       << DTypeName(t[i]->dtype()) << " but \"start\" is "
                       << DTypeName(t[0]->dtype()));
  }
  StatusOr<int64_t> n = TP_ERROR(
      kUnimplemented, where << ": Range of " << DTypeName(t[0]->dtype())
                            << " is not supported");
  switch (t[0]->dtype()) {
    case DType::kF32:
      n = RangeCount<float>(*t[0], *t[1], *t[2], where);
      break;
    case DType::kF64:
      n = RangeCount<double>(*t[0], *t[1], *t[2], where);
      break;
    case DType::kI16:
      n = RangeCount<int16_t>(*t[0], *t[1], *t[2], where);
      break;
    case DType::kI32:
      n = RangeCount<int32_t>(*t[0], *t[1], *t[2], where);
      break;
    case DType::kI64:
      n = RangeCount<int64_t>(*t[0], *t[1], *t[2], where);
      break;
    default:
      break;
  }
  if (!n.ok()) return n.status();
  ctx.SetOutput(0, t[0]->dtype(), {*n});
  return Status::Ok();
}

Status InferTile(InferContext& ctx) {
  const std::string where = Where(ctx, "Tile");
  TP_ASSIGN_OR_RETURN(IntList repeats,
                      ValueIntList(ctx, 1, where, "\"repeats\""));
  const Shape& in = ctx.input_shape(0);
  TP_CHECK_ARG(repeats.size() == static_cast<int64_t>(in.size()),
               where << ": input \"repeats\" " << repeats.ToString() << " has "
                     << repeats.size() << " values for input of rank "
                     << in.size());
  Shape out(in.size());
  for (size_t d = 0; d < in.size(); ++d) {
    TP_CHECK_ARG(repeats[d] >= 0, where << ": input \"repeats\" "
                                        << repeats.ToString()
                                        << " has a negative count");
    TP_CHECK_ARG(
        in[d] == 0 || repeats[d] <= std::numeric_limits<int64_t>::max() / in[d],
        where << ": input \"repeats\" " << repeats.ToString()
              << " overflows dimension " << d);
    out[d] = in[d] * repeats[d];
  }
  TP_RETURN_IF_ERROR(CountOf(out, where, "output").status());
  ctx.SetOutput(0, ctx.input_dtype(0), std::move(out));
  return Status::Ok();
}

Status InferPad(InferContext& ctx) {
  const std::string where = Where(ctx, "Pad");
  TP_ASSIGN_OR_RETURN(PadMode mode, ParsePadMode(ctx.attrs(), where));
  IntList pads;
  if (ctx.opset() < 11) {
    TP_ASSIGN_OR_RETURN(pads, AttrIntList(ctx.attrs(), "pads", where));
    TP_CHECK_ARG(pads.present(), where << ": attribute \"pads\" is required");
  } else {
    TP_ASSIGN_OR_RETURN(pads, ValueIntList(ctx, 1, where, "\"pads\""));
    TP_CHECK_ARG(!ctx.has_input(3),
                 where << ": input \"axes\" (opset 18) is not supported");
    if (ctx.has_input(2)) {
      TP_CHECK_ARG(ctx.input_dtype(2) == ctx.input_dtype(0),
                   where << ": input \"constant_value\" is "
                         << DTypeName(ctx.input_dtype(2))
                         << " but input \"data\" is "
                         << DTypeName(ctx.input_dtype(0)));
      TP_CHECK_ARG(
          NumElementsUnchecked(ctx.input_shape(2)) == 1,
          where << ": input \"constant_value\" must be a scalar, got shape "
                << ShapeToString(ctx.input_shape(2)));
    }
  }
  const Shape& in = ctx.input_shape(0);
  std::vector<int64_t> begin(in.size()), end(in.size());
  TP_RETURN_IF_ERROR(
      ResolvePads(where, in, pads, mode, begin.data(), end.data()));
  Shape out(in.size());
  for (size_t d = 0; d < in.size(); ++d) out[d] = in[d] + begin[d] + end[d];
  TP_RETURN_IF_ERROR(CountOf(out, where, "output").status());
  ctx.SetOutput(0, ctx.input_dtype(0), std::move(out));
  return Status::Ok();
}

}  // namespace

void RegisterTensorSchemas(SchemaRegistry* r) {
  // {op_type, min/max inputs, min/max outputs, value_inputs, shape_only, infer}
  r->Add({"Reshape", 2, 2, 1, 1, {1}, false, InferReshape});
  r->Add({"Flatten", 1, 1, 1, 1, {}, false, InferFlatten});
  r->Add({"Transpose", 1, 1, 1, 1, {}, false, InferTranspose});
  r->Add({"Concat", 1, -1, 1, 1, {}, false, InferConcat});
  r->Add({"Split", 1, 2, 1, -1, {1}, false, InferSplit});
  r->Add({"Slice", 1, 5, 1, 1, {1, 2, 3, 4}, false, InferSlice});
  r->Add({"Gather", 2, 2, 1, 1, {}, false, InferGather});
  r->Add({"Unsqueeze", 1, 2, 1, 1, {1}, false, InferUnsqueeze});
  r->Add({"Squeeze", 1, 2, 1, 1, {1}, false, InferSqueeze});
  r->Add({"Shape", 1, 1, 1, 1, {}, true, InferShape});
  r->Add({"Size", 1, 1, 1, 1, {}, true, InferSize});
  r->Add({"Expand", 2, 2, 1, 1, {1}, false, InferExpand});
  r->Add({"ConstantOfShape", 1, 1, 1, 1, {0}, false, InferConstantOfShape});
  r->Add({"Constant", 0, 0, 1, 1, {}, false, InferConstant});
  r->Add({"Range", 3, 3, 1, 1, {0, 1, 2}, false, InferRange});
  r->Add({"Tile", 2, 2, 1, 1, {1}, false, InferTile});
  r->Add({"Pad", 1, 4, 1, 1, {1}, false, InferPad});
}

}  // namespace tensorpod::internal
