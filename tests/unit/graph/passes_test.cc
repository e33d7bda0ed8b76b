#include <gtest/gtest.h>

#include <cmath>

#include "backends/cpu/eval_node.h"
#include "graph/graph.h"
#include "runtime/execution_plan.h"
#include "unit/test_models.h"

namespace tensorpod::internal {
namespace {


const Node* FindNode(const Graph& g, const std::string& op_type) {
  for (const Node& n : g.nodes())
    if (n.op_type == op_type) return &n;
  return nullptr;
}

std::string ValueName(const Graph& g, int id) {
  return id >= 0 ? g.values()[id].name : "<omitted>";
}

// Runs `b` with optimisation on and off on a random input "x" and expects
// the same outputs.
void ExpectSameWithAndWithoutOptimize(const ModelBuilder& b,
                                      const Shape& x_shape, uint32_t seed,
                                      float tolerance = 1e-4f, int threads = 1) {
  const Tensor x = MakeF32(
      x_shape, RandomFloats(NumElementsUnchecked(x_shape), seed, -2.0f, 2.0f));
  SessionOptions on, off;
  on.threads = off.threads = threads;
  off.optimize = false;
  auto s_on = LoadForTest(b, on);
  auto s_off = LoadForTest(b, off);
  ASSERT_TRUE(s_on.ok()) << s_on.status();
  ASSERT_TRUE(s_off.ok()) << s_off.status();
  auto y_on = (*s_on)->Run({"x"}, {x}, {});
  auto y_off = (*s_off)->Run({"x"}, {x}, {});
  ASSERT_TRUE(y_on.ok()) << y_on.status();
  ASSERT_TRUE(y_off.ok()) << y_off.status();
  ASSERT_EQ(y_on->size(), y_off->size());
  for (size_t k = 0; k < y_on->size(); ++k) {
    ASSERT_EQ((*y_on)[k].shape(), (*y_off)[k].shape());
    const auto a = F32Values((*y_on)[k]);
    const auto c = F32Values((*y_off)[k]);
    for (size_t i = 0; i < a.size(); ++i) {
      ASSERT_NEAR(a[i], c[i], tolerance * std::max(1.0f, std::abs(c[i])))
          << "output " << k << " element " << i;
    }
  }
}

// ---- FoldConstants ---------------------------------------------------------

TEST(FoldConstantsTest, FoldsChainsOfConstantNodes) {
  ModelBuilder b;
  b.Input("x", {2, 3}).Output("y", {2, 3});
  b.Initializer("a", {3}, {1, 2, 3}).Initializer("c", {3}, {10, 20, 30});
  b.Node("Add", {"a", "c"}, {"sum"}, "fold_add");
  b.Node("Mul", {"sum", "sum"}, {"sq"}, "fold_mul");
  b.Node("Mul", {"x", "sq"}, {"y"}, "live_mul");
  auto g = ImportForTest(b);
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_EQ(g->nodes().size(), 3u);
  ASSERT_TRUE(FoldConstants(&*g, EvaluateGraphNode).ok());
  ASSERT_EQ(g->nodes().size(), 1u);
  EXPECT_EQ(g->nodes()[0].name, "live_mul");
  const Value& sq = g->values()[g->FindValue("sq")];
  ASSERT_TRUE(sq.is_constant());
  EXPECT_EQ(sq.shape, (Shape{3}));
  EXPECT_EQ(F32Values(sq.constant), (std::vector<float>{121, 484, 1089}));
  EXPECT_EQ(g->values()[g->FindValue("sq")].producer, -1);
}

TEST(FoldConstantsTest, KeepsNodesWhoseEvaluationFails) {
  ModelBuilder b;
  b.Input("x", {3}).Output("y", {3});
  b.Initializer("a", {3}, {1, 2, 3});
  b.Node("Neg", {"a"}, {"na"}, "neg");
  b.Node("Add", {"x", "na"}, {"y"}, "add");
  auto g = ImportForTest(b);
  ASSERT_TRUE(g.ok()) << g.status();
  auto refuse =
      [](const Node& n, const std::vector<const Tensor*>&,
         size_t) -> StatusOr<std::vector<Tensor>> {
    return TP_ERROR(kUnimplemented, "no evaluation for " << n.op_type);
  };
  ASSERT_TRUE(FoldConstants(&*g, refuse).ok());
  EXPECT_EQ(g->nodes().size(), 2u);
  EXPECT_FALSE(g->values()[g->FindValue("na")].is_constant());
}

TEST(FoldConstantsTest, LeavesLargeExpansionsLazy) {
  ModelBuilder b;
  b.Input("x", {1024, 1024}).Output("y", {1024, 1024});
  b.InitializerI64("shape", {2}, {1024, 1024});
  b.Node("ConstantOfShape", {"shape"}, {"zeros"},
         "big_zeros");  // 4 MiB of output from 16 bytes
  b.Node("Add", {"x", "zeros"}, {"y"}, "add");
  auto g = ImportForTest(b);
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_TRUE(FoldConstants(&*g, EvaluateGraphNode).ok());
  EXPECT_EQ(CountOps(*g, "ConstantOfShape"), 1);
  EXPECT_FALSE(g->values()[g->FindValue("zeros")].is_constant());
}

TEST(FoldConstantsTest, DoesNotTouchNodesReadingInputs) {
  auto g = ImportForTest(SmallMlp());
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_TRUE(FoldConstants(&*g, EvaluateGraphNode).ok());
  EXPECT_EQ(g->nodes().size(), 5u);
}

// ---- FoldConvBatchNorm -----------------------------------------------------

ModelBuilder ConvBn(bool conv_bias) {
  ModelBuilder b;
  b.Input("x", {kDynamicDim, 2, 5, 5}).Output("y", {kDynamicDim, 3, 5, 5});
  b.Initializer("w", {3, 2, 3, 3}, RandomFloats(3 * 2 * 3 * 3, 1));
  if (conv_bias) b.Initializer("cb", {3}, RandomFloats(3, 2));
  b.Initializer("scale", {3}, RandomFloats(3, 3, 0.5f, 2.0f));
  b.Initializer("shift", {3}, RandomFloats(3, 4));
  b.Initializer("mean", {3}, RandomFloats(3, 5));
  b.Initializer("var", {3}, RandomFloats(3, 6, 0.25f, 1.5f));
  auto& conv = b.Node("Conv",
                      conv_bias ? std::vector<std::string>{"x", "w", "cb"}
                                : std::vector<std::string>{"x", "w"},
                      {"c"}, "conv");
  SetIntsAttr(conv, "pads", {1, 1, 1, 1});
  SetIntsAttr(conv, "kernel_shape", {3, 3});
  auto& bn = b.Node("BatchNormalization",
                    {"c", "scale", "shift", "mean", "var"}, {"y"}, "bn");
  SetFloatAttr(bn, "epsilon", 1e-3f);
  return b;
}

TEST(FoldConvBatchNormTest, RemovesBatchNormAndRewiresConv) {
  for (bool conv_bias : {true, false}) {
    SCOPED_TRACE(conv_bias ? "conv with bias" : "conv without bias");
    auto g = ImportForTest(ConvBn(conv_bias));
    ASSERT_TRUE(g.ok()) << g.status();
    ASSERT_TRUE(FoldConvBatchNorm(&*g).ok());
    EXPECT_EQ(CountOps(*g, "BatchNormalization"), 0);
    ASSERT_EQ(g->nodes().size(), 1u);
    const Node& conv = g->nodes()[0];
    EXPECT_EQ(conv.op_type, "Conv");
    ASSERT_EQ(conv.inputs.size(), 3u);
    EXPECT_TRUE(g->values()[conv.inputs[1]].is_constant());
    ASSERT_GE(conv.inputs[2], 0);
    EXPECT_TRUE(g->values()[conv.inputs[2]].is_constant());
    EXPECT_EQ(g->values()[conv.inputs[2]].shape, (Shape{3}));
    EXPECT_EQ(ValueName(*g, conv.outputs[0]), "y");
  }
}

TEST(FoldConvBatchNormTest, FoldedConvComputesTheSame) {
  ExpectSameWithAndWithoutOptimize(ConvBn(true), {2, 2, 5, 5}, 7);
  ExpectSameWithAndWithoutOptimize(ConvBn(false), {1, 2, 5, 5}, 8);
}

TEST(FoldConvBatchNormTest, KeepsBatchNormWhenConvOutputHasOtherReaders) {
  ModelBuilder b = ConvBn(true);
  b.Node("Relu", {"c"}, {"r"}, "other_reader");
  b.Output("r", {kDynamicDim, 3, 5, 5});
  auto g = ImportForTest(b);
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_TRUE(FoldConvBatchNorm(&*g).ok());
  EXPECT_EQ(CountOps(*g, "BatchNormalization"), 1);
}

// ---- FuseBiasActivation ----------------------------------------------------

ModelBuilder MatMulBiasRelu(bool bias_first) {
  ModelBuilder b;
  b.Input("x", {kDynamicDim, 4}).Output("y", {kDynamicDim, 5});
  b.Initializer("w", {4, 5}, RandomFloats(20, 21))
      .Initializer("bias", {5}, RandomFloats(5, 22));
  b.Node("MatMul", {"x", "w"}, {"mm"}, "matmul");
  b.Node("Add",
         bias_first ? std::vector<std::string>{"bias", "mm"}
                    : std::vector<std::string>{"mm", "bias"},
         {"pre"}, "add");
  b.Node("Relu", {"pre"}, {"y"}, "relu");
  return b;
}

TEST(FuseBiasActivationTest, MatMulAddReluBecomesOneFusedMatMul) {
  for (bool bias_first : {false, true}) {
    SCOPED_TRACE(bias_first ? "Add(bias, mm)" : "Add(mm, bias)");
    auto g = ImportForTest(MatMulBiasRelu(bias_first));
    ASSERT_TRUE(g.ok()) << g.status();
    ASSERT_TRUE(FuseBiasActivation(&*g).ok());
    ASSERT_EQ(g->nodes().size(), 1u);
    const Node& n = g->nodes()[0];
    EXPECT_EQ(n.op_type, "tp.FusedMatMul");
    ASSERT_EQ(n.inputs.size(), 3u);
    EXPECT_EQ(ValueName(*g, n.inputs[0]), "x");
    EXPECT_EQ(ValueName(*g, n.inputs[1]), "w");
    EXPECT_EQ(ValueName(*g, n.inputs[2]), "bias");
    EXPECT_EQ(ValueName(*g, n.outputs[0]), "y");
    EXPECT_EQ(n.attrs.GetString("tp_activation", ""), "Relu");
    ExpectSameWithAndWithoutOptimize(MatMulBiasRelu(bias_first), {3, 4}, 23);
  }
}

TEST(FuseBiasActivationTest, KeepsAddWhenMatMulOutputIsAGraphOutput) {
  ModelBuilder b = MatMulBiasRelu(false);
  b.Output("mm", {kDynamicDim, 5});
  auto g = ImportForTest(b);
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_TRUE(FuseBiasActivation(&*g).ok());
  EXPECT_EQ(CountOps(*g, "Add"), 1);
  EXPECT_EQ(CountOps(*g, "Relu"), 1);
  ExpectSameWithAndWithoutOptimize(b, {2, 4}, 24);
}

// x * 0.5 * (1 + erf(x / sqrt(2))) in the three arrangements exporters emit.
enum class GeluForm {
  kOuterHalf,  // Mul(Mul(x, Add(Erf(Div(x, s)), 1)), 0.5)
  kInnerHalf,  // Mul(x, Mul(Add(Erf(Div(x, s)), 1), 0.5))
  kHalfFirst,  // Mul(Mul(x, 0.5), Add(1, Erf(Div(x, s)))): PyTorch's x * 0.5 *
               // (1 + erf(...))
};

void AddErfGelu(ModelBuilder& b, const std::string& x, const std::string& y,
                GeluForm form) {
  b.Initializer("sqrt2", {}, {static_cast<float>(std::sqrt(2.0))});
  b.Initializer("one", {}, {1.0f}).Initializer("half", {}, {0.5f});
  b.Node("Div", {x, "sqrt2"}, {"g_div"}, "g_div");
  b.Node("Erf", {"g_div"}, {"g_erf"}, "g_erf");
  switch (form) {
    case GeluForm::kOuterHalf:
      b.Node("Add", {"g_erf", "one"}, {"g_add"}, "g_add");
      b.Node("Mul", {x, "g_add"}, {"g_mul"}, "g_mul");
      b.Node("Mul", {"g_mul", "half"}, {y}, "g_out");
      break;
    case GeluForm::kInnerHalf:
      b.Node("Add", {"g_erf", "one"}, {"g_add"}, "g_add");
      b.Node("Mul", {"g_add", "half"}, {"g_mul"}, "g_mul");
      b.Node("Mul", {x, "g_mul"}, {y}, "g_out");
      break;
    case GeluForm::kHalfFirst:
      b.Node("Add", {"one", "g_erf"}, {"g_add"}, "g_add");
      b.Node("Mul", {x, "half"}, {"g_mul"}, "g_mul");
      b.Node("Mul", {"g_mul", "g_add"}, {y}, "g_out");
      break;
  }
}

ModelBuilder ErfGeluModel(GeluForm form) {
  ModelBuilder b;
  b.Input("x", {kDynamicDim, 6}).Output("y", {kDynamicDim, 6});
  AddErfGelu(b, "x", "y", form);
  return b;
}

void ExpectGeluFused(GeluForm form) {
  auto g = ImportForTest(ErfGeluModel(form));
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_EQ(g->nodes().size(), 5u);
  ASSERT_TRUE(FuseBiasActivation(&*g).ok());
  ASSERT_EQ(g->nodes().size(), 1u) << "first node: " << g->nodes()[0].op_type;
  const Node& n = g->nodes()[0];
  EXPECT_EQ(n.op_type, "Gelu");
  ASSERT_EQ(n.inputs.size(), 1u);
  EXPECT_EQ(ValueName(*g, n.inputs[0]), "x");
  EXPECT_EQ(ValueName(*g, n.outputs[0]), "y");
  ExpectSameWithAndWithoutOptimize(ErfGeluModel(form), {3, 6}, 31);
}

TEST(FuseBiasActivationTest, ErfGeluBecomesGelu) {
  ExpectGeluFused(GeluForm::kOuterHalf);
}
TEST(FuseBiasActivationTest, ErfGeluWithInnerHalfBecomesGelu) {
  ExpectGeluFused(GeluForm::kInnerHalf);
}
TEST(FuseBiasActivationTest, ErfGeluWithHalfFirstBecomesGelu) {
  ExpectGeluFused(GeluForm::kHalfFirst);
}

TEST(FuseBiasActivationTest, ErfGeluWithWrongConstantIsKept) {
  ModelBuilder b;
  b.Input("x", {kDynamicDim, 6}).Output("y", {kDynamicDim, 6});
  b.Initializer("sqrt2", {}, {1.5f})
      .Initializer("one", {}, {1.0f})
      .Initializer("half", {}, {0.5f});
  b.Node("Div", {"x", "sqrt2"}, {"g_div"}, "g_div");
  b.Node("Erf", {"g_div"}, {"g_erf"}, "g_erf");
  b.Node("Add", {"g_erf", "one"}, {"g_add"}, "g_add");
  b.Node("Mul", {"x", "g_add"}, {"g_mul"}, "g_mul");
  b.Node("Mul", {"g_mul", "half"}, {"y"}, "g_out");
  auto g = ImportForTest(b);
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_TRUE(FuseBiasActivation(&*g).ok());
  EXPECT_EQ(CountOps(*g, "Gelu"), 0);
  EXPECT_EQ(g->nodes().size(), 5u);
}

TEST(FuseBiasActivationTest, MatMulAddErfGeluBecomesFusedMatMulWithGelu) {
  ModelBuilder b;
  b.Input("x", {kDynamicDim, 4}).Output("y", {kDynamicDim, 5});
  b.Initializer("w", {4, 5}, RandomFloats(20, 41))
      .Initializer("bias", {5}, RandomFloats(5, 42));
  b.Node("MatMul", {"x", "w"}, {"mm"}, "matmul");
  b.Node("Add", {"mm", "bias"}, {"pre"}, "add");
  AddErfGelu(b, "pre", "y", GeluForm::kOuterHalf);
  auto g = ImportForTest(b);
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_TRUE(FuseBiasActivation(&*g).ok());
  ASSERT_EQ(g->nodes().size(), 1u);
  EXPECT_EQ(g->nodes()[0].op_type, "tp.FusedMatMul");
  EXPECT_EQ(g->nodes()[0].attrs.GetString("tp_activation", ""), "Gelu");
  ExpectSameWithAndWithoutOptimize(b, {4, 4}, 43);
}

// ---- EliminateDeadNodes ----------------------------------------------------

TEST(EliminateDeadNodesTest, RemovesBranchesNoOutputNeeds) {
  ModelBuilder b;
  b.Input("x", {2, 3}).Output("y", {2, 3});
  b.Node("Sigmoid", {"x"}, {"s"}, "dead_sigmoid");
  b.Node("Tanh", {"s"}, {"t"}, "dead_tanh");
  b.Node("Relu", {"x"}, {"r"}, "live_relu");
  b.Node("Neg", {"r"}, {"y"}, "live_neg");
  auto g = ImportForTest(b);
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_EQ(g->nodes().size(), 4u);
  ASSERT_TRUE(EliminateDeadNodes(&*g).ok());
  ASSERT_EQ(g->nodes().size(), 2u);
  EXPECT_EQ(g->nodes()[0].name, "live_relu");
  EXPECT_EQ(g->nodes()[1].name, "live_neg");
  EXPECT_EQ(FindNode(*g, "Sigmoid"), nullptr);
  EXPECT_EQ(g->values()[g->FindValue("y")].producer, 1);
}

TEST(EliminateDeadNodesTest, KeepsMultiOutputNodeWhenOneOutputIsUsed) {
  ModelBuilder b;
  b.Input("x", {2, 4}).Output("y", {2, 2});
  b.InitializerI64("split", {2}, {2, 2});
  auto& split = b.Node("Split", {"x", "split"}, {"left", "right"}, "split");
  SetIntAttr(split, "axis", 1);
  b.Node("Relu", {"right"}, {"y"}, "relu");
  auto g = ImportForTest(b);
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_TRUE(EliminateDeadNodes(&*g).ok());
  EXPECT_EQ(g->nodes().size(), 2u);
  EXPECT_EQ(CountOps(*g, "Split"), 1);
}

}  // namespace
}  // namespace tensorpod::internal

// ---- AssignBlockedLayouts -------------------------------------------------

namespace tensorpod::internal {
namespace {

// x [N,16,8,8] -> Conv 3x3 (16->32) -> Relu -> Conv 3x3 (32->32) -> Conv 1x1
// (32->8) -> y. The first two edges have 32 channels; the last has 8.
ModelBuilder ConvChain() {
  ModelBuilder b;
  b.Input("x", {-1, 16, 8, 8}).Output("y", {-1, 8, 8, 8});
  b.Initializer("w1", {32, 16, 3, 3}, RandomFloats(32 * 16 * 9, 1, -0.2f, 0.2f));
  b.Initializer("b1", {32}, RandomFloats(32, 2));
  b.Initializer("w2", {32, 32, 3, 3}, RandomFloats(32 * 32 * 9, 3, -0.2f, 0.2f));
  b.Initializer("w3", {8, 32, 1, 1}, RandomFloats(8 * 32, 4, -0.5f, 0.5f));
  SetIntsAttr(b.Node("Conv", {"x", "w1", "b1"}, {"c1"}, "conv1"), "pads", {1, 1, 1, 1});
  b.Node("Relu", {"c1"}, {"r1"}, "relu1");
  SetIntsAttr(b.Node("Conv", {"r1", "w2"}, {"c2"}, "conv2"), "pads", {1, 1, 1, 1});
  b.Node("Conv", {"c2", "w3"}, {"y"}, "conv3");
  return b;
}

TEST(AssignBlockedLayoutsTest, MarksConvToConvEdgesWithBlockableChannels) {
  auto g = ImportForTest(ConvChain());
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_TRUE(FuseBiasActivation(&*g).ok());  // Relu joins conv1
  ASSERT_TRUE(AssignBlockedLayouts(&*g).ok());
  auto by_name = [&](const std::string& name) -> const Node* {
    for (const Node& n : g->nodes())
      if (n.name == name) return &n;
    return nullptr;
  };
  const Node* c1 = by_name("conv1");
  const Node* c2 = by_name("conv2");
  const Node* c3 = by_name("conv3");
  ASSERT_TRUE(c1 && c2 && c3);
  EXPECT_EQ(c1->attrs.GetInt("tp_dst_blocked", 0), 1);
  EXPECT_EQ(c2->attrs.GetInt("tp_src_blocked", 0), 1);
  EXPECT_EQ(c2->attrs.GetInt("tp_dst_blocked", 0), 1);
  EXPECT_EQ(c3->attrs.GetInt("tp_src_blocked", 0), 1);
  EXPECT_FALSE(c3->attrs.Has("tp_dst_blocked"));  // y is a graph output
}

TEST(AssignBlockedLayoutsTest, BlockedChainComputesTheSame) {
  for (int64_t batch : {1, 3}) ExpectSameWithAndWithoutOptimize(ConvChain(), {batch, 16, 8, 8}, 11);
}

// x -> Conv 3x3 (16->32) -> Relu -> GlobalAveragePool -> y [N, 32, 1, 1]:
// the pool reads the blocked Conv output itself, no tp.ToPlain between.
ModelBuilder ConvThenGlobalPool() {
  ModelBuilder b;
  b.Input("x", {-1, 16, 6, 5}).Output("y", {-1, 32, 1, 1});
  b.Initializer("w", {32, 16, 3, 3}, RandomFloats(32 * 16 * 9, 71, -0.2f, 0.2f));
  b.Initializer("c", {32}, RandomFloats(32, 72));
  SetIntsAttr(b.Node("Conv", {"x", "w", "c"}, {"h"}, "conv"), "pads", {1, 1, 1, 1});
  b.Node("Relu", {"h"}, {"r"}, "relu");
  b.Node("GlobalAveragePool", {"r"}, {"y"}, "gap");
  return b;
}

TEST(AssignBlockedLayoutsTest, GlobalAveragePoolReadsBlockedInput) {
  auto g = ImportForTest(ConvThenGlobalPool());
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_TRUE(FuseBiasActivation(&*g).ok());
  ASSERT_TRUE(AssignBlockedLayouts(&*g).ok());
  EXPECT_EQ(CountOps(*g, "tp.ToPlain"), 0);
  for (const Node& n : g->nodes()) {
    if (n.op_type == "GlobalAveragePool") EXPECT_EQ(n.attrs.GetInt("tp_src_blocked", 0), 1);
  }
  for (int threads : {1, 2}) {
    for (int64_t batch : {1, 3}) {
      ExpectSameWithAndWithoutOptimize(ConvThenGlobalPool(), {batch, 16, 6, 5}, 73, 1e-5f, threads);
    }
  }
}

// ---- FuseConvResidual ------------------------------------------------------

// x [N,16,8,8] -> Conv 3x3 (16->16) + Relu -> a; a -> Conv 3x3 (16->16) -> c;
// Add(c, a) -> Relu -> Conv 1x1 (16->16) -> Add(d, s) -> y: a ResNet block
// whose shortcut is the first Conv's output, then a second Add with no Relu
// after it and a graph output, which stays plain.
ModelBuilder ResidualBlock(const std::string& add_order = "c,a", bool conv2_bias = true) {
  ModelBuilder b;
  b.Input("x", {-1, 16, 8, 8}).Output("y", {-1, 16, 8, 8});
  b.Initializer("w1", {16, 16, 3, 3}, RandomFloats(16 * 16 * 9, 21, -0.2f, 0.2f));
  b.Initializer("b1", {16}, RandomFloats(16, 22));
  b.Initializer("w2", {16, 16, 3, 3}, RandomFloats(16 * 16 * 9, 23, -0.2f, 0.2f));
  b.Initializer("b2", {16}, RandomFloats(16, 24));
  b.Initializer("w3", {16, 16, 1, 1}, RandomFloats(16 * 16, 25, -0.5f, 0.5f));
  SetIntsAttr(b.Node("Conv", {"x", "w1", "b1"}, {"c1"}, "conv1"), "pads", {1, 1, 1, 1});
  b.Node("Relu", {"c1"}, {"a"}, "relu1");
  if (conv2_bias) {
    SetIntsAttr(b.Node("Conv", {"a", "w2", "b2"}, {"c"}, "conv2"), "pads", {1, 1, 1, 1});
  } else {
    SetIntsAttr(b.Node("Conv", {"a", "w2"}, {"c"}, "conv2"), "pads", {1, 1, 1, 1});
  }
  if (add_order == "c,a") {
    b.Node("Add", {"c", "a"}, {"s0"}, "add1");
  } else {
    b.Node("Add", {"a", "c"}, {"s0"}, "add1");
  }
  b.Node("Relu", {"s0"}, {"s"}, "relu2");
  b.Node("Conv", {"s", "w3"}, {"d"}, "conv3");
  b.Node("Add", {"d", "s"}, {"y"}, "add2");
  return b;
}

TEST(FuseConvResidualTest, FoldsAddAndReluIntoTheConvWhereBothAreBlocked) {
  for (const std::string order : {"c,a", "a,c"}) {
    auto g = ImportForTest(ResidualBlock(order));
    ASSERT_TRUE(g.ok()) << g.status();
    ASSERT_TRUE(FuseBiasActivation(&*g).ok());
    ASSERT_TRUE(AssignBlockedLayouts(&*g).ok());
    ASSERT_TRUE(FuseConvResidual(&*g).ok());
    EXPECT_EQ(CountOps(*g, "tp.FusedConv"), 1) << order;
    EXPECT_EQ(CountOps(*g, "Relu"), 0) << order << ": relu1 joined conv1, relu2 the fused conv";
    // add2 writes the graph output, which is plain: it is not blocked and stays.
    EXPECT_EQ(CountOps(*g, "Add"), 1) << order;
    for (const Node& n : g->nodes()) {
      if (n.op_type != "tp.FusedConv") continue;
      EXPECT_EQ(n.name, "conv2");
      ASSERT_EQ(n.inputs.size(), 4u);
      EXPECT_EQ(g->values()[n.inputs[3]].name, "a");
      EXPECT_EQ(n.attrs.GetString("tp_activation", ""), "Relu");
      EXPECT_EQ(g->values()[n.outputs[0]].name, "s");
    }
  }
}

TEST(FuseConvResidualTest, FusedBlockComputesTheSame) {
  for (const std::string order : {"c,a", "a,c"}) {
    for (int threads : {1, 2}) {
      // Batch 5 on 2 threads: uneven per-thread batch slices (3 + 2 images).
      for (int64_t batch : {1, 2, 5}) {
        ExpectSameWithAndWithoutOptimize(ResidualBlock(order), {batch, 16, 8, 8}, 31, 1e-4f, threads);
        // The fused Conv with no bias input (its input 2 empty).
        ExpectSameWithAndWithoutOptimize(ResidualBlock(order, false), {batch, 16, 8, 8}, 32, 1e-4f, threads);
      }
    }
  }
}

TEST(FuseConvResidualTest, LeavesAConvWithOtherReadersAlone) {
  // c also feeds a second output: the Add cannot take over the Conv's output.
  ModelBuilder b = ResidualBlock();
  b.Output("c", {-1, 16, 8, 8});
  auto g = ImportForTest(b);
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_TRUE(FuseBiasActivation(&*g).ok());
  ASSERT_TRUE(AssignBlockedLayouts(&*g).ok());
  ASSERT_TRUE(FuseConvResidual(&*g).ok());
  EXPECT_EQ(CountOps(*g, "tp.FusedConv"), 0);
}

TEST(FuseConvResidualTest, ABroadcastingShortcutIsAClearErrorNotACrash) {
  // Add(conv_a [N,16,8,8], conv_b [N,16,1,1]) broadcasts: in the blocked
  // layout that cannot be done element by element, so the run fails with a
  // message naming the node and the way out.
  ModelBuilder b;
  b.Input("x", {-1, 16, 8, 8}).Input("s", {-1, 16, 1, 1}).Output("y", {-1, 16, 8, 8});
  b.Initializer("wa", {16, 16, 3, 3}, RandomFloats(16 * 16 * 9, 81, -0.2f, 0.2f));
  b.Initializer("wb", {16, 16, 1, 1}, RandomFloats(16 * 16, 82, -0.2f, 0.2f));
  b.Initializer("wc", {16, 16, 1, 1}, RandomFloats(16 * 16, 83, -0.2f, 0.2f));
  SetIntsAttr(b.Node("Conv", {"x", "wa"}, {"a"}, "conv_a"), "pads", {1, 1, 1, 1});
  b.Node("Conv", {"s", "wb"}, {"c"}, "conv_b");
  b.Node("Add", {"a", "c"}, {"sum"}, "add");
  b.Node("Relu", {"sum"}, {"r"}, "relu");
  b.Node("Conv", {"r", "wc"}, {"y"}, "conv_c");
  SessionOptions on;
  on.threads = 1;
  auto session = LoadForTest(b, on);
  ASSERT_TRUE(session.ok()) << session.status();
  const Tensor x = MakeF32({1, 16, 8, 8}, RandomFloats(16 * 64, 84));
  const Tensor sv = MakeF32({1, 16, 1, 1}, RandomFloats(16, 85));
  auto out = (*session)->Run({"x", "s"}, {x, sv}, {});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kUnimplemented) << out.status();
  EXPECT_NE(out.status().message().find("optimize off"), std::string::npos) << out.status();
  // Without the graph passes the model runs.
  SessionOptions off = on;
  off.optimize = false;
  auto plain = LoadForTest(b, off);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_TRUE((*plain)->Run({"x", "s"}, {x, sv}, {}).ok());
}

// ---- FoldAttentionTransposes ------------------------------------------------

// x [N, 5, 12] -> Q, K, V projections -> Reshape [N, 5, 3, 4] ->
// Transpose(0, 2, 1, 3) (K also (0, 1, 3, 2)) -> scores / 2 + mask ->
// Softmax -> @ V -> Transpose(0, 2, 1, 3) -> Reshape [N, 5, 12] -> y: the
// self-attention of an exported encoder, 3 heads of 4.
ModelBuilder HeadSplitAttention() {
  ModelBuilder b;
  b.Input("x", {-1, 5, 12}).Output("y", {-1, 5, 12});
  b.InitializerI64("split", {4}, {0, 0, 3, 4});
  b.InitializerI64("merge", {3}, {0, 0, 12});
  b.Initializer("two", {}, {2.0f});
  b.Initializer("mask", {1, 1, 1, 5}, {0.0f, 0.0f, -10000.0f, 0.0f, 0.0f});
  for (const char* t : {"q", "k", "v"}) {
    const std::string name(t);
    b.Initializer("w" + name, {12, 12}, RandomFloats(144, static_cast<uint32_t>(name[0]), -0.5f, 0.5f));
    b.Node("MatMul", {"x", "w" + name}, {name + "_p"});
    b.Node("Reshape", {name + "_p", "split"}, {name + "_r"});
    SetIntsAttr(b.Node("Transpose", {name + "_r"}, {name + "_h"}), "perm", {0, 2, 1, 3});
  }
  SetIntsAttr(b.Node("Transpose", {"k_h"}, {"k_t"}), "perm", {0, 1, 3, 2});
  b.Node("MatMul", {"q_h", "k_t"}, {"s0"});
  b.Node("Div", {"s0", "two"}, {"s1"});
  b.Node("Add", {"s1", "mask"}, {"s2"});
  SetIntAttr(b.Node("Softmax", {"s2"}, {"p"}), "axis", -1);
  b.Node("MatMul", {"p", "v_h"}, {"o"});
  SetIntsAttr(b.Node("Transpose", {"o"}, {"o_t"}), "perm", {0, 2, 1, 3});
  b.Node("Reshape", {"o_t", "merge"}, {"y"});
  return b;
}

TEST(FoldAttentionTransposesTest, DropsTheHeadTransposes) {
  auto g = ImportForTest(HeadSplitAttention());
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_TRUE(FuseAttention(&*g).ok());
  ASSERT_EQ(CountOps(*g, "tp.Attention"), 1);
  EXPECT_EQ(CountOps(*g, "Transpose"), 4) << "FuseAttention drops only K's (0, 1, 3, 2)";
  ASSERT_TRUE(FoldAttentionTransposes(&*g).ok());
  EXPECT_EQ(CountOps(*g, "Transpose"), 0);
  for (const Node& n : g->nodes()) {
    if (n.op_type == "tp.Attention") EXPECT_EQ(n.attrs.GetInt("tp_bshd", 0), 1);
  }
}

TEST(FoldAttentionTransposesTest, KeepsTransposesWithOtherReaders) {
  ModelBuilder b = HeadSplitAttention();
  b.Output("q_h", {-1, 3, 5, 4});  // Q's heads are also a graph output
  auto g = ImportForTest(b);
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_TRUE(FuseAttention(&*g).ok());
  ASSERT_TRUE(FoldAttentionTransposes(&*g).ok());
  EXPECT_EQ(CountOps(*g, "Transpose"), 4);
}

// Attention over inputs in [B, S, H, D] whose heads a Transpose(0, 2, 1, 3)
// splits out: the transposes make Q, K and V intermediate values of known
// rank but unstated dtype, so the attention is fused whatever the element
// type. `kv_heads` 1 with 3 query heads is multi-query attention (K and V
// broadcast over the heads). With `merge` the output is transposed back,
// and FoldAttentionTransposes makes the node read and write [B, S, H, D].
ModelBuilder SplitHeadAttention(int32_t elem, int64_t kv_heads, bool merge) {
  ModelBuilder b;
  b.Input("q", {2, 5, 3, 4}, elem).Input("k", {2, 6, kv_heads, 4}, elem).Input("v", {2, 6, kv_heads, 4}, elem);
  b.Output("y", merge ? Shape{2, 5, 3, 4} : Shape{2, 3, 5, 4}, elem);
  for (const char* t : {"q", "k", "v"}) {
    SetIntsAttr(b.Node("Transpose", {t}, {std::string(t) + "_h"}), "perm", {0, 2, 1, 3});
  }
  SetIntsAttr(b.Node("Transpose", {"k_h"}, {"k_t"}), "perm", {0, 1, 3, 2});
  b.Node("MatMul", {"q_h", "k_t"}, {"s"});
  SetIntAttr(b.Node("Softmax", {"s"}, {"p"}), "axis", -1);
  if (merge) {
    b.Node("MatMul", {"p", "v_h"}, {"o"});
    SetIntsAttr(b.Node("Transpose", {"o"}, {"y"}), "perm", {0, 2, 1, 3});
  } else {
    b.Node("MatMul", {"p", "v_h"}, {"y"});
  }
  return b;
}

Tensor RandomTensor(DType dtype, const Shape& shape, uint32_t seed) {
  const std::vector<float> f = RandomFloats(NumElementsUnchecked(shape), seed, -2.0f, 2.0f);
  if (dtype == DType::kF32) return MakeF32(shape, f);
  auto t = Tensor::Uninitialized(DType::kF64, shape);
  EXPECT_TRUE(t.ok());
  for (size_t i = 0; i < f.size(); ++i) t->data<double>()[i] = f[i];
  return std::move(*t);
}

TEST(AttentionFusionCpuTest, MultiQueryAndFloat64MatchTheUnfusedGraph) {
  struct Case { int32_t elem; DType dtype; int64_t kv_heads; bool merge; };
  for (const Case c : {Case{onnx::TensorProto::FLOAT, DType::kF32, 1, false},
                       Case{onnx::TensorProto::FLOAT, DType::kF32, 1, true},
                       Case{onnx::TensorProto::DOUBLE, DType::kF64, 3, false},
                       Case{onnx::TensorProto::DOUBLE, DType::kF64, 3, true},
                       Case{onnx::TensorProto::DOUBLE, DType::kF64, 1, true}}) {
    const ModelBuilder model = SplitHeadAttention(c.elem, c.kv_heads, c.merge);
    auto g = ImportForTest(model);
    ASSERT_TRUE(g.ok()) << g.status();
    ASSERT_TRUE(FuseAttention(&*g).ok());
    EXPECT_EQ(CountOps(*g, "tp.Attention"), 1);
    const std::vector<Tensor> in = {RandomTensor(c.dtype, {2, 5, 3, 4}, 91),
                                    RandomTensor(c.dtype, {2, 6, c.kv_heads, 4}, 92),
                                    RandomTensor(c.dtype, {2, 6, c.kv_heads, 4}, 93)};
    for (int threads : {1, 2}) {
      SessionOptions on, off;
      on.threads = off.threads = threads;
      off.optimize = false;
      auto fused = LoadForTest(model, on);
      auto plain = LoadForTest(model, off);
      ASSERT_TRUE(fused.ok() && plain.ok());
      auto got = (*fused)->Run({"q", "k", "v"}, in, {});
      auto want = (*plain)->Run({"q", "k", "v"}, in, {});
      ASSERT_TRUE(got.ok()) << got.status();
      ASSERT_TRUE(want.ok()) << want.status();
      ASSERT_EQ((*got)[0].shape(), (*want)[0].shape());
      for (int64_t i = 0; i < (*want)[0].num_elements(); ++i) {
        ASSERT_NEAR((*got)[0].GetAsDouble(i), (*want)[0].GetAsDouble(i), 1e-5)
            << "kv_heads " << c.kv_heads << " dtype " << DTypeName(c.dtype) << " merge " << c.merge << " element "
            << i;
      }
    }
  }
}

TEST(FoldAttentionTransposesTest, ComputesTheSame) {
  for (int threads : {1, 2}) {
    for (int64_t batch : {1, 2, 3}) {
      ExpectSameWithAndWithoutOptimize(HeadSplitAttention(), {batch, 5, 12}, 41, 1e-5f, threads);
    }
  }
}

// ---- tp.FusedMatMul with prepacked weights -------------------------------

// x [N, 64] -> MatMul + bias + Relu -> MatMul + bias + Sigmoid -> MatMul -> y:
// with N >= 512 rows every product runs on weights packed once (Note
// [Prepacked MatMul]); the Relu is the kernel's, the Sigmoid a pass after.
ModelBuilder ThreeLayerMlp() {
  ModelBuilder b;
  b.Input("x", {-1, 64}).Output("y", {-1, 24});
  b.Initializer("w1", {64, 48}, RandomFloats(64 * 48, 51, -0.3f, 0.3f));
  b.Initializer("b1", {48}, RandomFloats(48, 52));
  b.Initializer("w2", {48, 40}, RandomFloats(48 * 40, 53, -0.3f, 0.3f));
  b.Initializer("b2", {40}, RandomFloats(40, 54));
  b.Initializer("w3", {40, 24}, RandomFloats(40 * 24, 55, -0.3f, 0.3f));
  b.Node("MatMul", {"x", "w1"}, {"m1"});
  b.Node("Add", {"m1", "b1"}, {"a1"});
  b.Node("Relu", {"a1"}, {"h1"});
  b.Node("MatMul", {"h1", "w2"}, {"m2"});
  b.Node("Add", {"b2", "m2"}, {"a2"});
  b.Node("Sigmoid", {"a2"}, {"h2"});
  b.Node("MatMul", {"h2", "w3"}, {"y"});
  return b;
}

TEST(PackedMatMulTest, ComputesTheSameAboveAndBelowItsRowThreshold) {
  for (int threads : {1, 2}) {
    for (int64_t rows : {3, 511, 512, 700}) {
      ExpectSameWithAndWithoutOptimize(ThreeLayerMlp(), {rows, 64}, 61, 1e-5f, threads);
    }
  }
}

TEST(OnnxImportTest, ReservedAttributePrefixIsRejected) {
  ModelBuilder b;
  b.Input("x", {1, 4}).Output("y", {1, 4});
  SetIntAttr(b.Node("Relu", {"x"}, {"y"}, "r"), "tp_dst_blocked", 1);
  auto g = ImportForTest(b);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), StatusCode::kInvalidArgument);
  // The ONNX checker or tensorpod's own check names the attribute.
  EXPECT_NE(g.status().message().find("tp_dst_blocked"), std::string::npos) << g.status();
}

}  // namespace
}  // namespace tensorpod::internal
