#include <cmath>
#include <cstring>

#include "core/logging.h"
#include "graph/graph.h"

namespace tensorpod::internal {
namespace {

// Drops nodes flagged in `remove` and refreshes producers.
Status Compact(Graph* g, const std::vector<bool>& remove) {
  std::vector<Node> kept;
  kept.reserve(g->nodes().size());
  for (size_t i = 0; i < g->nodes().size(); ++i) {
    if (!remove[i]) kept.push_back(std::move(g->nodes()[i]));
  }
  g->nodes() = std::move(kept);
  return g->TopologicalSort();
}

bool IsGraphOutput(const Graph& g, int v) {
  for (int o : g.outputs()) if (o == v) return true;
  return false;
}

// The single node reading `v`, or -1 if none or several (or a graph output).
int SoleReader(const Graph& g, const std::vector<int>& uses, int v) {
  if (v < 0 || uses[v] != 1 || IsGraphOutput(g, v)) return -1;
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    for (int in : g.nodes()[i].inputs) if (in == v) return static_cast<int>(i);
  }
  return -1;
}

// The index of the node making each value, -1 for inputs and constants.
std::vector<int> Producers(const Graph& g) {
  std::vector<int> producer(g.values().size(), -1);
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    for (int v : g.nodes()[i].outputs) if (v >= 0) producer[v] = static_cast<int>(i);
  }
  return producer;
}

const Tensor* ConstInput(const Graph& g, const Node& n, size_t i) {
  if (i >= n.inputs.size() || n.inputs[i] < 0) return nullptr;
  const Value& v = g.values()[n.inputs[i]];
  return v.is_constant() ? &v.constant : nullptr;
}

bool IsScalarConst(const Tensor* t, double value) {
  return t != nullptr && t->num_elements() == 1 && IsFloatingPoint(t->dtype()) &&
         std::abs(t->GetAsDouble(0) - value) < 1e-4 * std::max(1.0, std::abs(value));
}

int AddConstant(Graph* g, const std::string& hint, Tensor t) {
  const int id = g->AddValue(hint);
  Value& v = g->values()[id];
  v.dtype = t.dtype();
  v.has_shape = true;
  v.shape = t.shape();
  v.constant = std::move(t);
  return id;
}

// Replaces every read of `from` with `to`.
void RewireReaders(Graph* g, int from, int to) {
  for (auto& n : g->nodes()) for (int& in : n.inputs) if (in == from) in = to;
}

}  // namespace

Status EliminateDeadNodes(Graph* g) {
  std::vector<bool> live_value(g->values().size(), false);
  for (int v : g->outputs()) live_value[v] = true;
  std::vector<bool> remove(g->nodes().size(), true);
  for (int i = static_cast<int>(g->nodes().size()) - 1; i >= 0; --i) {
    const Node& n = g->nodes()[i];
    bool live = false;
    for (int v : n.outputs) live = live || (v >= 0 && live_value[v]);
    if (!live) continue;
    remove[i] = false;
    for (int v : n.inputs) if (v >= 0) live_value[v] = true;
  }
  return Compact(g, remove);
}

Status FoldConstants(Graph* g, const NodeEvaluator& evaluate) {
  constexpr size_t kMaxGrowthBytes = size_t{1} << 20;
  std::vector<bool> remove(g->nodes().size(), false);
  for (size_t i = 0; i < g->nodes().size(); ++i) {
    const Node& n = g->nodes()[i];
    std::vector<const Tensor*> inputs;
    bool all_const = true;
    size_t in_bytes = 0;
    for (int v : n.inputs) {
      if (v < 0) {
        inputs.push_back(nullptr);
        continue;
      }
      const Value& val = g->values()[v];
      all_const = all_const && val.is_constant();
      inputs.push_back(val.is_constant() ? &val.constant : nullptr);
      if (val.is_constant()) in_bytes += val.constant.nbytes();
    }
    if (!all_const) continue;
    auto out = evaluate(n, inputs, std::max(2 * in_bytes, kMaxGrowthBytes));
    if (!out.ok()) {
      TP_LOG_DEBUG("not folding node \"{}\": {}", n.name, out.status().ToString());
      continue;
    }
    for (size_t k = 0; k < n.outputs.size() && k < out->size(); ++k) {
      if (n.outputs[k] < 0) continue;
      Value& v = g->values()[n.outputs[k]];
      v.constant = (*out)[k];
      v.dtype = v.constant.dtype();
      v.has_shape = true;
      v.shape = v.constant.shape();
    }
    remove[i] = true;
  }
  return Compact(g, remove);
}

Status FoldConvBatchNorm(Graph* g) {
  std::vector<int> uses = g->UseCounts();
  std::vector<bool> remove(g->nodes().size(), false);
  for (size_t i = 0; i < g->nodes().size(); ++i) {
    Node& conv = g->nodes()[i];
    if (conv.op_type != "Conv" || conv.outputs.empty()) continue;
    const int bn_index = SoleReader(*g, uses, conv.outputs[0]);
    if (bn_index < 0) continue;
    const Node& bn = g->nodes()[bn_index];
    if (bn.op_type != "BatchNormalization" || bn.inputs.size() != 5 || bn.attrs.GetInt("training_mode", 0) != 0) {
      continue;
    }
    const Tensor* w = ConstInput(*g, conv, 1);
    const Tensor* b = ConstInput(*g, conv, 2);
    const Tensor* scale = ConstInput(*g, bn, 1);
    const Tensor* shift = ConstInput(*g, bn, 2);
    const Tensor* mean = ConstInput(*g, bn, 3);
    const Tensor* var = ConstInput(*g, bn, 4);
    if (!w || !scale || !shift || !mean || !var || w->dtype() != DType::kF32 || w->rank() < 3) continue;
    if (conv.inputs.size() > 2 && conv.inputs[2] >= 0 && b == nullptr) continue;
    const int64_t cout = w->dim(0);
    bool ok = true;
    for (const Tensor* t : {scale, shift, mean, var}) ok = ok && t->dtype() == DType::kF32 && t->num_elements() == cout;
    if (b) ok = ok && b->dtype() == DType::kF32 && b->num_elements() == cout;
    if (!ok) continue;
    const float eps = bn.attrs.GetFloat("epsilon", 1e-5f);
    TP_ASSIGN_OR_RETURN(Tensor nw, w->Clone());
    TP_ASSIGN_OR_RETURN(Tensor nb, Tensor::Empty(DType::kF32, {cout}));
    const int64_t per_out = w->num_elements() / cout;
    for (int64_t c = 0; c < cout; ++c) {
      const float s = scale->data<float>()[c] / std::sqrt(var->data<float>()[c] + eps);
      float* wc = nw.data<float>() + c * per_out;
      for (int64_t k = 0; k < per_out; ++k) wc[k] *= s;
      const float bias = b ? b->data<float>()[c] : 0.0f;
      nb.data<float>()[c] = (bias - mean->data<float>()[c]) * s + shift->data<float>()[c];
    }
    const int bn_out = bn.outputs[0];
    const std::string name = conv.name;
    const int w_id = AddConstant(g, name + "_bn_w", std::move(nw));
    const int b_id = AddConstant(g, name + "_bn_b", std::move(nb));
    Node& c2 = g->nodes()[i];  // AddConstant may not move nodes, but re-take the reference anyway
    c2.inputs.resize(3);
    c2.inputs[1] = w_id;
    c2.inputs[2] = b_id;
    c2.outputs[0] = bn_out;
    remove[bn_index] = true;
    uses = g->UseCounts();
  }
  return Compact(g, remove);
}

namespace {

// Recognises GELU in erf form, x * 0.5 * (1 + erf(x / sqrt(2))), written as
// two Muls over the three factors {x, 0.5, 1 + erf(...)} in any grouping
// (PyTorch exports Mul(Mul(x, 0.5), Add(1, Erf(Div(x, 1.414))))). `end` is
// the outer Mul. Returns x and the other matched nodes, or -1.
int MatchErfGelu(const Graph& g, const std::vector<int>& uses, size_t end, std::vector<int>* matched) {
  const auto& nodes = g.nodes();
  const Node& last = nodes[end];
  if (last.op_type != "Mul" || last.inputs.size() != 2) return -1;
  auto producer = [&](int v) { return v >= 0 ? g.values()[v].producer : -1; };
  auto constant = [&](int v) -> const Tensor* {
    return v >= 0 && g.values()[v].is_constant() ? &g.values()[v].constant : nullptr;
  };
  // x if `v` is 1 + erf(x / sqrt(2)) with single-use intermediates.
  auto erf_term = [&](int v, std::vector<int>* nodes_out) -> int {
    const int add = producer(v);
    if (add < 0 || nodes[add].op_type != "Add" || uses[v] != 1 || nodes[add].inputs.size() != 2) return -1;
    for (int s = 0; s < 2; ++s) {
      if (!IsScalarConst(constant(nodes[add].inputs[1 - s]), 1.0)) continue;
      const int erf_id = nodes[add].inputs[s];
      const int erf = producer(erf_id);
      if (erf < 0 || nodes[erf].op_type != "Erf" || uses[erf_id] != 1) continue;
      const int div_id = nodes[erf].inputs[0];
      const int div = producer(div_id);
      if (div < 0 || uses[div_id] != 1 || nodes[div].inputs.size() != 2) continue;
      const Tensor* c = constant(nodes[div].inputs[1]);
      const bool scaled = (nodes[div].op_type == "Div" && IsScalarConst(c, std::sqrt(2.0))) ||
                          (nodes[div].op_type == "Mul" && IsScalarConst(c, 1.0 / std::sqrt(2.0)));
      if (!scaled) continue;
      *nodes_out = {div, erf, add};
      return nodes[div].inputs[0];
    }
    return -1;
  };
  for (int side = 0; side < 2; ++side) {
    const int inner_id = last.inputs[side];
    const int inner = producer(inner_id);
    if (inner < 0 || nodes[inner].op_type != "Mul" || uses[inner_id] != 1 || nodes[inner].inputs.size() != 2) {
      continue;
    }
    const int leaves[3] = {nodes[inner].inputs[0], nodes[inner].inputs[1], last.inputs[1 - side]};
    // Choose which leaf is 0.5 and which is the erf term; the third is x.
    for (int h = 0; h < 3; ++h) {
      if (!IsScalarConst(constant(leaves[h]), 0.5)) continue;
      for (int e = 0; e < 3; ++e) {
        if (e == h) continue;
        std::vector<int> term_nodes;
        const int x = erf_term(leaves[e], &term_nodes);
        if (x < 0 || x != leaves[3 - h - e]) continue;
        *matched = term_nodes;
        matched->push_back(inner);
        return x;
      }
    }
  }
  return -1;
}

bool ActivationFromNode(const Graph& g, const Node& n, Attributes* attrs) {
  static const char* kSimple[] = {"Relu", "Sigmoid", "Tanh", "Gelu"};
  for (const char* k : kSimple) {
    if (n.op_type == k) {
      if (n.op_type == "Gelu" && n.attrs.GetString("approximate", "none") != "none") return false;
      attrs->Set("tp_activation", std::string(k));
      return true;
    }
  }
  if (n.op_type == "LeakyRelu") {
    attrs->Set("tp_activation", std::string("LeakyRelu"));
    attrs->Set("tp_alpha", n.attrs.GetFloat("alpha", 0.01f));
    return true;
  }
  if (n.op_type == "Clip") {
    float lo = -INFINITY, hi = INFINITY;
    if (n.opset < 11) {
      lo = n.attrs.GetFloat("min", lo);
      hi = n.attrs.GetFloat("max", hi);
    } else {
      for (size_t i = 1; i < n.inputs.size(); ++i) {
        if (n.inputs[i] < 0) continue;
        const Tensor* t = ConstInput(g, n, i);
        if (t == nullptr || t->num_elements() != 1 || t->dtype() != DType::kF32) return false;
        (i == 1 ? lo : hi) = t->data<float>()[0];
      }
    }
    attrs->Set("tp_activation", std::string("Clip"));
    attrs->Set("tp_clip_min", lo);
    attrs->Set("tp_clip_max", hi);
    return true;
  }
  return false;
}

}  // namespace

Status FuseBiasActivation(Graph* g) {
  // 1. Erf-form GELU subgraphs -> Gelu.
  {
    std::vector<int> uses = g->UseCounts();
    std::vector<bool> remove(g->nodes().size(), false);
    for (size_t i = 0; i < g->nodes().size(); ++i) {
      std::vector<int> matched;
      const int x = MatchErfGelu(*g, uses, i, &matched);
      if (x < 0) continue;
      bool free = true;
      for (int m : matched) free = free && !remove[m];
      if (!free) continue;
      for (int m : matched) remove[m] = true;
      Node& n = g->nodes()[i];
      n.op_type = "Gelu";
      n.attrs = Attributes();
      n.inputs = {x};
    }
    TP_RETURN_IF_ERROR(Compact(g, remove));
  }
  // 2. Gemm with constant weights (transA=0, alpha=beta=1, C absent or a
  // row vector) -> tp.FusedMatMul over W laid out [K,N]: the weights are
  // transposed once here instead of on every call.
  for (Node& n : g->nodes()) {
    if (n.op_type != "Gemm" || n.inputs.size() < 2 || n.attrs.GetInt("transA", 0) != 0 ||
        n.attrs.GetFloat("alpha", 1.0f) != 1.0f || n.attrs.GetFloat("beta", 1.0f) != 1.0f) {
      continue;
    }
    const Tensor* w = ConstInput(*g, n, 1);
    if (w == nullptr || w->rank() != 2 || w->dtype() != DType::kF32) continue;
    const bool trans_b = n.attrs.GetInt("transB", 0) != 0;
    const int64_t out_features = trans_b ? w->dim(0) : w->dim(1);
    const Tensor* c = n.inputs.size() > 2 && n.inputs[2] >= 0 ? ConstInput(*g, n, 2) : nullptr;
    if (n.inputs.size() > 2 && n.inputs[2] >= 0) {
      bool row = c != nullptr && c->dtype() == DType::kF32 && c->num_elements() == out_features;
      for (int64_t d = 0; row && d + 1 < c->rank(); ++d) row = c->dim(d) == 1;
      if (!row || c->rank() == 0) continue;
    }
    int w_id = n.inputs[1];
    if (trans_b) {
      const int64_t rows = w->dim(0), cols = w->dim(1);
      TP_ASSIGN_OR_RETURN(Tensor wt, Tensor::Uninitialized(DType::kF32, {cols, rows}));
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t k = 0; k < cols; ++k) wt.data<float>()[k * rows + r] = w->data<float>()[r * cols + k];
      }
      w_id = AddConstant(g, g->values()[n.inputs[1]].name + "_t", std::move(wt));
    }
    std::vector<int> inputs = {n.inputs[0], w_id};
    if (c != nullptr) {
      inputs.push_back(c->rank() == 1 ? n.inputs[2]
                                      : AddConstant(g, g->values()[n.inputs[2]].name + "_1d",
                                                    c->Reshaped({c->num_elements()})));
    }
    Attributes attrs;
    for (const char* k : {"tp_activation", "tp_alpha", "tp_clip_min", "tp_clip_max"}) {
      if (n.attrs.Has(k)) attrs.Set(k, n.attrs.map().at(k));
    }
    n.op_type = "tp.FusedMatMul";
    n.inputs = std::move(inputs);
    n.attrs = std::move(attrs);
  }
  // 3. MatMul(A, W) + Add(bias) -> tp.FusedMatMul.
  {
    std::vector<int> uses = g->UseCounts();
    std::vector<bool> remove(g->nodes().size(), false);
    for (size_t i = 0; i < g->nodes().size(); ++i) {
      Node& mm = g->nodes()[i];
      if (mm.op_type != "MatMul" || mm.inputs.size() != 2) continue;
      const Tensor* w = ConstInput(*g, mm, 1);
      if (w == nullptr || w->rank() != 2 || w->dtype() != DType::kF32) continue;
      // MatMul's inputs share one dtype, so a float32 W means a float32 A.
      mm.op_type = "tp.FusedMatMul";
      const int add_index = SoleReader(*g, uses, mm.outputs[0]);
      if (add_index < 0 || g->nodes()[add_index].op_type != "Add") continue;
      const Node& add = g->nodes()[add_index];
      const int bias_side = add.inputs[0] == mm.outputs[0] ? 1 : 0;
      const Tensor* bias = ConstInput(*g, add, bias_side);
      if (bias == nullptr || bias->dtype() != DType::kF32 || bias->num_elements() != w->dim(1)) continue;
      bool trailing = true;
      for (int64_t d = 0; d + 1 < bias->rank(); ++d) trailing = trailing && bias->dim(d) == 1;
      if (!trailing || bias->rank() == 0) continue;
      // tp.FusedMatMul takes the bias as [N].
      const int bias_id = bias->rank() == 1
                              ? add.inputs[bias_side]
                              : AddConstant(g, g->values()[add.inputs[bias_side]].name + "_1d",
                                            bias->Reshaped({bias->num_elements()}));
      const int out = add.outputs[0];
      Node& m2 = g->nodes()[i];
      m2.inputs.push_back(bias_id);
      m2.outputs[0] = out;
      remove[add_index] = true;
    }
    TP_RETURN_IF_ERROR(Compact(g, remove));
  }
  // 4. Activation after FusedMatMul / Gemm / Conv -> attribute.
  {
    std::vector<int> uses = g->UseCounts();
    std::vector<bool> remove(g->nodes().size(), false);
    for (size_t i = 0; i < g->nodes().size(); ++i) {
      Node& n = g->nodes()[i];
      if (n.op_type != "tp.FusedMatMul" && n.op_type != "Gemm" && n.op_type != "Conv") continue;
      if (n.attrs.Has("tp_activation") || n.outputs.empty()) continue;
      const int act_index = SoleReader(*g, uses, n.outputs[0]);
      if (act_index < 0 || remove[act_index]) continue;
      const Node& act = g->nodes()[act_index];
      Attributes fused = n.attrs;
      if (!ActivationFromNode(*g, act, &fused)) continue;
      const int out = act.outputs[0];
      n.attrs = std::move(fused);
      n.outputs[0] = out;
      remove[act_index] = true;
    }
    TP_RETURN_IF_ERROR(Compact(g, remove));
  }
  return Status::Ok();
}

namespace {

// A 2-D MaxPool whose geometry the CPU backend's oneDNN pooling runs (no
// dilation, no ceil_mode, pads smaller than the window), so it can pool
// blocked data.
bool OneDnnPoolable(const Node& n) {
  const std::vector<int64_t> kernel = n.attrs.GetInts("kernel_shape");
  if (kernel.size() != 2 || n.attrs.GetInt("ceil_mode", 0) != 0) return false;
  for (int64_t d : n.attrs.GetInts("dilations")) if (d != 1) return false;
  const std::vector<int64_t> pads = n.attrs.GetInts("pads", {0, 0, 0, 0});
  if (pads.size() != 4) return false;
  for (size_t i = 0; i < 4; ++i) if (pads[i] < 0 || pads[i] >= kernel[i % 2]) return false;
  return n.attrs.GetString("auto_pad", "NOTSET") == "NOTSET";
}

}  // namespace

Status AssignBlockedLayouts(Graph* g) {
  std::vector<bool> is_output(g->values().size(), false);
  for (int v : g->outputs()) is_output[v] = true;
  // Channel count of each value where known from the Conv that made it.
  std::vector<int64_t> channels(g->values().size(), 0);
  std::vector<bool> blocked(g->values().size(), false);
  auto blockable = [&](int v) { return v >= 0 && !is_output[v] && channels[v] > 0 && channels[v] % 16 == 0; };
  for (Node& n : g->nodes()) {
    if (n.outputs.size() != 1 || n.outputs[0] < 0) continue;
    const int out = n.outputs[0];
    if (n.op_type == "Conv") {
      const Tensor* w = ConstInput(*g, n, 1);
      if (w == nullptr || w->rank() != 4 || w->dtype() != DType::kF32) continue;
      channels[out] = w->dim(0);
      blocked[out] = blockable(out);
    } else if (n.op_type == "MaxPool" && n.inputs.size() == 1 && n.inputs[0] >= 0 &&
               OneDnnPoolable(n)) {
      channels[out] = channels[n.inputs[0]];
      blocked[out] = blocked[n.inputs[0]] && blockable(out);
      if (blocked[out]) n.attrs.Set("tp_blocked", int64_t{1});
    } else if (n.op_type == "Relu" && n.inputs.size() == 1 && n.inputs[0] >= 0) {
      channels[out] = channels[n.inputs[0]];
      blocked[out] = blocked[n.inputs[0]] && blockable(out);
    } else if (n.op_type == "Add" && n.inputs.size() == 2 && n.inputs[0] >= 0 && n.inputs[1] >= 0 &&
               channels[n.inputs[0]] == channels[n.inputs[1]]) {
      channels[out] = channels[n.inputs[0]];
      blocked[out] = blocked[n.inputs[0]] && blocked[n.inputs[1]] && blockable(out);
      // Element-wise over blocked data is only right without broadcasting;
      // the planner checks this attribute against the concrete shapes.
      if (blocked[out]) n.attrs.Set("tp_same_shape", int64_t{1});
    }
  }
  // Readers that take a blocked input as it is; every other reader gets the
  // value through one tp.ToPlain.
  auto takes_blocked = [&](const Node& n, size_t input) {
    if (n.op_type == "Conv") return input == 0 && n.outputs.size() == 1;
    // Its [N, C, 1, 1] output has the same bytes in both layouts.
    if (n.op_type == "GlobalAveragePool") return input == 0 && n.outputs.size() == 1;
    if (n.op_type == "Relu" || n.op_type == "Add" || n.op_type == "MaxPool") {
      return n.outputs.size() == 1 && blocked[n.outputs[0]];
    }
    return false;
  };
  std::vector<int> plain_copy(g->values().size(), -1);
  std::vector<Node> added;
  for (Node& n : g->nodes()) {
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      const int v = n.inputs[k];
      if (v < 0 || !blocked[v] || takes_blocked(n, k)) continue;
      if (plain_copy[v] < 0) {
        plain_copy[v] = g->AddValue(g->values()[v].name + "_plain");
        Node to_plain;
        to_plain.op_type = "tp.ToPlain";
        to_plain.name = g->values()[v].name + "_to_plain";
        to_plain.opset = n.opset;
        to_plain.inputs = {v};
        to_plain.outputs = {plain_copy[v]};
        added.push_back(std::move(to_plain));
      }
      n.inputs[k] = plain_copy[v];
    }
    if (n.op_type == "GlobalAveragePool" && n.inputs.size() == 1 && n.inputs[0] >= 0 && blocked[n.inputs[0]]) {
      n.attrs.Set("tp_src_blocked", int64_t{1});
    }
    if (n.op_type == "Conv" && n.outputs.size() == 1 && n.outputs[0] >= 0) {
      if (n.inputs[0] >= 0 && blocked[n.inputs[0]]) n.attrs.Set("tp_src_blocked", int64_t{1});
      if (blocked[n.outputs[0]]) n.attrs.Set("tp_dst_blocked", int64_t{1});
    }
  }
  for (Node& n : added) g->nodes().push_back(std::move(n));
  return g->TopologicalSort();
}

// Note [Residual fusion]
// After AssignBlockedLayouts, a ResNet block ends in
//   y = Conv(...)  (no activation, output in nChw16c)
//   s = Add(y, shortcut)  (tp_same_shape: both blocked, equal shapes)
//   r = Relu(s)           (optional)
// which becomes r = tp.FusedConv(X, W, B, shortcut) with the Relu as its
// tp_activation: the convolution's kernel adds the shortcut and applies the
// activation while the output is still in cache, instead of two more
// kernels each reading and writing the whole tensor. The shortcut has the
// output's shape and blocked layout (shape inference of tp.FusedConv checks
// the shape), so the add is element by element over the two buffers.
Status FuseConvResidual(Graph* g) {
  const std::vector<int> producer = Producers(*g);
  const std::vector<int> uses = g->UseCounts();
  std::vector<bool> remove(g->nodes().size(), false);
  for (size_t ai = 0; ai < g->nodes().size(); ++ai) {
    const Node& add = g->nodes()[ai];
    if (add.op_type != "Add" || add.inputs.size() != 2 || add.outputs.size() != 1 ||
        add.attrs.GetInt("tp_same_shape", 0) == 0) {
      continue;
    }
    for (int side = 0; side < 2; ++side) {
      const int y = add.inputs[side], shortcut = add.inputs[1 - side];
      const int ci = producer[y];
      if (ci < 0 || remove[ci] || y == shortcut || SoleReader(*g, uses, y) != static_cast<int>(ai)) continue;
      Node& conv = g->nodes()[ci];
      if (conv.op_type != "Conv" || conv.outputs.size() != 1 || conv.attrs.Has("tp_activation") ||
          conv.attrs.GetInt("tp_dst_blocked", 0) == 0) {
        continue;
      }
      int out = add.outputs[0];
      const int relu = SoleReader(*g, uses, out);
      if (relu >= 0 && !remove[relu] && g->nodes()[relu].op_type == "Relu" && !IsGraphOutput(*g, out)) {
        conv.attrs.Set("tp_activation", std::string("Relu"));
        out = g->nodes()[relu].outputs[0];
        remove[relu] = true;
      }
      conv.op_type = "tp.FusedConv";
      conv.inputs.resize(3, -1);
      conv.inputs.push_back(shortcut);
      conv.outputs[0] = out;
      remove[ai] = true;
      break;
    }
  }
  TP_RETURN_IF_ERROR(Compact(g, remove));
  return g->TopologicalSort();
}

// Note [Attention fusion]
// The encoder's self-attention, as exporters write it:
//   scores = MatMul(Q, Transpose(K, swap last two))
//   scores = Div(scores, c) | Mul(scores, c)      (optional, c a constant scalar)
//   scores = Add(scores, mask)                     (optional, either order)
//   probs  = Softmax(scores, axis = last)
//   out    = MatMul(probs, V)
// becomes out = tp.Attention(Q, K, V[, mask]) with tp_scale = 1/c or c,
// when every intermediate value has that one reader and Q, K^T and V have
// rank 3 or 4. One kernel then computes the scores block by block without
// writing them to memory.
namespace {

// A value's rank when the graph tells it: a declared shape, or the
// producing Transpose's perm; -1 when unknown.
int KnownRank(const Graph& g, const std::vector<int>& producer, int v) {
  const Value& val = g.values()[v];
  if (val.has_shape) return static_cast<int>(val.shape.size());
  const int p = producer[v];
  if (p >= 0 && g.nodes()[p].op_type == "Transpose" && g.nodes()[p].attrs.Has("perm")) {
    return static_cast<int>(g.nodes()[p].attrs.GetInts("perm").size());
  }
  return -1;
}

bool FloatOrUnknown(const Graph& g, int v) {
  const DType t = g.values()[v].dtype;
  return t == DType::kUndefined || t == DType::kF32;
}

}  // namespace

Status FuseAttention(Graph* g) {
  const std::vector<int> producer = Producers(*g);
  const std::vector<int> uses = g->UseCounts();
  std::vector<bool> remove(g->nodes().size(), false);
  auto sole_producer = [&](int v, int reader) -> int {
    // The node making v, when `reader` is v's only reader.
    if (v < 0 || SoleReader(*g, uses, v) != reader) return -1;
    return producer[v];
  };
  for (size_t si = 0; si < g->nodes().size(); ++si) {
    const Node& sm = g->nodes()[si];
    if (sm.op_type != "Softmax" || sm.inputs.size() != 1 || sm.outputs.size() != 1) continue;
    const int out_index = SoleReader(*g, uses, sm.outputs[0]);
    if (out_index < 0) continue;
    const Node& mm2 = g->nodes()[out_index];
    if (mm2.op_type != "MatMul" || mm2.inputs.size() != 2 || mm2.inputs[0] != sm.outputs[0]) continue;
    std::vector<int> matched = {static_cast<int>(si)};
    // Optional mask.
    int scores = sm.inputs[0];
    int mask = -1;
    int at = sole_producer(scores, static_cast<int>(si));
    if (at < 0) continue;
    if (g->nodes()[at].op_type == "Add" && g->nodes()[at].inputs.size() == 2) {
      const Node& add = g->nodes()[at];
      int side = -1;
      for (int s2 = 0; s2 < 2 && side < 0; ++s2) {
        const int p = producer[add.inputs[s2]];
        if (p >= 0 && SoleReader(*g, uses, add.inputs[s2]) == at) {
          const std::string& op = g->nodes()[p].op_type;
          if (op == "Div" || op == "Mul" || op == "MatMul") side = s2;
        }
      }
      if (side < 0 || !FloatOrUnknown(*g, add.inputs[1 - side])) continue;
      mask = add.inputs[1 - side];
      matched.push_back(at);
      scores = add.inputs[side];
      at = producer[scores];
    }
    // Optional scale.
    float scale = 1.0f;
    if (g->nodes()[at].op_type == "Div" || g->nodes()[at].op_type == "Mul") {
      const Node& sc = g->nodes()[at];
      if (sc.inputs.size() != 2) continue;
      const bool div = sc.op_type == "Div";
      int side = -1;
      for (int s2 = div ? 1 : 0; s2 < 2 && side < 0; ++s2) {
        const Tensor* c = ConstInput(*g, sc, s2);
        if (c != nullptr && c->num_elements() == 1 && c->dtype() == DType::kF32 && c->GetAsDouble(0) != 0.0) {
          side = s2;
        }
      }
      if (side < 0) continue;
      const double c = ConstInput(*g, sc, side)->GetAsDouble(0);
      scale = static_cast<float>(div ? 1.0 / c : c);
      matched.push_back(at);
      scores = sc.inputs[1 - side];
      at = sole_producer(scores, at);
      if (at < 0) continue;
    }
    const Node& mm = g->nodes()[at];
    if (mm.op_type != "MatMul" || mm.inputs.size() != 2 || SoleReader(*g, uses, scores) < 0) continue;
    matched.push_back(at);
    const int q = mm.inputs[0], kt = mm.inputs[1], v = mm2.inputs[1];
    const int tr = producer[kt];
    if (tr < 0 || g->nodes()[tr].op_type != "Transpose") continue;
    const std::vector<int64_t> perm = g->nodes()[tr].attrs.GetInts("perm");
    const int rank = static_cast<int>(perm.size());
    if (rank != 3 && rank != 4) continue;
    bool swap_last = true;
    for (int d = 0; d < rank; ++d) {
      const int want = d == rank - 2 ? rank - 1 : d == rank - 1 ? rank - 2 : d;
      swap_last = swap_last && perm[d] == want;
    }
    if (!swap_last) continue;
    const int k = g->nodes()[tr].inputs[0];
    if (KnownRank(*g, producer, q) != rank || KnownRank(*g, producer, v) != rank) continue;
    if (!FloatOrUnknown(*g, q) || !FloatOrUnknown(*g, v)) continue;
    // Softmax over the last axis (opset 13 defaults to it; older opsets
    // flatten at axis 1 unless told otherwise).
    const int64_t axis = sm.attrs.GetInt("axis", sm.opset >= 13 ? -1 : 1);
    if (axis != -1 && axis != rank - 1) continue;
    bool free = !remove[out_index];
    for (int m : matched) free = free && !remove[m];
    if (!free) continue;
    for (int m : matched) remove[m] = true;
    if (SoleReader(*g, uses, kt) == at) remove[tr] = true;
    Node& fused = g->nodes()[out_index];
    fused.op_type = "tp.Attention";
    fused.inputs = {q, k, v};
    if (mask >= 0) fused.inputs.push_back(mask);
    fused.attrs = Attributes();
    fused.attrs.Set("tp_scale", scale);
  }
  return Compact(g, remove);
}

// Note [Attention head layout]
// Exporters split heads with Reshape [B, S, H, D] + Transpose(0, 2, 1, 3)
// on each of Q, K and V, and merge them back with Transpose(0, 2, 1, 3) +
// Reshape after attention: four copies of activations per layer. The CPU
// kernel reads each (batch, head) block in place from the [B, S, H, D]
// tensors (a row stride of H * D) and writes the output the same way, so
// where all four transposes have tp.Attention as their only reader or
// writer they are dropped and the node gets tp_bshd = 1. GPU sessions keep
// the transposes (their kernel reads [B, H, S, D]).
Status FoldAttentionTransposes(Graph* g) {
  const std::vector<int> producer = Producers(*g);
  const std::vector<int> uses = g->UseCounts();
  std::vector<bool> remove(g->nodes().size(), false);
  auto swaps_seq_and_heads = [&](int node) {
    if (node < 0 || remove[node]) return false;
    const Node& n = g->nodes()[node];
    return n.op_type == "Transpose" && n.inputs.size() == 1 && n.outputs.size() == 1 && n.attrs.Has("perm") &&
           n.attrs.GetInts("perm") == std::vector<int64_t>{0, 2, 1, 3};
  };
  for (size_t ai = 0; ai < g->nodes().size(); ++ai) {
    Node& att = g->nodes()[ai];
    if (att.op_type != "tp.Attention" || att.attrs.GetInt("tp_bshd", 0) != 0 || att.outputs.size() != 1) continue;
    int split[3];
    bool ok = true;
    for (int i = 0; i < 3 && ok; ++i) {
      const int v = att.inputs[i];
      split[i] = v >= 0 ? producer[v] : -1;
      ok = swaps_seq_and_heads(split[i]) && SoleReader(*g, uses, v) == static_cast<int>(ai);
    }
    // Q, K and V from three different transposes (K == V would share one).
    ok = ok && split[0] != split[1] && split[1] != split[2] && split[0] != split[2];
    const int merge = ok ? SoleReader(*g, uses, att.outputs[0]) : -1;
    if (!ok || !swaps_seq_and_heads(merge) || IsGraphOutput(*g, att.outputs[0])) continue;
    for (int i = 0; i < 3; ++i) {
      att.inputs[i] = g->nodes()[split[i]].inputs[0];
      remove[split[i]] = true;
    }
    att.outputs[0] = g->nodes()[merge].outputs[0];
    remove[merge] = true;
    att.attrs.Set("tp_bshd", int64_t{1});
  }
  return Compact(g, remove);
}

}  // namespace tensorpod::internal
