#include "graph/graph.h"

#include <gtest/gtest.h>

#include "unit/test_models.h"

namespace tensorpod::internal {
namespace {

Node MakeNode(const std::string& op, const std::string& name,
              std::vector<int> in, std::vector<int> out) {
  Node n;
  n.op_type = op;
  n.name = name;
  n.opset = 17;
  n.inputs = std::move(in);
  n.outputs = std::move(out);
  return n;
}

TEST(GraphTest, ValuesAreNamedOnce) {
  Graph g;
  const int a = g.GetOrAddValue("a");
  EXPECT_EQ(g.GetOrAddValue("a"), a);
  EXPECT_EQ(g.FindValue("a"), a);
  EXPECT_EQ(g.FindValue("missing"), -1);
  const int fresh = g.AddValue("a");
  EXPECT_NE(fresh, a);
  EXPECT_NE(g.values()[fresh].name, "a");
  EXPECT_EQ(g.FindValue(g.values()[fresh].name), fresh);
}

TEST(GraphTest, TopologicalSortOrdersProducersFirst) {
  Graph g;
  const int x = g.GetOrAddValue("x"), a = g.GetOrAddValue("a"),
            b = g.GetOrAddValue("b");
  g.inputs() = {x};
  g.outputs() = {b};
  g.nodes().push_back(MakeNode("Relu", "second", {a}, {b}));
  g.nodes().push_back(MakeNode("Relu", "first", {x}, {a}));
  ASSERT_TRUE(g.TopologicalSort().ok());
  ASSERT_EQ(g.nodes().size(), 2u);
  EXPECT_EQ(g.nodes()[0].name, "first");
  EXPECT_EQ(g.nodes()[1].name, "second");
  EXPECT_EQ(g.values()[a].producer, 0);
  EXPECT_EQ(g.values()[b].producer, 1);
  EXPECT_EQ(g.values()[x].producer, -1);
}

TEST(GraphTest, TopologicalSortReportsCycle) {
  Graph g;
  const int x = g.GetOrAddValue("x"), a = g.GetOrAddValue("a"),
            b = g.GetOrAddValue("b"), c = g.GetOrAddValue("c");
  g.inputs() = {x};
  g.outputs() = {c};
  g.nodes().push_back(MakeNode("Add", "loop_a", {x, b}, {a}));
  g.nodes().push_back(MakeNode("Relu", "loop_b", {a}, {b}));
  g.nodes().push_back(MakeNode("Relu", "after", {b}, {c}));
  Status s = g.TopologicalSort();
  EXPECT_TRUE(StatusIs(s, StatusCode::kInvalidArgument,
                       {"cycle", "\"loop_a\"", "\"loop_b\""}));
}

TEST(GraphTest, TopologicalSortReportsTwoProducers) {
  Graph g;
  const int x = g.GetOrAddValue("x"), a = g.GetOrAddValue("a");
  g.inputs() = {x};
  g.outputs() = {a};
  g.nodes().push_back(MakeNode("Relu", "p1", {x}, {a}));
  g.nodes().push_back(MakeNode("Tanh", "p2", {x}, {a}));
  EXPECT_TRUE(StatusIs(g.TopologicalSort(), StatusCode::kInvalidArgument,
                       {"\"a\"", "produced by both", "\"p1\"", "\"p2\""}));
}

TEST(GraphTest, UseCountsCountGraphOutputs) {
  Graph g;
  const int x = g.GetOrAddValue("x"), a = g.GetOrAddValue("a"),
            b = g.GetOrAddValue("b");
  g.inputs() = {x};
  g.outputs() = {a, b};
  g.nodes().push_back(MakeNode("Relu", "r", {x}, {a}));
  g.nodes().push_back(MakeNode("Add", "add", {a, a}, {b}));
  const std::vector<int> uses = g.UseCounts();
  EXPECT_EQ(uses[x], 1);
  EXPECT_EQ(uses[a], 3);
  EXPECT_EQ(uses[b], 1);
}

}  // namespace
}  // namespace tensorpod::internal
