// Backend op tests: each op case is defined once (op type, attributes, opset,
// inputs drawn from a seed, tolerance) and run on every available backend:
// the CPU always, cuda:0 in float32, float16 and bfloat16 when a GPU is
// usable. Every run is compared with the CPU reference (EvaluateNodeOnCpu) by
// the normalized error max|got - want| / max(1, max|want|), and every output
// is written into a buffer with guard bytes on both sides that must come
// back intact. Adding a kernel to a backend means adding its cases here.
//
// The float16/bfloat16 legs feed the kernel the same draw rounded to the
// narrow type; the reference runs in float32 on those rounded values, so the
// tolerance covers only the output's rounding and the kernel's arithmetic.
//
// A CUDA case skips, saying why, when no GPU is usable or when the CUDA
// backend does not support the node (Supports() is false: the runtime would
// run that node on the CPU); the unsupported cases are listed at the end.
//
// Example:
//   build/tests/ops/tp_backend_ops_test --gtest_filter='*Softmax*'
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <memory>
#include <mutex>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "backend/device_backend.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/eval_node.h"
#include "core/dtype.h"
#include "core/tensor.h"
#include "device/allocator.h"
#include "ops/attributes.h"
#include "ops/op_schema.h"
#include "runtime/devices.h"

namespace tensorpod::internal {
namespace {

// ------------------------------------------------------------------ cases

// How one input of a case is made.
struct InputSpec {
  enum class Kind { kOmitted, kUniform, kInts, kBools, kValues };
  Kind kind = Kind::kOmitted;
  DType dtype = DType::kF32;
  Shape shape;
  double lo = -1.0, hi = 1.0;
  double step = 0.0;           // kUniform: > 0 rounds draws to multiples of it
  std::vector<double> values;  // kValues
};

// Float32 uniform in [lo, hi] (drawn as float32, then converted when
// `dtype` is another float type).
InputSpec Uniform(Shape shape, double lo = -1.0, double hi = 1.0, DType dtype = DType::kF32) {
  InputSpec s;
  s.kind = InputSpec::Kind::kUniform;
  s.dtype = dtype;
  s.shape = std::move(shape);
  s.lo = lo;
  s.hi = hi;
  return s;
}
// Uniform on a grid of `step`: ties and exact equalities happen (comparisons,
// ArgMax). Multiples of 0.25 in [-2, 2] are exact in float16 and bfloat16.
InputSpec Grid(Shape shape, double step = 0.25, double lo = -2.0, double hi = 2.0) {
  InputSpec s = Uniform(std::move(shape), lo, hi);
  s.step = step;
  return s;
}
// int64 uniform in [lo, hi].
InputSpec Ints(Shape shape, int64_t lo, int64_t hi) {
  InputSpec s;
  s.kind = InputSpec::Kind::kInts;
  s.dtype = DType::kI64;
  s.shape = std::move(shape);
  s.lo = static_cast<double>(lo);
  s.hi = static_cast<double>(hi);
  return s;
}
InputSpec Bools(Shape shape) {
  InputSpec s;
  s.kind = InputSpec::Kind::kBools;
  s.dtype = DType::kBool;
  s.shape = std::move(shape);
  return s;
}
// A 1-D int64 tensor of fixed values (axes, pads, starts, shapes).
InputSpec I64s(const std::vector<int64_t>& v) {
  InputSpec s;
  s.kind = InputSpec::Kind::kValues;
  s.dtype = DType::kI64;
  s.shape = {static_cast<int64_t>(v.size())};
  for (int64_t x : v) s.values.push_back(static_cast<double>(x));
  return s;
}
// A float32 tensor of fixed values; `shape` {} for a scalar.
InputSpec F32s(Shape shape, const std::vector<double>& v) {
  InputSpec s;
  s.kind = InputSpec::Kind::kValues;
  s.dtype = DType::kF32;
  s.shape = std::move(shape);
  s.values = v;
  return s;
}
InputSpec Omitted() { return InputSpec(); }

using AttrList = std::initializer_list<std::pair<const char*, AttributeValue>>;

struct OpCase {
  std::string name;  // unique; the gtest name
  std::string op;
  Attributes attrs;
  int opset = 17;
  std::vector<InputSpec> inputs;
  int num_outputs = 1;
  double tol = 1e-5;  // float32 legs; see ToleranceFor for the narrow types
  // Also run in float16 and bfloat16 on devices that have them (false where
  // the dtypes are what the case tests, e.g. Cast).
  bool low_precision = true;
  // Inputs given to the kernel at creation as constants (weights), besides
  // the schema's value_inputs, which always are.
  std::vector<int> constant;
};

std::string Sanitize(const std::string& s) {
  std::string out;
  for (char c : s) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

std::string ShapeTag(const Shape& s) {
  if (s.empty()) return "scalar";
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "x" : "") + std::to_string(s[i]);
  return out;
}

// Collects the cases; Add returns the new case for the rarer fields.
class CaseList {
 public:
  OpCase& Add(const std::string& op, const std::string& tag, std::vector<InputSpec> inputs,
              AttrList attrs = {}, double tol = 1e-5) {
    OpCase c;
    c.name = Sanitize(op) + "_" + Sanitize(tag);
    c.op = op;
    for (const auto& [k, v] : attrs) c.attrs.Set(k, v);
    c.inputs = std::move(inputs);
    c.tol = tol;
    cases_.push_back(std::move(c));
    return cases_.back();
  }
  std::vector<OpCase> Take() { return std::move(cases_); }

 private:
  std::vector<OpCase> cases_;
};

void AddElementwiseCases(CaseList& l) {
  const std::vector<Shape> unary_shapes = {{1}, {7, 33}, {3, 1023}};
  for (const Shape& s : unary_shapes) {
    const std::string t = ShapeTag(s);
    l.Add("Relu", t, {Uniform(s)});
    l.Add("Sigmoid", t, {Uniform(s, -6, 6)});
    l.Add("Tanh", t, {Uniform(s, -3, 3)});
    l.Add("Erf", t, {Uniform(s, -3, 3)});
    l.Add("Gelu", t, {Uniform(s, -4, 4)}, {}, 1e-5).opset = 20;
    l.Add("Exp", t, {Uniform(s, -4, 4)});
    l.Add("Sqrt", t, {Uniform(s, 0.01, 9)});
    l.Add("LeakyRelu", t, {Uniform(s)}, {{"alpha", 0.1f}});
    l.Add("Clip", t, {Uniform(s), F32s({}, {-0.5}), F32s({}, {0.25})});
  }
  l.Add("Gelu", "tanh_7x33", {Uniform({7, 33}, -4, 4)}, {{"approximate", std::string("tanh")}}).opset = 20;
  l.Add("Clip", "max_only_257", {Uniform({257}), Omitted(), F32s({}, {0.3})});
  l.Add("Relu", "empty_0x5", {Uniform({0, 5})});

  struct Pair {
    std::string tag;
    Shape a, b;
  };
  const std::vector<Pair> pairs = {{"7x33_33", {7, 33}, {33}},
                                   {"2x1x5_1x3x5", {2, 1, 5}, {1, 3, 5}},
                                   {"257_scalar", {257}, {}},
                                   {"1_7x33", {1}, {7, 33}}};
  for (const Pair& p : pairs) {
    l.Add("Add", p.tag, {Uniform(p.a), Uniform(p.b)});
    l.Add("Sub", p.tag, {Uniform(p.a), Uniform(p.b)});
    l.Add("Mul", p.tag, {Uniform(p.a), Uniform(p.b)});
    l.Add("Div", p.tag, {Uniform(p.a), Uniform(p.b, 0.5, 2)});
    l.Add("Pow", p.tag, {Uniform(p.a, 0.1, 2), Uniform(p.b, -2, 2)});
    l.Add("Max", p.tag, {Uniform(p.a), Uniform(p.b)});
    l.Add("Min", p.tag, {Uniform(p.a), Uniform(p.b)});
  }
  l.Add("Add", "empty_0x3_3", {Uniform({0, 3}), Uniform({3})});
  for (const Pair& p : {pairs[0], pairs[1]}) {
    l.Add("Equal", p.tag, {Grid(p.a), Grid(p.b)});
    l.Add("Less", p.tag, {Grid(p.a), Grid(p.b)});
    l.Add("Greater", p.tag, {Grid(p.a), Grid(p.b)});
  }
  l.Add("Where", "7x33_7x33_33", {Bools({7, 33}), Uniform({7, 33}), Uniform({33})});
  l.Add("Where", "2x1x5_1x3x5_scalar", {Bools({2, 1, 5}), Uniform({1, 3, 5}), Uniform({})});

  // ONNX TensorProto element types for Cast's "to".
  constexpr int64_t kOnnxFloat = 1, kOnnxInt64 = 7, kOnnxFloat16 = 10, kOnnxBFloat16 = 16;
  const Shape cs = {7, 33};
  l.Add("Cast", "f32_to_f16", {Uniform(cs, -100, 100)}, {{"to", kOnnxFloat16}}).low_precision = false;
  l.Add("Cast", "f32_to_bf16", {Uniform(cs, -100, 100)}, {{"to", kOnnxBFloat16}}).low_precision = false;
  l.Add("Cast", "f16_to_f32", {Uniform(cs, -100, 100, DType::kF16)}, {{"to", kOnnxFloat}}).low_precision =
      false;
  l.Add("Cast", "bf16_to_f32", {Uniform(cs, -100, 100, DType::kBF16)}, {{"to", kOnnxFloat}}).low_precision =
      false;
  l.Add("Cast", "f32_to_i64", {Uniform(cs, -100, 100)}, {{"to", kOnnxInt64}}).low_precision = false;
  l.Add("Cast", "i64_to_f32", {Ints(cs, -100000, 100000)}, {{"to", kOnnxFloat}}).low_precision = false;
}

void AddNormalizationCases(CaseList& l) {
  for (const Shape& s : std::vector<Shape>{{1, 1}, {7, 33}, {3, 2048}, {2, 4, 3, 257}}) {
    l.Add("Softmax", "last_" + ShapeTag(s), {Uniform(s, -5, 5)}, {{"axis", int64_t{-1}}});
  }
  l.Add("Softmax", "axis1_2x33x7", {Uniform({2, 33, 7}, -5, 5)}, {{"axis", int64_t{1}}});
  // Opset 11: the input is coerced to 2-D at axis, softmax over [5*6].
  l.Add("Softmax", "opset11_axis1_3x5x6", {Uniform({3, 5, 6}, -5, 5)}, {{"axis", int64_t{1}}}).opset = 11;
  l.Add("LogSoftmax", "last_7x33", {Uniform({7, 33}, -5, 5)}, {{"axis", int64_t{-1}}});
  l.Add("LogSoftmax", "axis1_2x33x7", {Uniform({2, 33, 7}, -5, 5)}, {{"axis", int64_t{1}}});

  l.Add("LayerNormalization", "bias_7x33", {Uniform({7, 33}, -3, 3), Uniform({33}, 0.5, 1.5), Uniform({33})},
        {{"axis", int64_t{-1}}, {"epsilon", 1e-5f}})
      .constant = {1, 2};
  l.Add("LayerNormalization", "nobias_4x384", {Uniform({4, 384}, -3, 3), Uniform({384}, 0.5, 1.5)},
        {{"axis", int64_t{-1}}, {"epsilon", 1e-12f}})
      .constant = {1};
  l.Add("LayerNormalization", "axis1_2x3x17", {Uniform({2, 3, 17}, -3, 3), Uniform({3, 17}, 0.5, 1.5),
                                               Uniform({3, 17})},
        {{"axis", int64_t{1}}, {"epsilon", 1e-5f}})
      .constant = {1, 2};

  l.Add("BatchNormalization", "2x8x5x7",
        {Uniform({2, 8, 5, 7}, -2, 2), Uniform({8}, 0.5, 1.5), Uniform({8}), Uniform({8}), Uniform({8}, 0.5, 2)},
        {{"epsilon", 1e-5f}})
      .constant = {1, 2, 3, 4};
  l.Add("BatchNormalization", "1x3x1x1023",
        {Uniform({1, 3, 1, 1023}, -2, 2), Uniform({3}, 0.5, 1.5), Uniform({3}), Uniform({3}), Uniform({3}, 0.5, 2)},
        {{"epsilon", 1e-3f}})
      .constant = {1, 2, 3, 4};
}

void AddReductionCases(CaseList& l) {
  // ReduceSum takes axes as an input from opset 13, ReduceMean and ReduceMax
  // from opset 18; the default opset 17 here exercises both forms.
  const Shape last = {7, 1023}, mid = {3, 33, 7};
  l.Add("ReduceSum", "last_7x1023", {Uniform(last), I64s({-1})}, {}, 1e-5);
  l.Add("ReduceSum", "axes1_3x33x7_nokeep", {Uniform(mid), I64s({1})}, {{"keepdims", int64_t{0}}});
  l.Add("ReduceSum", "all_3x33x7", {Uniform(mid)});
  l.Add("ReduceMean", "last_7x1023", {Uniform(last)}, {{"axes", std::vector<int64_t>{-1}}});
  l.Add("ReduceMean", "axes1_3x33x7", {Uniform(mid)}, {{"axes", std::vector<int64_t>{1}}});
  l.Add("ReduceMax", "last_7x1023", {Uniform(last)}, {{"axes", std::vector<int64_t>{-1}}});
  l.Add("ReduceMax", "axes1_3x33x7_nokeep", {Uniform(mid)},
        {{"axes", std::vector<int64_t>{1}}, {"keepdims", int64_t{0}}});
  l.Add("ArgMax", "last_7x33", {Uniform({7, 33})}, {{"axis", int64_t{-1}}});
  l.Add("ArgMax", "axis1_3x33x7_nokeep", {Uniform(mid)}, {{"axis", int64_t{1}}, {"keepdims", int64_t{0}}});
  l.Add("ArgMax", "ties_first_7x257", {Grid({7, 257})}, {{"axis", int64_t{1}}});
  l.Add("ArgMax", "ties_last_7x257", {Grid({7, 257})}, {{"axis", int64_t{1}}, {"select_last_index", int64_t{1}}});
}

void AddTensorCases(CaseList& l) {
  using Ints64 = std::vector<int64_t>;
  l.Add("Transpose", "0213_2x3x5x7", {Uniform({2, 3, 5, 7})}, {{"perm", Ints64{0, 2, 1, 3}}});
  l.Add("Transpose", "0213_2x12x33x32", {Uniform({2, 12, 33, 32})}, {{"perm", Ints64{0, 2, 1, 3}}});
  l.Add("Transpose", "10_33x7", {Uniform({33, 7})}, {{"perm", Ints64{1, 0}}});
  l.Add("Transpose", "201_3x5x7", {Uniform({3, 5, 7})}, {{"perm", Ints64{2, 0, 1}}});

  l.Add("Gather", "embedding_100x33_2x7", {Uniform({100, 33}), Ints({2, 7}, -100, 99)}, {{"axis", int64_t{0}}});
  l.Add("Gather", "axis1_3x17x5_4", {Uniform({3, 17, 5}), Ints({4}, 0, 16)}, {{"axis", int64_t{1}}});
  l.Add("Gather", "axis1_scalar_index", {Uniform({3, 17, 5}), Ints({}, -17, 16)}, {{"axis", int64_t{1}}});

  l.Add("Concat", "axis0", {Uniform({2, 3}), Uniform({5, 3})}, {{"axis", int64_t{0}}});
  l.Add("Concat", "axis1", {Uniform({2, 3, 4}), Uniform({2, 1, 4}), Uniform({2, 7, 4})}, {{"axis", int64_t{1}}});
  l.Add("Concat", "axis_neg1", {Uniform({3, 5}), Uniform({3, 1}), Uniform({3, 257})}, {{"axis", int64_t{-1}}});
  l.Add("Concat", "axis0_with_empty", {Uniform({0, 3}), Uniform({5, 3})}, {{"axis", int64_t{0}}});

  l.Add("Slice", "steps_7x33", {Uniform({7, 33}), I64s({0, 30}), I64s({7, 2}), I64s({0, 1}), I64s({2, -3})});
  l.Add("Slice", "reverse_3x5x7", {Uniform({3, 5, 7}), I64s({-1}), I64s({-1000000}), I64s({0}), I64s({-1})});
  l.Add("Slice", "negative_2x1023", {Uniform({2, 1023}), I64s({-1000}), I64s({-3}), I64s({1})});

  l.Add("Split", "sizes_7x33", {Uniform({7, 33}), I64s({10, 20, 3})}, {{"axis", int64_t{1}}}).num_outputs = 3;
  l.Add("Split", "equal_6x5", {Uniform({6, 5})}, {{"axis", int64_t{0}}}).num_outputs = 3;

  l.Add("Pad", "constant_3x5", {Uniform({3, 5}), I64s({1, 2, 0, 3}), F32s({}, {1.5})},
        {{"mode", std::string("constant")}});
  l.Add("Pad", "reflect_2x3x7", {Uniform({2, 3, 7}), I64s({0, 1, 2, 0, 1, 3})}, {{"mode", std::string("reflect")}});
  l.Add("Pad", "edge_2x3x7", {Uniform({2, 3, 7}), I64s({0, 2, 3, 0, 0, 4})}, {{"mode", std::string("edge")}});

  l.Add("Expand", "3x1_to_2x3x4", {Uniform({3, 1}), I64s({2, 3, 4})});
  l.Add("Expand", "1x5_to_7x1", {Uniform({1, 5}), I64s({7, 1})});

  // Resize inputs: X, roi, scales, sizes.
  l.Add("Resize", "nearest_scales_1x2x5x7", {Uniform({1, 2, 5, 7}), Omitted(), F32s({4}, {1, 1, 2, 2})},
        {{"mode", std::string("nearest")}});
  l.Add("Resize", "nearest_sizes_asymmetric_floor",
        {Uniform({1, 2, 5, 7}), Omitted(), Omitted(), I64s({1, 2, 9, 13})},
        {{"mode", std::string("nearest")},
         {"coordinate_transformation_mode", std::string("asymmetric")},
         {"nearest_mode", std::string("floor")}});
  l.Add("Resize", "linear_scales_1x2x5x7", {Uniform({1, 2, 5, 7}), Omitted(), F32s({4}, {1, 1, 1.5, 2})},
        {{"mode", std::string("linear")}});
  l.Add("Resize", "linear_sizes_align_corners", {Uniform({2, 3, 4, 6}), Omitted(), Omitted(), I64s({2, 3, 7, 11})},
        {{"mode", std::string("linear")}, {"coordinate_transformation_mode", std::string("align_corners")}});
}

void AddNnCases(CaseList& l) {
  using Ints64 = std::vector<int64_t>;
  const AttrList pool = {{"kernel_shape", Ints64{3, 3}}, {"strides", Ints64{2, 2}}, {"pads", Ints64{1, 1, 1, 1}}};
  l.Add("MaxPool", "3x3s2p1_2x3x7x9", {Uniform({2, 3, 7, 9})}, pool);
  l.Add("MaxPool", "3x3s2p1_ceil_2x3x8x8", {Uniform({2, 3, 8, 8})},
        {{"kernel_shape", Ints64{3, 3}}, {"strides", Ints64{2, 2}}, {"pads", Ints64{1, 1, 1, 1}},
         {"ceil_mode", int64_t{1}}});
  l.Add("AveragePool", "3x3s2p1_exclude_pad", {Uniform({2, 3, 7, 9})}, pool);
  l.Add("AveragePool", "3x3s2p1_include_pad", {Uniform({2, 3, 7, 9})},
        {{"kernel_shape", Ints64{3, 3}}, {"strides", Ints64{2, 2}}, {"pads", Ints64{1, 1, 1, 1}},
         {"count_include_pad", int64_t{1}}});
  l.Add("GlobalAveragePool", "2x5x7x9", {Uniform({2, 5, 7, 9})});
  l.Add("GlobalAveragePool", "1x64x1x1", {Uniform({1, 64, 1, 1})});

  const double mm_tol = 1e-4;
  l.Add("MatMul", "7x33_33x5", {Uniform({7, 33}), Uniform({33, 5})}, {}, mm_tol);
  l.Add("MatMul", "batched_2x3x17x9_2x3x9x4", {Uniform({2, 3, 17, 9}), Uniform({2, 3, 9, 4})}, {}, mm_tol);
  l.Add("MatMul", "broadcast_2x3x17x9_9x4", {Uniform({2, 3, 17, 9}), Uniform({9, 4})}, {}, mm_tol);
  l.Add("MatMul", "vector_33_33x5", {Uniform({33}), Uniform({33, 5})}, {}, mm_tol);
  l.Add("MatMul", "1x1_1x1", {Uniform({1, 1}), Uniform({1, 1})}, {}, mm_tol);
  l.Add("MatMul", "encoder_2x33x384_384x96", {Uniform({2, 33, 384}), Uniform({384, 96})}, {}, mm_tol);
  l.Add("MatMul", "empty_0x33_33x5", {Uniform({0, 33}), Uniform({33, 5})}, {}, mm_tol);

  l.Add("Gemm", "transB_alpha_beta_C_row", {Uniform({7, 33}), Uniform({5, 33}), Uniform({5})},
        {{"transB", int64_t{1}}, {"alpha", 0.5f}, {"beta", 2.0f}}, mm_tol)
      .constant = {1, 2};
  l.Add("Gemm", "transA_C_column", {Uniform({33, 7}), Uniform({33, 5}), Uniform({7, 1})},
        {{"transA", int64_t{1}}}, mm_tol);
  l.Add("Gemm", "transAB_C_scalar", {Uniform({33, 7}), Uniform({5, 33}), Uniform({})},
        {{"transA", int64_t{1}}, {"transB", int64_t{1}}, {"beta", 0.5f}}, mm_tol);
  l.Add("Gemm", "no_C_257x17_17x33", {Uniform({257, 17}), Uniform({17, 33})}, {}, mm_tol);
  l.Add("Gemm", "C_full_7x5", {Uniform({7, 33}), Uniform({33, 5}), Uniform({7, 5})}, {}, mm_tol);

  // Conv: fp32 legs at 1e-4 also catch a silent TF32 (about 1e-3 here).
  const double conv_tol = 1e-4;
  l.Add("Conv", "3x3p1_bias", {Uniform({2, 3, 9, 11}), Uniform({8, 3, 3, 3}), Uniform({8})},
        {{"pads", Ints64{1, 1, 1, 1}}}, conv_tol)
      .constant = {1, 2};
  l.Add("Conv", "3x3p1_bias_weights_not_constant", {Uniform({2, 3, 9, 11}), Uniform({8, 3, 3, 3}), Uniform({8})},
        {{"pads", Ints64{1, 1, 1, 1}}}, conv_tol);
  l.Add("Conv", "3x3s2p1", {Uniform({2, 16, 9, 9}), Uniform({32, 16, 3, 3})},
        {{"pads", Ints64{1, 1, 1, 1}}, {"strides", Ints64{2, 2}}, {"kernel_shape", Ints64{3, 3}}}, conv_tol)
      .constant = {1};
  l.Add("Conv", "group2", {Uniform({1, 4, 7, 7}), Uniform({6, 2, 3, 3}), Uniform({6})},
        {{"group", int64_t{2}}, {"pads", Ints64{1, 1, 1, 1}}}, conv_tol)
      .constant = {1, 2};
  l.Add("Conv", "depthwise_bias", {Uniform({2, 8, 9, 9}), Uniform({8, 1, 3, 3}), Uniform({8})},
        {{"group", int64_t{8}}, {"pads", Ints64{1, 1, 1, 1}}}, conv_tol)
      .constant = {1, 2};
  l.Add("Conv", "1x1_bias", {Uniform({2, 16, 7, 7}), Uniform({32, 16, 1, 1}), Uniform({32})}, {}, conv_tol)
      .constant = {1, 2};
  l.Add("Conv", "3x3p1_relu", {Uniform({1, 3, 8, 8}), Uniform({4, 3, 3, 3}), Uniform({4})},
        {{"pads", Ints64{1, 1, 1, 1}}, {"tp_activation", std::string("Relu")}}, conv_tol)
      .constant = {1, 2};

  l.Add("tp.FusedMatMul", "relu_7x33_33x5", {Uniform({7, 33}), Uniform({33, 5}), Uniform({5})},
        {{"tp_activation", std::string("Relu")}}, mm_tol)
      .constant = {1, 2};
  l.Add("tp.FusedMatMul", "relu_2x17x33_33x257", {Uniform({2, 17, 33}), Uniform({33, 257}), Uniform({257})},
        {{"tp_activation", std::string("Relu")}}, mm_tol)
      .constant = {1, 2};
  l.Add("tp.FusedMatMul", "bias_only_33x384_384x1536", {Uniform({33, 384}), Uniform({384, 1536}),
                                                        Uniform({1536})},
        {}, mm_tol)
      .constant = {1, 2};
  l.Add("tp.FusedMatMul", "relu_weights_not_constant", {Uniform({7, 33}), Uniform({33, 5}), Uniform({5})},
        {{"tp_activation", std::string("Relu")}}, mm_tol);

  // Fused attention: softmax(Q K^T * scale + mask) V, against the CPU's
  // two-GEMM reference.
  l.Add("tp.Attention", "b2h3_s17_kv33_d32_dv40_keymask",
        {Uniform({2, 3, 17, 32}), Uniform({2, 3, 33, 32}), Uniform({2, 3, 33, 40}), Uniform({2, 1, 1, 33}, -4, 0)},
        {{"tp_scale", 0.17677669f}}, mm_tol);
  l.Add("tp.Attention", "b1h2_s128_kv128_d64_nomask",
        {Uniform({1, 2, 128, 64}), Uniform({1, 2, 128, 64}), Uniform({1, 2, 128, 64})}, {{"tp_scale", 0.125f}},
        mm_tol);
  l.Add("tp.Attention", "rank3_s7_kv5_d160_dv130_sharedmask",
        {Uniform({3, 7, 160}), Uniform({3, 5, 160}), Uniform({3, 5, 130}), Uniform({7, 5}, -4, 0)},
        {{"tp_scale", 0.08f}}, mm_tol);
  l.Add("tp.Attention", "b2h1_s1_kv300_d8_fullmask",
        {Uniform({2, 1, 1, 8}), Uniform({2, 1, 300, 8}), Uniform({2, 1, 300, 8}), Uniform({2, 1, 1, 300}, -4, 0)},
        {{"tp_scale", 1.0f}}, mm_tol);
}

const std::vector<OpCase>& AllCases() {
  static const std::vector<OpCase>* cases = [] {
    CaseList l;
    AddElementwiseCases(l);
    AddNormalizationCases(l);
    AddReductionCases(l);
    AddTensorCases(l);
    AddNnCases(l);
    return new std::vector<OpCase>(l.Take());
  }();
  return *cases;
}

// ------------------------------------------------------------------ legs

// One backend and element type a case runs with.
enum class Leg { kCpu, kCudaF32, kCudaF16, kCudaBF16 };

const char* LegName(Leg leg) {
  switch (leg) {
    case Leg::kCpu: return "Cpu";
    case Leg::kCudaF32: return "CudaF32";
    case Leg::kCudaF16: return "CudaF16";
    case Leg::kCudaBF16: return "CudaBF16";
  }
  return "?";
}

// The float element type a leg runs float inputs in; kF32 leaves inputs as
// drawn.
DType LegFloatType(Leg leg) {
  switch (leg) {
    case Leg::kCudaF16: return DType::kF16;
    case Leg::kCudaBF16: return DType::kBF16;
    default: return DType::kF32;
  }
}

// Normalized-error bound for a leg: the narrow types add their output
// rounding (2^-11 and 2^-8 relative) and accumulation differences.
double ToleranceFor(const OpCase& c, Leg leg) {
  switch (LegFloatType(leg)) {
    case DType::kF16: return std::max(c.tol, 1e-2);
    case DType::kBF16: return std::max(c.tol, 4e-2);
    default: return c.tol;
  }
}

// ---------------------------------------------------------------- tensors

uint64_t Fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

void StoreFloat(Tensor& t, int64_t i, float v) {
  switch (t.dtype()) {
    case DType::kF32: t.data<float>()[i] = v; break;
    case DType::kF16: t.data<uint16_t>()[i] = FloatToHalf(v); break;
    case DType::kBF16: t.data<uint16_t>()[i] = FloatToBFloat16(v); break;
    case DType::kF64: t.data<double>()[i] = v; break;
    default: ADD_FAILURE() << "StoreFloat on " << DTypeName(t.dtype());
  }
}

// Element i as double; bool as its raw byte, so that a byte other than 0 or
// 1 (never written) shows as a mismatch.
double LoadAsDouble(const Tensor& t, int64_t i) {
  switch (t.dtype()) {
    case DType::kF32: return t.data<float>()[i];
    case DType::kF16: return HalfToFloat(t.data<uint16_t>()[i]);
    case DType::kBF16: return BFloat16ToFloat(t.data<uint16_t>()[i]);
    case DType::kF64: return t.data<double>()[i];
    case DType::kI64: return static_cast<double>(t.data<int64_t>()[i]);
    case DType::kI32: return t.data<int32_t>()[i];
    case DType::kI8: return t.data<int8_t>()[i];
    case DType::kU8: return t.data<uint8_t>()[i];
    case DType::kBool: return static_cast<const uint8_t*>(t.raw_data())[i];
    default: ADD_FAILURE() << "LoadAsDouble on " << DTypeName(t.dtype()); return 0;
  }
}

// The case's inputs as drawn (an undefined Tensor for an omitted input).
std::vector<Tensor> MakeInputs(const OpCase& c) {
  std::mt19937_64 rng(Fnv1a(c.name));
  std::vector<Tensor> out;
  for (const InputSpec& s : c.inputs) {
    if (s.kind == InputSpec::Kind::kOmitted) {
      out.emplace_back();
      continue;
    }
    auto made = Tensor::Empty(s.dtype, s.shape);
    EXPECT_TRUE(made.ok()) << made.status();
    if (!made.ok()) return {};
    Tensor t = std::move(made).value();
    const int64_t n = t.num_elements();
    switch (s.kind) {
      case InputSpec::Kind::kUniform: {
        std::uniform_real_distribution<double> d(s.lo, s.hi);
        for (int64_t i = 0; i < n; ++i) {
          double v = d(rng);
          if (s.step > 0) v = std::round(v / s.step) * s.step;
          StoreFloat(t, i, static_cast<float>(v));
        }
        break;
      }
      case InputSpec::Kind::kInts: {
        std::uniform_int_distribution<int64_t> d(static_cast<int64_t>(s.lo), static_cast<int64_t>(s.hi));
        for (int64_t i = 0; i < n; ++i) t.data<int64_t>()[i] = d(rng);
        break;
      }
      case InputSpec::Kind::kBools:
        for (int64_t i = 0; i < n; ++i) t.data<bool>()[i] = (rng() & 1) != 0;
        break;
      case InputSpec::Kind::kValues:
        EXPECT_EQ(static_cast<int64_t>(s.values.size()), n) << c.name;
        for (int64_t i = 0; i < n && i < static_cast<int64_t>(s.values.size()); ++i) {
          if (s.dtype == DType::kI64) {
            t.data<int64_t>()[i] = static_cast<int64_t>(s.values[i]);
          } else {
            StoreFloat(t, i, static_cast<float>(s.values[i]));
          }
        }
        break;
      case InputSpec::Kind::kOmitted:
        break;
    }
    out.push_back(std::move(t));
  }
  return out;
}

// `t` converted to `to` (float types only), element by element.
Tensor ConvertFloat(const Tensor& t, DType to) {
  auto made = Tensor::Empty(to, t.shape());
  EXPECT_TRUE(made.ok()) << made.status();
  if (!made.ok()) return Tensor();
  Tensor out = std::move(made).value();
  for (int64_t i = 0; i < t.num_elements(); ++i) StoreFloat(out, i, static_cast<float>(LoadAsDouble(t, i)));
  return out;
}

bool IsValueInput(const OpSchema& schema, int i) {
  return std::find(schema.value_inputs.begin(), schema.value_inputs.end(), i) != schema.value_inputs.end();
}

// What one leg runs: the kernel's inputs and the reference's inputs (the
// same values in float32 where the leg narrows them).
struct LegInputs {
  std::vector<Tensor> kernel;
  std::vector<Tensor> reference;
};

LegInputs InputsForLeg(const OpCase& c, const OpSchema& schema, Leg leg) {
  LegInputs in;
  in.kernel = MakeInputs(c);
  in.reference = in.kernel;
  const DType narrow = LegFloatType(leg);
  if (narrow == DType::kF32) return in;
  for (size_t i = 0; i < in.kernel.size(); ++i) {
    const Tensor& t = in.kernel[i];
    if (!t.defined() || t.dtype() != DType::kF32 || IsValueInput(schema, static_cast<int>(i))) continue;
    in.kernel[i] = ConvertFloat(t, narrow);
    in.reference[i] = ConvertFloat(in.kernel[i], DType::kF32);
  }
  return in;
}

std::vector<const Tensor*> Pointers(const std::vector<Tensor>& v) {
  std::vector<const Tensor*> out;
  for (const Tensor& t : v) out.push_back(t.defined() ? &t : nullptr);
  return out;
}

// Output dtypes and shapes from the op's schema, as the planner infers them.
Status InferOutputs(const OpCase& c, const OpSchema& schema, const std::vector<Tensor>& inputs,
                    std::vector<DType>* dtypes, std::vector<Shape>* shapes) {
  std::vector<InferInput> infer(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) continue;
    infer[i] = InferInput{true, inputs[i].dtype(), inputs[i].shape(), &inputs[i]};
  }
  InferContext ictx(c.attrs, c.opset, c.name, std::move(infer), c.num_outputs);
  TP_RETURN_IF_ERROR(schema.infer(ictx));
  for (int i = 0; i < c.num_outputs; ++i) {
    dtypes->push_back(ictx.output_dtype(i));
    shapes->push_back(ictx.output_shape(i));
  }
  return Status::Ok();
}

// ----------------------------------------------------------- backend runs

// Where a leg's buffers live and how bytes get there and back.
class LegMemory {
 public:
  virtual ~LegMemory() = default;
  virtual Allocator* allocator() = 0;
  virtual Status Upload(void* dst, const void* src, size_t bytes) = 0;
  virtual Status Download(void* dst, const void* src, size_t bytes) = 0;
  // Waits for everything enqueued; reports asynchronous kernel errors.
  virtual Status Finish() = 0;
  virtual Scratch* scratch() = 0;
  virtual DeviceStream* stream() = 0;
};

class CpuMemory : public LegMemory {
 public:
  Allocator* allocator() override { return &CpuAllocator::Get(); }
  Status Upload(void* dst, const void* src, size_t bytes) override {
    if (bytes > 0) std::memcpy(dst, src, bytes);
    return Status::Ok();
  }
  Status Download(void* dst, const void* src, size_t bytes) override { return Upload(dst, src, bytes); }
  Status Finish() override { return Status::Ok(); }
  Scratch* scratch() override { return &scratch_; }
  DeviceStream* stream() override { return nullptr; }

 private:
  HeapScratch scratch_;
};

// Device scratch for one leg: plain device memory from the backend's
// allocator, grown to the largest request and kept.
class DeviceScratch : public Scratch {
 public:
  explicit DeviceScratch(Allocator* allocator) : allocator_(allocator) {}
  void* Get(size_t bytes) override {
    if (buffer_ == nullptr || buffer_->size() < bytes) {
      buffer_.reset();
      auto b = Buffer::Allocate(allocator_, std::max<size_t>(bytes, 256));
      if (!b.ok()) return nullptr;
      buffer_ = std::move(b).value();
    }
    return buffer_->data();
  }

 private:
  Allocator* allocator_;  // the backend's; outlives this
  std::shared_ptr<Buffer> buffer_;
};

class DeviceMemory : public LegMemory {
 public:
  DeviceMemory(const DeviceBackend* backend, std::unique_ptr<DeviceStream> stream)
      : backend_(backend), stream_(std::move(stream)), scratch_(backend->allocator()) {}
  Allocator* allocator() override { return backend_->allocator(); }
  Status Upload(void* dst, const void* src, size_t bytes) override {
    return stream_->CopyHostToDevice(dst, src, bytes);
  }
  Status Download(void* dst, const void* src, size_t bytes) override {
    return stream_->CopyDeviceToHost(dst, src, bytes);
  }
  Status Finish() override { return stream_->Synchronize(); }
  Scratch* scratch() override { return &scratch_; }
  DeviceStream* stream() override { return stream_.get(); }

 private:
  const DeviceBackend* backend_;
  std::unique_ptr<DeviceStream> stream_;
  DeviceScratch scratch_;
};

// Bytes either side of every output, filled with kGuardByte; the output
// itself starts filled with 0xFF (NaN in every float type, -1 in integers),
// so elements a kernel leaves unwritten fail the comparison.
constexpr size_t kGuardBytes = 256;
constexpr unsigned char kGuardByte = 0xA5;
constexpr unsigned char kUnwrittenByte = 0xFF;

struct RunResult {
  Status status;            // of kernel creation and Compute
  std::vector<Tensor> outputs;  // host copies
  std::vector<std::string> guard_errors;
};

// The node as the partitioner shows it to a backend: value inputs and the
// case's weights as constants (host tensors), the rest unknown until Run.
// Borrows `c` and `inputs`.
NodeDef MakeNodeDef(const OpCase& c, const OpSchema& schema, const std::vector<Tensor>& inputs) {
  NodeDef def;
  def.op_type = c.op;
  def.name = c.name;
  def.opset = c.opset;
  def.attrs = &c.attrs;
  def.num_outputs = c.num_outputs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const bool constant = IsValueInput(schema, static_cast<int>(i)) ||
                          std::count(c.constant.begin(), c.constant.end(), static_cast<int>(i)) > 0;
    def.input_dtypes.push_back(inputs[i].defined() ? inputs[i].dtype() : DType::kUndefined);
    def.constant_inputs.push_back(constant && inputs[i].defined() ? &inputs[i] : nullptr);
  }
  return def;
}

// Creates the kernel for `def` on `backend`, runs it once with inputs and
// guarded outputs in `mem`, and copies the outputs back to the host.
RunResult RunOnBackend(const NodeDef& def, const OpSchema& schema, const Backend& backend, LegMemory& mem,
                       const std::vector<Tensor>& inputs, const std::vector<DType>& out_dtypes,
                       const std::vector<Shape>& out_shapes) {
  RunResult r;
  auto kernel = backend.CreateKernel(def);
  if (!kernel.ok()) {
    r.status = kernel.status();
    return r;
  }

  // Inputs: value inputs stay on the host, the rest move to `mem`.
  std::vector<std::shared_ptr<Buffer>> buffers;
  std::vector<Tensor> views(inputs.size());
  KernelContext ctx;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    if (!t.defined()) {
      ctx.inputs.push_back(nullptr);
      continue;
    }
    if (IsValueInput(schema, static_cast<int>(i))) {
      ctx.inputs.push_back(&t);
      continue;
    }
    auto b = Buffer::Allocate(mem.allocator(), std::max<size_t>(t.nbytes(), 1));
    if (!b.ok()) {
      r.status = b.status();
      return r;
    }
    buffers.push_back(*b);
    r.status = mem.Upload((*b)->data(), t.raw_data(), t.nbytes());
    if (!r.status.ok()) return r;
    views[i] = Tensor(t.dtype(), t.shape(), (*b)->data());
    ctx.inputs.push_back(&views[i]);
  }

  // Outputs: [guard | output | guard], the output filled with 0xFF.
  std::vector<std::shared_ptr<Buffer>> out_buffers;
  std::vector<Tensor> out_views(out_dtypes.size());
  std::vector<size_t> out_bytes;
  for (size_t i = 0; i < out_dtypes.size(); ++i) {
    const size_t bytes = static_cast<size_t>(NumElementsUnchecked(out_shapes[i])) * DTypeSize(out_dtypes[i]);
    std::vector<unsigned char> pattern(bytes + 2 * kGuardBytes, kGuardByte);
    std::fill(pattern.begin() + kGuardBytes, pattern.begin() + kGuardBytes + bytes, kUnwrittenByte);
    auto b = Buffer::Allocate(mem.allocator(), pattern.size());
    if (!b.ok()) {
      r.status = b.status();
      return r;
    }
    out_buffers.push_back(*b);
    out_bytes.push_back(bytes);
    r.status = mem.Upload((*b)->data(), pattern.data(), pattern.size());
    if (!r.status.ok()) return r;
    out_views[i] = Tensor(out_dtypes[i], out_shapes[i], static_cast<unsigned char*>((*b)->data()) + kGuardBytes);
    ctx.outputs.push_back(&out_views[i]);
  }
  ctx.threads = 1;
  ctx.scratch = mem.scratch();
  ctx.stream = mem.stream();

  r.status = (*kernel)->Compute(ctx);
  // Always wait, so no work is in flight when the buffers go.
  const Status finished = mem.Finish();
  if (r.status.ok()) r.status = finished;
  if (!r.status.ok()) return r;

  for (size_t i = 0; i < out_dtypes.size(); ++i) {
    std::vector<unsigned char> host(out_bytes[i] + 2 * kGuardBytes);
    r.status = mem.Download(host.data(), out_buffers[i]->data(), host.size());
    if (r.status.ok()) r.status = mem.Finish();
    if (!r.status.ok()) return r;
    for (size_t k = 0; k < kGuardBytes; ++k) {
      if (host[k] != kGuardByte) {
        r.guard_errors.push_back("output " + std::to_string(i) + ": the guard byte " +
                                 std::to_string(kGuardBytes - k) + " bytes before the output was overwritten");
        break;
      }
    }
    for (size_t k = 0; k < kGuardBytes; ++k) {
      if (host[kGuardBytes + out_bytes[i] + k] != kGuardByte) {
        r.guard_errors.push_back("output " + std::to_string(i) + ": the guard byte " + std::to_string(k) +
                                 " bytes after the output's end was overwritten");
        break;
      }
    }
    auto t = Tensor::Empty(out_dtypes[i], out_shapes[i]);
    if (!t.ok()) {
      r.status = t.status();
      return r;
    }
    if (out_bytes[i] > 0) std::memcpy(t->raw_data(), host.data() + kGuardBytes, out_bytes[i]);
    r.outputs.push_back(std::move(t).value());
  }
  return r;
}

// Checks `got` against `want` by normalized error; integer and bool outputs
// must match exactly.
void ExpectClose(const std::string& what, const Tensor& got, const Tensor& want, double tol) {
  ASSERT_EQ(got.shape(), want.shape()) << what << ": shape " << ShapeTag(got.shape()) << ", reference "
                                       << ShapeTag(want.shape());
  const bool exact = !IsFloatingPoint(want.dtype());
  double max_ref = 0, max_err = 0;
  int64_t worst = 0;
  for (int64_t i = 0; i < want.num_elements(); ++i) {
    const double w = LoadAsDouble(want, i), g = LoadAsDouble(got, i);
    if (std::isfinite(w)) max_ref = std::max(max_ref, std::fabs(w));
    double err;
    if (std::isnan(w) || std::isnan(g)) {
      err = std::isnan(w) && std::isnan(g) ? 0 : std::numeric_limits<double>::infinity();
    } else if (std::isinf(w) || std::isinf(g)) {
      err = w == g ? 0 : std::numeric_limits<double>::infinity();
    } else {
      err = std::fabs(g - w);
    }
    if (err > max_err) {
      max_err = err;
      worst = i;
    }
  }
  if (want.num_elements() == 0) return;
  const double normalized = max_err / std::max(1.0, max_ref);
  if (exact) {
    EXPECT_EQ(max_err, 0) << what << ": element " << worst << " is " << LoadAsDouble(got, worst)
                          << ", the reference " << LoadAsDouble(want, worst);
  } else {
    EXPECT_LE(normalized, tol) << what << ": normalized error " << normalized << " (max |diff| " << max_err
                               << ", max |ref| " << max_ref << "); worst element " << worst << " is "
                               << LoadAsDouble(got, worst) << ", the reference " << LoadAsDouble(want, worst);
  }
}

// CUDA cases the backend does not support, printed at the end of the run.
class UnsupportedLog {
 public:
  static UnsupportedLog& Get() {
    static UnsupportedLog* log = new UnsupportedLog();
    return *log;
  }
  void Add(const std::string& line) {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.insert(line);
  }
  std::set<std::string> lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }

 private:
  std::mutex mu_;
  std::set<std::string> lines_;
};

std::string DTypeList(const std::vector<Tensor>& inputs) {
  std::string s;
  for (const Tensor& t : inputs) {
    if (!s.empty()) s += ",";
    s += t.defined() ? DTypeName(t.dtype()) : "-";
  }
  return s;
}

// ------------------------------------------------------------------ tests

struct LegCase {
  size_t index;  // into AllCases()
  Leg leg;
};

// gtest prints a failing case's parameter with this.
void PrintTo(const LegCase& c, std::ostream* os) { *os << LegName(c.leg) << "/" << AllCases()[c.index].name; }

class BackendOps : public ::testing::TestWithParam<LegCase> {};

TEST_P(BackendOps, MatchesCpuReference) {
  const OpCase& c = AllCases()[GetParam().index];
  const Leg leg = GetParam().leg;
  const OpSchema* schema = SchemaRegistry::Global().Find(c.op);
  ASSERT_NE(schema, nullptr) << "no schema for " << c.op;

  std::unique_ptr<LegMemory> mem;
  const Backend* backend = nullptr;
  if (leg == Leg::kCpu) {
    backend = &CpuBackend::Get();
    mem = std::make_unique<CpuMemory>();
  } else {
    std::string why;
    if (CudaDevices(&why) == 0) GTEST_SKIP() << "no CUDA device: " << why;
    auto gpu = GetDeviceBackend(Device{DeviceType::kCuda, 0});
    ASSERT_TRUE(gpu.ok()) << gpu.status();
    auto stream = (*gpu)->CreateStream();
    ASSERT_TRUE(stream.ok()) << stream.status();
    backend = *gpu;
    mem = std::make_unique<DeviceMemory>(*gpu, std::move(stream).value());
  }

  const LegInputs in = InputsForLeg(c, *schema, leg);
  ASSERT_EQ(in.kernel.size(), c.inputs.size());

  EvalNodeArgs args;
  args.op_type = c.op;
  args.name = c.name;
  args.opset = c.opset;
  args.attrs = &c.attrs;
  args.inputs = Pointers(in.reference);
  args.num_outputs = c.num_outputs;
  auto want = EvaluateNodeOnCpu(args);
  ASSERT_TRUE(want.ok()) << "CPU reference failed: " << want.status();

  std::vector<DType> out_dtypes;
  std::vector<Shape> out_shapes;
  const Status inferred = InferOutputs(c, *schema, in.kernel, &out_dtypes, &out_shapes);
  ASSERT_TRUE(inferred.ok()) << inferred;

  const NodeDef def = MakeNodeDef(c, *schema, in.kernel);
  if (!backend->Supports(def)) {
    const std::string what = c.op + " (" + c.name + "; inputs " + DTypeList(in.kernel) + ")";
    if (leg != Leg::kCpu) UnsupportedLog::Get().Add(backend->name() + ": " + what);
    GTEST_SKIP() << backend->name() << " does not support " << what << "; the runtime would run this node on the CPU";
  }

  const RunResult got = RunOnBackend(def, *schema, *backend, *mem, in.kernel, out_dtypes, out_shapes);
  ASSERT_TRUE(got.status.ok()) << backend->name() << ": " << got.status;
  for (const std::string& e : got.guard_errors) ADD_FAILURE() << backend->name() << ": guard bytes: " << e;
  ASSERT_EQ(got.outputs.size(), want->size());
  for (size_t i = 0; i < got.outputs.size(); ++i) {
    const Tensor& g = got.outputs[i];
    const Tensor& w = (*want)[i];
    const std::string what = backend->name() + " " + LegName(leg) + " output " + std::to_string(i);
    // The narrow legs produce narrow outputs where the reference has float32.
    const bool narrowed = LegFloatType(leg) != DType::kF32 && w.dtype() == DType::kF32;
    EXPECT_EQ(g.dtype(), narrowed ? LegFloatType(leg) : w.dtype()) << what;
    ExpectClose(what, g, w, ToleranceFor(c, leg));
  }
}

std::vector<LegCase> AllLegCases() {
  std::vector<LegCase> out;
  const auto& cases = AllCases();
  for (size_t i = 0; i < cases.size(); ++i) {
    out.push_back({i, Leg::kCpu});
    out.push_back({i, Leg::kCudaF32});
    if (cases[i].low_precision) {
      out.push_back({i, Leg::kCudaF16});
      out.push_back({i, Leg::kCudaBF16});
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(AllOps, BackendOps, ::testing::ValuesIn(AllLegCases()),
                         [](const ::testing::TestParamInfo<LegCase>& info) {
                           return std::string(LegName(info.param.leg)) + "_" + AllCases()[info.param.index].name;
                         });

TEST(BackendOpsCases, NamesAreUnique) {
  std::set<std::string> seen;
  for (const OpCase& c : AllCases()) EXPECT_TRUE(seen.insert(c.name).second) << "duplicate case " << c.name;
}

// ------------------------------------------------------------ CUDA memory

constexpr size_t kMiB = size_t{1} << 20;

const DeviceBackend* CudaBackendOrNull(std::string* why) {
  if (CudaDevices(why) == 0) return nullptr;
  auto gpu = GetDeviceBackend(Device{DeviceType::kCuda, 0});
  if (!gpu.ok()) {
    *why = gpu.status().ToString();
    return nullptr;
  }
  return *gpu;
}

TEST(CudaMemory, OutOfMemoryIsResourceExhausted) {
  std::string why;
  const DeviceBackend* gpu = CudaBackendOrNull(&why);
  if (gpu == nullptr) GTEST_SKIP() << "no CUDA device: " << why;
  auto pool = gpu->CreateSessionAllocator();
  ASSERT_TRUE(pool.ok()) << pool.status();
  auto huge = Buffer::Allocate(pool->get(), size_t{1} << 50);
  ASSERT_FALSE(huge.ok()) << "a 1 PiB allocation succeeded";
  EXPECT_EQ(huge.status().code(), StatusCode::kResourceExhausted) << huge.status();
  // The pool still works after the failure.
  auto small = Buffer::Allocate(pool->get(), kMiB);
  EXPECT_TRUE(small.ok()) << small.status();
  // The plain device allocator reports the same.
  auto plain = Buffer::Allocate(gpu->allocator(), size_t{1} << 50);
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.status().code(), StatusCode::kResourceExhausted) << plain.status();
}

TEST(CudaMemory, SessionAllocatorReturnsItsMemory) {
  std::string why;
  const DeviceBackend* gpu = CudaBackendOrNull(&why);
  if (gpu == nullptr) GTEST_SKIP() << "no CUDA device: " << why;
  ASSERT_TRUE(gpu->Synchronize().ok());
  auto before = gpu->MemoryInfo();
  ASSERT_TRUE(before.ok()) << before.status();
  {
    auto pool = gpu->CreateSessionAllocator();
    ASSERT_TRUE(pool.ok()) << pool.status();
    {
      auto b = Buffer::Allocate(pool->get(), 256 * kMiB);
      ASSERT_TRUE(b.ok()) << b.status();
      auto during = gpu->MemoryInfo();
      ASSERT_TRUE(during.ok()) << during.status();
      // The pool really took the memory (else the test below proves nothing).
      EXPECT_LE(during->free_bytes + 255 * kMiB, before->free_bytes)
          << "free " << before->free_bytes << " -> " << during->free_bytes << " bytes";
    }
  }
  ASSERT_TRUE(gpu->Synchronize().ok());
  auto after = gpu->MemoryInfo();
  ASSERT_TRUE(after.ok()) << after.status();
  const double diff = static_cast<double>(after->free_bytes) - static_cast<double>(before->free_bytes);
  EXPECT_LE(std::fabs(diff), static_cast<double>(kMiB))
      << "free device memory " << before->free_bytes << " before the session allocator, " << after->free_bytes
      << " after it was destroyed";
}

// Prints the CUDA cases that were skipped as unsupported, so gaps show in
// every run's log.
class UnsupportedReport : public ::testing::Environment {
 public:
  void TearDown() override {
    std::string why;
    if (CudaDevices(&why) == 0) {
      std::printf("[backend ops] CUDA legs skipped: no CUDA device: %s\n", why.c_str());
      return;
    }
    const auto lines = UnsupportedLog::Get().lines();
    std::set<std::string> ops;
    for (const std::string& l : lines) ops.insert(l.substr(0, l.find(" (")));
    std::printf("[backend ops] %zu CUDA case(s) unsupported (the runtime runs those nodes on the CPU)",
                lines.size());
    for (const std::string& op : ops) std::printf("%s %s", op == *ops.begin() ? ":" : ",", op.c_str());
    std::printf("\n");
    for (const std::string& l : lines) std::printf("  %s\n", l.c_str());
  }
};

}  // namespace
}  // namespace tensorpod::internal

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new tensorpod::internal::UnsupportedReport());
  return RUN_ALL_TESTS();
}
