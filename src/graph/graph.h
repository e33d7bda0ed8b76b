// The graph IR: values (tensors flowing between nodes), nodes (ops with
// attributes), and the graph's inputs, outputs and constants. Built by the
// ONNX importer, rewritten by passes, then frozen and read by the planner.
// Not thread-safe while being rewritten; read-only sharing is safe.
#pragma once

#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "ops/attributes.h"

namespace tensorpod::internal {

struct Value {
  std::string name;
  DType dtype = DType::kUndefined;
  bool has_shape = false;            // declared or inferred shape present
  Shape shape;                       // kDynamicDim (-1) for unknown dims
  std::vector<std::string> dim_params;  // symbolic dim names ("batch"), "" if none
  Tensor constant;                   // defined() for initializers and folded values
  int producer = -1;                 // node index, -1 for inputs/constants

  bool is_constant() const { return constant.defined(); }
};

struct Node {
  std::string op_type;  // "Conv"; tensorpod's fused ops are "tp.FusedMatMul" etc.
  std::string name;
  int opset = 0;
  Attributes attrs;
  std::vector<int> inputs;   // value ids, -1 for an omitted optional input
  std::vector<int> outputs;  // value ids, -1 for an omitted optional output
};

class Graph {
 public:
  std::vector<Value>& values() { return values_; }
  const std::vector<Value>& values() const { return values_; }
  std::vector<Node>& nodes() { return nodes_; }
  const std::vector<Node>& nodes() const { return nodes_; }
  std::vector<int>& inputs() { return inputs_; }
  const std::vector<int>& inputs() const { return inputs_; }
  std::vector<int>& outputs() { return outputs_; }
  const std::vector<int>& outputs() const { return outputs_; }

  // Returns the id of the value named `name`, creating it if new.
  int GetOrAddValue(const std::string& name);
  // A fresh value with a unique name derived from `hint`.
  int AddValue(const std::string& hint);
  int FindValue(const std::string& name) const;  // -1 if absent

  // Orders nodes so every input is produced before use and refreshes
  // Value::producer. INVALID_ARGUMENT on a cycle or a value with two
  // producers, naming them.
  Status TopologicalSort();
  // Number of nodes reading each value (graph outputs count as one reader).
  std::vector<int> UseCounts() const;

  int64_t ParameterCount() const;  // elements held by constants

 private:
  std::vector<Value> values_;
  std::vector<Node> nodes_;
  std::vector<int> inputs_;
  std::vector<int> outputs_;
  std::unordered_map<std::string, int> by_name_;
};

// Evaluates a node whose inputs are all known; used by constant folding.
// Returns the outputs in order, or an error (RESOURCE_EXHAUSTED, before
// allocating) when they would exceed `max_output_bytes`.
using NodeEvaluator = std::function<StatusOr<std::vector<Tensor>>(
    const Node& node, const std::vector<const Tensor*>& inputs, size_t max_output_bytes)>;

// Graph passes. Each keeps the graph's inputs/outputs and semantics.
// Removes nodes that no graph output depends on.
Status EliminateDeadNodes(Graph* g);
// Replaces nodes whose inputs are all constant with their outputs. Skips a
// node when `evaluate` fails or when its outputs would be much larger than
// its inputs (Expand, ConstantOfShape of big shapes stay lazy; the limit is
// passed to `evaluate` so nothing that large is ever allocated).
Status FoldConstants(Graph* g, const NodeEvaluator& evaluate);
// Folds BatchNormalization into a preceding Conv with constant weights.
Status FoldConvBatchNorm(Graph* g);
// MatMul + Add(bias) [+ activation] -> tp.FusedMatMul; Gemm/Conv followed
// by an activation take it as their "tp_activation" attribute.
Status FuseBiasActivation(Graph* g);
// Lets float32 4-D tensors with channels a multiple of 16 flow between
// Conv, Relu and Add in the CPU backend's blocked layout (nChw16c): Convs get
// tp_src_blocked / tp_dst_blocked, other readers of a blocked value read it
// through an inserted tp.ToPlain. Graph outputs stay plain.
Status AssignBlockedLayouts(Graph* g);
// Conv + Add(shortcut) [+ Relu] over blocked tensors (after
// AssignBlockedLayouts) -> tp.FusedConv(X, W, B, shortcut); see Note
// [Residual fusion] in passes.cc.
Status FuseConvResidual(Graph* g);
// Softmax(Q K^T * scale + mask) V -> tp.Attention; see Note [Attention
// fusion] in passes.cc. Every session runs it.
Status FuseAttention(Graph* g);
// CPU sessions, after FuseAttention: drops the head-splitting Transposes
// around tp.Attention and sets tp_bshd; see Note [Attention head layout].
Status FoldAttentionTransposes(Graph* g);
// Runs the graph in float16 or bfloat16: float32 constants converted, casts
// at float32 graph inputs and outputs (which keep their names and dtypes).
// See Note [Reduced precision] in precision.cc.
Status ConvertFloatPrecision(Graph* g, DType target);

}  // namespace tensorpod::internal
