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
#include "core/dtype.h"
#include "core/tensor.h"
#include "ops/attributes.h"
#include "unit/ops/op_test_util.h"

namespace tensorpod::internal {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

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

// ---------------------------------------------------------------------------
// Broadcasting arithmetic.

TEST(ElementwiseBinary, AddSameShape) {
  Tensor a = Make<float>({2, 2}, {1, 2, 3, 4});
  Tensor b = Make<float>({2, 2}, {10, 20, 30, 40});
  Tensor y = OpNode{"Add", {&a, &b}}.Out();
  EXPECT_EQ(y.shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{11, 22, 33, 44}));
}

TEST(ElementwiseBinary, ScalarOperandOnEitherSide) {
  Tensor a = Make<float>({3}, {1, 2, 3});
  Tensor s = Make<float>({}, {10});
  EXPECT_EQ(Values<float>(OpNode{"Sub", {&a, &s}}.Out()),
            (std::vector<float>{-9, -8, -7}));
  EXPECT_EQ(Values<float>(OpNode{"Sub", {&s, &a}}.Out()),
            (std::vector<float>{9, 8, 7}));
  EXPECT_EQ(Values<float>(OpNode{"Div", {&s, &a}}.Out()),
            (std::vector<float>{10, 5, 10.0f / 3}));
  Tensor y = OpNode{"Mul", {&s, &s}}.Out();
  EXPECT_EQ(y.shape(), Shape{});
  EXPECT_EQ(Values<float>(y), (std::vector<float>{100}));
}

TEST(ElementwiseBinary, TrailingBiasAdd) {
  Tensor a = Make<float>({2, 3}, {0, 1, 2, 3, 4, 5});
  Tensor b = Make<float>({3}, {100, 200, 300});
  EXPECT_EQ(Values<float>(OpNode{"Add", {&a, &b}}.Out()),
            (std::vector<float>{100, 201, 302, 103, 204, 305}));
  // Bias on the left too.
  EXPECT_EQ(Values<float>(OpNode{"Sub", {&b, &a}}.Out()),
            (std::vector<float>{100, 199, 298, 97, 196, 295}));
}

TEST(ElementwiseBinary, ChannelBroadcast) {
  // NCHW + [C,1,1]: the bias repeats along the inner H*W run.
  Tensor a = Make<float>({1, 2, 1, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = Make<float>({2, 1, 1}, {10, 20});
  Tensor y = OpNode{"Mul", {&a, &b}}.Out();
  EXPECT_EQ(y.shape(), (Shape{1, 2, 1, 3}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{10, 20, 30, 80, 100, 120}));
}

TEST(ElementwiseBinary, BothSidesBroadcast) {
  Tensor a = Make<int32_t>({2, 1, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = Make<int32_t>({1, 2, 1}, {10, 20});
  Tensor y = OpNode{"Add", {&a, &b}}.Out();
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
  OpNode add{"Add", {&a, &b}};
  add.threads = 4;
  std::vector<float> y = Values<float>(add.Out());
  OpNode sub{"Sub", {&b, &c}};
  sub.threads = 3;
  std::vector<float> z = Values<float>(sub.Out());
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
  EXPECT_EQ(Values<uint8_t>(OpNode{"Add", {&a, &b}}.Out()),
            (std::vector<uint8_t>{44, 9, 12}));
  EXPECT_EQ(Values<uint8_t>(OpNode{"Sub", {&b, &a}}.Out()),
            (std::vector<uint8_t>{156, 251, 250}));
  EXPECT_EQ(Values<uint8_t>(OpNode{"Div", {&a, &b}}.Out()),
            (std::vector<uint8_t>{2, 3, 3}));
  Tensor c = Make<int64_t>({4}, {-7, 7, -7, 5});
  Tensor d = Make<int64_t>({4}, {2, -2, -2, 7});
  EXPECT_EQ(Values<int64_t>(OpNode{"Div", {&c, &d}}.Out()),
            (std::vector<int64_t>{-3, -3, 3, 0}));
  EXPECT_EQ(Values<int64_t>(OpNode{"Mul", {&c, &d}}.Out()),
            (std::vector<int64_t>{-14, -14, 14, 35}));
}

TEST(ElementwiseBinary, IntegerDivisionEdgeCases) {
  Tensor a = Make<int32_t>({2}, {std::numeric_limits<int32_t>::min(), 6});
  Tensor m1 = Make<int32_t>({2}, {-1, -1});
  EXPECT_EQ(Values<int32_t>(OpNode{"Div", {&a, &m1}}.Out()),
            (std::vector<int32_t>{std::numeric_limits<int32_t>::min(), -6}));
  Tensor zero = Make<int32_t>({2}, {1, 0});
  EXPECT_EQ((OpNode{"Div", {&a, &zero}}.Code()), StatusCode::kInvalidArgument);
  // Float division by zero follows IEEE.
  Tensor f = Make<float>({2}, {1, -1});
  Tensor fz = Make<float>({}, {0});
  EXPECT_EQ(Values<float>(OpNode{"Div", {&f, &fz}}.Out()),
            (std::vector<float>{kInf, -kInf}));
}

TEST(ElementwiseBinary, Float16AndBFloat16ComputeInFloat) {
  Tensor a = Make16(DType::kF16, {3}, {1.5f, -2.0f, 1024.0f});
  Tensor b = Make16(DType::kF16, {3}, {0.25f, 3.0f, 1.0f});
  Tensor y = OpNode{"Add", {&a, &b}}.Out();
  EXPECT_EQ(y.dtype(), DType::kF16);
  EXPECT_EQ(FloatValues(y), (std::vector<float>{1.75f, 1.0f, 1025.0f}));
  Tensor c = Make16(DType::kBF16, {2}, {2.0f, -8.0f});
  Tensor d = Make16(DType::kBF16, {}, {4.0f});
  Tensor z = OpNode{"Div", {&c, &d}}.Out();
  EXPECT_EQ(z.dtype(), DType::kBF16);
  EXPECT_EQ(FloatValues(z), (std::vector<float>{0.5f, -2.0f}));
}

TEST(ElementwiseBinary, Float64) {
  Tensor a = Make<double>({2}, {1e300, 0.1});
  Tensor b = Make<double>({2}, {1e300, 0.2});
  EXPECT_EQ(Values<double>(OpNode{"Add", {&a, &b}}.Out()),
            (std::vector<double>{2e300, 0.1 + 0.2}));
}

TEST(ElementwiseBinary, RejectsBadInputs) {
  Tensor a = Make<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = Make<float>({2}, {1, 2});
  Tensor i = Make<int32_t>({3}, {1, 2, 3});
  EXPECT_EQ((OpNode{"Add", {&a, &b}}.Code()), StatusCode::kInvalidArgument);
  EXPECT_EQ((OpNode{"Mul", {&a, &i}}.Code()), StatusCode::kInvalidArgument);
  EXPECT_EQ((OpNode{"Add", {&a}}.Code()), StatusCode::kInvalidArgument);
  EXPECT_EQ((OpNode{"Add", {&a, nullptr}}.Code()),
            StatusCode::kInvalidArgument);
  Tensor t = MakeBools({2}, {1, 0});
  EXPECT_EQ((OpNode{"Add", {&t, &t}}.Code()), StatusCode::kUnimplemented);
  OpNode sub{"Sub", {&a, &b}};
  sub.name = "n";
  auto r = sub.Run();
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
  EXPECT_EQ(Values<int32_t>(OpNode{"Mod", {&a, &b}}.Out()),
            (std::vector<int32_t>{1, 2, -2, -1}));
  Attributes fmod;
  fmod.Set("fmod", int64_t{1});
  EXPECT_EQ(Values<int32_t>(OpNode{"Mod", {&a, &b}, fmod}.Out()),
            (std::vector<int32_t>{1, -1, 1, -1}));
  Tensor f = Make<float>({2}, {5.5f, -5.5f});
  Tensor g = Make<float>({}, {2});
  EXPECT_EQ(Values<float>(OpNode{"Mod", {&f, &g}, fmod}.Out()),
            (std::vector<float>{1.5f, -1.5f}));
  EXPECT_EQ((OpNode{"Mod", {&f, &g}}.Code()), StatusCode::kInvalidArgument);
  Tensor zero = Make<int32_t>({}, {0});
  EXPECT_EQ((OpNode{"Mod", {&a, &zero}}.Code()), StatusCode::kInvalidArgument);
  Tensor m = Make<int64_t>({1}, {std::numeric_limits<int64_t>::min()});
  Tensor m1 = Make<int64_t>({1}, {-1});
  EXPECT_EQ(Values<int64_t>(OpNode{"Mod", {&m, &m1}}.Out()),
            (std::vector<int64_t>{0}));
}

TEST(ElementwiseBinary, BitShift) {
  Tensor a = Make<uint8_t>({4}, {1, 16, 255, 3});
  Tensor b = Make<uint8_t>({4}, {3, 2, 1, 8});
  Attributes left;
  left.Set("direction", std::string("LEFT"));
  Attributes right;
  right.Set("direction", std::string("RIGHT"));
  EXPECT_EQ(Values<uint8_t>(OpNode{"BitShift", {&a, &b}, left}.Out()),
            (std::vector<uint8_t>{8, 64, 254, 0}));
  EXPECT_EQ(Values<uint8_t>(OpNode{"BitShift", {&a, &b}, right}.Out()),
            (std::vector<uint8_t>{0, 4, 127, 0}));
  EXPECT_EQ((OpNode{"BitShift", {&a, &b}}.Code()),
            StatusCode::kInvalidArgument);
  Tensor s = Make<int32_t>({1}, {1});
  EXPECT_EQ((OpNode{"BitShift", {&s, &s}, left}.Code()),
            StatusCode::kUnimplemented);
}

// ---------------------------------------------------------------------------
// Pow.

TEST(ElementwisePow, FloatBaseAndExponent) {
  Tensor x = Make<float>({4}, {2, -2, 4, 9});
  Tensor e = Make<float>({4}, {3, 3, 0.5f, -1});
  ExpectNear(Values<float>(OpNode{"Pow", {&x, &e}}.Out()),
             {8, -8, 2, 1.0f / 9});
  Tensor two = Make<float>({}, {2});
  EXPECT_EQ(Values<float>(OpNode{"Pow", {&x, &two}}.Out()),
            (std::vector<float>{4, 4, 16, 81}));
  Tensor half = Make<float>({}, {0.5f});
  ExpectNear(Values<float>(OpNode{"Pow", {&x, &half}}.Out()),
             {std::sqrt(2.0f), kNaN, 2, 3});
  Tensor base = Make<float>({}, {2});
  ExpectNear(Values<float>(OpNode{"Pow", {&base, &e}}.Out()),
             {8, 8, std::sqrt(2.0f), 0.5f});
}

TEST(ElementwisePow, MixedTypes) {
  Tensor xf = Make<float>({3}, {1, 2, 3});
  Tensor ei = Make<int64_t>({3}, {4, 5, 6});
  Tensor y = OpNode{"Pow", {&xf, &ei}}.Out();
  EXPECT_EQ(y.dtype(), DType::kF32);
  EXPECT_EQ(Values<float>(y), (std::vector<float>{1, 32, 729}));
  Tensor xi = Make<int64_t>({3}, {2, 3, -2});
  Tensor ef = Make<float>({3}, {0.5f, 2, 3});
  Tensor z = OpNode{"Pow", {&xi, &ef}}.Out();
  EXPECT_EQ(z.dtype(), DType::kI64);
  EXPECT_EQ(Values<int64_t>(z), (std::vector<int64_t>{1, 9, -8}));
  Tensor bi = Make<int32_t>({4}, {3, -3, 2, -1});
  Tensor ii = Make<int32_t>({4}, {4, 3, -1, -3});
  EXPECT_EQ(Values<int32_t>(OpNode{"Pow", {&bi, &ii}}.Out()),
            (std::vector<int32_t>{81, -27, 0, -1}));
  Tensor eu = Make<uint32_t>({3}, {0, 1, 2});
  EXPECT_EQ(Values<float>(OpNode{"Pow", {&xf, &eu}}.Out()),
            (std::vector<float>{1, 2, 9}));
}

TEST(ElementwisePow, RejectsBadInputs) {
  Tensor x = Make<float>({3}, {1, 2, 3});
  Tensor e = Make<float>({2}, {1, 2});
  Tensor b = MakeBools({3}, {1, 0, 1});
  Tensor u = Make<uint8_t>({3}, {1, 2, 3});
  EXPECT_EQ((OpNode{"Pow", {&x, &e}}.Code()), StatusCode::kInvalidArgument);
  EXPECT_EQ((OpNode{"Pow", {&x, &b}}.Code()), StatusCode::kInvalidArgument);
  EXPECT_EQ((OpNode{"Pow", {&u, &x}}.Code()), StatusCode::kUnimplemented);
}

// ---------------------------------------------------------------------------
// Unary math and activations.

TEST(ElementwiseUnary, Math) {
  Tensor x = Make<float>({4}, {0.25f, 1, 4, 9});
  ExpectNear(Values<float>(OpNode{"Sqrt", {&x}}.Out()), {0.5f, 1, 2, 3});
  ExpectNear(Values<float>(OpNode{"Log", {&x}}.Out()),
             {std::log(0.25f), 0, std::log(4.0f), std::log(9.0f)});
  ExpectNear(Values<float>(OpNode{"Reciprocal", {&x}}.Out()),
             {4, 1, 0.25f, 1.0f / 9});
  Tensor z = Make<float>({4}, {-1, 0, 0.5f, 2});
  ExpectNear(Values<float>(OpNode{"Exp", {&z}}.Out()),
             {std::exp(-1.0f), 1, std::exp(0.5f), std::exp(2.0f)});
  ExpectNear(Values<float>(OpNode{"Erf", {&z}}.Out()),
             {std::erf(-1.0f), 0, std::erf(0.5f), std::erf(2.0f)});
  ExpectNear(Values<float>(OpNode{"Tanh", {&z}}.Out()),
             {std::tanh(-1.0f), 0, std::tanh(0.5f), std::tanh(2.0f)});
  ExpectNear(Values<float>(OpNode{"Neg", {&z}}.Out()), {1, 0, -0.5f, -2});
  ExpectNear(Values<float>(OpNode{"Abs", {&z}}.Out()), {1, 0, 0.5f, 2});
  Tensor f = Make<float>({4}, {-1.5f, -0.5f, 0.5f, 2});
  EXPECT_EQ(Values<float>(OpNode{"Floor", {&f}}.Out()),
            (std::vector<float>{-2, -1, 0, 2}));
  EXPECT_EQ(Values<float>(OpNode{"Ceil", {&f}}.Out()),
            (std::vector<float>{-1, -0.0f, 1, 2}));
  Tensor nz = Make<float>({2}, {0, -1});
  EXPECT_EQ(Values<float>(OpNode{"Log", {&nz}}.Out())[0], -kInf);
  EXPECT_TRUE(std::isnan(Values<float>(OpNode{"Sqrt", {&nz}}.Out())[1]));
}

TEST(ElementwiseUnary, SigmoidIsStableForLargeMagnitudes) {
  Tensor x = Make<float>({5}, {-1000, -50, 0, 50, 1000});
  std::vector<float> y = Values<float>(OpNode{"Sigmoid", {&x}}.Out());
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_GE(y[1], 0.0f);
  EXPECT_LT(y[1], 1e-20f);
  EXPECT_FLOAT_EQ(y[2], 0.5f);
  EXPECT_EQ(y[3], 1.0f);
  EXPECT_EQ(y[4], 1.0f);
  Tensor d = Make<double>({3}, {-1000, 1, 1000});
  std::vector<double> yd = Values<double>(OpNode{"Sigmoid", {&d}}.Out());
  EXPECT_EQ(yd[0], 0.0);
  EXPECT_NEAR(yd[1], 1 / (1 + std::exp(-1.0)), 1e-12);
  EXPECT_EQ(yd[2], 1.0);
}

TEST(ElementwiseUnary, Activations) {
  Tensor x = Make<float>({4}, {-2, -0.5f, 0, 3});
  EXPECT_EQ(Values<float>(OpNode{"Relu", {&x}}.Out()),
            (std::vector<float>{0, 0, 0, 3}));
  EXPECT_EQ(Values<float>(OpNode{"LeakyRelu", {&x}}.Out()),
            (std::vector<float>{-0.02f, -0.005f, 0, 3}));
  Attributes alpha;
  alpha.Set("alpha", 0.5f);
  EXPECT_EQ(Values<float>(OpNode{"LeakyRelu", {&x}, alpha}.Out()),
            (std::vector<float>{-1, -0.25f, 0, 3}));
  ExpectNear(Values<float>(OpNode{"HardSigmoid", {&x}}.Out()),
             {0.1f, 0.4f, 0.5f, 1});
  Attributes hs;
  hs.Set("alpha", 0.5f);
  hs.Set("beta", 0.6f);
  ExpectNear(Values<float>(OpNode{"HardSigmoid", {&x}, hs}.Out()),
             {0, 0.35f, 0.6f, 1});
  Tensor s = Make<float>({4}, {-100, 0, 1, 100});
  ExpectNear(Values<float>(OpNode{"Softplus", {&s}}.Out()),
             {0, std::log(2.0f), std::log1p(std::exp(1.0f)), 100});
}

TEST(ElementwiseUnary, Gelu) {
  Tensor x = Make<float>({4}, {-3, -1, 0, 2});
  // 0.5 x (1 + erf(x / sqrt 2)).
  ExpectNear(Values<float>(OpNode{"Gelu", {&x}}.Out()),
             {-0.00404969f, -0.15865526f, 0, 1.95449974f});
  Attributes tanh_attr;
  tanh_attr.Set("approximate", std::string("tanh"));
  // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
  ExpectNear(Values<float>(OpNode{"Gelu", {&x}, tanh_attr}.Out()),
             {-0.00363739f, -0.15880801f, 0, 1.95459769f});
  Attributes bad;
  bad.Set("approximate", std::string("sigmoid"));
  EXPECT_EQ((OpNode{"Gelu", {&x}, bad}.Code()), StatusCode::kInvalidArgument);
}

TEST(ElementwiseUnary, IntegerTypes) {
  Tensor i = Make<int32_t>({3}, {-5, 0, 7});
  EXPECT_EQ(Values<int32_t>(OpNode{"Neg", {&i}}.Out()),
            (std::vector<int32_t>{5, 0, -7}));
  EXPECT_EQ(Values<int32_t>(OpNode{"Abs", {&i}}.Out()),
            (std::vector<int32_t>{5, 0, 7}));
  EXPECT_EQ(Values<int32_t>(OpNode{"Relu", {&i}}.Out()),
            (std::vector<int32_t>{0, 0, 7}));
  Tensor b = Make<int8_t>({2}, {-128, -3});
  EXPECT_EQ(Values<int8_t>(OpNode{"Abs", {&b}}.Out()),
            (std::vector<int8_t>{-128, 3}));
  Tensor u = Make<uint64_t>({2}, {0, 18446744073709551615ull});
  EXPECT_EQ(Values<uint64_t>(OpNode{"Abs", {&u}}.Out()),
            (std::vector<uint64_t>{0, 18446744073709551615ull}));
  EXPECT_EQ((OpNode{"Sqrt", {&i}}.Code()), StatusCode::kUnimplemented);
  EXPECT_EQ((OpNode{"Neg", {&u}}.Code()), StatusCode::kUnimplemented);
  auto r = OpNode{"Exp", {&i}}.Run();
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
    OpNode c{"Sigmoid", {&x}};
    c.threads = 2;
    Tensor y = c.Out();
    ASSERT_EQ(y.dtype(), dt);
    std::vector<float> got = FloatValues(y);
    for (int k = 0; k < n; ++k) {
      ASSERT_NEAR(got[k], 1 / (1 + std::exp(-v[k])), 4e-3) << k;
    }
  }
}

TEST(ElementwiseUnary, Not) {
  Tensor x = MakeBools({3}, {1, 0, 1});
  EXPECT_EQ(BoolValues(OpNode{"Not", {&x}}.Out()), (std::vector<int>{0, 1, 0}));
  Tensor f = Make<float>({1}, {1});
  EXPECT_EQ((OpNode{"Not", {&f}}.Code()), StatusCode::kInvalidArgument);
}

TEST(ElementwiseUnary, MoreMath) {
  Tensor x = Make<float>({4}, {-0.5f, 0, 0.25f, 0.75f});
  auto ref = [&](float (*f)(float)) {
    std::vector<float> out;
    for (float v : Values<float>(x)) out.push_back(f(v));
    return out;
  };
  ExpectNear(Values<float>(OpNode{"Sin", {&x}}.Out()), ref(std::sin));
  ExpectNear(Values<float>(OpNode{"Cos", {&x}}.Out()), ref(std::cos));
  ExpectNear(Values<float>(OpNode{"Tan", {&x}}.Out()), ref(std::tan));
  ExpectNear(Values<float>(OpNode{"Asin", {&x}}.Out()), ref(std::asin));
  ExpectNear(Values<float>(OpNode{"Acos", {&x}}.Out()), ref(std::acos));
  ExpectNear(Values<float>(OpNode{"Atan", {&x}}.Out()), ref(std::atan));
  ExpectNear(Values<float>(OpNode{"Sinh", {&x}}.Out()), ref(std::sinh));
  ExpectNear(Values<float>(OpNode{"Cosh", {&x}}.Out()), ref(std::cosh));
  ExpectNear(Values<float>(OpNode{"Asinh", {&x}}.Out()), ref(std::asinh));
  ExpectNear(Values<float>(OpNode{"Atanh", {&x}}.Out()), ref(std::atanh));
  Tensor big = Make<float>({2}, {1, 3});
  ExpectNear(Values<float>(OpNode{"Acosh", {&big}}.Out()),
             {0, std::acosh(3.0f)});
  Tensor r = Make<float>({6}, {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 2.4f});
  EXPECT_EQ(Values<float>(OpNode{"Round", {&r}}.Out()),
            (std::vector<float>{0, 2, 2, -0.0f, -2, 2}));
  ExpectNear(Values<float>(OpNode{"Softsign", {&r}}.Out()),
             {1.0f / 3, 0.6f, 2.5f / 3.5f, -1.0f / 3, -0.6f, 2.4f / 3.4f});
  Tensor h = Make<float>({4}, {-4, -1, 1, 4});
  ExpectNear(Values<float>(OpNode{"HardSwish", {&h}}.Out()),
             {0, -1.0f / 3, 2.0f / 3, 4});
}

TEST(ElementwiseUnary, Sign) {
  Tensor f = Make<float>({3}, {-2.5f, 0, 7});
  EXPECT_EQ(Values<float>(OpNode{"Sign", {&f}}.Out()),
            (std::vector<float>{-1, 0, 1}));
  Tensor i = Make<int16_t>({3}, {-300, 0, 5});
  EXPECT_EQ(Values<int16_t>(OpNode{"Sign", {&i}}.Out()),
            (std::vector<int16_t>{-1, 0, 1}));
  Tensor u = Make<uint32_t>({2}, {0, 9});
  EXPECT_EQ(Values<uint32_t>(OpNode{"Sign", {&u}}.Out()),
            (std::vector<uint32_t>{0, 1}));
}

TEST(ElementwiseUnary, ExponentialLinearFamily) {
  Tensor x = Make<float>({3}, {-1, 0, 2});
  const float em1 = std::expm1(-1.0f);
  ExpectNear(Values<float>(OpNode{"Elu", {&x}}.Out()), {em1, 0, 2});
  Attributes a2;
  a2.Set("alpha", 2.0f);
  ExpectNear(Values<float>(OpNode{"Elu", {&x}, a2}.Out()), {2 * em1, 0, 2});
  ExpectNear(Values<float>(OpNode{"Celu", {&x}, a2}.Out()),
             {2 * std::expm1(-0.5f), 0, 2});
  Attributes zero;
  zero.Set("alpha", 0.0f);
  EXPECT_EQ((OpNode{"Celu", {&x}, zero}.Code()), StatusCode::kInvalidArgument);
  const float alpha = 1.67326319217681884765625f,
              gamma = 1.05070102214813232421875f;
  ExpectNear(Values<float>(OpNode{"Selu", {&x}}.Out()),
             {gamma * alpha * em1, 0, gamma * 2});
  ExpectNear(Values<float>(OpNode{"ThresholdedRelu", {&x}}.Out()), {0, 0, 2});
  ExpectNear(Values<float>(OpNode{"ThresholdedRelu", {&x}, a2}.Out()),
             {0, 0, 0});
  Tensor s = Make<float>({5}, {-2, -1, 0, 1, 2});
  Attributes soft;
  soft.Set("bias", 1.5f);
  soft.Set("lambd", 1.5f);
  ExpectNear(Values<float>(OpNode{"Shrink", {&s}, soft}.Out()),
             {-0.5f, 0, 0, 0, 0.5f});
  ExpectNear(Values<float>(OpNode{"Shrink", {&s}}.Out()), {-2, -1, 0, 1, 2});
}

TEST(ElementwiseUnary, IsNaNIsInf) {
  Tensor x = Make<float>({4}, {kNaN, kInf, -kInf, 1});
  EXPECT_EQ(BoolValues(OpNode{"IsNaN", {&x}}.Out()),
            (std::vector<int>{1, 0, 0, 0}));
  EXPECT_EQ(BoolValues(OpNode{"IsInf", {&x}}.Out()),
            (std::vector<int>{0, 1, 1, 0}));
  Attributes neg_only;
  neg_only.Set("detect_positive", int64_t{0});
  EXPECT_EQ(BoolValues(OpNode{"IsInf", {&x}, neg_only}.Out()),
            (std::vector<int>{0, 0, 1, 0}));
  Tensor h = Make16(DType::kF16, {2}, {kInf, 2});
  EXPECT_EQ(BoolValues(OpNode{"IsInf", {&h}}.Out()), (std::vector<int>{1, 0}));
  Tensor i = Make<int32_t>({1}, {1});
  EXPECT_EQ((OpNode{"IsNaN", {&i}}.Code()), StatusCode::kUnimplemented);
}

// ---------------------------------------------------------------------------
// Clip.

TEST(ElementwiseClip, Opset6Attributes) {
  Tensor x = Make<float>({4}, {-3, -1, 1, 3});
  Attributes attrs;
  attrs.Set("min", -2.0f);
  attrs.Set("max", 2.0f);
  OpNode c{"Clip", {&x}, attrs, 6};
  EXPECT_EQ(Values<float>(c.Out()), (std::vector<float>{-2, -1, 1, 2}));
  Attributes only_max;
  only_max.Set("max", 0.0f);
  OpNode d{"Clip", {&x}, only_max, 6};
  EXPECT_EQ(Values<float>(d.Out()), (std::vector<float>{-3, -1, 0, 0}));
}

TEST(ElementwiseClip, OptionalInputs) {
  Tensor x = Make<float>({4}, {-3, -1, 1, kInf});
  Tensor lo = Make<float>({}, {-2});
  Tensor hi = Make<float>({}, {2});
  EXPECT_EQ(Values<float>(OpNode{"Clip", {&x, &lo, &hi}}.Out()),
            (std::vector<float>{-2, -1, 1, 2}));
  EXPECT_EQ(Values<float>(OpNode{"Clip", {&x, nullptr, &hi}}.Out()),
            (std::vector<float>{-3, -1, 1, 2}));
  EXPECT_EQ(Values<float>(OpNode{"Clip", {&x, &lo}}.Out()),
            (std::vector<float>{-2, -1, 1, kInf}));
  EXPECT_EQ(Values<float>(OpNode{"Clip", {&x}}.Out()),
            (std::vector<float>{-3, -1, 1, kInf}));
  // min > max: everything becomes max.
  EXPECT_EQ(Values<float>(OpNode{"Clip", {&x, &hi, &lo}}.Out()),
            (std::vector<float>{-2, -2, -2, -2}));
}

TEST(ElementwiseClip, IntegerAndHalf) {
  Tensor x = Make<int8_t>({4}, {-128, -5, 5, 127});
  Tensor lo = Make<int8_t>({}, {-10});
  EXPECT_EQ(Values<int8_t>(OpNode{"Clip", {&x, &lo}}.Out()),
            (std::vector<int8_t>{-10, -5, 5, 127}));
  Tensor hi = Make<int8_t>({1}, {0});
  EXPECT_EQ(Values<int8_t>(OpNode{"Clip", {&x, nullptr, &hi}}.Out()),
            (std::vector<int8_t>{-128, -5, 0, 0}));
  Tensor big =
      Make<int64_t>({2}, {(int64_t{1} << 60) + 1, -(int64_t{1} << 60) - 1});
  Tensor bhi = Make<int64_t>({}, {int64_t{1} << 60});
  EXPECT_EQ(Values<int64_t>(OpNode{"Clip", {&big, nullptr, &bhi}}.Out()),
            (std::vector<int64_t>{int64_t{1} << 60, -(int64_t{1} << 60) - 1}));
  Tensor h = Make16(DType::kF16, {3}, {-4, 0.5f, 4});
  Tensor hlo = Make16(DType::kF16, {}, {-1});
  Tensor hhi = Make16(DType::kF16, {}, {1});
  EXPECT_EQ(FloatValues(OpNode{"Clip", {&h, &hlo, &hhi}}.Out()),
            (std::vector<float>{-1, 0.5f, 1}));
}

TEST(ElementwiseClip, RejectsBadBounds) {
  Tensor x = Make<float>({2}, {1, 2});
  Tensor two = Make<float>({2}, {0, 1});
  Tensor wrong_type = Make<double>({}, {0});
  EXPECT_EQ((OpNode{"Clip", {&x, &two}}.Code()), StatusCode::kInvalidArgument);
  EXPECT_EQ((OpNode{"Clip", {&x, &wrong_type}}.Code()),
            StatusCode::kInvalidArgument);
  Tensor lo = Make<float>({}, {0});
  OpNode old{"Clip", {&x, &lo}, {}, 6};
  EXPECT_EQ(old.Code(), StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------
// Comparisons, logical ops, Where.

TEST(ElementwiseCompare, AllComparisons) {
  Tensor a = Make<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = Make<float>({3}, {2, 2, 2});
  EXPECT_EQ(BoolValues(OpNode{"Equal", {&a, &b}}.Out()),
            (std::vector<int>{0, 1, 0, 0, 0, 0}));
  EXPECT_EQ(BoolValues(OpNode{"Less", {&a, &b}}.Out()),
            (std::vector<int>{1, 0, 0, 0, 0, 0}));
  EXPECT_EQ(BoolValues(OpNode{"LessOrEqual", {&a, &b}}.Out()),
            (std::vector<int>{1, 1, 0, 0, 0, 0}));
  EXPECT_EQ(BoolValues(OpNode{"Greater", {&a, &b}}.Out()),
            (std::vector<int>{0, 0, 1, 1, 1, 1}));
  EXPECT_EQ(BoolValues(OpNode{"GreaterOrEqual", {&a, &b}}.Out()),
            (std::vector<int>{0, 1, 1, 1, 1, 1}));
  Tensor i = Make<int64_t>({2}, {5, -1});
  Tensor j = Make<int64_t>({}, {5});
  EXPECT_EQ(BoolValues(OpNode{"Equal", {&i, &j}}.Out()),
            (std::vector<int>{1, 0}));
  Tensor p = MakeBools({2}, {1, 0});
  Tensor q = MakeBools({2}, {1, 1});
  EXPECT_EQ(BoolValues(OpNode{"Equal", {&p, &q}}.Out()),
            (std::vector<int>{1, 0}));
  Tensor n = Make<float>({1}, {kNaN});
  EXPECT_EQ(BoolValues(OpNode{"Equal", {&n, &n}}.Out()), (std::vector<int>{0}));
  EXPECT_EQ((OpNode{"Less", {&a, &i}}.Code()), StatusCode::kInvalidArgument);
}

TEST(ElementwiseLogical, AndOrXorBroadcast) {
  Tensor a = MakeBools({2, 2}, {0, 0, 1, 1});
  Tensor b = MakeBools({2}, {0, 1});
  EXPECT_EQ(BoolValues(OpNode{"And", {&a, &b}}.Out()),
            (std::vector<int>{0, 0, 0, 1}));
  EXPECT_EQ(BoolValues(OpNode{"Or", {&a, &b}}.Out()),
            (std::vector<int>{0, 1, 1, 1}));
  EXPECT_EQ(BoolValues(OpNode{"Xor", {&a, &b}}.Out()),
            (std::vector<int>{0, 1, 1, 0}));
  Tensor f = Make<float>({2}, {0, 1});
  EXPECT_EQ((OpNode{"And", {&a, &f}}.Code()), StatusCode::kInvalidArgument);
}

TEST(ElementwiseWhere, ThreeWayBroadcast) {
  Tensor c = MakeBools({2, 1}, {1, 0});
  Tensor x = Make<float>({3}, {1, 2, 3});
  Tensor y = Make<float>({}, {-1});
  Tensor out = OpNode{"Where", {&c, &x, &y}}.Out();
  EXPECT_EQ(out.shape(), (Shape{2, 3}));
  EXPECT_EQ(Values<float>(out), (std::vector<float>{1, 2, 3, -1, -1, -1}));
  Tensor xi = Make<int64_t>({2, 2}, {1, 2, 3, 4});
  Tensor yi = Make<int64_t>({2, 2}, {9, 8, 7, 6});
  Tensor cc = MakeBools({2, 2}, {1, 0, 0, 1});
  EXPECT_EQ(Values<int64_t>(OpNode{"Where", {&cc, &xi, &yi}}.Out()),
            (std::vector<int64_t>{1, 8, 7, 4}));
  Tensor h = Make16(DType::kF16, {2}, {1, 2});
  Tensor hy = Make16(DType::kF16, {2}, {3, 4});
  Tensor c1 = MakeBools({2}, {0, 1});
  EXPECT_EQ(FloatValues(OpNode{"Where", {&c1, &h, &hy}}.Out()),
            (std::vector<float>{3, 2}));
  EXPECT_EQ((OpNode{"Where", {&x, &x, &y}}.Code()),
            StatusCode::kInvalidArgument);
  EXPECT_EQ((OpNode{"Where", {&c, &x, &xi}}.Code()),
            StatusCode::kInvalidArgument);
  Tensor c3 = MakeBools({4}, {1, 0, 0, 1});
  EXPECT_EQ((OpNode{"Where", {&c3, &x, &y}}.Code()),
            StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------
// Variadic ops.

TEST(ElementwiseVariadic, SumMaxMinMean) {
  Tensor a = Make<float>({3}, {3, 2, 1});
  Tensor b = Make<float>({3}, {1, 4, 4});
  Tensor c = Make<float>({2, 1}, {2, 10});
  Tensor s = OpNode{"Sum", {&a, &b, &c}}.Out();
  EXPECT_EQ(s.shape(), (Shape{2, 3}));
  EXPECT_EQ(Values<float>(s), (std::vector<float>{6, 8, 7, 14, 16, 15}));
  EXPECT_EQ(Values<float>(OpNode{"Max", {&a, &b, &c}}.Out()),
            (std::vector<float>{3, 4, 4, 10, 10, 10}));
  EXPECT_EQ(Values<float>(OpNode{"Min", {&a, &b, &c}}.Out()),
            (std::vector<float>{1, 2, 1, 1, 2, 1}));
  ExpectNear(Values<float>(OpNode{"Mean", {&a, &b, &c}}.Out()),
             {2, 8.0f / 3, 7.0f / 3, 14.0f / 3, 16.0f / 3, 5});
  EXPECT_EQ(Values<float>(OpNode{"Sum", {&a}}.Out()),
            (std::vector<float>{3, 2, 1}));
  EXPECT_EQ(Values<float>(OpNode{"Max", {&a, &a, &a}}.Out()),
            (std::vector<float>{3, 2, 1}));
  EXPECT_EQ(Values<float>(OpNode{"Sum", {&a, &a, &a, &a}}.Out()),
            (std::vector<float>{12, 8, 4}));
}

TEST(ElementwiseVariadic, TypesAndNaN) {
  Tensor a = Make<uint16_t>({2}, {1, 60000});
  Tensor b = Make<uint16_t>({2}, {2, 5});
  EXPECT_EQ(Values<uint16_t>(OpNode{"Max", {&a, &b}}.Out()),
            (std::vector<uint16_t>{2, 60000}));
  EXPECT_EQ(Values<uint16_t>(OpNode{"Min", {&a, &b}}.Out()),
            (std::vector<uint16_t>{1, 5}));
  Tensor n = Make<float>({2}, {kNaN, 1});
  Tensor m = Make<float>({2}, {0, kNaN});
  std::vector<float> mx = Values<float>(OpNode{"Max", {&n, &m}}.Out());
  EXPECT_TRUE(std::isnan(mx[0]) && std::isnan(mx[1]));
  std::vector<float> mn = Values<float>(OpNode{"Min", {&n, &m}}.Out());
  EXPECT_TRUE(std::isnan(mn[0]) && std::isnan(mn[1]));
  Tensor f = Make<float>({2}, {1, 2});
  EXPECT_EQ((OpNode{"Sum", {&f, &a}}.Code()), StatusCode::kInvalidArgument);
  Tensor g = Make<float>({3}, {1, 2, 3});
  EXPECT_EQ((OpNode{"Max", {&f, &g}}.Code()), StatusCode::kInvalidArgument);
  EXPECT_EQ((OpNode{"Mean", {&a, &b}}.Code()), StatusCode::kUnimplemented);
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
  EXPECT_EQ(Values<int32_t>(OpNode{"Cast", {&x}, to_i32}.Out()),
            (std::vector<int32_t>{1, -1, 0, std::numeric_limits<int32_t>::max(),
                                  std::numeric_limits<int32_t>::min(), 300}));
  Attributes to_u8 = CastTo(2);
  EXPECT_EQ(Values<uint8_t>(OpNode{"Cast", {&x}, to_u8}.Out()),
            (std::vector<uint8_t>{1, 0, 0, 255, 0, 255}));
  Attributes to_i64 = CastTo(7);
  EXPECT_EQ(Values<int64_t>(OpNode{"Cast", {&x}, to_i64}.Out()),
            (std::vector<int64_t>{1, -1, 0, 10000000000, -10000000000, 300}));
}

TEST(ElementwiseCast, BoolAndIntegers) {
  Tensor x = Make<float>({3}, {0, -0.5f, 2});
  Attributes to_bool = CastTo(9);
  EXPECT_EQ(BoolValues(OpNode{"Cast", {&x}, to_bool}.Out()),
            (std::vector<int>{0, 1, 1}));
  Tensor b = MakeBools({2}, {1, 0});
  Attributes to_f32 = CastTo(1);
  EXPECT_EQ(Values<float>(OpNode{"Cast", {&b}, to_f32}.Out()),
            (std::vector<float>{1, 0}));
  Tensor i = Make<int64_t>({3}, {-1, 256, 65537});
  Attributes to_u16 = CastTo(4);
  EXPECT_EQ(Values<uint16_t>(OpNode{"Cast", {&i}, to_u16}.Out()),
            (std::vector<uint16_t>{65535, 256, 1}));
  Attributes to_i8 = CastTo(3);
  EXPECT_EQ(Values<int8_t>(OpNode{"Cast", {&i}, to_i8}.Out()),
            (std::vector<int8_t>{-1, 0, 1}));
  Tensor u = Make<uint64_t>({1}, {18446744073709551615ull});
  Attributes to_f64 = CastTo(11);
  EXPECT_EQ(Values<double>(OpNode{"Cast", {&u}, to_f64}.Out()),
            (std::vector<double>{18446744073709551616.0}));
}

TEST(ElementwiseCast, HalfAndBFloat16) {
  Tensor x = Make<float>({4}, {1.0f, 0.1f, 65504.0f, 1e6f});
  Attributes to_f16 = CastTo(10);
  Tensor h = OpNode{"Cast", {&x}, to_f16}.Out();
  ASSERT_EQ(h.dtype(), DType::kF16);
  std::vector<uint16_t> hb(h.data<uint16_t>(), h.data<uint16_t>() + 4);
  EXPECT_EQ(hb,
            (std::vector<uint16_t>{0x3c00, FloatToHalf(0.1f), 0x7bff, 0x7c00}));
  Attributes to_f32 = CastTo(1);
  ExpectNear(Values<float>(OpNode{"Cast", {&h}, to_f32}.Out()),
             {1, 0.0999755859375f, 65504, kInf});
  // bfloat16 rounds to nearest even: 1 + 2^-8 + 2^-9 rounds up to 1 + 2^-7.
  Tensor t = Make<float>(
      {4}, {1.0f + 1.0f / 256 + 1.0f / 512, 1.0f + 1.0f / 256, -2.5f, kNaN});
  Attributes to_bf16 = CastTo(16);
  Tensor bf = OpNode{"Cast", {&t}, to_bf16}.Out();
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
  Tensor dh = OpNode{"Cast", {&d}, to_f16}.Out();
  EXPECT_EQ(dh.data<uint16_t>()[0], 0x3c01);
  Tensor db = OpNode{"Cast", {&d}, to_bf16}.Out();
  EXPECT_EQ(db.data<uint16_t>()[1], 0x3f81);
  Tensor hb16 = Make16(DType::kF16, {2}, {1.5f, -3});
  Attributes to_bf = CastTo(16);
  std::vector<float> back = FloatValues(OpNode{"Cast", {&hb16}, to_bf}.Out());
  EXPECT_EQ(back, (std::vector<float>{1.5f, -3}));
}

TEST(ElementwiseCast, RejectsBadTargets) {
  Tensor x = Make<float>({1}, {1});
  Attributes to_string = CastTo(8);
  EXPECT_EQ((OpNode{"Cast", {&x}, to_string}.Code()),
            StatusCode::kUnimplemented);
  Attributes to_nonsense = CastTo(99);
  EXPECT_EQ((OpNode{"Cast", {&x}, to_nonsense}.Code()),
            StatusCode::kInvalidArgument);
  EXPECT_EQ((OpNode{"Cast", {&x}}.Code()), StatusCode::kInvalidArgument);
}

TEST(ElementwiseCast, CastLike) {
  Tensor x = Make<double>({2}, {1.5, -2.25});
  Tensor like = Make<float>({1}, {0});
  Tensor y = OpNode{"CastLike", {&x, &like}}.Out();
  EXPECT_EQ(Values<float>(y), (std::vector<float>{1.5f, -2.25f}));
}

TEST(ElementwisePassThrough, IdentityAndDropout) {
  Tensor x = Make<float>({2, 2}, {1, 2, 3, 4});
  EXPECT_EQ(Values<float>(OpNode{"Identity", {&x}}.Out()),
            (std::vector<float>{1, 2, 3, 4}));
  Tensor ratio = Make<float>({}, {0.5f});
  OpNode with_mask{"Dropout", {&x, &ratio}, {}, 13, 2};
  auto r = with_mask.Run();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Values<float>((*r)[0]), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(BoolValues((*r)[1]), (std::vector<int>{1, 1, 1, 1}));
  OpNode old{"Dropout", {&x}, {}, 7, 2};
  auto o = old.Run();
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(Values<float>((*o)[1]), (std::vector<float>{1, 1, 1, 1}));
  Tensor off = MakeBools({}, {0});
  EXPECT_EQ(Values<float>(OpNode{"Dropout", {&x, &ratio, &off}, {}, 13}.Out()),
            (std::vector<float>{1, 2, 3, 4}));
  Tensor on = MakeBools({}, {1});
  EXPECT_EQ((OpNode{"Dropout", {&x, &ratio, &on}, {}, 13}.Code()),
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
