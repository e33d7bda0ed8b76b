// Tests of the elementwise family (schemas + CPU kernels) through
// EvaluateNodeOnCpu, with hand-checked expected values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "backends/cpu/elementwise_activation.h"
#include "backends/cpu/elementwise_broadcast.h"
#include "backends/cpu/eval_node.h"
#include "core/dtype.h"
#include "core/tensor.h"
#include "ops/attributes.h"

namespace tensorpod::internal {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

template <typename T>
Tensor Make(const Shape& shape, const std::vector<T>& values) {
  Tensor t = Tensor::Empty(DTypeOf<T>::value, shape).value();
  EXPECT_EQ(static_cast<int64_t>(values.size()), t.num_elements());
  for (size_t i = 0; i < values.size(); ++i) t.data<T>()[i] = values[i];
  return t;
}

Tensor MakeBools(const Shape& shape, const std::vector<int>& values) {
  Tensor t = Tensor::Empty(DType::kBool, shape).value();
  for (size_t i = 0; i < values.size(); ++i) t.data<bool>()[i] = values[i] != 0;
  return t;
}

// float16 / bfloat16 tensors from float values.
Tensor Make16(DType dtype, const Shape& shape,
              const std::vector<float>& values) {
  Tensor t = Tensor::Empty(dtype, shape).value();
  for (size_t i = 0; i < values.size(); ++i) {
    t.data<uint16_t>()[i] = dtype == DType::kF16 ? FloatToHalf(values[i])
                                                 : FloatToBFloat16(values[i]);
  }
  return t;
}

template <typename T>
std::vector<T> Values(const Tensor& t) {
  EXPECT_EQ(t.dtype(), DTypeOf<T>::value);
  return std::vector<T>(t.data<T>(), t.data<T>() + t.num_elements());
}

std::vector<int> BoolValues(const Tensor& t) {
  EXPECT_EQ(t.dtype(), DType::kBool);
  std::vector<int> out;
  for (int64_t i = 0; i < t.num_elements(); ++i)
    out.push_back(t.data<bool>()[i] ? 1 : 0);
  return out;
}

std::vector<float> FloatValues(const Tensor& t) {
  std::vector<float> out;
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    out.push_back(static_cast<float>(t.GetAsDouble(i)));
  }
  return out;
}

struct Call {
  std::string op;
  std::vector<const Tensor*> inputs;
  const Attributes* attrs = nullptr;
  int opset = 17;
  int num_outputs = 1;
  int threads = 1;
};

StatusOr<std::vector<Tensor>> Evaluate(const Call& c) {
  EvalNodeArgs args;
  args.op_type = c.op;
  args.name = "n";
  args.opset = c.opset;
  args.attrs = c.attrs;
  args.inputs = c.inputs;
  args.num_outputs = c.num_outputs;
  args.threads = c.threads;
  return EvaluateNodeOnCpu(args);
}

// Runs a one-output node that must succeed.
Tensor RunOk(const Call& c) {
  auto r = Evaluate(c);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return Tensor();
  return std::move(r).value()[0];
}

StatusCode CodeOf(const Call& c) { return Evaluate(c).status().code(); }

void ExpectNear(const std::vector<float>& got, const std::vector<float>& want,
                float tol = 1e-5f) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << "at " << i;
    } else if (std::isinf(want[i])) {
      EXPECT_EQ(got[i], want[i]) << "at " << i;
    } else {
      EXPECT_NEAR(got[i], want[i], tol * std::max(1.0f, std::fabs(want[i])))
          << "at " << i;
    }
  }
}

// ---------------------------------------------------------------------------
// Broadcasting arithmetic.

TEST(ElementwiseBinary, AddSameShape) {
  Tensor a = Make<float>({2, 2}, {1, 2, 3, 4});
  Tensor b = Make<float>({2, 2}, {10, 20, 30, 40});
  Tensor y = RunOk({"Add", {&a, &b}});
  EXPECT_EQ(y.shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{11, 22, 33, 44}));
}

TEST(ElementwiseBinary, ScalarOperandOnEitherSide) {
  Tensor a = Make<float>({3}, {1, 2, 3});
  Tensor s = Make<float>({}, {10});
  EXPECT_EQ(Values<float>(RunOk({"Sub", {&a, &s}})),
            (std::vector<float>{-9, -8, -7}));
  EXPECT_EQ(Values<float>(RunOk({"Sub", {&s, &a}})),
            (std::vector<float>{9, 8, 7}));
  EXPECT_EQ(Values<float>(RunOk({"Div", {&s, &a}})),
            (std::vector<float>{10, 5, 10.0f / 3}));
  Tensor y = RunOk({"Mul", {&s, &s}});
  EXPECT_EQ(y.shape(), Shape{});
  EXPECT_EQ(Values<float>(y), (std::vector<float>{100}));
}

TEST(ElementwiseBinary, TrailingBiasAdd) {
  Tensor a = Make<float>({2, 3}, {0, 1, 2, 3, 4, 5});
  Tensor b = Make<float>({3}, {100, 200, 300});
  EXPECT_EQ(Values<float>(RunOk({"Add", {&a, &b}})),
            (std::vector<float>{100, 201, 302, 103, 204, 305}));
  // Bias on the left too.
  EXPECT_EQ(Values<float>(RunOk({"Sub", {&b, &a}})),
            (std::vector<float>{100, 199, 298, 97, 196, 295}));
}

TEST(ElementwiseBinary, ChannelBroadcast) {
  // NCHW + [C,1,1]: the bias repeats along the inner H*W run.
  Tensor a = Make<float>({1, 2, 1, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = Make<float>({2, 1, 1}, {10, 20});
  Tensor y = RunOk({"Mul", {&a, &b}});
  EXPECT_EQ(y.shape(), (Shape{1, 2, 1, 3}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{10, 20, 30, 80, 100, 120}));
}

TEST(ElementwiseBinary, BothSidesBroadcast) {
  Tensor a = Make<int32_t>({2, 1, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = Make<int32_t>({1, 2, 1}, {10, 20});
  Tensor y = RunOk({"Add", {&a, &b}});
  EXPECT_EQ(y.shape(), (Shape{2, 2, 3}));
  EXPECT_EQ(Values<int32_t>(y), (std::vector<int32_t>{11, 12, 13, 21, 22, 23,
                                                      14, 15, 16, 24, 25, 26}));
}

TEST(ElementwiseBinary, LargeBroadcastMatchesReferenceAcrossThreads) {
  // Big enough to be split into chunks that start mid-row.
  const int64_t rows = 301, cols = 517;
  std::vector<float> av(rows * cols), bv(cols), cv(rows);
  for (int64_t i = 0; i < rows * cols; ++i)
    av[i] = static_cast<float>(i % 97) * 0.5f;
  for (int64_t j = 0; j < cols; ++j) bv[j] = static_cast<float>(j) * 0.25f;
  for (int64_t r = 0; r < rows; ++r) cv[r] = static_cast<float>(r);
  Tensor a = Make<float>({rows, cols}, av);
  Tensor b = Make<float>({cols}, bv);
  Tensor c = Make<float>({rows, 1}, cv);
  Call add{"Add", {&a, &b}};
  add.threads = 4;
  std::vector<float> y = Values<float>(RunOk(add));
  Call sub{"Sub", {&b, &c}};
  sub.threads = 3;
  std::vector<float> z = Values<float>(RunOk(sub));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < cols; ++j) {
      ASSERT_EQ(y[r * cols + j], av[r * cols + j] + bv[j]) << r << "," << j;
      ASSERT_EQ(z[r * cols + j], bv[j] - cv[r]) << r << "," << j;
    }
  }
}

TEST(ElementwiseBinary, IntegerTypes) {
  Tensor a = Make<uint8_t>({3}, {200, 7, 9});
  Tensor b = Make<uint8_t>({3}, {100, 2, 3});
  EXPECT_EQ(Values<uint8_t>(RunOk({"Add", {&a, &b}})),
            (std::vector<uint8_t>{44, 9, 12}));
  EXPECT_EQ(Values<uint8_t>(RunOk({"Sub", {&b, &a}})),
            (std::vector<uint8_t>{156, 251, 250}));
  EXPECT_EQ(Values<uint8_t>(RunOk({"Div", {&a, &b}})),
            (std::vector<uint8_t>{2, 3, 3}));
  Tensor c = Make<int64_t>({4}, {-7, 7, -7, 5});
  Tensor d = Make<int64_t>({4}, {2, -2, -2, 7});
  EXPECT_EQ(Values<int64_t>(RunOk({"Div", {&c, &d}})),
            (std::vector<int64_t>{-3, -3, 3, 0}));
  EXPECT_EQ(Values<int64_t>(RunOk({"Mul", {&c, &d}})),
            (std::vector<int64_t>{-14, -14, 14, 35}));
}

TEST(ElementwiseBinary, IntegerDivisionEdgeCases) {
  Tensor a = Make<int32_t>({2}, {std::numeric_limits<int32_t>::min(), 6});
  Tensor m1 = Make<int32_t>({2}, {-1, -1});
  EXPECT_EQ(Values<int32_t>(RunOk({"Div", {&a, &m1}})),
            (std::vector<int32_t>{std::numeric_limits<int32_t>::min(), -6}));
  Tensor zero = Make<int32_t>({2}, {1, 0});
  EXPECT_EQ(CodeOf({"Div", {&a, &zero}}), StatusCode::kInvalidArgument);
  // Float division by zero follows IEEE.
  Tensor f = Make<float>({2}, {1, -1});
  Tensor fz = Make<float>({}, {0});
  EXPECT_EQ(Values<float>(RunOk({"Div", {&f, &fz}})),
            (std::vector<float>{kInf, -kInf}));
}

TEST(ElementwiseBinary, Float16AndBFloat16ComputeInFloat) {
  Tensor a = Make16(DType::kF16, {3}, {1.5f, -2.0f, 1024.0f});
  Tensor b = Make16(DType::kF16, {3}, {0.25f, 3.0f, 1.0f});
  Tensor y = RunOk({"Add", {&a, &b}});
  EXPECT_EQ(y.dtype(), DType::kF16);
  EXPECT_EQ(FloatValues(y), (std::vector<float>{1.75f, 1.0f, 1025.0f}));
  Tensor c = Make16(DType::kBF16, {2}, {2.0f, -8.0f});
  Tensor d = Make16(DType::kBF16, {}, {4.0f});
  Tensor z = RunOk({"Div", {&c, &d}});
  EXPECT_EQ(z.dtype(), DType::kBF16);
  EXPECT_EQ(FloatValues(z), (std::vector<float>{0.5f, -2.0f}));
}

TEST(ElementwiseBinary, Float64) {
  Tensor a = Make<double>({2}, {1e300, 0.1});
  Tensor b = Make<double>({2}, {1e300, 0.2});
  EXPECT_EQ(Values<double>(RunOk({"Add", {&a, &b}})),
            (std::vector<double>{2e300, 0.1 + 0.2}));
}

TEST(ElementwiseBinary, RejectsBadInputs) {
  Tensor a = Make<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = Make<float>({2}, {1, 2});
  Tensor i = Make<int32_t>({3}, {1, 2, 3});
  EXPECT_EQ(CodeOf({"Add", {&a, &b}}), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf({"Mul", {&a, &i}}), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf({"Add", {&a}}), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf({"Add", {&a, nullptr}}), StatusCode::kInvalidArgument);
  Tensor t = MakeBools({2}, {1, 0});
  EXPECT_EQ(CodeOf({"Add", {&t, &t}}), StatusCode::kUnimplemented);
  auto r = Evaluate({"Sub", {&a, &b}});
  EXPECT_NE(r.status().message().find("Sub node \"n\""), std::string::npos)
      << r.status();
}

TEST(ElementwiseBinary, BroadcastPlanMergesDimensions) {
  using elementwise::BroadcastPlan;
  using elementwise::MakeBroadcastPlan;
  BroadcastPlan p;
  const Shape full{2, 3, 4}, bias{4}, chan{3, 1}, one{1};
  ASSERT_TRUE(MakeBroadcastPlan(full, {&full, &full}, &p).ok());
  EXPECT_EQ(p.rank, 1);
  EXPECT_EQ(p.dims[0], 24);
  ASSERT_TRUE(MakeBroadcastPlan(full, {&full, &one}, &p).ok());
  EXPECT_EQ(p.rank, 1);
  EXPECT_EQ(p.inner_stride(1), 0);
  ASSERT_TRUE(MakeBroadcastPlan(full, {&full, &bias}, &p).ok());
  ASSERT_EQ(p.rank, 2);
  EXPECT_EQ(p.dims[0], 6);
  EXPECT_EQ(p.dims[1], 4);
  EXPECT_EQ(p.strides[1][0], 0);
  EXPECT_EQ(p.strides[1][1], 1);
  ASSERT_TRUE(MakeBroadcastPlan(full, {&full, &chan}, &p).ok());
  ASSERT_EQ(p.rank, 3);
  EXPECT_EQ(p.strides[1][0], 0);
  EXPECT_EQ(p.strides[1][1], 1);
  EXPECT_EQ(p.strides[1][2], 0);
  const Shape wrong{5};
  EXPECT_FALSE(MakeBroadcastPlan(full, {&full, &wrong}, &p).ok());
  // Alternating broadcast patterns beyond the plan's rank.
  Shape out(18, 2), alt(18, 2);
  for (size_t d = 0; d < alt.size(); d += 2) alt[d] = 1;
  EXPECT_EQ(MakeBroadcastPlan(out, {&out, &alt}, &p).code(),
            StatusCode::kUnimplemented);
}

TEST(ElementwiseBinary, Mod) {
  Tensor a = Make<int32_t>({4}, {7, -7, 7, -7});
  Tensor b = Make<int32_t>({4}, {3, 3, -3, -3});
  EXPECT_EQ(Values<int32_t>(RunOk({"Mod", {&a, &b}})),
            (std::vector<int32_t>{1, 2, -2, -1}));
  Attributes fmod;
  fmod.Set("fmod", int64_t{1});
  EXPECT_EQ(Values<int32_t>(RunOk({"Mod", {&a, &b}, &fmod})),
            (std::vector<int32_t>{1, -1, 1, -1}));
  Tensor f = Make<float>({2}, {5.5f, -5.5f});
  Tensor g = Make<float>({}, {2});
  EXPECT_EQ(Values<float>(RunOk({"Mod", {&f, &g}, &fmod})),
            (std::vector<float>{1.5f, -1.5f}));
  EXPECT_EQ(CodeOf({"Mod", {&f, &g}}), StatusCode::kInvalidArgument);
  Tensor zero = Make<int32_t>({}, {0});
  EXPECT_EQ(CodeOf({"Mod", {&a, &zero}}), StatusCode::kInvalidArgument);
  Tensor m = Make<int64_t>({1}, {std::numeric_limits<int64_t>::min()});
  Tensor m1 = Make<int64_t>({1}, {-1});
  EXPECT_EQ(Values<int64_t>(RunOk({"Mod", {&m, &m1}})),
            (std::vector<int64_t>{0}));
}

TEST(ElementwiseBinary, BitShift) {
  Tensor a = Make<uint8_t>({4}, {1, 16, 255, 3});
  Tensor b = Make<uint8_t>({4}, {3, 2, 1, 8});
  Attributes left;
  left.Set("direction", std::string("LEFT"));
  Attributes right;
  right.Set("direction", std::string("RIGHT"));
  EXPECT_EQ(Values<uint8_t>(RunOk({"BitShift", {&a, &b}, &left})),
            (std::vector<uint8_t>{8, 64, 254, 0}));
  EXPECT_EQ(Values<uint8_t>(RunOk({"BitShift", {&a, &b}, &right})),
            (std::vector<uint8_t>{0, 4, 127, 0}));
  EXPECT_EQ(CodeOf({"BitShift", {&a, &b}}), StatusCode::kInvalidArgument);
  Tensor s = Make<int32_t>({1}, {1});
  EXPECT_EQ(CodeOf({"BitShift", {&s, &s}, &left}), StatusCode::kUnimplemented);
}

// ---------------------------------------------------------------------------
// Pow.

TEST(ElementwisePow, FloatBaseAndExponent) {
  Tensor x = Make<float>({4}, {2, -2, 4, 9});
  Tensor e = Make<float>({4}, {3, 3, 0.5f, -1});
  ExpectNear(Values<float>(RunOk({"Pow", {&x, &e}})), {8, -8, 2, 1.0f / 9});
  Tensor two = Make<float>({}, {2});
  EXPECT_EQ(Values<float>(RunOk({"Pow", {&x, &two}})),
            (std::vector<float>{4, 4, 16, 81}));
  Tensor half = Make<float>({}, {0.5f});
  ExpectNear(Values<float>(RunOk({"Pow", {&x, &half}})),
             {std::sqrt(2.0f), kNaN, 2, 3});
  Tensor base = Make<float>({}, {2});
  ExpectNear(Values<float>(RunOk({"Pow", {&base, &e}})),
             {8, 8, std::sqrt(2.0f), 0.5f});
}

TEST(ElementwisePow, MixedTypes) {
  Tensor xf = Make<float>({3}, {1, 2, 3});
  Tensor ei = Make<int64_t>({3}, {4, 5, 6});
  Tensor y = RunOk({"Pow", {&xf, &ei}});
  EXPECT_EQ(y.dtype(), DType::kF32);
  EXPECT_EQ(Values<float>(y), (std::vector<float>{1, 32, 729}));
  Tensor xi = Make<int64_t>({3}, {2, 3, -2});
  Tensor ef = Make<float>({3}, {0.5f, 2, 3});
  Tensor z = RunOk({"Pow", {&xi, &ef}});
  EXPECT_EQ(z.dtype(), DType::kI64);
  EXPECT_EQ(Values<int64_t>(z), (std::vector<int64_t>{1, 9, -8}));
  Tensor bi = Make<int32_t>({4}, {3, -3, 2, -1});
  Tensor ii = Make<int32_t>({4}, {4, 3, -1, -3});
  EXPECT_EQ(Values<int32_t>(RunOk({"Pow", {&bi, &ii}})),
            (std::vector<int32_t>{81, -27, 0, -1}));
  Tensor eu = Make<uint32_t>({3}, {0, 1, 2});
  EXPECT_EQ(Values<float>(RunOk({"Pow", {&xf, &eu}})),
            (std::vector<float>{1, 2, 9}));
}

TEST(ElementwisePow, RejectsBadInputs) {
  Tensor x = Make<float>({3}, {1, 2, 3});
  Tensor e = Make<float>({2}, {1, 2});
  Tensor b = MakeBools({3}, {1, 0, 1});
  Tensor u = Make<uint8_t>({3}, {1, 2, 3});
  EXPECT_EQ(CodeOf({"Pow", {&x, &e}}), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf({"Pow", {&x, &b}}), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf({"Pow", {&u, &x}}), StatusCode::kUnimplemented);
}

// ---------------------------------------------------------------------------
// Unary math and activations.

TEST(ElementwiseUnary, Math) {
  Tensor x = Make<float>({4}, {0.25f, 1, 4, 9});
  ExpectNear(Values<float>(RunOk({"Sqrt", {&x}})), {0.5f, 1, 2, 3});
  ExpectNear(Values<float>(RunOk({"Log", {&x}})),
             {std::log(0.25f), 0, std::log(4.0f), std::log(9.0f)});
  ExpectNear(Values<float>(RunOk({"Reciprocal", {&x}})),
             {4, 1, 0.25f, 1.0f / 9});
  Tensor z = Make<float>({4}, {-1, 0, 0.5f, 2});
  ExpectNear(Values<float>(RunOk({"Exp", {&z}})),
             {std::exp(-1.0f), 1, std::exp(0.5f), std::exp(2.0f)});
  ExpectNear(Values<float>(RunOk({"Erf", {&z}})),
             {std::erf(-1.0f), 0, std::erf(0.5f), std::erf(2.0f)});
  ExpectNear(Values<float>(RunOk({"Tanh", {&z}})),
             {std::tanh(-1.0f), 0, std::tanh(0.5f), std::tanh(2.0f)});
  ExpectNear(Values<float>(RunOk({"Neg", {&z}})), {1, 0, -0.5f, -2});
  ExpectNear(Values<float>(RunOk({"Abs", {&z}})), {1, 0, 0.5f, 2});
  Tensor f = Make<float>({4}, {-1.5f, -0.5f, 0.5f, 2});
  EXPECT_EQ(Values<float>(RunOk({"Floor", {&f}})),
            (std::vector<float>{-2, -1, 0, 2}));
  EXPECT_EQ(Values<float>(RunOk({"Ceil", {&f}})),
            (std::vector<float>{-1, -0.0f, 1, 2}));
  Tensor nz = Make<float>({2}, {0, -1});
  EXPECT_EQ(Values<float>(RunOk({"Log", {&nz}}))[0], -kInf);
  EXPECT_TRUE(std::isnan(Values<float>(RunOk({"Sqrt", {&nz}}))[1]));
}

TEST(ElementwiseUnary, SigmoidIsStableForLargeMagnitudes) {
  Tensor x = Make<float>({5}, {-1000, -50, 0, 50, 1000});
  std::vector<float> y = Values<float>(RunOk({"Sigmoid", {&x}}));
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_GE(y[1], 0.0f);
  EXPECT_LT(y[1], 1e-20f);
  EXPECT_FLOAT_EQ(y[2], 0.5f);
  EXPECT_EQ(y[3], 1.0f);
  EXPECT_EQ(y[4], 1.0f);
  Tensor d = Make<double>({3}, {-1000, 1, 1000});
  std::vector<double> yd = Values<double>(RunOk({"Sigmoid", {&d}}));
  EXPECT_EQ(yd[0], 0.0);
  EXPECT_NEAR(yd[1], 1 / (1 + std::exp(-1.0)), 1e-12);
  EXPECT_EQ(yd[2], 1.0);
}

TEST(ElementwiseUnary, Activations) {
  Tensor x = Make<float>({4}, {-2, -0.5f, 0, 3});
  EXPECT_EQ(Values<float>(RunOk({"Relu", {&x}})),
            (std::vector<float>{0, 0, 0, 3}));
  EXPECT_EQ(Values<float>(RunOk({"LeakyRelu", {&x}})),
            (std::vector<float>{-0.02f, -0.005f, 0, 3}));
  Attributes alpha;
  alpha.Set("alpha", 0.5f);
  EXPECT_EQ(Values<float>(RunOk({"LeakyRelu", {&x}, &alpha})),
            (std::vector<float>{-1, -0.25f, 0, 3}));
  ExpectNear(Values<float>(RunOk({"HardSigmoid", {&x}})),
             {0.1f, 0.4f, 0.5f, 1});
  Attributes hs;
  hs.Set("alpha", 0.5f);
  hs.Set("beta", 0.6f);
  ExpectNear(Values<float>(RunOk({"HardSigmoid",
                                  {
                                      &x,
                                  },
                                  &hs})),
             {0, 0.35f, 0.6f, 1});
  Tensor s = Make<float>({4}, {-100, 0, 1, 100});
  ExpectNear(Values<float>(RunOk({"Softplus", {&s}})),
             {0, std::log(2.0f), std::log1p(std::exp(1.0f)), 100});
}

TEST(ElementwiseUnary, Gelu) {
  Tensor x = Make<float>({4}, {-3, -1, 0, 2});
  // 0.5 x (1 + erf(x / sqrt 2)).
  ExpectNear(Values<float>(RunOk({"Gelu", {&x}})),
             {-0.00404969f, -0.15865526f, 0, 1.95449974f});
  Attributes tanh_attr;
  tanh_attr.Set("approximate", std::string("tanh"));
  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
  ExpectNear(Values<float>(RunOk({"Gelu", {&x}, &tanh_attr})),
             {-0.00363739f, -0.15880801f, 0, 1.95459769f});
  Attributes bad;
  bad.Set("approximate", std::string("sigmoid"));
  EXPECT_EQ(CodeOf({"Gelu", {&x}, &bad}), StatusCode::kInvalidArgument);
}

TEST(ElementwiseUnary, IntegerTypes) {
  Tensor i = Make<int32_t>({3}, {-5, 0, 7});
  EXPECT_EQ(Values<int32_t>(RunOk({"Neg", {&i}})),
            (std::vector<int32_t>{5, 0, -7}));
  EXPECT_EQ(Values<int32_t>(RunOk({"Abs", {&i}})),
            (std::vector<int32_t>{5, 0, 7}));
  EXPECT_EQ(Values<int32_t>(RunOk({"Relu", {&i}})),
            (std::vector<int32_t>{0, 0, 7}));
  Tensor b = Make<int8_t>({2}, {-128, -3});
  EXPECT_EQ(Values<int8_t>(RunOk({"Abs", {&b}})),
            (std::vector<int8_t>{-128, 3}));
  Tensor u = Make<uint64_t>({2}, {0, 18446744073709551615ull});
  EXPECT_EQ(Values<uint64_t>(RunOk({"Abs", {&u}})),
            (std::vector<uint64_t>{0, 18446744073709551615ull}));
  EXPECT_EQ(CodeOf({"Sqrt", {&i}}), StatusCode::kUnimplemented);
  EXPECT_EQ(CodeOf({"Neg", {&u}}), StatusCode::kUnimplemented);
  auto r = Evaluate({"Exp", {&i}});
  EXPECT_NE(r.status().message().find("int32"), std::string::npos)
      << r.status();
}

TEST(ElementwiseUnary, HalfPrecisionInBlocks) {
  // More elements than one conversion block, threaded.
  const int n = 5000;
  std::vector<float> v(n);
  for (int k = 0; k < n; ++k) v[k] = static_cast<float>(k % 41 - 20) * 0.25f;
  for (DType dt : {DType::kF16, DType::kBF16}) {
    Tensor x = Make16(dt, {n}, v);
    Call c{"Sigmoid", {&x}};
    c.threads = 2;
    Tensor y = RunOk(c);
    ASSERT_EQ(y.dtype(), dt);
    std::vector<float> got = FloatValues(y);
    for (int k = 0; k < n; ++k) {
      ASSERT_NEAR(got[k], 1 / (1 + std::exp(-v[k])), 4e-3) << k;
    }
  }
}

TEST(ElementwiseUnary, Not) {
  Tensor x = MakeBools({3}, {1, 0, 1});
  EXPECT_EQ(BoolValues(RunOk({"Not", {&x}})), (std::vector<int>{0, 1, 0}));
  Tensor f = Make<float>({1}, {1});
  EXPECT_EQ(CodeOf({"Not", {&f}}), StatusCode::kInvalidArgument);
}

TEST(ElementwiseUnary, MoreMath) {
  Tensor x = Make<float>({4}, {-0.5f, 0, 0.25f, 0.75f});
  auto ref = [&](float (*f)(float)) {
    std::vector<float> out;
    for (float v : Values<float>(x)) out.push_back(f(v));
    return out;
  };
  ExpectNear(Values<float>(RunOk({"Sin", {&x}})), ref(std::sin));
  ExpectNear(Values<float>(RunOk({"Cos", {&x}})), ref(std::cos));
  ExpectNear(Values<float>(RunOk({"Tan", {&x}})), ref(std::tan));
  ExpectNear(Values<float>(RunOk({"Asin", {&x}})), ref(std::asin));
  ExpectNear(Values<float>(RunOk({"Acos", {&x}})), ref(std::acos));
  ExpectNear(Values<float>(RunOk({"Atan", {&x}})), ref(std::atan));
  ExpectNear(Values<float>(RunOk({"Sinh", {&x}})), ref(std::sinh));
  ExpectNear(Values<float>(RunOk({"Cosh", {&x}})), ref(std::cosh));
  ExpectNear(Values<float>(RunOk({"Asinh", {&x}})), ref(std::asinh));
  ExpectNear(Values<float>(RunOk({"Atanh", {&x}})), ref(std::atanh));
  Tensor big = Make<float>({2}, {1, 3});
  ExpectNear(Values<float>(RunOk({"Acosh", {&big}})), {0, std::acosh(3.0f)});
  Tensor r = Make<float>({6}, {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 2.4f});
  EXPECT_EQ(Values<float>(RunOk({"Round", {&r}})),
            (std::vector<float>{0, 2, 2, -0.0f, -2, 2}));
  ExpectNear(Values<float>(RunOk({"Softsign", {&r}})),
             {1.0f / 3, 0.6f, 2.5f / 3.5f, -1.0f / 3, -0.6f, 2.4f / 3.4f});
  Tensor h = Make<float>({4}, {-4, -1, 1, 4});
  ExpectNear(Values<float>(RunOk({"HardSwish", {&h}})),
             {0, -1.0f / 3, 2.0f / 3, 4});
}

TEST(ElementwiseUnary, Sign) {
  Tensor f = Make<float>({3}, {-2.5f, 0, 7});
  EXPECT_EQ(Values<float>(RunOk({"Sign", {&f}})),
            (std::vector<float>{-1, 0, 1}));
  Tensor i = Make<int16_t>({3}, {-300, 0, 5});
  EXPECT_EQ(Values<int16_t>(RunOk({"Sign", {&i}})),
            (std::vector<int16_t>{-1, 0, 1}));
  Tensor u = Make<uint32_t>({2}, {0, 9});
  EXPECT_EQ(Values<uint32_t>(RunOk({"Sign", {&u}})),
            (std::vector<uint32_t>{0, 1}));
}

TEST(ElementwiseUnary, ExponentialLinearFamily) {
  Tensor x = Make<float>({3}, {-1, 0, 2});
  const float em1 = std::expm1(-1.0f);
  ExpectNear(Values<float>(RunOk({"Elu", {&x}})), {em1, 0, 2});
  Attributes a2;
  a2.Set("alpha", 2.0f);
  ExpectNear(Values<float>(RunOk({"Elu", {&x}, &a2})), {2 * em1, 0, 2});
  ExpectNear(Values<float>(RunOk({"Celu", {&x}, &a2})),
             {2 * std::expm1(-0.5f), 0, 2});
  Attributes zero;
  zero.Set("alpha", 0.0f);
  EXPECT_EQ(CodeOf({"Celu", {&x}, &zero}), StatusCode::kInvalidArgument);
  const float alpha = 1.67326319217681884765625f,
              gamma = 1.05070102214813232421875f;
  ExpectNear(Values<float>(RunOk({"Selu", {&x}})),
             {gamma * alpha * em1, 0, gamma * 2});
  ExpectNear(Values<float>(RunOk({"ThresholdedRelu", {&x}})), {0, 0, 2});
  ExpectNear(Values<float>(RunOk({"ThresholdedRelu", {&x}, &a2})), {0, 0, 0});
  Tensor s = Make<float>({5}, {-2, -1, 0, 1, 2});
  Attributes soft;
  soft.Set("bias", 1.5f);
  soft.Set("lambd", 1.5f);
  ExpectNear(Values<float>(RunOk({"Shrink", {&s}, &soft})),
             {-0.5f, 0, 0, 0, 0.5f});
  ExpectNear(Values<float>(RunOk({"Shrink", {&s}})), {-2, -1, 0, 1, 2});
}

TEST(ElementwiseUnary, IsNaNIsInf) {
  Tensor x = Make<float>({4}, {kNaN, kInf, -kInf, 1});
  EXPECT_EQ(BoolValues(RunOk({"IsNaN", {&x}})), (std::vector<int>{1, 0, 0, 0}));
  EXPECT_EQ(BoolValues(RunOk({"IsInf", {&x}})), (std::vector<int>{0, 1, 1, 0}));
  Attributes neg_only;
  neg_only.Set("detect_positive", int64_t{0});
  EXPECT_EQ(BoolValues(RunOk({"IsInf", {&x}, &neg_only})),
            (std::vector<int>{0, 0, 1, 0}));
  Tensor h = Make16(DType::kF16, {2}, {kInf, 2});
  EXPECT_EQ(BoolValues(RunOk({"IsInf", {&h}})), (std::vector<int>{1, 0}));
  Tensor i = Make<int32_t>({1}, {1});
  EXPECT_EQ(CodeOf({"IsNaN", {&i}}), StatusCode::kUnimplemented);
}

// ---------------------------------------------------------------------------
// Clip.

TEST(ElementwiseClip, Opset6Attributes) {
  Tensor x = Make<float>({4}, {-3, -1, 1, 3});
  Attributes attrs;
  attrs.Set("min", -2.0f);
  attrs.Set("max", 2.0f);
  Call c{"Clip", {&x}, &attrs, 6};
  EXPECT_EQ(Values<float>(RunOk(c)), (std::vector<float>{-2, -1, 1, 2}));
  Attributes only_max;
  only_max.Set("max", 0.0f);
  Call d{"Clip", {&x}, &only_max, 6};
  EXPECT_EQ(Values<float>(RunOk(d)), (std::vector<float>{-3, -1, 0, 0}));
}

TEST(ElementwiseClip, OptionalInputs) {
  Tensor x = Make<float>({4}, {-3, -1, 1, kInf});
  Tensor lo = Make<float>({}, {-2});
  Tensor hi = Make<float>({}, {2});
  EXPECT_EQ(Values<float>(RunOk({"Clip", {&x, &lo, &hi}})),
            (std::vector<float>{-2, -1, 1, 2}));
  EXPECT_EQ(Values<float>(RunOk({"Clip", {&x, nullptr, &hi}})),
            (std::vector<float>{-3, -1, 1, 2}));
  EXPECT_EQ(Values<float>(RunOk({"Clip", {&x, &lo}})),
            (std::vector<float>{-2, -1, 1, kInf}));
  EXPECT_EQ(Values<float>(RunOk({"Clip", {&x}})),
            (std::vector<float>{-3, -1, 1, kInf}));
  // min > max: everything becomes max.
  EXPECT_EQ(Values<float>(RunOk({"Clip", {&x, &hi, &lo}})),
            (std::vector<float>{-2, -2, -2, -2}));
}

TEST(ElementwiseClip, IntegerAndHalf) {
  Tensor x = Make<int8_t>({4}, {-128, -5, 5, 127});
  Tensor lo = Make<int8_t>({}, {-10});
  EXPECT_EQ(Values<int8_t>(RunOk({"Clip", {&x, &lo}})),
            (std::vector<int8_t>{-10, -5, 5, 127}));
  Tensor hi = Make<int8_t>({1}, {0});
  EXPECT_EQ(Values<int8_t>(RunOk({"Clip", {&x, nullptr, &hi}})),
            (std::vector<int8_t>{-128, -5, 0, 0}));
  Tensor big =
      Make<int64_t>({2}, {(int64_t{1} << 60) + 1, -(int64_t{1} << 60) - 1});
  Tensor bhi = Make<int64_t>({}, {int64_t{1} << 60});
  EXPECT_EQ(Values<int64_t>(RunOk({"Clip", {&big, nullptr, &bhi}})),
            (std::vector<int64_t>{int64_t{1} << 60, -(int64_t{1} << 60) - 1}));
  Tensor h = Make16(DType::kF16, {3}, {-4, 0.5f, 4});
  Tensor hlo = Make16(DType::kF16, {}, {-1});
  Tensor hhi = Make16(DType::kF16, {}, {1});
  EXPECT_EQ(FloatValues(RunOk({"Clip", {&h, &hlo, &hhi}})),
            (std::vector<float>{-1, 0.5f, 1}));
}

TEST(ElementwiseClip, RejectsBadBounds) {
  Tensor x = Make<float>({2}, {1, 2});
  Tensor two = Make<float>({2}, {0, 1});
  Tensor wrong_type = Make<double>({}, {0});
  EXPECT_EQ(CodeOf({"Clip", {&x, &two}}), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf({"Clip", {&x, &wrong_type}}), StatusCode::kInvalidArgument);
  Tensor lo = Make<float>({}, {0});
  Call old{"Clip", {&x, &lo}, nullptr, 6};
  EXPECT_EQ(CodeOf(old), StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------
// Comparisons, logical ops, Where.

TEST(ElementwiseCompare, AllComparisons) {
  Tensor a = Make<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = Make<float>({3}, {2, 2, 2});
  EXPECT_EQ(BoolValues(RunOk({"Equal", {&a, &b}})),
            (std::vector<int>{0, 1, 0, 0, 0, 0}));
  EXPECT_EQ(BoolValues(RunOk({"Less", {&a, &b}})),
            (std::vector<int>{1, 0, 0, 0, 0, 0}));
  EXPECT_EQ(BoolValues(RunOk({"LessOrEqual", {&a, &b}})),
            (std::vector<int>{1, 1, 0, 0, 0, 0}));
  EXPECT_EQ(BoolValues(RunOk({"Greater", {&a, &b}})),
            (std::vector<int>{0, 0, 1, 1, 1, 1}));
  EXPECT_EQ(BoolValues(RunOk({"GreaterOrEqual", {&a, &b}})),
            (std::vector<int>{0, 1, 1, 1, 1, 1}));
  Tensor i = Make<int64_t>({2}, {5, -1});
  Tensor j = Make<int64_t>({}, {5});
  EXPECT_EQ(BoolValues(RunOk({"Equal", {&i, &j}})), (std::vector<int>{1, 0}));
  Tensor p = MakeBools({2}, {1, 0});
  Tensor q = MakeBools({2}, {1, 1});
  EXPECT_EQ(BoolValues(RunOk({"Equal", {&p, &q}})), (std::vector<int>{1, 0}));
  Tensor n = Make<float>({1}, {kNaN});
  EXPECT_EQ(BoolValues(RunOk({"Equal", {&n, &n}})), (std::vector<int>{0}));
  EXPECT_EQ(CodeOf({"Less", {&a, &i}}), StatusCode::kInvalidArgument);
}

TEST(ElementwiseLogical, AndOrXorBroadcast) {
  Tensor a = MakeBools({2, 2}, {0, 0, 1, 1});
  Tensor b = MakeBools({2}, {0, 1});
  EXPECT_EQ(BoolValues(RunOk({"And", {&a, &b}})),
            (std::vector<int>{0, 0, 0, 1}));
  EXPECT_EQ(BoolValues(RunOk({"Or", {&a, &b}})),
            (std::vector<int>{0, 1, 1, 1}));
  EXPECT_EQ(BoolValues(RunOk({"Xor", {&a, &b}})),
            (std::vector<int>{0, 1, 1, 0}));
  Tensor f = Make<float>({2}, {0, 1});
  EXPECT_EQ(CodeOf({"And", {&a, &f}}), StatusCode::kInvalidArgument);
}

TEST(ElementwiseWhere, ThreeWayBroadcast) {
  Tensor c = MakeBools({2, 1}, {1, 0});
  Tensor x = Make<float>({3}, {1, 2, 3});
  Tensor y = Make<float>({}, {-1});
  Tensor out = RunOk({"Where", {&c, &x, &y}});
  EXPECT_EQ(out.shape(), (Shape{2, 3}));
  EXPECT_EQ(Values<float>(out), (std::vector<float>{1, 2, 3, -1, -1, -1}));
  Tensor xi = Make<int64_t>({2, 2}, {1, 2, 3, 4});
  Tensor yi = Make<int64_t>({2, 2}, {9, 8, 7, 6});
  Tensor cc = MakeBools({2, 2}, {1, 0, 0, 1});
  EXPECT_EQ(Values<int64_t>(RunOk({"Where", {&cc, &xi, &yi}})),
            (std::vector<int64_t>{1, 8, 7, 4}));
  Tensor h = Make16(DType::kF16, {2}, {1, 2});
  Tensor hy = Make16(DType::kF16, {2}, {3, 4});
  Tensor c1 = MakeBools({2}, {0, 1});
  EXPECT_EQ(FloatValues(RunOk({"Where", {&c1, &h, &hy}})),
            (std::vector<float>{3, 2}));
  EXPECT_EQ(CodeOf({"Where", {&x, &x, &y}}), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf({"Where", {&c, &x, &xi}}), StatusCode::kInvalidArgument);
  Tensor c3 = MakeBools({4}, {1, 0, 0, 1});
  EXPECT_EQ(CodeOf({"Where", {&c3, &x, &y}}), StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------
// Variadic ops.

TEST(ElementwiseVariadic, SumMaxMinMean) {
  Tensor a = Make<float>({3}, {3, 2, 1});
  Tensor b = Make<float>({3}, {1, 4, 4});
  Tensor c = Make<float>({2, 1}, {2, 10});
  Tensor s = RunOk({"Sum", {&a, &b, &c}});
  EXPECT_EQ(s.shape(), (Shape{2, 3}));
  EXPECT_EQ(Values<float>(s), (std::vector<float>{6, 8, 7, 14, 16, 15}));
  EXPECT_EQ(Values<float>(RunOk({"Max", {&a, &b, &c}})),
            (std::vector<float>{3, 4, 4, 10, 10, 10}));
  EXPECT_EQ(Values<float>(RunOk({"Min", {&a, &b, &c}})),
            (std::vector<float>{1, 2, 1, 1, 2, 1}));
  ExpectNear(Values<float>(RunOk({"Mean", {&a, &b, &c}})),
             {2, 8.0f / 3, 7.0f / 3, 14.0f / 3, 16.0f / 3, 5});
  EXPECT_EQ(Values<float>(RunOk({"Sum", {&a}})), (std::vector<float>{3, 2, 1}));
  EXPECT_EQ(Values<float>(RunOk({"Max", {&a, &a, &a}})),
            (std::vector<float>{3, 2, 1}));
  EXPECT_EQ(Values<float>(RunOk({"Sum", {&a, &a, &a, &a}})),
            (std::vector<float>{12, 8, 4}));
}

TEST(ElementwiseVariadic, TypesAndNaN) {
  Tensor a = Make<uint16_t>({2}, {1, 60000});
  Tensor b = Make<uint16_t>({2}, {2, 5});
  EXPECT_EQ(Values<uint16_t>(RunOk({"Max", {&a, &b}})),
            (std::vector<uint16_t>{2, 60000}));
  EXPECT_EQ(Values<uint16_t>(RunOk({"Min", {&a, &b}})),
            (std::vector<uint16_t>{1, 5}));
  Tensor n = Make<float>({2}, {kNaN, 1});
  Tensor m = Make<float>({2}, {0, kNaN});
  std::vector<float> mx = Values<float>(RunOk({"Max", {&n, &m}}));
  EXPECT_TRUE(std::isnan(mx[0]) && std::isnan(mx[1]));
  std::vector<float> mn = Values<float>(RunOk({"Min", {&n, &m}}));
  EXPECT_TRUE(std::isnan(mn[0]) && std::isnan(mn[1]));
  Tensor f = Make<float>({2}, {1, 2});
  EXPECT_EQ(CodeOf({"Sum", {&f, &a}}), StatusCode::kInvalidArgument);
  Tensor g = Make<float>({3}, {1, 2, 3});
  EXPECT_EQ(CodeOf({"Max", {&f, &g}}), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf({"Mean", {&a, &b}}), StatusCode::kUnimplemented);
}

// ---------------------------------------------------------------------------
// Cast, CastLike, Identity, Dropout.

Attributes CastTo(int64_t to) {
  Attributes a;
  a.Set("to", to);
  return a;
}

TEST(ElementwiseCast, FloatToIntegers) {
  Tensor x = Make<float>({6}, {1.9f, -1.9f, kNaN, 1e10f, -1e10f, 300.5f});
  Attributes to_i32 = CastTo(6);
  EXPECT_EQ(Values<int32_t>(RunOk({"Cast", {&x}, &to_i32})),
            (std::vector<int32_t>{1, -1, 0, std::numeric_limits<int32_t>::max(),
                                  std::numeric_limits<int32_t>::min(), 300}));
  Attributes to_u8 = CastTo(2);
  EXPECT_EQ(Values<uint8_t>(RunOk({"Cast", {&x}, &to_u8})),
            (std::vector<uint8_t>{1, 0, 0, 255, 0, 255}));
  Attributes to_i64 = CastTo(7);
  EXPECT_EQ(Values<int64_t>(RunOk({"Cast", {&x}, &to_i64})),
            (std::vector<int64_t>{1, -1, 0, 10000000000, -10000000000, 300}));
}

TEST(ElementwiseCast, BoolAndIntegers) {
  Tensor x = Make<float>({3}, {0, -0.5f, 2});
  Attributes to_bool = CastTo(9);
  EXPECT_EQ(BoolValues(RunOk({"Cast", {&x}, &to_bool})),
            (std::vector<int>{0, 1, 1}));
  Tensor b = MakeBools({2}, {1, 0});
  Attributes to_f32 = CastTo(1);
  EXPECT_EQ(Values<float>(RunOk({"Cast", {&b}, &to_f32})),
            (std::vector<float>{1, 0}));
  Tensor i = Make<int64_t>({3}, {-1, 256, 65537});
  Attributes to_u16 = CastTo(4);
  EXPECT_EQ(Values<uint16_t>(RunOk({"Cast", {&i}, &to_u16})),
            (std::vector<uint16_t>{65535, 256, 1}));
  Attributes to_i8 = CastTo(3);
  EXPECT_EQ(Values<int8_t>(RunOk({"Cast", {&i}, &to_i8})),
            (std::vector<int8_t>{-1, 0, 1}));
  Tensor u = Make<uint64_t>({1}, {18446744073709551615ull});
  Attributes to_f64 = CastTo(11);
  EXPECT_EQ(Values<double>(RunOk({"Cast", {&u}, &to_f64})),
            (std::vector<double>{18446744073709551616.0}));
}

TEST(ElementwiseCast, HalfAndBFloat16) {
  Tensor x = Make<float>({4}, {1.0f, 0.1f, 65504.0f, 1e6f});
  Attributes to_f16 = CastTo(10);
  Tensor h = RunOk({"Cast", {&x}, &to_f16});
  ASSERT_EQ(h.dtype(), DType::kF16);
  std::vector<uint16_t> hb(h.data<uint16_t>(), h.data<uint16_t>() + 4);
  EXPECT_EQ(hb,
            (std::vector<uint16_t>{0x3c00, FloatToHalf(0.1f), 0x7bff, 0x7c00}));
  Attributes to_f32 = CastTo(1);
  ExpectNear(Values<float>(RunOk({"Cast", {&h}, &to_f32})),
             {1, 0.0999755859375f, 65504, kInf});
  // bfloat16 rounds to nearest even: 1 + 2^-8 + 2^-9 rounds up to 1 + 2^-7.
  Tensor t = Make<float>(
      {4}, {1.0f + 1.0f / 256 + 1.0f / 512, 1.0f + 1.0f / 256, -2.5f, kNaN});
  Attributes to_bf16 = CastTo(16);
  Tensor bf = RunOk({"Cast", {&t}, &to_bf16});
  ASSERT_EQ(bf.dtype(), DType::kBF16);
  std::vector<uint16_t> bb(bf.data<uint16_t>(), bf.data<uint16_t>() + 4);
  EXPECT_EQ(bb[0], 0x3f81);
  EXPECT_EQ(bb[1], 0x3f80);  // a tie goes to even
  EXPECT_EQ(bb[2], 0xc020);
  EXPECT_EQ(bb[3] & 0x7fc0, 0x7fc0);
  // double -> half rounds once: 1 + 2^-11 + 2^-40 is just above the halfway
  // point between two halves, so it rounds up; via float it would tie to even.
  Tensor d =
      Make<double>({2}, {1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40),
                         1.0 + std::ldexp(1.0, -8) + std::ldexp(1.0, -40)});
  Tensor dh = RunOk({"Cast", {&d}, &to_f16});
  EXPECT_EQ(dh.data<uint16_t>()[0], 0x3c01);
  Tensor db = RunOk({"Cast", {&d}, &to_bf16});
  EXPECT_EQ(db.data<uint16_t>()[1], 0x3f81);
  Tensor hb16 = Make16(DType::kF16, {2}, {1.5f, -3});
  Attributes to_bf = CastTo(16);
  std::vector<float> back = FloatValues(RunOk({"Cast", {&hb16}, &to_bf}));
  EXPECT_EQ(back, (std::vector<float>{1.5f, -3}));
}

TEST(ElementwiseCast, RejectsBadTargets) {
  Tensor x = Make<float>({1}, {1});
  Attributes to_string = CastTo(8);
  EXPECT_EQ(CodeOf({"Cast", {&x}, &to_string}), StatusCode::kUnimplemented);
  Attributes to_nonsense = CastTo(99);
  EXPECT_EQ(CodeOf({"Cast", {&x}, &to_nonsense}), StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf({"Cast", {&x}}), StatusCode::kInvalidArgument);
}

TEST(ElementwiseCast, CastLike) {
  Tensor x = Make<double>({2}, {1.5, -2.25});
  Tensor like = Make<float>({1}, {0});
  Tensor y = RunOk({"CastLike", {&x, &like}});
  EXPECT_EQ(Values<float>(y), (std::vector<float>{1.5f, -2.25f}));
}

TEST(ElementwisePassThrough, IdentityAndDropout) {
  Tensor x = Make<float>({2, 2}, {1, 2, 3, 4});
  EXPECT_EQ(Values<float>(RunOk({"Identity", {&x}})),
            (std::vector<float>{1, 2, 3, 4}));
  Tensor ratio = Make<float>({}, {0.5f});
  Call with_mask{"Dropout", {&x, &ratio}, nullptr, 13, 2};
  auto r = Evaluate(with_mask);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Values<float>((*r)[0]), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(BoolValues((*r)[1]), (std::vector<int>{1, 1, 1, 1}));
  Call old{"Dropout", {&x}, nullptr, 7, 2};
  auto o = Evaluate(old);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(Values<float>((*o)[1]), (std::vector<float>{1, 1, 1, 1}));
  Tensor off = MakeBools({}, {0});
  EXPECT_EQ(Values<float>(RunOk({"Dropout", {&x, &ratio, &off}, nullptr, 13})),
            (std::vector<float>{1, 2, 3, 4}));
  Tensor on = MakeBools({}, {1});
  EXPECT_EQ(CodeOf({"Dropout", {&x, &ratio, &on}, nullptr, 13}),
            StatusCode::kUnimplemented);
}

// ---------------------------------------------------------------------------
// The activation helper other kernels fuse.

TEST(ElementwiseActivation, ApplyByName) {
  std::vector<float> v = {-2, -0.5f, 0, 1, 8};
  auto apply = [&](const std::string& kind, float alpha = 0.01f,
                   float lo = -kInf, float hi = kInf) {
    std::vector<float> d = v;
    Status s = ApplyActivationF32(kind, alpha, lo, hi, d.data(),
                                  static_cast<int64_t>(d.size()), 1);
    EXPECT_TRUE(s.ok()) << s;
    return d;
  };
  EXPECT_EQ(apply(""), v);
  EXPECT_EQ(apply("Relu"), (std::vector<float>{0, 0, 0, 1, 8}));
  EXPECT_EQ(apply("LeakyRelu", 0.5f),
            (std::vector<float>{-1, -0.25f, 0, 1, 8}));
  EXPECT_EQ(apply("Clip", 0, 0, 6), (std::vector<float>{0, 0, 0, 1, 6}));
  ExpectNear(apply("Sigmoid"),
             {0.11920292f, 0.37754067f, 0.5f, 0.73105858f, 0.99966466f});
  ExpectNear(apply("Tanh"), {std::tanh(-2.0f), std::tanh(-0.5f), 0,
                             std::tanh(1.0f), std::tanh(8.0f)});
  ExpectNear(apply("Gelu"), {-0.04550026f, -0.15426877f, 0, 0.84134475f, 8});
  float d = 1;
  EXPECT_EQ(ApplyActivationF32("Swish", 0, 0, 0, &d, 1, 1).code(),
            StatusCode::kInvalidArgument);
}

TEST(ElementwiseActivation, ParseAttributes) {
  Activation act;
  ASSERT_TRUE(ParseActivation(Attributes(), &act).ok());
  EXPECT_EQ(act.kind, ActivationKind::kNone);
  EXPECT_EQ(act.alpha, 0.01f);
  EXPECT_EQ(act.lo, -kInf);
  EXPECT_EQ(act.hi, kInf);
  Attributes attrs;
  attrs.Set("tp_activation", std::string("Clip"));
  attrs.Set("tp_clip_min", 0.0f);
  attrs.Set("tp_clip_max", 6.0f);
  ASSERT_TRUE(ParseActivation(attrs, &act).ok());
  EXPECT_EQ(act.kind, ActivationKind::kClip);
  EXPECT_EQ(act.lo, 0.0f);
  EXPECT_EQ(act.hi, 6.0f);
  std::vector<float> big(100000);
  for (size_t i = 0; i < big.size(); ++i)
    big[i] = static_cast<float>(i) - 50000.0f;
  ApplyActivationF32(act, big.data(), static_cast<int64_t>(big.size()), 4);
  for (size_t i = 0; i < big.size(); ++i) {
    ASSERT_EQ(big[i],
              std::min(6.0f, std::max(0.0f, static_cast<float>(i) - 50000.0f)));
  }
  attrs.Set("tp_activation", std::string("relu"));
  EXPECT_EQ(ParseActivation(attrs, &act).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tensorpod::internal
