// ConvertFloatPrecision: the fp16/bf16 rewrite of a graph.
#include <gtest/gtest.h>

#include "graph/graph.h"
#include "unit/test_models.h"

namespace tensorpod::internal {
namespace {

void ExpectConverted(DType target) {
  auto g = ImportForTest(SmallMlp());
  ASSERT_TRUE(g.ok()) << g.status();
  const int nodes_before = static_cast<int>(g->nodes().size());
  ASSERT_TRUE(ConvertFloatPrecision(&*g, target).ok());
  // One cast in for "x", one out for each of "y" and "h".
  EXPECT_EQ(CountOps(*g, "Cast"), 3);
  EXPECT_EQ(static_cast<int>(g->nodes().size()), nodes_before + 3);
  // Inputs and outputs keep their names and float32.
  for (int id : g->inputs()) EXPECT_EQ(g->values()[id].dtype, DType::kF32) << g->values()[id].name;
  for (int id : g->outputs()) {
    const Value& v = g->values()[id];
    EXPECT_EQ(v.dtype, DType::kF32) << v.name;
    ASSERT_GE(v.producer, 0) << v.name;
    EXPECT_EQ(g->nodes()[v.producer].op_type, "Cast") << v.name;
    EXPECT_EQ(g->nodes()[v.producer].attrs.GetInt("to", 0), 1) << v.name;
  }
  EXPECT_EQ(g->values()[g->outputs()[0]].name, "y");
  // Every float constant is converted, values rounded to the nearest.
  int converted = 0;
  for (const Value& v : g->values()) {
    if (!v.is_constant()) continue;
    EXPECT_NE(v.constant.dtype(), DType::kF32) << v.name;
    if (v.constant.dtype() == target) ++converted;
  }
  EXPECT_EQ(converted, 4);  // two weights, two biases
  // Nodes are still in an order that runs.
  EXPECT_TRUE(g->TopologicalSort().ok());
}

TEST(PrecisionTest, Float16) { ExpectConverted(DType::kF16); }
TEST(PrecisionTest, BFloat16) { ExpectConverted(DType::kBF16); }

TEST(PrecisionTest, RejectsOtherTargets) {
  auto g = ImportForTest(SmallMlp());
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(StatusIs(ConvertFloatPrecision(&*g, DType::kI8), StatusCode::kInvalidArgument, {"int8"}));
}

TEST(PrecisionTest, CastToFloatInsideTheGraphCastsToTheTarget) {
  ModelBuilder b;
  b.Input("x", {2}, onnx::TensorProto::INT64).Output("y", {2});
  auto& n = b.Node("Cast", {"x"}, {"c"});
  SetIntAttr(n, "to", onnx::TensorProto::FLOAT);
  b.Node("Relu", {"c"}, {"y"});
  auto g = ImportForTest(b);
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_TRUE(ConvertFloatPrecision(&*g, DType::kF16).ok());
  int to_half = 0;
  for (const Node& node : g->nodes()) {
    if (node.op_type == "Cast" && node.attrs.GetInt("to", 0) == onnx::TensorProto::FLOAT16) ++to_half;
  }
  EXPECT_EQ(to_half, 1);  // the model's cast; "y" is cast back to float
  EXPECT_EQ(CountOps(*g, "Cast"), 2);
}

}  // namespace
}  // namespace tensorpod::internal
