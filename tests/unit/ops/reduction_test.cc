// Reduce*, ArgMax/ArgMin, TopK, Resize and Upsample on the CPU backend, with
// hand-checked expected values.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "backends/cpu/eval_node.h"

namespace tensorpod::internal {
namespace {

template <typename T>
Tensor Make(const Shape& shape, const std::vector<T>& values) {
  auto made = Tensor::Empty(DTypeOf<T>::value, shape);
  EXPECT_TRUE(made.ok()) << made.status();
  Tensor t = *made;
  EXPECT_EQ(t.num_elements(), static_cast<int64_t>(values.size()));
  std::copy(values.begin(), values.end(), t.data<T>());
  return t;
}

template <typename T>
std::vector<T> Values(const Tensor& t) {
  EXPECT_EQ(t.dtype(), DTypeOf<T>::value);
  return std::vector<T>(t.data<T>(), t.data<T>() + t.num_elements());
}

Tensor Axes(std::vector<int64_t> axes) {
  return Make<int64_t>({static_cast<int64_t>(axes.size())}, axes);
}

StatusOr<std::vector<Tensor>> RunNode(const std::string& op, int opset,
                                      const Attributes& attrs,
                                      std::vector<const Tensor*> inputs,
                                      int num_outputs = 1, int threads = 1) {
  EvalNodeArgs args;
  args.op_type = op;
  args.opset = opset;
  args.attrs = &attrs;
  args.inputs = std::move(inputs);
  args.num_outputs = num_outputs;
  args.threads = threads;
  return EvaluateNodeOnCpu(args);
}

// Runs a one-output node that must succeed.
Tensor RunOne(const std::string& op, int opset, const Attributes& attrs,
              std::vector<const Tensor*> inputs, int threads = 1) {
  auto r = RunNode(op, opset, attrs, std::move(inputs), 1, threads);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? (*r)[0] : Tensor();
}

void ExpectNear(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(got[i], want[i], 1e-5) << "at " << i;
}

StatusCode CodeOf(const StatusOr<std::vector<Tensor>>& r) {
  return r.status().code();
}

Attributes KeepDims(int64_t keep) {
  Attributes a;
  a.Set("keepdims", keep);
  return a;
}

// ---------------------------------------------------------------- Reduce*

TEST(ReductionReduceTest, SumAxesInputKeepdims) {
  Tensor x = Make<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor axes = Axes({1});
  Tensor y = RunOne("ReduceSum", 13, KeepDims(1), {&x, &axes});
  EXPECT_EQ(y.shape(), (Shape{2, 1}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{6, 15}));
}

TEST(ReductionReduceTest, SumNoKeepdimsNegativeAxis) {
  Tensor x = Make<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor axes = Axes({-2});
  Tensor y = RunOne("ReduceSum", 13, KeepDims(0), {&x, &axes});
  EXPECT_EQ(y.shape(), (Shape{3}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{5, 7, 9}));
}

TEST(ReductionReduceTest, EmptyOrOmittedAxesReduceEverything) {
  Tensor x = Make<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor empty = Axes({});
  Tensor y = RunOne("ReduceSum", 13, KeepDims(1), {&x, &empty});
  EXPECT_EQ(y.shape(), (Shape{1, 1}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{21}));
  Tensor z = RunOne("ReduceSum", 13, KeepDims(0), {&x});
  EXPECT_EQ(z.shape(), (Shape{}));
  EXPECT_EQ(Values<float>(z), (std::vector<float>{21}));
}

TEST(ReductionReduceTest, NoopWithEmptyAxesCopiesInput) {
  Tensor x = Make<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor empty = Axes({});
  Attributes a = KeepDims(1);
  a.Set("noop_with_empty_axes", int64_t{1});
  Tensor y = RunOne("ReduceSum", 13, a, {&x, &empty});
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST(ReductionReduceTest, SumTakesAxesAttributeBeforeOpset13) {
  Tensor x = Make<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Attributes a = KeepDims(0);
  a.Set("axes", std::vector<int64_t>{0});
  Tensor y = RunOne("ReduceSum", 11, a, {&x});
  EXPECT_EQ(Values<float>(y), (std::vector<float>{5, 7, 9}));
}

TEST(ReductionReduceTest, MeanMaxMinOverMiddleAxis) {
  // x[i][j][k] = 4i + 2j + k.
  Tensor x = Make<float>({2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7});
  Attributes a = KeepDims(0);
  a.Set("axes", std::vector<int64_t>{1});
  EXPECT_EQ(Values<float>(RunOne("ReduceMean", 13, a, {&x})),
            (std::vector<float>{1, 2, 5, 6}));
  EXPECT_EQ(Values<float>(RunOne("ReduceMax", 13, a, {&x})),
            (std::vector<float>{2, 3, 6, 7}));
  EXPECT_EQ(Values<float>(RunOne("ReduceMin", 13, a, {&x})),
            (std::vector<float>{0, 1, 4, 5}));
}

TEST(ReductionReduceTest, NormsProductsAndLogs) {
  Tensor x = Make<float>({2, 2}, {1, 2, 3, 4});
  Attributes a = KeepDims(0);
  a.Set("axes", std::vector<int64_t>{1});
  const float e = std::exp(1.0f);
  ExpectNear(Values<float>(RunOne("ReduceProd", 13, a, {&x})), {2, 12});
  ExpectNear(Values<float>(RunOne("ReduceL1", 13, a, {&x})), {3, 7});
  ExpectNear(Values<float>(RunOne("ReduceL2", 13, a, {&x})),
             {std::sqrt(5.0f), 5});
  ExpectNear(Values<float>(RunOne("ReduceSumSquare", 13, a, {&x})), {5, 25});
  ExpectNear(Values<float>(RunOne("ReduceLogSum", 13, a, {&x})),
             {std::log(3.0f), std::log(7.0f)});
  ExpectNear(Values<float>(RunOne("ReduceLogSumExp", 13, a, {&x})),
             {std::log(e + e * e), std::log(e * e * e + e * e * e * e)});
}

TEST(ReductionReduceTest, NormsOverOuterAxisUseColumnPath) {
  Tensor x = Make<float>({2, 2}, {1, -2, 3, 4});
  Attributes a = KeepDims(0);
  a.Set("axes", std::vector<int64_t>{0});
  ExpectNear(Values<float>(RunOne("ReduceL1", 13, a, {&x})), {4, 6});
  ExpectNear(Values<float>(RunOne("ReduceL2", 13, a, {&x})),
             {std::sqrt(10.0f), std::sqrt(20.0f)});
  ExpectNear(Values<float>(RunOne("ReduceProd", 13, a, {&x})), {3, -8});
  ExpectNear(
      Values<float>(RunOne("ReduceLogSumExp", 13, a, {&x})),
      {3 + std::log(1 + std::exp(-2.0f)), 4 + std::log(1 + std::exp(-6.0f))});
}

TEST(ReductionReduceTest, LogSumExpIsStableForLargeValues) {
  Tensor x = Make<float>({2}, {1000, 1000});
  ExpectNear(Values<float>(RunOne("ReduceLogSumExp", 13, KeepDims(0), {&x})),
             {1000 + std::log(2.0f)});
}

TEST(ReductionReduceTest, MaxAndMinPropagateNan) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = Make<float>({2, 2}, {1, nan, 3, 4});
  for (int64_t axis : {0, 1}) {
    Attributes a = KeepDims(0);
    a.Set("axes", std::vector<int64_t>{axis});
    std::vector<float> mx = Values<float>(RunOne("ReduceMax", 13, a, {&x}));
    std::vector<float> mn = Values<float>(RunOne("ReduceMin", 13, a, {&x}));
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
  Tensor axes = Axes({0, 2});
  Tensor y = RunOne("ReduceSum", 13, KeepDims(1), {&x, &axes}, 2);
  EXPECT_EQ(y.shape(), (Shape{1, 3, 1}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{14, 22, 30}));
  Attributes a = KeepDims(0);
  a.Set("axes", std::vector<int64_t>{2, 0});
  EXPECT_EQ(Values<float>(RunOne("ReduceMax", 13, a, {&x})),
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
  Tensor axes = Axes({0});
  Tensor y = RunOne("ReduceSum", 13, KeepDims(0), {&x, &axes}, 4);
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
  Tensor y = RunOne("ReduceMean", 13, a, {&x}, 4);
  EXPECT_EQ(y.shape(), (Shape{64, 1}));
  std::vector<float> got = Values<float>(y);
  for (int i = 0; i < 64; ++i) EXPECT_NEAR(got[i], i, 1e-4) << i;
}

TEST(ReductionReduceTest, IntegerAndDoubleTypes) {
  Tensor xi = Make<int32_t>({2, 2}, {7, 8, -3, 4});
  Attributes a = KeepDims(0);
  a.Set("axes", std::vector<int64_t>{1});
  // Integer means truncate like ONNX Runtime's.
  EXPECT_EQ(Values<int32_t>(RunOne("ReduceMean", 13, a, {&xi})),
            (std::vector<int32_t>{7, 0}));
  EXPECT_EQ(Values<int32_t>(RunOne("ReduceSumSquare", 13, a, {&xi})),
            (std::vector<int32_t>{113, 25}));
  Tensor xl = Make<int64_t>({2, 2}, {7, 8, -3, 4});
  EXPECT_EQ(Values<int64_t>(RunOne("ReduceMin", 13, a, {&xl})),
            (std::vector<int64_t>{7, -3}));
  Tensor xd = Make<double>({2, 2}, {1, 2, 3, 4});
  Tensor y = RunOne("ReduceL2", 13, a, {&xd});
  EXPECT_DOUBLE_EQ(Values<double>(y)[1], 5.0);
}

TEST(ReductionReduceTest, EmptyReducedAxisGivesIdentity) {
  Tensor x = Make<float>({0, 3}, {});
  Attributes a = KeepDims(0);
  a.Set("axes", std::vector<int64_t>{0});
  Tensor axes = Axes({0});
  EXPECT_EQ(Values<float>(RunOne("ReduceSum", 13, KeepDims(0), {&x, &axes})),
            (std::vector<float>{0, 0, 0}));
  EXPECT_EQ(Values<float>(RunOne("ReduceProd", 13, a, {&x})),
            (std::vector<float>{1, 1, 1}));
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(Values<float>(RunOne("ReduceMax", 13, a, {&x})),
            (std::vector<float>{-inf, -inf, -inf}));
}

TEST(ReductionReduceTest, BadAxesAreInvalidArgument) {
  Tensor x = Make<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor out_of_range = Axes({2});
  EXPECT_EQ(CodeOf(RunNode("ReduceSum", 13, KeepDims(1), {&x, &out_of_range})),
            StatusCode::kInvalidArgument);
  Tensor twice = Axes({1, -1});
  EXPECT_EQ(CodeOf(RunNode("ReduceSum", 13, KeepDims(1), {&x, &twice})),
            StatusCode::kInvalidArgument);
  Tensor float_axes = Make<float>({1}, {0});
  EXPECT_EQ(CodeOf(RunNode("ReduceSum", 13, KeepDims(1), {&x, &float_axes})),
            StatusCode::kInvalidArgument);
  Tensor axes = Axes({0});
  // Before opset 13 (18 for the others) axes are an attribute, not an input.
  EXPECT_EQ(CodeOf(RunNode("ReduceSum", 11, KeepDims(1), {&x, &axes})),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(RunNode("ReduceMean", 13, KeepDims(1), {&x, &axes})),
            StatusCode::kInvalidArgument);
  Attributes a = KeepDims(1);
  a.Set("axes", std::vector<int64_t>{-3});
  auto r = RunNode("ReduceMax", 13, a, {&x});
  EXPECT_EQ(CodeOf(r), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("axes"), std::string::npos) << r.status();
}

TEST(ReductionReduceTest, UnsupportedTypesAreUnimplemented) {
  Tensor xi = Make<int32_t>({2}, {1, 2});
  EXPECT_EQ(CodeOf(RunNode("ReduceL2", 13, KeepDims(1), {&xi})),
            StatusCode::kUnimplemented);
  Tensor xb = Make<bool>({2}, {true, false});
  auto r = RunNode("ReduceMax", 13, KeepDims(1), {&xb});
  EXPECT_EQ(CodeOf(r), StatusCode::kUnimplemented);
  EXPECT_NE(r.status().message().find("bool"), std::string::npos) << r.status();
}

// ----------------------------------------------------------------
// ArgMax/ArgMin

TEST(ReductionArgTest, FirstOrLastIndexOfTies) {
  Tensor x = Make<float>({2, 3}, {1, 3, 3, 2, 2, 1});
  Attributes a = KeepDims(1);
  a.Set("axis", int64_t{1});
  Tensor y = RunOne("ArgMax", 13, a, {&x});
  EXPECT_EQ(y.shape(), (Shape{2, 1}));
  EXPECT_EQ(Values<int64_t>(y), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(Values<int64_t>(RunOne("ArgMin", 13, a, {&x})),
            (std::vector<int64_t>{0, 2}));
  a.Set("select_last_index", int64_t{1});
  EXPECT_EQ(Values<int64_t>(RunOne("ArgMax", 13, a, {&x})),
            (std::vector<int64_t>{2, 1}));
}

TEST(ReductionArgTest, NanIsExtremeBothWaysLikeNumpy) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor row = Make<float>({4}, {1, nan, 3, nan});
  EXPECT_EQ(Values<int64_t>(RunOne("ArgMax", 13, KeepDims(0), {&row})),
            (std::vector<int64_t>{1}));
  EXPECT_EQ(Values<int64_t>(RunOne("ArgMin", 13, KeepDims(0), {&row})),
            (std::vector<int64_t>{1}));
  Attributes last = KeepDims(0);
  last.Set("select_last_index", int64_t{1});
  EXPECT_EQ(Values<int64_t>(RunOne("ArgMax", 13, last, {&row})),
            (std::vector<int64_t>{3}));
  // The same along an outer axis (the column path).
  Tensor col = Make<float>({4, 1}, {1, nan, 3, nan});
  EXPECT_EQ(Values<int64_t>(RunOne("ArgMin", 13, KeepDims(0), {&col})),
            (std::vector<int64_t>{1}));
  EXPECT_EQ(Values<int64_t>(RunOne("ArgMax", 13, last, {&col})),
            (std::vector<int64_t>{3}));
}

TEST(ReductionArgTest, DefaultAxisZeroWithoutKeepdims) {
  Tensor x = Make<int64_t>({2, 3}, {1, 5, 3, 2, 2, 4});
  Tensor y = RunOne("ArgMax", 13, KeepDims(0), {&x});
  EXPECT_EQ(y.shape(), (Shape{3}));
  EXPECT_EQ(Values<int64_t>(y), (std::vector<int64_t>{1, 0, 1}));
}

TEST(ReductionArgTest, BadAxisAndEmptyAxisAreInvalidArgument) {
  Tensor x = Make<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Attributes a;
  a.Set("axis", int64_t{2});
  EXPECT_EQ(CodeOf(RunNode("ArgMax", 13, a, {&x})),
            StatusCode::kInvalidArgument);
  Tensor empty = Make<float>({2, 0}, {});
  a.Set("axis", int64_t{1});
  EXPECT_EQ(CodeOf(RunNode("ArgMin", 13, a, {&empty})),
            StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------- TopK

TEST(ReductionTopKTest, LargestAndSmallestWithTies) {
  Tensor x = Make<float>({2, 4}, {1, 4, 4, 2, 3, 1, 2, 0});
  Tensor k = Axes({2});
  auto r = RunNode("TopK", 11, Attributes(), {&x, &k}, 2);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)[0].shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<float>((*r)[0]), (std::vector<float>{4, 4, 3, 2}));
  EXPECT_EQ(Values<int64_t>((*r)[1]), (std::vector<int64_t>{1, 2, 0, 2}));
  Attributes smallest;
  smallest.Set("largest", int64_t{0});
  r = RunNode("TopK", 11, smallest, {&x, &k}, 2);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Values<float>((*r)[0]), (std::vector<float>{1, 2, 0, 1}));
  EXPECT_EQ(Values<int64_t>((*r)[1]), (std::vector<int64_t>{0, 3, 3, 1}));
}

TEST(ReductionTopKTest, OuterAxisAndIntegers) {
  Tensor x = Make<int64_t>({3, 2}, {5, 1, 7, 9, 6, 3});
  Tensor k = Axes({1});
  Attributes a;
  a.Set("axis", int64_t{0});
  auto r = RunNode("TopK", 11, a, {&x, &k}, 2);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)[0].shape(), (Shape{1, 2}));
  EXPECT_EQ(Values<int64_t>((*r)[0]), (std::vector<int64_t>{7, 9}));
  EXPECT_EQ(Values<int64_t>((*r)[1]), (std::vector<int64_t>{1, 1}));
}

TEST(ReductionTopKTest, NanCountsAsLargest) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = Make<float>({3}, {1, nan, 2});
  Tensor k = Axes({2});
  auto r = RunNode("TopK", 11, Attributes(), {&x, &k}, 2);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Values<int64_t>((*r)[1]), (std::vector<int64_t>{1, 2}));
}

TEST(ReductionTopKTest, KAttributeBeforeOpset10) {
  Tensor x = Make<float>({4}, {3, 1, 4, 1});
  Attributes a;
  a.Set("k", int64_t{3});
  auto r = RunNode("TopK", 1, a, {&x}, 2);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Values<float>((*r)[0]), (std::vector<float>{4, 3, 1}));
  EXPECT_EQ(Values<int64_t>((*r)[1]), (std::vector<int64_t>{2, 0, 1}));
}

TEST(ReductionTopKTest, BadKIsInvalidArgument) {
  Tensor x = Make<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor too_big = Axes({4});
  EXPECT_EQ(CodeOf(RunNode("TopK", 11, Attributes(), {&x, &too_big}, 2)),
            StatusCode::kInvalidArgument);
  Tensor negative = Axes({-1});
  EXPECT_EQ(CodeOf(RunNode("TopK", 11, Attributes(), {&x, &negative}, 2)),
            StatusCode::kInvalidArgument);
  Tensor two = Axes({1, 2});
  EXPECT_EQ(CodeOf(RunNode("TopK", 11, Attributes(), {&x, &two}, 2)),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(RunNode("TopK", 11, Attributes(), {&x}, 2)),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(RunNode("TopK", 1, Attributes(), {&x}, 2)),
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
  Tensor y = RunOne("Resize", 13, ResizeAttrs("nearest", "asymmetric"),
                    {&x, nullptr, &scales});
  EXPECT_EQ(y.shape(), (Shape{1, 1, 4, 4}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3,
                                                  4, 4, 3, 3, 4, 4}));
}

TEST(ReductionResizeTest, NearestRoundingModes) {
  // Asymmetric 2x: source coordinates 0, 0.5, 1, ..., 3.5.
  Tensor x = Make<float>({4}, {0, 10, 20, 30});
  Tensor sizes = Axes({8});
  Attributes a = ResizeAttrs("nearest", "asymmetric");
  EXPECT_EQ(
      Values<float>(RunOne("Resize", 13, a, {&x, nullptr, nullptr, &sizes})),
      (std::vector<float>{0, 0, 10, 10, 20, 20, 30, 30}));
  a.Set("nearest_mode", std::string("round_prefer_ceil"));
  EXPECT_EQ(
      Values<float>(RunOne("Resize", 13, a, {&x, nullptr, nullptr, &sizes})),
      (std::vector<float>{0, 10, 10, 20, 20, 30, 30, 30}));
  a.Set("nearest_mode", std::string("ceil"));
  EXPECT_EQ(
      Values<float>(RunOne("Resize", 13, a, {&x, nullptr, nullptr, &sizes})),
      (std::vector<float>{0, 10, 10, 20, 20, 30, 30, 30}));
}

TEST(ReductionResizeTest, LinearHalfPixelAndAlignCorners) {
  Tensor x = Make<float>({1, 1, 1, 2}, {0, 4});
  // half_pixel 2x: coordinates -0.25 (clamped), 0.25, 0.75, 1.25 (clamped).
  Tensor sizes = Axes({1, 1, 1, 4});
  ExpectNear(
      Values<float>(RunOne("Resize", 13, ResizeAttrs("linear", "half_pixel"),
                           {&x, nullptr, nullptr, &sizes})),
      {0, 1, 3, 4});
  Tensor sizes3 = Axes({1, 1, 1, 3});
  ExpectNear(
      Values<float>(RunOne("Resize", 13, ResizeAttrs("linear", "align_corners"),
                           {&x, nullptr, nullptr, &sizes3})),
      {0, 2, 4});
}

TEST(ReductionResizeTest, BilinearOverBothSpatialAxes) {
  Tensor x = Make<float>({1, 1, 2, 2}, {0, 2, 4, 6});
  Tensor sizes = Axes({1, 1, 3, 3});
  // align_corners: rows and columns at 0, 0.5, 1.
  ExpectNear(
      Values<float>(RunOne("Resize", 13, ResizeAttrs("linear", "align_corners"),
                           {&x, nullptr, nullptr, &sizes}, 2)),
      {0, 1, 2, 2, 3, 4, 4, 5, 6});
}

TEST(ReductionResizeTest, CropAndResizeExtrapolates) {
  // roi [0.5, 1.5] over width 4: coordinates 1.5, 3, 4.5 (outside).
  Tensor x = Make<float>({4}, {0, 1, 2, 3});
  Tensor roi = Make<float>({2}, {0.5f, 1.5f});
  Tensor sizes = Axes({3});
  Attributes a = ResizeAttrs("linear", "tf_crop_and_resize");
  a.Set("extrapolation_value", 9.0f);
  ExpectNear(
      Values<float>(RunOne("Resize", 13, a, {&x, &roi, nullptr, &sizes})),
      {1.5f, 3, 9});
}

TEST(ReductionResizeTest, CubicKeepsConstantsConstant) {
  Tensor x = Make<float>({1, 1, 3, 3}, std::vector<float>(9, 2.0f));
  Tensor scales = Make<float>({4}, {1, 1, 1.5f, 2});
  Tensor y = RunOne("Resize", 13, ResizeAttrs("cubic", "half_pixel"),
                    {&x, nullptr, &scales});
  EXPECT_EQ(y.shape(), (Shape{1, 1, 4, 6}));
  ExpectNear(Values<float>(y), std::vector<float>(24, 2.0f));
}

TEST(ReductionResizeTest, EmptyScalesAtOpset11MeanSizes) {
  Tensor x = Make<uint8_t>({1, 2}, {7, 9});
  Tensor roi = Make<float>({0}, {});
  Tensor scales = Make<float>({0}, {});
  Tensor sizes = Axes({2, 4});
  Attributes a;
  a.Set("mode", std::string("nearest"));
  Tensor y = RunOne("Resize", 11, a, {&x, &roi, &scales, &sizes});
  EXPECT_EQ(y.shape(), (Shape{2, 4}));
  EXPECT_EQ(Values<uint8_t>(y), (std::vector<uint8_t>{7, 7, 9, 9, 7, 7, 9, 9}));
}

TEST(ReductionResizeTest, Opset10AndUpsampleScaleAsymmetrically) {
  Tensor x = Make<float>({1, 3}, {1, 2, 3});
  Tensor scales = Make<float>({2}, {1, 2});
  Attributes nearest;
  nearest.Set("mode", std::string("nearest"));
  const std::vector<float> repeated = {1, 1, 2, 2, 3, 3};
  EXPECT_EQ(Values<float>(RunOne("Resize", 10, nearest, {&x, &scales})),
            repeated);
  EXPECT_EQ(Values<float>(RunOne("Upsample", 9, nearest, {&x, &scales})),
            repeated);
  Attributes upsample7 = nearest;
  upsample7.Set("scales", std::vector<float>{1, 2});
  EXPECT_EQ(Values<float>(RunOne("Upsample", 7, upsample7, {&x})), repeated);
  Attributes linear;
  linear.Set("mode", std::string("linear"));
  // Asymmetric: coordinates 0, 0.5, 1, 1.5, 2, 2.5 (clamped to 2).
  ExpectNear(Values<float>(RunOne("Resize", 10, linear, {&x, &scales})),
             {1, 1.5f, 2, 2.5f, 3, 3});
}

TEST(ReductionResizeTest, BadInputsAreInvalidArgument) {
  Tensor x = Make<float>({1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor scales = Make<float>({4}, {1, 1, 2, 2});
  Tensor sizes = Axes({1, 1, 4, 4});
  Attributes nearest = ResizeAttrs("nearest", "half_pixel");
  EXPECT_EQ(
      CodeOf(RunNode("Resize", 13, nearest, {&x, nullptr, &scales, &sizes})),
      StatusCode::kInvalidArgument);
  EXPECT_EQ(CodeOf(RunNode("Resize", 13, nearest, {&x})),
            StatusCode::kInvalidArgument);
  Tensor short_scales = Make<float>({2}, {2, 2});
  EXPECT_EQ(
      CodeOf(RunNode("Resize", 13, nearest, {&x, nullptr, &short_scales})),
      StatusCode::kInvalidArgument);
  Tensor negative = Make<float>({4}, {1, 1, -2, 2});
  EXPECT_EQ(CodeOf(RunNode("Resize", 13, nearest, {&x, nullptr, &negative})),
            StatusCode::kInvalidArgument);
  Tensor int_scales = Make<int64_t>({4}, {1, 1, 2, 2});
  EXPECT_EQ(CodeOf(RunNode("Resize", 13, nearest, {&x, nullptr, &int_scales})),
            StatusCode::kInvalidArgument);
  auto r = RunNode("Resize", 13, ResizeAttrs("bicubic", "half_pixel"),
                   {&x, nullptr, &scales});
  EXPECT_EQ(CodeOf(r), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("mode"), std::string::npos) << r.status();
  EXPECT_EQ(
      CodeOf(RunNode("Resize", 13, ResizeAttrs("linear", "tf_crop_and_resize"),
                     {&x, nullptr, nullptr, &sizes})),
      StatusCode::kInvalidArgument);
}

TEST(ReductionResizeTest, LinearOnIntegersIsUnimplemented) {
  Tensor x = Make<uint8_t>({1, 2}, {7, 9});
  Tensor sizes = Axes({2, 4});
  auto r = RunNode("Resize", 13, ResizeAttrs("linear", "half_pixel"),
                   {&x, nullptr, nullptr, &sizes});
  EXPECT_EQ(CodeOf(r), StatusCode::kUnimplemented);
  EXPECT_NE(r.status().message().find("uint8"), std::string::npos)
      << r.status();
}

}  // namespace
}  // namespace tensorpod::internal
