// Reduce*, ArgMax/ArgMin, TopK, Resize and Upsample on the CPU backend, with
// hand-checked expected values.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "unit/ops/op_test_util.h"

namespace tensorpod::internal {
namespace {

Attributes KeepDims(int64_t keep) {
  Attributes a;
  a.Set("keepdims", keep);
  return a;
}

// ---------------------------------------------------------------- Reduce*

TEST(ReductionReduceTest, SumAxesInputKeepdims) {
  Tensor x = Make<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor axes = I64({1});
  Tensor y = OpNode{"ReduceSum", {&x, &axes}, KeepDims(1), 13}.Out();
  EXPECT_EQ(y.shape(), (Shape{2, 1}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{6, 15}));
}

TEST(ReductionReduceTest, SumNoKeepdimsNegativeAxis) {
  Tensor x = Make<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor axes = I64({-2});
  Tensor y = OpNode{"ReduceSum", {&x, &axes}, KeepDims(0), 13}.Out();
  EXPECT_EQ(y.shape(), (Shape{3}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{5, 7, 9}));
}

TEST(ReductionReduceTest, EmptyOrOmittedAxesReduceEverything) {
  Tensor x = Make<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor empty = I64({});
  Tensor y = OpNode{"ReduceSum", {&x, &empty}, KeepDims(1), 13}.Out();
  EXPECT_EQ(y.shape(), (Shape{1, 1}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{21}));
  Tensor z = OpNode{"ReduceSum", {&x}, KeepDims(0), 13}.Out();
  EXPECT_EQ(z.shape(), (Shape{}));
  EXPECT_EQ(Values<float>(z), (std::vector<float>{21}));
}

TEST(ReductionReduceTest, NoopWithEmptyAxesCopiesInput) {
  Tensor x = Make<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor empty = I64({});
  Attributes a = KeepDims(1);
  a.Set("noop_with_empty_axes", int64_t{1});
  Tensor y = OpNode{"ReduceSum", {&x, &empty}, a, 13}.Out();
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(ReductionReduceTest, SumTakesAxesAttributeBeforeOpset13) {
  Tensor x = Make<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Attributes a = KeepDims(0);
  a.Set("axes", std::vector<int64_t>{0});
  Tensor y = OpNode{"ReduceSum", {&x}, a, 11}.Out();
  EXPECT_EQ(Values<float>(y), (std::vector<float>{5, 7, 9}));
}

TEST(ReductionReduceTest, MeanMaxMinOverMiddleAxis) {
  // x[i][j][k] = 4i + 2j + k.
  Tensor x = Make<float>({2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7});
  Attributes a = KeepDims(0);
  a.Set("axes", std::vector<int64_t>{1});
  EXPECT_EQ(Values<float>(OpNode{"ReduceMean", {&x}, a, 13}.Out()),
            (std::vector<float>{1, 2, 5, 6}));
  EXPECT_EQ(Values<float>(OpNode{"ReduceMax", {&x}, a, 13}.Out()),
            (std::vector<float>{2, 3, 6, 7}));
  EXPECT_EQ(Values<float>(OpNode{"ReduceMin", {&x}, a, 13}.Out()),
            (std::vector<float>{0, 1, 4, 5}));
}

TEST(ReductionReduceTest, NormsProductsAndLogs) {
  Tensor x = Make<float>({2, 2}, {1, 2, 3, 4});
  Attributes a = KeepDims(0);
  a.Set("axes", std::vector<int64_t>{1});
  const float e = std::exp(1.0f);
  ExpectNearAbsolute(Values<float>(OpNode{"ReduceProd", {&x}, a, 13}.Out()),
                     {2, 12});
  ExpectNearAbsolute(Values<float>(OpNode{"ReduceL1", {&x}, a, 13}.Out()),
                     {3, 7});
  ExpectNearAbsolute(Values<float>(OpNode{"ReduceL2", {&x}, a, 13}.Out()),
                     {std::sqrt(5.0f), 5});
  ExpectNearAbsolute(
      Values<float>(OpNode{"ReduceSumSquare", {&x}, a, 13}.Out()), {5, 25});
  ExpectNearAbsolute(Values<float>(OpNode{"ReduceLogSum", {&x}, a, 13}.Out()),
                     {std::log(3.0f), std::log(7.0f)});
  ExpectNearAbsolute(
      Values<float>(OpNode{"ReduceLogSumExp", {&x}, a, 13}.Out()),
      {std::log(e + e * e), std::log(e * e * e + e * e * e * e)});
}

TEST(ReductionReduceTest, NormsOverOuterAxisUseColumnPath) {
  Tensor x = Make<float>({2, 2}, {1, -2, 3, 4});
  Attributes a = KeepDims(0);
  a.Set("axes", std::vector<int64_t>{0});
  ExpectNearAbsolute(Values<float>(OpNode{"ReduceL1", {&x}, a, 13}.Out()),
                     {4, 6});
  ExpectNearAbsolute(Values<float>(OpNode{"ReduceL2", {&x}, a, 13}.Out()),
                     {std::sqrt(10.0f), std::sqrt(20.0f)});
  ExpectNearAbsolute(Values<float>(OpNode{"ReduceProd", {&x}, a, 13}.Out()),
                     {3, -8});
  ExpectNearAbsolute(
      Values<float>(OpNode{"ReduceLogSumExp", {&x}, a, 13}.Out()),
      {3 + std::log(1 + std::exp(-2.0f)), 4 + std::log(1 + std::exp(-6.0f))});
}

TEST(ReductionReduceTest, LogSumExpIsStableForLargeValues) {
  Tensor x = Make<float>({2}, {1000, 1000});
  ExpectNearAbsolute(
      Values<float>(OpNode{"ReduceLogSumExp", {&x}, KeepDims(0), 13}.Out()),
      {1000 + std::log(2.0f)});
}

TEST(ReductionReduceTest, MaxAndMinPropagateNan) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = Make<float>({2, 2}, {1, nan, 3, 4});
  for (int64_t axis : {0, 1}) {
    Attributes a = KeepDims(0);
    a.Set("axes", std::vector<int64_t>{axis});
    std::vector<float> mx =
        Values<float>(OpNode{"ReduceMax", {&x}, a, 13}.Out());
    std::vector<float> mn =
        Values<float>(OpNode{"ReduceMin", {&x}, a, 13}.Out());
    // Axis 0 pairs (1, 3) and (nan, 4); axis 1 pairs (1, nan) and (3, 4).
    EXPECT_EQ(std::isnan(mx[0]), axis == 1);
    EXPECT_TRUE(std::isnan(mx[1]) == (axis == 0));
    EXPECT_EQ(std::isnan(mn[0]), axis == 1);
    EXPECT_EQ(axis == 0 ? mx[0] : mx[1], axis == 0 ? 3.0f : 4.0f);
  }
}

TEST(ReductionReduceTest, AxesThatStayApartAreGathered) {
  // x[i][j][k] = 6i + 2j + k; summing axes 0 and 2 leaves j.
  std::vector<float> v(12);
  for (int i = 0; i < 12; ++i) v[i] = static_cast<float>(i);
  Tensor x = Make<float>({2, 3, 2}, v);
  Tensor axes = I64({0, 2});
  OpNode sum{"ReduceSum", {&x, &axes}, KeepDims(1), 13};
  sum.threads = 2;
  Tensor y = sum.Out();
  EXPECT_EQ(y.shape(), (Shape{1, 3, 1}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{14, 22, 30}));
  Attributes a = KeepDims(0);
  a.Set("axes", std::vector<int64_t>{2, 0});
  EXPECT_EQ(Values<float>(OpNode{"ReduceMax", {&x}, a, 13}.Out()),
            (std::vector<float>{7, 9, 11}));
}

TEST(ReductionReduceTest, WideInnerBlockInParallel) {
  // x[i][j] = i + j over [3, 600]: sums over i are 3j + 3, across several
  // column blocks and threads.
  std::vector<float> v(3 * 600);
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 600; ++j) v[i * 600 + j] = static_cast<float>(i + j);
  }
  Tensor x = Make<float>({3, 600}, v);
  Tensor axes = I64({0});
  OpNode sum{"ReduceSum", {&x, &axes}, KeepDims(0), 13};
  sum.threads = 4;
  Tensor y = sum.Out();
  std::vector<float> got = Values<float>(y);
  ASSERT_EQ(got.size(), 600u);
  for (int j = 0; j < 600; ++j) EXPECT_EQ(got[j], 3.0f * j + 3) << j;
}

TEST(ReductionReduceTest, ManyRowsInParallel) {
  std::vector<float> v(64 * 1000);
  for (int i = 0; i < 64; ++i) {
    for (int j = 0; j < 1000; ++j)
      v[i * 1000 + j] = static_cast<float>(i) + (j % 2 ? 0.5f : -0.5f);
  }
  Tensor x = Make<float>({64, 1000}, v);
  Attributes a = KeepDims(1);
  a.Set("axes", std::vector<int64_t>{-1});
  OpNode mean{"ReduceMean", {&x}, a, 13};
  mean.threads = 4;
  Tensor y = mean.Out();
  EXPECT_EQ(y.shape(), (Shape{64, 1}));
  std::vector<float> got = Values<float>(y);
  for (int i = 0; i < 64; ++i) EXPECT_NEAR(got[i], i, 1e-4) << i;
}

TEST(ReductionReduceTest, IntegerAndDoubleTypes) {
  Tensor xi = Make<int32_t>({2, 2}, {7, 8, -3, 4});
  Attributes a = KeepDims(0);
  a.Set("axes", std::vector<int64_t>{1});
  // Integer means truncate like ONNX Runtime's.
  EXPECT_EQ(Values<int32_t>(OpNode{"ReduceMean", {&xi}, a, 13}.Out()),
            (std::vector<int32_t>{7, 0}));
  EXPECT_EQ(Values<int32_t>(OpNode{"ReduceSumSquare", {&xi}, a, 13}.Out()),
            (std::vector<int32_t>{113, 25}));
  Tensor xl = Make<int64_t>({2, 2}, {7, 8, -3, 4});
  EXPECT_EQ(Values<int64_t>(OpNode{"ReduceMin", {&xl}, a, 13}.Out()),
            (std::vector<int64_t>{7, -3}));
  Tensor xd = Make<double>({2, 2}, {1, 2, 3, 4});
  Tensor y = OpNode{"ReduceL2", {&xd}, a, 13}.Out();
  EXPECT_DOUBLE_EQ(Values<double>(y)[1], 5.0);
}

TEST(ReductionReduceTest, EmptyReducedAxisGivesIdentity) {
  Tensor x = Make<float>({0, 3}, {});
  Attributes a = KeepDims(0);
  a.Set("axes", std::vector<int64_t>{0});
  Tensor axes = I64({0});
  EXPECT_EQ(
      Values<float>(OpNode{"ReduceSum", {&x, &axes}, KeepDims(0), 13}.Out()),
      (std::vector<float>{0, 0, 0}));
  EXPECT_EQ(Values<float>(OpNode{"ReduceProd", {&x}, a, 13}.Out()),
            (std::vector<float>{1, 1, 1}));
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(Values<float>(OpNode{"ReduceMax", {&x}, a, 13}.Out()),
            (std::vector<float>{-inf, -inf, -inf}));
}

TEST(ReductionReduceTest, BadAxesAreInvalidArgument) {
  Tensor x = Make<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor out_of_range = I64({2});
  EXPECT_EQ((OpNode{"ReduceSum", {&x, &out_of_range}, KeepDims(1), 13}.Code()),
            StatusCode::kInvalidArgument);
  Tensor twice = I64({1, -1});
  EXPECT_EQ((OpNode{"ReduceSum", {&x, &twice}, KeepDims(1), 13}.Code()),
            StatusCode::kInvalidArgument);
  Tensor float_axes = Make<float>({1}, {0});
  EXPECT_EQ((OpNode{"ReduceSum", {&x, &float_axes}, KeepDims(1), 13}.Code()),
            StatusCode::kInvalidArgument);
  Tensor axes = I64({0});
  // Before opset 13 (18 for the others) axes are an attribute, not an input.
  EXPECT_EQ((OpNode{"ReduceSum", {&x, &axes}, KeepDims(1), 11}.Code()),
            StatusCode::kInvalidArgument);
  EXPECT_EQ((OpNode{"ReduceMean", {&x, &axes}, KeepDims(1), 13}.Code()),
            StatusCode::kInvalidArgument);
  Attributes a = KeepDims(1);
  a.Set("axes", std::vector<int64_t>{-3});
  auto r = OpNode{"ReduceMax", {&x}, a, 13}.Run();
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("axes"), std::string::npos) << r.status();
}

TEST(ReductionReduceTest, UnsupportedTypesAreUnimplemented) {
  Tensor xi = Make<int32_t>({2}, {1, 2});
  EXPECT_EQ((OpNode{"ReduceL2", {&xi}, KeepDims(1), 13}.Code()),
            StatusCode::kUnimplemented);
  Tensor xb = Make<bool>({2}, {true, false});
  auto r = OpNode{"ReduceMax", {&xb}, KeepDims(1), 13}.Run();
  EXPECT_EQ(r.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(r.status().message().find("bool"), std::string::npos) << r.status();
}

// ----------------------------------------------------------------
// ArgMax/ArgMin

TEST(ReductionArgTest, FirstOrLastIndexOfTies) {
  Tensor x = Make<float>({2, 3}, {1, 3, 3, 2, 2, 1});
  Attributes a = KeepDims(1);
  a.Set("axis", int64_t{1});
  Tensor y = OpNode{"ArgMax", {&x}, a, 13}.Out();
  EXPECT_EQ(y.shape(), (Shape{2, 1}));
  EXPECT_EQ(Values<int64_t>(y), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(Values<int64_t>(OpNode{"ArgMin", {&x}, a, 13}.Out()),
            (std::vector<int64_t>{0, 2}));
  a.Set("select_last_index", int64_t{1});
  EXPECT_EQ(Values<int64_t>(OpNode{"ArgMax", {&x}, a, 13}.Out()),
            (std::vector<int64_t>{2, 1}));
}

TEST(ReductionArgTest, NanIsExtremeBothWaysLikeNumpy) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor row = Make<float>({4}, {1, nan, 3, nan});
  EXPECT_EQ(Values<int64_t>(OpNode{"ArgMax", {&row}, KeepDims(0), 13}.Out()),
            (std::vector<int64_t>{1}));
  EXPECT_EQ(Values<int64_t>(OpNode{"ArgMin", {&row}, KeepDims(0), 13}.Out()),
            (std::vector<int64_t>{1}));
  Attributes last = KeepDims(0);
  last.Set("select_last_index", int64_t{1});
  EXPECT_EQ(Values<int64_t>(OpNode{"ArgMax", {&row}, last, 13}.Out()),
            (std::vector<int64_t>{3}));
  // The same along an outer axis (the column path).
  Tensor col = Make<float>({4, 1}, {1, nan, 3, nan});
  EXPECT_EQ(Values<int64_t>(OpNode{"ArgMin", {&col}, KeepDims(0), 13}.Out()),
            (std::vector<int64_t>{1}));
  EXPECT_EQ(Values<int64_t>(OpNode{"ArgMax", {&col}, last, 13}.Out()),
            (std::vector<int64_t>{3}));
}

TEST(ReductionArgTest, DefaultAxisZeroWithoutKeepdims) {
  Tensor x = Make<int64_t>({2, 3}, {1, 5, 3, 2, 2, 4});
  Tensor y = OpNode{"ArgMax", {&x}, KeepDims(0), 13}.Out();
  EXPECT_EQ(y.shape(), (Shape{3}));
  EXPECT_EQ(Values<int64_t>(y), (std::vector<int64_t>{1, 0, 1}));
}

TEST(ReductionArgTest, BadAxisAndEmptyAxisAreInvalidArgument) {
  Tensor x = Make<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Attributes a;
  a.Set("axis", int64_t{2});
  EXPECT_EQ((OpNode{"ArgMax", {&x}, a, 13}.Code()),
            StatusCode::kInvalidArgument);
  Tensor empty = Make<float>({2, 0}, {});
  a.Set("axis", int64_t{1});
  EXPECT_EQ((OpNode{"ArgMin", {&empty}, a, 13}.Code()),
            StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------- TopK

TEST(ReductionTopKTest, LargestAndSmallestWithTies) {
  Tensor x = Make<float>({2, 4}, {1, 4, 4, 2, 3, 1, 2, 0});
  Tensor k = I64({2});
  auto r = OpNode{"TopK", {&x, &k}, Attributes(), 11, /*num_outputs=*/2}.Run();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<float>((*r)[0]), (std::vector<float>{4, 4, 3, 2}));
  EXPECT_EQ(Values<int64_t>((*r)[1]), (std::vector<int64_t>{1, 2, 0, 2}));
  Attributes smallest;
  smallest.Set("largest", int64_t{0});
  r = OpNode{"TopK", {&x, &k}, smallest, 11, /*num_outputs=*/2}.Run();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Values<float>((*r)[0]), (std::vector<float>{1, 2, 0, 1}));
  EXPECT_EQ(Values<int64_t>((*r)[1]), (std::vector<int64_t>{0, 3, 3, 1}));
}

TEST(ReductionTopKTest, OuterAxisAndIntegers) {
  Tensor x = Make<int64_t>({3, 2}, {5, 1, 7, 9, 6, 3});
  Tensor k = I64({1});
  Attributes a;
  a.Set("axis", int64_t{0});
  auto r = OpNode{"TopK", {&x, &k}, a, 11, /*num_outputs=*/2}.Run();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)[0].shape(), (Shape{1, 2}));
  EXPECT_EQ(Values<int64_t>((*r)[0]), (std::vector<int64_t>{7, 9}));
  EXPECT_EQ(Values<int64_t>((*r)[1]), (std::vector<int64_t>{1, 1}));
}

TEST(ReductionTopKTest, NanCountsAsLargest) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = Make<float>({3}, {1, nan, 2});
  Tensor k = I64({2});
  auto r = OpNode{"TopK", {&x, &k}, Attributes(), 11, /*num_outputs=*/2}.Run();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Values<int64_t>((*r)[1]), (std::vector<int64_t>{1, 2}));
}

TEST(ReductionTopKTest, KAttributeBeforeOpset10) {
  Tensor x = Make<float>({4}, {3, 1, 4, 1});
  Attributes a;
  a.Set("k", int64_t{3});
  auto r = OpNode{"TopK", {&x}, a, 1, /*num_outputs=*/2}.Run();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Values<float>((*r)[0]), (std::vector<float>{4, 3, 1}));
  EXPECT_EQ(Values<int64_t>((*r)[1]), (std::vector<int64_t>{2, 0, 1}));
}

TEST(ReductionTopKTest, BadKIsInvalidArgument) {
  Tensor x = Make<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor too_big = I64({4});
  EXPECT_EQ((OpNode{"TopK", {&x, &too_big}, Attributes(), 11, /*num_outputs=*/2}
                 .Code()),
            StatusCode::kInvalidArgument);
  Tensor negative = I64({-1});
  EXPECT_EQ(
      (OpNode{"TopK", {&x, &negative}, Attributes(), 11, /*num_outputs=*/2}
           .Code()),
      StatusCode::kInvalidArgument);
  Tensor two = I64({1, 2});
  EXPECT_EQ(
      (OpNode{"TopK", {&x, &two}, Attributes(), 11, /*num_outputs=*/2}.Code()),
      StatusCode::kInvalidArgument);
  EXPECT_EQ((OpNode{"TopK", {&x}, Attributes(), 11, /*num_outputs=*/2}.Code()),
            StatusCode::kInvalidArgument);
  EXPECT_EQ((OpNode{"TopK", {&x}, Attributes(), 1, /*num_outputs=*/2}.Code()),
            StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------- Resize

Attributes ResizeAttrs(const std::string& mode, const std::string& coord) {
  Attributes a;
  a.Set("mode", mode);
  a.Set("coordinate_transformation_mode", coord);
  return a;
}

TEST(ReductionResizeTest, NearestUpsampleNchw) {
  Tensor x = Make<float>({1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor scales = Make<float>({4}, {1, 1, 2, 2});
  Attributes nearest = ResizeAttrs("nearest", "asymmetric");
  Tensor y = OpNode{"Resize", {&x, nullptr, &scales}, nearest, 13}.Out();
  EXPECT_EQ(y.shape(), (Shape{1, 1, 4, 4}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3,
                                                  4, 4, 3, 3, 4, 4}));
}

TEST(ReductionResizeTest, NearestRoundingModes) {
  // Asymmetric 2x: source coordinates 0, 0.5, 1, ..., 3.5.
  Tensor x = Make<float>({4}, {0, 10, 20, 30});
  Tensor sizes = I64({8});
  Attributes a = ResizeAttrs("nearest", "asymmetric");
  EXPECT_EQ(Values<float>(
                OpNode{"Resize", {&x, nullptr, nullptr, &sizes}, a, 13}.Out()),
            (std::vector<float>{0, 0, 10, 10, 20, 20, 30, 30}));
  a.Set("nearest_mode", std::string("round_prefer_ceil"));
  EXPECT_EQ(Values<float>(
                OpNode{"Resize", {&x, nullptr, nullptr, &sizes}, a, 13}.Out()),
            (std::vector<float>{0, 10, 10, 20, 20, 30, 30, 30}));
  a.Set("nearest_mode", std::string("ceil"));
  EXPECT_EQ(Values<float>(
                OpNode{"Resize", {&x, nullptr, nullptr, &sizes}, a, 13}.Out()),
            (std::vector<float>{0, 10, 10, 20, 20, 30, 30, 30}));
}

TEST(ReductionResizeTest, LinearHalfPixelAndAlignCorners) {
  Tensor x = Make<float>({1, 1, 1, 2}, {0, 4});
  // half_pixel 2x: coordinates -0.25 (clamped), 0.25, 0.75, 1.25 (clamped).
  Tensor sizes = I64({1, 1, 1, 4});
  Attributes half_pixel = ResizeAttrs("linear", "half_pixel");
  OpNode up4{"Resize", {&x, nullptr, nullptr, &sizes}, half_pixel, 13};
  ExpectNearAbsolute(Values<float>(up4.Out()), {0, 1, 3, 4});
  Tensor sizes3 = I64({1, 1, 1, 3});
  Attributes align_corners = ResizeAttrs("linear", "align_corners");
  OpNode up3{"Resize", {&x, nullptr, nullptr, &sizes3}, align_corners, 13};
  ExpectNearAbsolute(Values<float>(up3.Out()), {0, 2, 4});
}

TEST(ReductionResizeTest, BilinearOverBothSpatialAxes) {
  Tensor x = Make<float>({1, 1, 2, 2}, {0, 2, 4, 6});
  Tensor sizes = I64({1, 1, 3, 3});
  // align_corners: rows and columns at 0, 0.5, 1.
  Attributes align_corners = ResizeAttrs("linear", "align_corners");
  OpNode resize{"Resize", {&x, nullptr, nullptr, &sizes}, align_corners, 13};
  resize.threads = 2;
  ExpectNearAbsolute(Values<float>(resize.Out()), {0, 1, 2, 2, 3, 4, 4, 5, 6});
}

TEST(ReductionResizeTest, CropAndResizeExtrapolates) {
  // roi [0.5, 1.5] over width 4: coordinates 1.5, 3, 4.5 (outside).
  Tensor x = Make<float>({4}, {0, 1, 2, 3});
  Tensor roi = Make<float>({2}, {0.5f, 1.5f});
  Tensor sizes = I64({3});
  Attributes a = ResizeAttrs("linear", "tf_crop_and_resize");
  a.Set("extrapolation_value", 9.0f);
  ExpectNearAbsolute(
      Values<float>(OpNode{"Resize", {&x, &roi, nullptr, &sizes}, a, 13}.Out()),
      {1.5f, 3, 9});
}

TEST(ReductionResizeTest, CubicKeepsConstantsConstant) {
  Tensor x = Make<float>({1, 1, 3, 3}, std::vector<float>(9, 2.0f));
  Tensor scales = Make<float>({4}, {1, 1, 1.5f, 2});
  Attributes cubic = ResizeAttrs("cubic", "half_pixel");
  Tensor y = OpNode{"Resize", {&x, nullptr, &scales}, cubic, 13}.Out();
  EXPECT_EQ(y.shape(), (Shape{1, 1, 4, 6}));
  ExpectNearAbsolute(Values<float>(y), std::vector<float>(24, 2.0f));
}

TEST(ReductionResizeTest, EmptyScalesAtOpset11MeanSizes) {
  Tensor x = Make<uint8_t>({1, 2}, {7, 9});
  Tensor roi = Make<float>({0}, {});
  Tensor scales = Make<float>({0}, {});
  Tensor sizes = I64({2, 4});
  Attributes a;
  a.Set("mode", std::string("nearest"));
  Tensor y = OpNode{"Resize", {&x, &roi, &scales, &sizes}, a, 11}.Out();
  EXPECT_EQ(y.shape(), (Shape{2, 4}));
  EXPECT_EQ(Values<uint8_t>(y), (std::vector<uint8_t>{7, 7, 9, 9, 7, 7, 9, 9}));
}

TEST(ReductionResizeTest, Opset10AndUpsampleScaleAsymmetrically) {
  Tensor x = Make<float>({1, 3}, {1, 2, 3});
  Tensor scales = Make<float>({2}, {1, 2});
  Attributes nearest;
  nearest.Set("mode", std::string("nearest"));
  const std::vector<float> repeated = {1, 1, 2, 2, 3, 3};
  EXPECT_EQ(Values<float>(OpNode{"Resize", {&x, &scales}, nearest, 10}.Out()),
            repeated);
  EXPECT_EQ(Values<float>(OpNode{"Upsample", {&x, &scales}, nearest, 9}.Out()),
            repeated);
  Attributes upsample7 = nearest;
  upsample7.Set("scales", std::vector<float>{1, 2});
  EXPECT_EQ(Values<float>(OpNode{"Upsample", {&x}, upsample7, 7}.Out()),
            repeated);
  Attributes linear;
  linear.Set("mode", std::string("linear"));
  // Asymmetric: coordinates 0, 0.5, 1, 1.5, 2, 2.5 (clamped to 2).
  ExpectNearAbsolute(
      Values<float>(OpNode{"Resize", {&x, &scales}, linear, 10}.Out()),
      {1, 1.5f, 2, 2.5f, 3, 3});
}

TEST(ReductionResizeTest, BadInputsAreInvalidArgument) {
  Tensor x = Make<float>({1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor scales = Make<float>({4}, {1, 1, 2, 2});
  Tensor sizes = I64({1, 1, 4, 4});
  Attributes nearest = ResizeAttrs("nearest", "half_pixel");
  EXPECT_EQ(
      (OpNode{"Resize", {&x, nullptr, &scales, &sizes}, nearest, 13}.Code()),
      StatusCode::kInvalidArgument);
  EXPECT_EQ((OpNode{"Resize", {&x}, nearest, 13}.Code()),
            StatusCode::kInvalidArgument);
  Tensor short_scales = Make<float>({2}, {2, 2});
  EXPECT_EQ(
      (OpNode{"Resize", {&x, nullptr, &short_scales}, nearest, 13}.Code()),
      StatusCode::kInvalidArgument);
  Tensor negative = Make<float>({4}, {1, 1, -2, 2});
  EXPECT_EQ((OpNode{"Resize", {&x, nullptr, &negative}, nearest, 13}.Code()),
            StatusCode::kInvalidArgument);
  Tensor int_scales = Make<int64_t>({4}, {1, 1, 2, 2});
  EXPECT_EQ((OpNode{"Resize", {&x, nullptr, &int_scales}, nearest, 13}.Code()),
            StatusCode::kInvalidArgument);
  Attributes bicubic = ResizeAttrs("bicubic", "half_pixel");
  auto r = OpNode{"Resize", {&x, nullptr, &scales}, bicubic, 13}.Run();
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("mode"), std::string::npos) << r.status();
  Attributes crop = ResizeAttrs("linear", "tf_crop_and_resize");
  EXPECT_EQ((OpNode{"Resize", {&x, nullptr, nullptr, &sizes}, crop, 13}.Code()),
            StatusCode::kInvalidArgument);
}

TEST(ReductionResizeTest, LinearOnIntegersIsUnimplemented) {
  Tensor x = Make<uint8_t>({1, 2}, {7, 9});
  Tensor sizes = I64({2, 4});
  Attributes linear = ResizeAttrs("linear", "half_pixel");
  auto r = OpNode{"Resize", {&x, nullptr, nullptr, &sizes}, linear, 13}.Run();
  EXPECT_EQ(r.status().code(), StatusCode::kUnimplemented);
  EXPECT_NE(r.status().message().find("uint8"), std::string::npos)
      << r.status();
}

}  // namespace
}  // namespace tensorpod::internal
