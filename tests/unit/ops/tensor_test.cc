// Tests of the data-movement ops (src/ops/tensor.cc,
// src/backends/cpu/tensor*.cc) run end to end through EvaluateNodeOnCpu: schema
// inference, kernel, Compute.
#include <gtest/gtest.h>

#include <numeric>
#include <string>
#include <vector>

#include "ops/op_schema.h"
#include "unit/ops/op_test_util.h"

namespace tensorpod::internal {
namespace {

// 0, 1, 2, ... as T.
template <typename T>
Tensor Iota(const Shape& shape) {
  std::vector<T> v(NumElementsUnchecked(shape));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<T>(i);
  return Make<T>(shape, v);
}

// Expects `code` with a message mentioning every one of `needles`.
void ExpectError(const OpNode& n, StatusCode code,
                 std::vector<std::string> needles) {
  auto r = n.Run();
  ASSERT_FALSE(r.ok()) << n.op << " unexpectedly succeeded";
  EXPECT_EQ(r.status().code(), code) << r.status();
  for (const auto& s : needles) {
    EXPECT_NE(r.status().message().find(s), std::string::npos)
        << "message \"" << r.status().message() << "\" lacks \"" << s << "\"";
  }
}

void ExpectInvalid(const OpNode& n, std::vector<std::string> needles) {
  ExpectError(n, StatusCode::kInvalidArgument, std::move(needles));
}

// ----- Reshape / Flatten / Squeeze / Unsqueeze -----

TEST(TensorOpsTest, ReshapeInfersMinusOneAndCopiesZero) {
  Tensor x = Iota<float>({2, 3, 4});
  Tensor shape = I64({0, -1, 2});
  OpNode n{"Reshape", {&x, &shape}};
  Tensor y = n.Out();
  EXPECT_EQ(y.shape(), (Shape{2, 6, 2}));
  EXPECT_EQ(Values<float>(y), Values<float>(x));
}

TEST(TensorOpsTest, ReshapeInt64AndInt32Shape) {
  Tensor x = Iota<int64_t>({6});
  Tensor shape = Make<int32_t>({2}, {3, 2});
  Tensor y = OpNode{"Reshape", {&x, &shape}}.Out();
  EXPECT_EQ(y.shape(), (Shape{3, 2}));
  EXPECT_EQ(Values<int64_t>(y), (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
}

TEST(TensorOpsTest, ReshapeAllowZeroKeepsZero) {
  Tensor x = Make<float>({0, 3, 4}, {});
  Tensor shape = I64({3, 4, 0});
  OpNode n{"Reshape", {&x, &shape}};
  n.attrs.Set("allowzero", int64_t{1});
  n.opset = 14;
  EXPECT_EQ(n.Out().shape(), (Shape{3, 4, 0}));
  // Without allowzero the 0 copies input dim 2 (4): 48 elements, not 0.
  ExpectInvalid({"Reshape", {&x, &shape}}, {"48"});
}

TEST(TensorOpsTest, ReshapeErrors) {
  Tensor x = Iota<float>({2, 3, 4});
  Tensor bad_count = I64({5, 5});
  ExpectInvalid({"Reshape", {&x, &bad_count}},
                {"n1", "\"shape\"", "[5,5]", "24"});
  Tensor two_minus = I64({-1, -1});
  ExpectInvalid({"Reshape", {&x, &two_minus}}, {"more than one -1"});
  Tensor negative = I64({-2, 12});
  ExpectInvalid({"Reshape", {&x, &negative}}, {"negative"});
  Tensor zero_past_rank = I64({2, 3, 4, 0});
  ExpectInvalid({"Reshape", {&x, &zero_past_rank}}, {"dimension 3"});
  Tensor indivisible = I64({5, -1});
  ExpectInvalid({"Reshape", {&x, &indivisible}}, {"cannot hold"});
  Tensor zero_and_minus = I64({0, -1});
  OpNode allow{"Reshape", {&x, &zero_and_minus}};
  allow.attrs.Set("allowzero", int64_t{1});
  ExpectInvalid(allow, {"allowzero"});
  Tensor float_shape = Make<float>({2}, {4, 6});
  ExpectInvalid({"Reshape", {&x, &float_shape}}, {"int64"});
}

TEST(TensorOpsTest, FlattenAxes) {
  Tensor x = Iota<float>({2, 3, 4, 5});
  for (auto [axis, outer] : std::vector<std::pair<int64_t, int64_t>>{
           {0, 1}, {1, 2}, {2, 6}, {3, 24}, {4, 120}, {-1, 24}, {-4, 1}}) {
    OpNode n{"Flatten", {&x}};
    n.attrs.Set("axis", axis);
    Tensor y = n.Out();
    EXPECT_EQ(y.shape(), (Shape{outer, 120 / outer})) << "axis " << axis;
    EXPECT_EQ(Values<float>(y), Values<float>(x));
  }
  OpNode bad{"Flatten", {&x}};
  bad.attrs.Set("axis", int64_t{5});
  ExpectInvalid(bad, {"\"axis\"", "5"});
}

TEST(TensorOpsTest, SqueezeAttributeAndInput) {
  Tensor x = Iota<float>({1, 3, 1, 2});
  OpNode old_form{"Squeeze", {&x}};
  old_form.opset = 11;
  old_form.attrs.Set("axes", std::vector<int64_t>{0});
  EXPECT_EQ(old_form.Out().shape(), (Shape{3, 1, 2}));
  Tensor axes = I64({-2});
  OpNode new_form{"Squeeze", {&x, &axes}};
  Tensor y = new_form.Out();
  EXPECT_EQ(y.shape(), (Shape{1, 3, 2}));
  EXPECT_EQ(Values<float>(y), Values<float>(x));
  EXPECT_EQ(OpNode({"Squeeze", {&x}}).Out().shape(), (Shape{3, 2}));
}

TEST(TensorOpsTest, SqueezeErrors) {
  Tensor x = Iota<float>({1, 3});
  Tensor not_one = I64({1});
  ExpectInvalid({"Squeeze", {&x, &not_one}}, {"axis 1", "size 3"});
  Tensor out_of_range = I64({2});
  ExpectInvalid({"Squeeze", {&x, &out_of_range}}, {"axis 2", "out of range"});
  Tensor twice = I64({0, -2});
  ExpectInvalid({"Squeeze", {&x, &twice}}, {"twice"});
}

TEST(TensorOpsTest, UnsqueezeAttributeAndInput) {
  Tensor x = Iota<int64_t>({3, 4, 5});
  OpNode old_form{"Unsqueeze", {&x}};
  old_form.opset = 11;
  old_form.attrs.Set("axes", std::vector<int64_t>{3});
  EXPECT_EQ(old_form.Out().shape(), (Shape{3, 4, 5, 1}));
  Tensor axes = I64({5, 4, 2});
  Tensor y = OpNode{"Unsqueeze", {&x, &axes}}.Out();
  EXPECT_EQ(y.shape(), (Shape{3, 4, 1, 5, 1, 1}));
  EXPECT_EQ(Values<int64_t>(y), Values<int64_t>(x));
  Tensor neg = I64({-1});
  EXPECT_EQ(OpNode({"Unsqueeze", {&x, &neg}}).Out().shape(),
            (Shape{3, 4, 5, 1}));
}

TEST(TensorOpsTest, UnsqueezeErrors) {
  Tensor x = Iota<float>({3});
  Tensor twice = I64({0, 0});
  ExpectInvalid({"Unsqueeze", {&x, &twice}}, {"twice"});
  Tensor out_of_range = I64({2});
  ExpectInvalid({"Unsqueeze", {&x, &out_of_range}},
                {"axis 2", "output rank 2"});
  OpNode no_axes{"Unsqueeze", {&x}};
  no_axes.opset = 11;
  ExpectInvalid(no_axes, {"axes"});
}

// ----- Transpose -----

// The reference: out[i] = in[sum(coord_out[k] * in_stride[perm[k]])].
template <typename T>
std::vector<T> NaiveTranspose(const Tensor& in,
                              const std::vector<int64_t>& perm) {
  const Shape& s = in.shape();
  const size_t r = s.size();
  std::vector<int64_t> in_strides(r, 1), out_dims(r);
  for (int64_t k = static_cast<int64_t>(r) - 2; k >= 0; --k)
    in_strides[k] = in_strides[k + 1] * s[k + 1];
  for (size_t k = 0; k < r; ++k) out_dims[k] = s[perm[k]];
  std::vector<T> out(in.num_elements());
  std::vector<int64_t> coord(r, 0);
  for (auto& v : out) {
    int64_t off = 0;
    for (size_t k = 0; k < r; ++k) off += coord[k] * in_strides[perm[k]];
    v = in.data<T>()[off];
    for (int64_t k = static_cast<int64_t>(r) - 1; k >= 0; --k) {
      if (++coord[k] < out_dims[k]) break;
      coord[k] = 0;
    }
  }
  return out;
}

TEST(TensorOpsTest, TransposeDefaultReverses) {
  Tensor x = Iota<float>({2, 3});
  Tensor y = OpNode{"Transpose", {&x}}.Out();
  EXPECT_EQ(y.shape(), (Shape{3, 2}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{0, 3, 1, 4, 2, 5}));
}

template <typename T>
void CheckAllPermutations(const Shape& shape, int threads) {
  Tensor x = Iota<T>(shape);
  std::vector<int64_t> perm(shape.size());
  std::iota(perm.begin(), perm.end(), 0);
  do {
    OpNode n{"Transpose", {&x}};
    n.attrs.Set("perm", perm);
    n.threads = threads;
    Tensor y = n.Out();
    for (size_t k = 0; k < perm.size(); ++k)
      ASSERT_EQ(y.dim(k), shape[perm[k]]);
    ASSERT_EQ(Values<T>(y), NaiveTranspose<T>(x, perm))
        << "perm " << ShapeToString(perm) << " of " << ShapeToString(shape);
  } while (std::next_permutation(perm.begin(), perm.end()));
}

TEST(TensorOpsTest, TransposeAllPermutationsEveryElementSize) {
  CheckAllPermutations<uint8_t>({2, 3, 4}, 1);
  CheckAllPermutations<int16_t>({3, 1, 5, 2}, 1);
  CheckAllPermutations<float>({2, 3, 4, 5}, 1);
  CheckAllPermutations<int64_t>({4, 1, 3, 2}, 1);
  CheckAllPermutations<double>({5, 7, 3}, 1);
}

TEST(TensorOpsTest, TransposeLargeTiledAndThreaded) {
  // Sizes not multiple of the tile exercise partial tiles; threads split tiles.
  CheckAllPermutations<float>({67, 45}, 4);
  CheckAllPermutations<float>({3, 37, 70}, 4);
  CheckAllPermutations<uint8_t>({33, 65}, 2);
  // Attention's [0,2,1,3] keeps rows contiguous.
  Tensor x = Iota<float>({2, 40, 8, 16});
  OpNode n{"Transpose", {&x}};
  n.attrs.Set("perm", std::vector<int64_t>{0, 2, 1, 3});
  n.threads = 4;
  EXPECT_EQ(Values<float>(n.Out()), NaiveTranspose<float>(x, {0, 2, 1, 3}));
}

TEST(TensorOpsTest, TransposeBool) {
  Tensor x = Make<bool>({2, 2}, {true, false, true, true});
  Tensor y = OpNode{"Transpose", {&x}}.Out();
  EXPECT_EQ(Values<bool>(y), (std::vector<bool>{true, true, false, true}));
}

TEST(TensorOpsTest, TransposeBadPerm) {
  Tensor x = Iota<float>({2, 3});
  OpNode dup{"Transpose", {&x}};
  dup.attrs.Set("perm", std::vector<int64_t>{0, 0});
  ExpectInvalid(dup, {"n1", "\"perm\"", "not a permutation"});
  OpNode short_perm{"Transpose", {&x}};
  short_perm.attrs.Set("perm", std::vector<int64_t>{0});
  ExpectInvalid(short_perm, {"rank 2"});
}

// ----- Concat / Split -----

TEST(TensorOpsTest, ConcatAxes) {
  Tensor a = Make<float>({2, 2}, {1, 2, 3, 4});
  Tensor b = Make<float>({2, 1}, {5, 6});
  OpNode n{"Concat", {&a, &b}};
  n.attrs.Set("axis", int64_t{-1});
  Tensor y = n.Out();
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{1, 2, 5, 3, 4, 6}));

  Tensor c = I64({1, 2});
  Tensor d = I64({});
  Tensor e = I64({3});
  OpNode ints{"Concat", {&c, &d, &e}};
  ints.attrs.Set("axis", int64_t{0});
  EXPECT_EQ(Values<int64_t>(ints.Out()), (std::vector<int64_t>{1, 2, 3}));
}

TEST(TensorOpsTest, ConcatErrors) {
  Tensor a = Iota<float>({2, 2});
  Tensor b = Iota<float>({3, 1});
  OpNode mismatch{"Concat", {&a, &b}};
  mismatch.attrs.Set("axis", int64_t{1});
  ExpectInvalid(mismatch, {"n1", "input 1", "[3,1]"});
  Tensor c = Iota<int64_t>({2, 2});
  OpNode dtypes{"Concat", {&a, &c}};
  dtypes.attrs.Set("axis", int64_t{0});
  ExpectInvalid(dtypes, {"int64", "float32"});
  ExpectInvalid({"Concat", {&a, &a}}, {"\"axis\""});
  OpNode bad_axis{"Concat", {&a, &a}};
  bad_axis.attrs.Set("axis", int64_t{2});
  ExpectInvalid(bad_axis, {"axis 2"});
}

TEST(TensorOpsTest, SplitEqualAndVariable) {
  Tensor x = Iota<float>({2, 6});
  OpNode equal{"Split", {&x}};
  equal.attrs.Set("axis", int64_t{1});
  equal.num_outputs = 3;
  auto parts = equal.Run();
  ASSERT_TRUE(parts.ok()) << parts.status();
  EXPECT_EQ(Values<float>((*parts)[0]), (std::vector<float>{0, 1, 6, 7}));
  EXPECT_EQ(Values<float>((*parts)[2]), (std::vector<float>{4, 5, 10, 11}));

  Tensor split = I64({2, 4});
  OpNode input_form{"Split", {&x, &split}};
  input_form.attrs.Set("axis", int64_t{-1});
  input_form.num_outputs = 2;
  parts = input_form.Run();
  ASSERT_TRUE(parts.ok()) << parts.status();
  EXPECT_EQ((*parts)[1].shape(), (Shape{2, 4}));
  EXPECT_EQ(Values<float>((*parts)[1]),
            (std::vector<float>{2, 3, 4, 5, 8, 9, 10, 11}));

  OpNode attr_form{"Split", {&x}};
  attr_form.opset = 11;
  attr_form.attrs.Set("split", std::vector<int64_t>{1, 1});
  attr_form.num_outputs = 2;
  parts = attr_form.Run();
  ASSERT_TRUE(parts.ok()) << parts.status();
  EXPECT_EQ(Values<float>((*parts)[1]),
            (std::vector<float>{6, 7, 8, 9, 10, 11}));

  Tensor empty = Make<float>({0}, {});
  Tensor zeros = I64({0, 0, 0});
  OpNode zero{"Split", {&empty, &zeros}};
  zero.num_outputs = 3;
  parts = zero.Run();
  ASSERT_TRUE(parts.ok()) << parts.status();
  EXPECT_EQ((*parts)[2].shape(), (Shape{0}));
}

TEST(TensorOpsTest, SplitErrors) {
  Tensor x = Iota<float>({6});
  Tensor bad_sum = I64({2, 3});
  OpNode n{"Split", {&x, &bad_sum}};
  n.num_outputs = 2;
  ExpectInvalid(n, {"n1", "[2,3]", "size 6"});
  Tensor wrong_count = I64({6});
  OpNode count{"Split", {&x, &wrong_count}};
  count.num_outputs = 2;
  ExpectInvalid(count, {"2 outputs"});
  OpNode uneven{"Split", {&x}};
  uneven.num_outputs = 4;
  ExpectInvalid(uneven, {"4 equal parts"});
  Tensor negative = I64({-1, 7});
  OpNode neg{"Split", {&x, &negative}};
  neg.num_outputs = 2;
  ExpectInvalid(neg, {"[-1,7]"});
}

// ----- Slice -----

TEST(TensorOpsTest, SliceBasicAndDefaults) {
  Tensor x = Iota<float>({3, 4});
  Tensor starts = I64({1, 1});
  Tensor ends = I64({3, 3});
  Tensor y = OpNode{"Slice", {&x, &starts, &ends}}.Out();
  EXPECT_EQ(y.shape(), (Shape{2, 2}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{5, 6, 9, 10}));
}

TEST(TensorOpsTest, SliceNegativeStepsAndClamping) {
  Tensor x = Iota<int32_t>({3, 4});
  // Rows from the end backwards; columns 3, 1 (step -2 from past the end).
  Tensor starts = I64({-1, 100});
  Tensor ends = I64({-100, 0});
  Tensor axes = I64({0, 1});
  Tensor steps = I64({-1, -2});
  Tensor y = OpNode{"Slice", {&x, &starts, &ends, &axes, &steps}}.Out();
  EXPECT_EQ(y.shape(), (Shape{3, 2}));
  EXPECT_EQ(Values<int32_t>(y), (std::vector<int32_t>{11, 9, 7, 5, 3, 1}));

  Tensor s2 = I64({1000});
  Tensor e2 = I64({1000});
  Tensor a2 = I64({-1});
  EXPECT_EQ(OpNode({"Slice", {&x, &s2, &e2, &a2}}).Out().shape(),
            (Shape{3, 0}));

  Tensor s3 = I64({0});
  Tensor e3 = I64({-1});
  Tensor a3 = I64({1});
  Tensor y3 = OpNode{"Slice", {&x, &s3, &e3, &a3}}.Out();
  EXPECT_EQ(Values<int32_t>(y3),
            (std::vector<int32_t>{0, 1, 2, 4, 5, 6, 8, 9, 10}));
}

TEST(TensorOpsTest, SliceExtremeSteps) {
  Tensor x = Iota<float>({5});
  Tensor starts = I64({INT64_MAX});
  Tensor ends = I64({INT64_MIN});
  Tensor axes = I64({0});
  Tensor steps = I64({INT64_MIN});
  Tensor y = OpNode{"Slice", {&x, &starts, &ends, &axes, &steps}}.Out();
  EXPECT_EQ(Values<float>(y), (std::vector<float>{4}));
  Tensor big = I64({3});
  Tensor y2 = OpNode{"Slice", {&x, &ends, &starts, &axes, &big}}.Out();
  EXPECT_EQ(Values<float>(y2), (std::vector<float>{0, 3}));
}

TEST(TensorOpsTest, SliceOpset9Attributes) {
  Tensor x = Iota<float>({3, 4});
  OpNode n{"Slice", {&x}};
  n.opset = 9;
  n.attrs.Set("starts", std::vector<int64_t>{1});
  n.attrs.Set("ends", std::vector<int64_t>{-1});
  n.attrs.Set("axes", std::vector<int64_t>{1});
  Tensor y = n.Out();
  EXPECT_EQ(y.shape(), (Shape{3, 2}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{1, 2, 5, 6, 9, 10}));
}

TEST(TensorOpsTest, SliceErrors) {
  Tensor x = Iota<float>({3, 4});
  Tensor starts = I64({0});
  Tensor ends = I64({2});
  Tensor axes = I64({0});
  Tensor zero = I64({0});
  ExpectInvalid({"Slice", {&x, &starts, &ends, &axes, &zero}},
                {"n1", "step", "0"});
  Tensor two_ends = I64({1, 2});
  ExpectInvalid({"Slice", {&x, &starts, &two_ends}}, {"differ in length"});
  Tensor bad_axis = I64({2});
  ExpectInvalid({"Slice", {&x, &starts, &ends, &bad_axis}}, {"axis 2"});
  Tensor s2 = I64({0, 0});
  Tensor e2 = I64({1, 1});
  Tensor dup = I64({1, -1});
  ExpectInvalid({"Slice", {&x, &s2, &e2, &dup}}, {"twice"});
  OpNode missing{"Slice", {&x}};
  ExpectInvalid(missing, {"starts"});
}

// ----- Gather -----

TEST(TensorOpsTest, GatherAxesAndNegativeIndices) {
  Tensor x = Iota<float>({3, 3});
  Tensor idx = Make<int64_t>({1, 2}, {0, 2});
  OpNode n{"Gather", {&x, &idx}};
  n.attrs.Set("axis", int64_t{1});
  Tensor y = n.Out();
  EXPECT_EQ(y.shape(), (Shape{3, 1, 2}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{0, 2, 3, 5, 6, 8}));

  Tensor neg = Make<int32_t>({2}, {-1, 0});
  Tensor rows = OpNode{"Gather", {&x, &neg}}.Out();
  EXPECT_EQ(Values<float>(rows), (std::vector<float>{6, 7, 8, 0, 1, 2}));

  Tensor scalar = Make<int64_t>({}, {1});
  Tensor shape = I64({7, 8, 9});
  Tensor picked = OpNode{"Gather", {&shape, &scalar}}.Out();
  EXPECT_EQ(picked.shape(), Shape{});
  EXPECT_EQ(Values<int64_t>(picked), (std::vector<int64_t>{8}));
}

TEST(TensorOpsTest, GatherErrors) {
  Tensor x = Iota<float>({10});
  Tensor idx = I64({0, -11});
  ExpectInvalid({"Gather", {&x, &idx}},
                {"n1", "index -11", "position 1", "size 10"});
  Tensor big = Make<int32_t>({1}, {10});
  ExpectInvalid({"Gather", {&x, &big}}, {"index 10"});
  Tensor float_idx = Make<float>({1}, {0});
  ExpectInvalid({"Gather", {&x, &float_idx}}, {"\"indices\"", "float32"});
  OpNode bad_axis{"Gather", {&x, &idx}};
  bad_axis.attrs.Set("axis", int64_t{1});
  ExpectInvalid(bad_axis, {"axis 1"});
}

// ----- Shape / Size -----

TEST(TensorOpsTest, ShapeStartEnd) {
  Tensor x = Iota<float>({3, 4, 5});
  EXPECT_EQ(Values<int64_t>(OpNode({"Shape", {&x}}).Out()),
            (std::vector<int64_t>{3, 4, 5}));
  OpNode sliced{"Shape", {&x}};
  sliced.attrs.Set("start", int64_t{1});
  sliced.attrs.Set("end", int64_t{-1});
  EXPECT_EQ(Values<int64_t>(sliced.Out()), (std::vector<int64_t>{4}));
  OpNode clipped{"Shape", {&x}};
  clipped.attrs.Set("start", int64_t{-10});
  clipped.attrs.Set("end", int64_t{10});
  EXPECT_EQ(Values<int64_t>(clipped.Out()), (std::vector<int64_t>{3, 4, 5}));
  OpNode empty{"Shape", {&x}};
  empty.attrs.Set("start", int64_t{2});
  empty.attrs.Set("end", int64_t{1});
  EXPECT_EQ(empty.Out().shape(), (Shape{0}));
  EXPECT_TRUE(SchemaRegistry::Global().Find("Shape")->shape_only);
  EXPECT_TRUE(SchemaRegistry::Global().Find("Size")->shape_only);
}

TEST(TensorOpsTest, Size) {
  Tensor x = Iota<uint8_t>({3, 4, 5});
  Tensor y = OpNode{"Size", {&x}}.Out();
  EXPECT_EQ(y.shape(), Shape{});
  EXPECT_EQ(Values<int64_t>(y), (std::vector<int64_t>{60}));
}

// ----- Expand / Tile -----

TEST(TensorOpsTest, ExpandBroadcastsBothWays) {
  Tensor x = Make<float>({3, 1}, {1, 2, 3});
  Tensor shape = I64({2, 1, 2});
  Tensor y = OpNode{"Expand", {&x, &shape}}.Out();
  EXPECT_EQ(y.shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(Values<float>(y),
            (std::vector<float>{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}));
  Tensor smaller = I64({1});
  EXPECT_EQ(OpNode({"Expand", {&x, &smaller}}).Out().shape(), (Shape{3, 1}));
}

TEST(TensorOpsTest, ExpandErrors) {
  Tensor x = Iota<float>({3, 2});
  Tensor incompatible = I64({4, 2});
  ExpectInvalid({"Expand", {&x, &incompatible}},
                {"n1", "\"shape\"", "broadcast"});
  Tensor negative = I64({-1, 2});
  ExpectInvalid({"Expand", {&x, &negative}}, {"negative"});
  Tensor huge = I64({INT64_MAX / 2, 3, 2});
  ExpectInvalid({"Expand", {&x, &huge}}, {"int64"});
}

TEST(TensorOpsTest, TileRepeats) {
  Tensor x = Make<float>({2, 2}, {0, 1, 2, 3});
  Tensor reps = I64({2, 2});
  Tensor y = OpNode{"Tile", {&x, &reps}}.Out();
  EXPECT_EQ(y.shape(), (Shape{4, 4}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{0, 1, 0, 1, 2, 3, 2, 3, 0, 1,
                                                  0, 1, 2, 3, 2, 3}));
  Tensor one_d = Make<int16_t>({3}, {1, 2, 3});
  Tensor three = I64({3});
  EXPECT_EQ(Values<int16_t>(OpNode({"Tile", {&one_d, &three}}).Out()),
            (std::vector<int16_t>{1, 2, 3, 1, 2, 3, 1, 2, 3}));
  Tensor zero = I64({0, 1});
  EXPECT_EQ(OpNode({"Tile", {&x, &zero}}).Out().shape(), (Shape{0, 2}));
}

TEST(TensorOpsTest, TileErrors) {
  Tensor x = Iota<float>({2, 2});
  Tensor negative = I64({1, -1});
  ExpectInvalid({"Tile", {&x, &negative}}, {"n1", "\"repeats\"", "negative"});
  Tensor wrong_len = I64({2});
  ExpectInvalid({"Tile", {&x, &wrong_len}}, {"rank 2"});
  Tensor huge = I64({INT64_MAX, 1});
  ExpectInvalid({"Tile", {&x, &huge}}, {"overflows dimension 0"});
  Tensor many = I64({INT64_MAX / 2, 4});
  ExpectInvalid({"Tile", {&x, &many}}, {"int64"});
}

// ----- ConstantOfShape / Constant / Range -----

TEST(TensorOpsTest, ConstantOfShape) {
  Tensor shape = I64({2, 3});
  Tensor y = OpNode{"ConstantOfShape", {&shape}}.Out();
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(Values<float>(y), std::vector<float>(6, 0.0f));

  OpNode ints{"ConstantOfShape", {&shape}};
  ints.attrs.Set("value", Make<int32_t>({1}, {7}));
  EXPECT_EQ(Values<int32_t>(ints.Out()), std::vector<int32_t>(6, 7));

  Tensor scalar_shape = I64({});
  OpNode scalar{"ConstantOfShape", {&scalar_shape}};
  scalar.attrs.Set("value", Make<double>({1}, {2.5}));
  Tensor s = scalar.Out();
  EXPECT_EQ(s.shape(), Shape{});
  EXPECT_EQ(Values<double>(s), (std::vector<double>{2.5}));
}

TEST(TensorOpsTest, ConstantOfShapeErrors) {
  Tensor negative = I64({2, -3});
  ExpectInvalid({"ConstantOfShape", {&negative}}, {"n1", "negative"});
  Tensor huge = I64({INT64_MAX, 3});
  ExpectInvalid({"ConstantOfShape", {&huge}}, {"int64"});
  Tensor shape = I64({2});
  OpNode two{"ConstantOfShape", {&shape}};
  two.attrs.Set("value", Make<float>({2}, {1, 2}));
  ExpectInvalid(two, {"one element"});
}

TEST(TensorOpsTest, ConstantForms) {
  OpNode tensor{"Constant", {}};
  tensor.attrs.Set("value", Make<float>({2}, {1.5f, 2.5f}));
  EXPECT_EQ(Values<float>(tensor.Out()), (std::vector<float>{1.5f, 2.5f}));
  OpNode f{"Constant", {}};
  f.attrs.Set("value_float", 3.0f);
  EXPECT_EQ(f.Out().shape(), Shape{});
  EXPECT_EQ(Values<float>(f.Out()), (std::vector<float>{3.0f}));
  OpNode fs{"Constant", {}};
  fs.attrs.Set("value_floats", std::vector<float>{1, 2});
  EXPECT_EQ(Values<float>(fs.Out()), (std::vector<float>{1, 2}));
  OpNode i{"Constant", {}};
  i.attrs.Set("value_int", int64_t{-4});
  EXPECT_EQ(Values<int64_t>(i.Out()), (std::vector<int64_t>{-4}));
  OpNode is{"Constant", {}};
  is.attrs.Set("value_ints", std::vector<int64_t>{5, 6, 7});
  EXPECT_EQ(Values<int64_t>(is.Out()), (std::vector<int64_t>{5, 6, 7}));
}

TEST(TensorOpsTest, ConstantErrors) {
  OpNode str{"Constant", {}};
  str.attrs.Set("value_string", std::string("hi"));
  ExpectError(str, StatusCode::kUnimplemented, {"n1", "value_string"});
  OpNode none{"Constant", {}};
  ExpectInvalid(none, {"exactly one"});
  OpNode two{"Constant", {}};
  two.attrs.Set("value_int", int64_t{1});
  two.attrs.Set("value_float", 1.0f);
  ExpectInvalid(two, {"got 2"});
}

TEST(TensorOpsTest, RangeTypes) {
  Tensor s = Make<float>({}, {1});
  Tensor l = Make<float>({}, {5});
  Tensor d = Make<float>({}, {2});
  Tensor y = OpNode{"Range", {&s, &l, &d}}.Out();
  EXPECT_EQ(Values<float>(y), (std::vector<float>{1, 3}));

  Tensor si = Make<int32_t>({}, {10});
  Tensor li = Make<int32_t>({}, {6});
  Tensor di = Make<int32_t>({}, {-3});
  EXPECT_EQ(Values<int32_t>(OpNode({"Range", {&si, &li, &di}}).Out()),
            (std::vector<int32_t>{10, 7}));

  Tensor s64 = Make<int64_t>({}, {0});
  Tensor l64 = Make<int64_t>({}, {-5});
  Tensor d64 = Make<int64_t>({}, {1});
  EXPECT_EQ(OpNode({"Range", {&s64, &l64, &d64}}).Out().shape(), (Shape{0}));
}

TEST(TensorOpsTest, RangeErrors) {
  Tensor s = Make<int64_t>({}, {0});
  Tensor l = Make<int64_t>({}, {5});
  Tensor zero = Make<int64_t>({}, {0});
  ExpectInvalid({"Range", {&s, &l, &zero}}, {"n1", "\"delta\"", "0"});
  Tensor f = Make<float>({}, {1});
  ExpectInvalid({"Range", {&s, &l, &f}}, {"\"delta\"", "float32"});
  Tensor vec = I64({1, 2});
  ExpectInvalid({"Range", {&s, &vec, &s}}, {"\"limit\"", "scalar"});
}

// ----- Pad -----

TEST(TensorOpsTest, PadConstantWithValue) {
  Tensor x = Make<float>({2, 2}, {1, 2, 3, 4});
  Tensor pads = I64({0, 1, 1, 0});
  Tensor value = Make<float>({}, {9});
  Tensor y = OpNode{"Pad", {&x, &pads, &value}}.Out();
  EXPECT_EQ(y.shape(), (Shape{3, 3}));
  EXPECT_EQ(Values<float>(y), (std::vector<float>{9, 1, 2, 9, 3, 4, 9, 9, 9}));
  Tensor y0 = OpNode{"Pad", {&x, &pads}}.Out();
  EXPECT_EQ(Values<float>(y0), (std::vector<float>{0, 1, 2, 0, 3, 4, 0, 0, 0}));
}

TEST(TensorOpsTest, PadReflectAndEdge) {
  Tensor x = Make<int32_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor pads = I64({1, 2, 0, 1});
  OpNode reflect{"Pad", {&x, &pads}};
  reflect.attrs.Set("mode", std::string("reflect"));
  Tensor r = reflect.Out();
  EXPECT_EQ(r.shape(), (Shape{3, 6}));
  EXPECT_EQ(Values<int32_t>(r), (std::vector<int32_t>{6, 5, 4, 5, 6, 5,  //
                                                      3, 2, 1, 2, 3, 2,  //
                                                      6, 5, 4, 5, 6, 5}));
  OpNode edge{"Pad", {&x, &pads}};
  edge.attrs.Set("mode", std::string("edge"));
  EXPECT_EQ(Values<int32_t>(edge.Out()),
            (std::vector<int32_t>{1, 1, 1, 2, 3, 3,  //
                                  1, 1, 1, 2, 3, 3,  //
                                  4, 4, 4, 5, 6, 6}));
}

TEST(TensorOpsTest, PadNegativeCrops) {
  Tensor x = Iota<int64_t>({2, 4});
  Tensor pads = I64({0, -1, 0, 2});
  Tensor y = OpNode{"Pad", {&x, &pads}}.Out();
  EXPECT_EQ(y.shape(), (Shape{2, 5}));
  EXPECT_EQ(Values<int64_t>(y),
            (std::vector<int64_t>{1, 2, 3, 0, 0, 5, 6, 7, 0, 0}));
  // Reflection happens at the cropped edge.
  OpNode reflect{"Pad", {&x, &pads}};
  reflect.attrs.Set("mode", std::string("reflect"));
  EXPECT_EQ(Values<int64_t>(reflect.Out()),
            (std::vector<int64_t>{1, 2, 3, 2, 1, 5, 6, 7, 6, 5}));
}

TEST(TensorOpsTest, PadOpset2Attributes) {
  Tensor x = Make<uint16_t>({2}, {7, 8});
  OpNode n{"Pad", {&x}};
  n.opset = 2;
  n.attrs.Set("pads", std::vector<int64_t>{1, 2});
  n.attrs.Set("value", 3.0f);
  EXPECT_EQ(Values<uint16_t>(n.Out()), (std::vector<uint16_t>{3, 7, 8, 3, 3}));
}

TEST(TensorOpsTest, PadErrors) {
  Tensor x = Iota<float>({2, 3});
  Tensor too_negative = I64({0, -2, 0, -2});
  ExpectInvalid({"Pad", {&x, &too_negative}},
                {"n1", "crop more", "dimension 1"});
  Tensor wrong_len = I64({1, 1});
  ExpectInvalid({"Pad", {&x, &wrong_len}}, {"needs 4"});
  Tensor big = I64({0, 3, 0, 0});
  OpNode reflect{"Pad", {&x, &big}};
  reflect.attrs.Set("mode", std::string("reflect"));
  ExpectInvalid(reflect, {"reflect", "smaller"});
  Tensor pads = I64({0, 1, 0, 0});
  OpNode bad_mode{"Pad", {&x, &pads}};
  bad_mode.attrs.Set("mode", std::string("wrap"));
  ExpectInvalid(bad_mode, {"\"mode\"", "wrap"});
  Tensor int_value = Make<int32_t>({}, {1});
  ExpectInvalid({"Pad", {&x, &pads, &int_value}},
                {"\"constant_value\"", "int32"});
  Tensor empty = Make<float>({0, 2}, {});
  Tensor grow = I64({1, 0, 0, 0});
  OpNode edge{"Pad", {&empty, &grow}};
  edge.attrs.Set("mode", std::string("edge"));
  ExpectInvalid(edge, {"edge", "empty"});
}

TEST(TensorOpsTest, ThreadedCopiesMatchSingleThreaded) {
  Tensor x = Iota<float>({64, 33, 17});
  Tensor pads = I64({1, 2, 3, 2, 1, 0});
  OpNode pad{"Pad", {&x, &pads}};
  pad.attrs.Set("mode", std::string("reflect"));
  OpNode pad4 = pad;
  pad4.threads = 4;
  EXPECT_EQ(Values<float>(pad.Out()), Values<float>(pad4.Out()));
  Tensor starts = I64({60, 1});
  Tensor ends = I64({-70, 30});
  Tensor axes = I64({0, 2});
  Tensor steps = I64({-3, 2});
  OpNode slice{"Slice", {&x, &starts, &ends, &axes, &steps}};
  OpNode slice4 = slice;
  slice4.threads = 4;
  Tensor s1 = slice.Out();
  EXPECT_EQ(s1.shape(), (Shape{21, 33, 8}));
  EXPECT_EQ(Values<float>(s1), Values<float>(slice4.Out()));
  EXPECT_EQ(s1.data<float>()[0], 60 * 33 * 17 + 1);
}

}  // namespace
}  // namespace tensorpod::internal
