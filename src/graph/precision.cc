// ConvertFloatPrecision: the graph rewrite behind the fp16/bf16 session
// precisions. See Note [Reduced precision].
#include <algorithm>

#include "graph/graph.h"
#include "ops/op_schema.h"

namespace tensorpod::internal {

// Note [Reduced precision]
// In fp16/bf16 mode every float32 tensor of the graph becomes the reduced
// type: float32 constants are converted once here (round to nearest even),
// float32 graph inputs are cast on entry and float32 graph outputs cast back
// on exit, so callers feed and read the model's declared dtypes. Casts to
// float32 inside the graph cast to the reduced type instead. Kernels keep
// float32 accumulation (products, reductions, normalisations). Values a
// node reads on the host while planning (its schema's value_inputs: shapes,
// Resize scales) stay float32.
namespace {

constexpr int64_t kOnnxFloat = 1;

int64_t OnnxCode(DType t) { return OnnxTypeOf(t); }

StatusOr<Tensor> ConvertTensor(const Tensor& t, DType target) {
  TP_ASSIGN_OR_RETURN(Tensor out, Tensor::Uninitialized(target, t.shape()));
  const float* src = t.data<float>();
  uint16_t* dst = out.data<uint16_t>();
  for (int64_t i = 0; i < t.num_elements(); ++i) {
    dst[i] = target == DType::kF16 ? FloatToHalf(src[i]) : FloatToBFloat16(src[i]);
  }
  return out;
}

Node CastNode(const std::string& name, int opset, int from, int to, int64_t onnx_type) {
  Node n;
  n.op_type = "Cast";
  n.name = name;
  n.opset = opset;
  n.attrs.Set("to", onnx_type);
  n.inputs = {from};
  n.outputs = {to};
  return n;
}

}  // namespace

Status ConvertFloatPrecision(Graph* g, DType target) {
  TP_CHECK_ARG(target == DType::kF16 || target == DType::kBF16,
               "reduced precision must be float16 or bfloat16, got " << DTypeName(target));
  const int opset = g->nodes().empty() ? 13 : std::max(13, g->nodes().front().opset);
  const size_t original_values = g->values().size();
  // Which values are read as data and which on the host while planning.
  std::vector<bool> host_read(original_values, false), data_read(original_values, false);
  for (const Node& n : g->nodes()) {
    const OpSchema* schema = SchemaRegistry::Global().Find(n.op_type);
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      const int v = n.inputs[k];
      if (v < 0) continue;
      const bool host = schema != nullptr && std::find(schema->value_inputs.begin(), schema->value_inputs.end(),
                                                       static_cast<int>(k)) != schema->value_inputs.end();
      (host ? host_read : data_read)[v] = true;
    }
  }
  for (int o : g->outputs()) {
    if (g->values()[o].is_constant()) host_read[o] = true;  // returned as is
  }
  // What a host-read value is computed from is read on the host too (it is
  // evaluated while planning): a Resize's scales computed from constants
  // stay float32 all the way. Shape/Size stop the walk.
  std::vector<int> producer(original_values, -1);
  for (size_t i = 0; i < g->nodes().size(); ++i) {
    for (int v : g->nodes()[i].outputs) if (v >= 0) producer[v] = static_cast<int>(i);
  }
  std::vector<bool> host_node(g->nodes().size(), false);
  for (int i = static_cast<int>(g->nodes().size()) - 1; i >= 0; --i) {
    bool feeds_host = false;
    for (int v : g->nodes()[i].outputs) feeds_host = feeds_host || (v >= 0 && host_read[v]);
    if (!feeds_host) continue;
    host_node[i] = true;
    // Shape and Size read only their input's shape: the data stays where it is.
    const OpSchema* schema = SchemaRegistry::Global().Find(g->nodes()[i].op_type);
    if (schema != nullptr && schema->shape_only) continue;
    for (int v : g->nodes()[i].inputs) {
      if (v >= 0) host_read[v] = true;
    }
  }
  // Constants.
  for (size_t v = 0; v < original_values; ++v) {
    Value& val = g->values()[v];
    if (!val.is_constant() || val.constant.dtype() != DType::kF32 || !data_read[v]) continue;
    TP_ASSIGN_OR_RETURN(Tensor converted, ConvertTensor(val.constant, target));
    if (!host_read[v]) {
      val.constant = std::move(converted);
      val.dtype = target;
      continue;
    }
    // Read both ways: data readers get a converted copy.
    const int copy = g->AddValue(val.name + "_lowp");
    Value& c = g->values()[copy];
    c.dtype = target;
    c.has_shape = true;
    c.shape = converted.shape();
    c.constant = std::move(converted);
    for (Node& n : g->nodes()) {
      const OpSchema* schema = SchemaRegistry::Global().Find(n.op_type);
      for (size_t k = 0; k < n.inputs.size(); ++k) {
        const bool host = schema != nullptr && std::find(schema->value_inputs.begin(), schema->value_inputs.end(),
                                                         static_cast<int>(k)) != schema->value_inputs.end();
        if (n.inputs[k] == static_cast<int>(v) && !host) n.inputs[k] = copy;
      }
    }
  }
  // Casts and float-producing nodes inside the graph.
  std::vector<Node> added;
  for (size_t i = 0; i < g->nodes().size(); ++i) {
    Node& n = g->nodes()[i];
    if (host_node[i]) continue;  // computes a value read on the host
    if (n.op_type == "Cast" && n.attrs.GetInt("to", 0) == kOnnxFloat) {
      n.attrs.Set("to", OnnxCode(target));
    } else if (n.op_type == "ConstantOfShape" && !n.outputs.empty() && n.outputs[0] >= 0) {
      const Tensor* value = n.attrs.GetTensor("value");
      if (value == nullptr || value->dtype() != DType::kF32) continue;
      const int out = n.outputs[0];
      const int f32 = g->AddValue(g->values()[out].name + "_f32");
      n.outputs[0] = f32;
      added.push_back(CastNode(n.name + "_lowp", opset, f32, out, OnnxCode(target)));
    }
  }
  // Graph inputs: cast on entry.
  for (int in : g->inputs()) {
    if (g->values()[in].dtype != DType::kF32) continue;
    const int low = g->AddValue(g->values()[in].name + "_lowp");
    g->values()[low].dtype = target;
    for (Node& n : g->nodes()) for (int& x : n.inputs) if (x == in) x = low;
    for (Node& n : added) for (int& x : n.inputs) if (x == in) x = low;
    added.push_back(CastNode(g->values()[in].name + "_to_lowp", opset, in, low, OnnxCode(target)));
  }
  // Graph outputs computed in float32: computed in the reduced type under a
  // new name, cast back into the declared one.
  for (int o : g->outputs()) {
    Value& val = g->values()[o];
    if (val.is_constant() || std::find(g->inputs().begin(), g->inputs().end(), o) != g->inputs().end()) continue;
    if (val.dtype != DType::kF32) continue;  // only declared float32 outputs are cast back
    const int low = g->AddValue(g->values()[o].name + "_lowp");
    g->values()[low].dtype = target;
    for (Node& n : g->nodes()) {
      for (int& x : n.inputs) if (x == o) x = low;
      for (int& x : n.outputs) if (x == o) x = low;
    }
    for (Node& n : added) {
      for (int& x : n.inputs) if (x == o) x = low;
      for (int& x : n.outputs) if (x == o) x = low;
    }
    added.push_back(CastNode(g->values()[o].name + "_to_float", opset, low, o, kOnnxFloat));
  }
  // Declared dtypes of everything in between.
  for (size_t v = 0; v < g->values().size(); ++v) {
    Value& val = g->values()[v];
    const bool io = std::find(g->inputs().begin(), g->inputs().end(), static_cast<int>(v)) != g->inputs().end() ||
                    std::find(g->outputs().begin(), g->outputs().end(), static_cast<int>(v)) != g->outputs().end();
    const bool host = v < original_values && host_read[v];
    if (!io && !host && !val.is_constant() && val.dtype == DType::kF32) val.dtype = target;
  }
  for (Node& n : added) g->nodes().push_back(std::move(n));
  return g->TopologicalSort();
}

}  // namespace tensorpod::internal
