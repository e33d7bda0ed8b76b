#include "runtime/execution_plan.h"

#include <algorithm>
#include <map>

#include "backends/cpu/eval_node.h"
#include "core/logging.h"
#include "planner/memory_planner.h"

namespace tensorpod::internal {

// Note [Plan-time shape evaluation]
// Models exported with dynamic batch compute shapes at run time: Shape ->
// Gather -> Unsqueeze -> Concat -> Reshape. Those values depend only on input
// shapes, so they are computed once per input signature while planning,
// which also gives every value a concrete shape for the memory planner. A
// value is "demanded" when some node's schema reads it (OpSchema::
// value_inputs); the nodes producing demanded values run at plan time and
// the values become plan constants. Shape and Size need only their input's
// shape, which stops the demand there. When a demanded value traces back to
// a graph input's data (rare outside the ONNX node tests), the plan reads
// that data and is not cached.

StatusOr<std::vector<Tensor>> EvaluateGraphNode(const Node& n, const std::vector<const Tensor*>& inputs,
                                                size_t max_output_bytes) {
  EvalNodeArgs args;
  args.op_type = n.op_type;
  args.name = n.name;
  args.opset = n.opset;
  args.attrs = &n.attrs;
  args.inputs = inputs;
  args.num_outputs = static_cast<int>(n.outputs.size());
  args.max_output_bytes = max_output_bytes;
  return EvaluateNodeOnCpu(args);
}

Status AnalyzeModel(CompiledModel* m) {
  const Graph& g = m->graph;
  const auto& nodes = g.nodes();
  m->schemas.assign(nodes.size(), nullptr);
  for (size_t i = 0; i < nodes.size(); ++i) {
    m->schemas[i] = SchemaRegistry::Global().Find(nodes[i].op_type);
    TP_INTERNAL_CHECK(m->schemas[i] != nullptr, "no schema for " << nodes[i].op_type);
  }
  std::vector<bool> demanded(g.values().size(), false);
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (int k : m->schemas[i]->value_inputs) {
      if (k < static_cast<int>(nodes[i].inputs.size()) && nodes[i].inputs[k] >= 0) {
        demanded[nodes[i].inputs[k]] = true;
      }
    }
  }
  m->plan_time.assign(nodes.size(), false);
  for (int i = static_cast<int>(nodes.size()) - 1; i >= 0; --i) {
    bool needed = false;
    for (int v : nodes[i].outputs) needed = needed || (v >= 0 && demanded[v]);
    if (!needed) continue;
    m->plan_time[i] = true;
    if (m->schemas[i]->shape_only) continue;
    for (int v : nodes[i].inputs) if (v >= 0) demanded[v] = true;
  }
  m->input_value_needed.assign(g.inputs().size(), false);
  for (size_t i = 0; i < g.inputs().size(); ++i) m->input_value_needed[i] = demanded[g.inputs()[i]];
  return Status::Ok();
}

namespace {

size_t AlignUp(size_t n) { return (n + kTensorAlignment - 1) / kTensorAlignment * kTensorAlignment; }

// Note [Device placement]
// Steps whose node runs on the device read device values: a host value
// (graph input, value computed by a CPU step) gets a device mirror filled by
// a kToDevice copy before its first device reader, a constant gets the copy
// uploaded at load (or, for constants computed while planning, one uploaded
// now and owned by the plan). Inputs a device node reads on the host (its
// schema's value_inputs) stay on the host. CPU steps reading device values
// get host mirrors (kToHost), and so do graph outputs. Mirrors are made once
// per value and direction.
Status PlaceOnDevices(const CompiledModel& m, const PlanDevice& dev, ExecutionPlan* plan) {
  std::vector<PlannedValue>& values = plan->values;
  for (PlanStep& step : plan->steps) {
    step.on_device = m.node_on_device[step.node];
    for (int v : step.outputs) if (v >= 0) values[v].on_device = step.on_device;
  }
  std::vector<PlanStep> steps;
  std::map<int, int> to_device, to_host;
  auto mirror = [&](int v, bool device) -> StatusOr<int> {
    std::map<int, int>& cache = device ? to_device : to_host;
    auto it = cache.find(v);
    if (it != cache.end()) return it->second;
    PlannedValue pv;
    pv.dtype = values[v].dtype;
    pv.shape = values[v].shape;
    pv.on_device = device;
    if (device && values[v].slot == Slot::kConstant) {
      pv.slot = Slot::kConstant;
      if (v < static_cast<int>(m.device_constants.size()) && m.device_constants[v].defined()) {
        pv.constant = m.device_constants[v];
      } else {
        const Tensor& host = values[v].constant;
        TP_ASSIGN_OR_RETURN(auto buf, Buffer::Allocate(dev.allocator, std::max<size_t>(host.nbytes(), 1)));
        Tensor t(host.dtype(), host.shape(), buf->data(), buf);
        TP_RETURN_IF_ERROR(dev.backend->Copy(host, &t));
        pv.constant = std::move(t);
      }
      values.push_back(std::move(pv));
      cache[v] = static_cast<int>(values.size()) - 1;
      return cache[v];
    }
    pv.slot = Slot::kArena;
    values.push_back(std::move(pv));
    const int id = static_cast<int>(values.size()) - 1;
    PlanStep copy;
    copy.node = -1;
    copy.kind = device ? StepKind::kToDevice : StepKind::kToHost;
    copy.inputs = {v};
    copy.outputs = {id};
    steps.push_back(std::move(copy));
    cache[v] = id;
    return id;
  };
  for (PlanStep step : plan->steps) {
    const std::vector<int>& host_inputs = m.schemas[step.node]->value_inputs;
    for (size_t k = 0; k < step.inputs.size(); ++k) {
      const int v = step.inputs[k];
      if (v < 0) continue;
      const bool read_on_host =
          std::find(host_inputs.begin(), host_inputs.end(), static_cast<int>(k)) != host_inputs.end();
      const bool want_device = step.on_device && !read_on_host;
      if (want_device != values[v].on_device) {
        TP_ASSIGN_OR_RETURN(step.inputs[k], mirror(v, want_device));
      }
    }
    steps.push_back(std::move(step));
  }
  for (int& o : plan->outputs) {
    if (values[o].on_device) {
      TP_ASSIGN_OR_RETURN(o, mirror(o, false));
    }
  }
  plan->steps = std::move(steps);
  plan->uses_device = true;
  return Status::Ok();
}

// Staging offsets for copies of graph inputs to the device and of graph
// outputs to the host; whether the plan can run as one captured graph.
void AssignStaging(ExecutionPlan* plan) {
  size_t offset = 0;
  bool capturable = plan->cacheable;
  // A host copy that a later (CPU) step reads must land before that step,
  // not in the staging buffer emptied after the run.
  std::vector<bool> read(plan->values.size(), false);
  for (const PlanStep& step : plan->steps) {
    for (int v : step.inputs) if (v >= 0) read[v] = true;
  }
  for (PlanStep& step : plan->steps) {
    if (step.kind == StepKind::kNode) {
      capturable = capturable && step.on_device;
      continue;
    }
    const PlannedValue& host =
        plan->values[step.kind == StepKind::kToDevice ? step.inputs[0] : step.outputs[0]];
    step.staged = step.kind == StepKind::kToDevice ? host.slot == Slot::kInput
                                                   : host.slot == Slot::kOutput && !read[step.outputs[0]];
    capturable = capturable && step.staged;
    if (!step.staged) continue;
    step.staging_offset = offset;
    offset += AlignUp(NumElementsUnchecked(host.shape) * DTypeSize(host.dtype));
  }
  plan->staging_bytes = offset;
  plan->graph_capturable = capturable;
}

}  // namespace

StatusOr<std::shared_ptr<const ExecutionPlan>> BuildPlan(const CompiledModel& m,
                                                         const std::vector<const Tensor*>& inputs,
                                                         size_t memory_limit, const PlanDevice& device) {
  const Graph& g = m.graph;
  auto plan = std::make_shared<ExecutionPlan>();
  auto& values = plan->values;
  values.resize(g.values().size());
  // Values whose data planning may read.
  std::vector<const Tensor*> known(g.values().size(), nullptr);
  for (size_t i = 0; i < g.values().size(); ++i) {
    const Value& v = g.values()[i];
    if (!v.is_constant()) continue;
    values[i].slot = Slot::kConstant;
    values[i].dtype = v.dtype;
    values[i].shape = v.constant.shape();
    values[i].constant = v.constant;
    known[i] = &v.constant;
  }
  for (size_t i = 0; i < g.inputs().size(); ++i) {
    const int id = g.inputs()[i];
    values[id].slot = Slot::kInput;
    values[id].index = static_cast<int>(i);
    values[id].dtype = inputs[i]->dtype();
    values[id].shape = inputs[i]->shape();
    if (m.input_value_needed[i]) {
      known[id] = inputs[i];
      plan->cacheable = false;
    }
  }

  HeapScratch scratch;
  for (size_t ni = 0; ni < g.nodes().size(); ++ni) {
    const Node& n = g.nodes()[ni];
    const OpSchema& schema = *m.schemas[ni];
    const int nin = static_cast<int>(n.inputs.size());
    const int nout = static_cast<int>(n.outputs.size());
    {
      std::vector<bool> present(nin);
      for (int k = 0; k < nin; ++k) present[k] = n.inputs[k] >= 0;
      TP_RETURN_IF_ERROR(CheckArity(schema, present, nout, n.name));
    }
    std::vector<InferInput> infer(nin);
    for (int k = 0; k < nin; ++k) {
      const int v = n.inputs[k];
      if (v < 0) continue;
      if (values[v].slot == Slot::kUnused) {
        return TP_ERROR(kInternal, "node \"" << n.name << "\" reads \"" << g.values()[v].name
                                             << "\" before it is computed");
      }
      infer[k] = InferInput{true, values[v].dtype, values[v].shape, known[v]};
    }
    InferContext ictx(n.attrs, n.opset, n.name, std::move(infer), nout);
    {
      Status s = schema.infer(ictx);
      if (!s.ok()) {
        if (s.message().find(n.name) != std::string::npos) return s;
        return s.WithContext("node \"" + n.name + "\" (" + n.op_type + ")");
      }
    }
    if (n.attrs.GetInt("tp_same_shape", 0) != 0) {
      // Set by AssignBlockedLayouts, which relies on it.
      for (int k = 1; k < nin; ++k) {
        if (n.inputs[k] >= 0 && values[n.inputs[k]].shape != values[n.inputs[0]].shape) {
          return TP_ERROR(kUnimplemented, "node \"" << n.name << "\" (" << n.op_type
                                                    << ") broadcasts between blocked-layout inputs "
                                                    << ShapeToString(values[n.inputs[0]].shape) << " and "
                                                    << ShapeToString(values[n.inputs[k]].shape)
                                                    << "; load the model with optimize off");
        }
      }
    }
    for (int k = 0; k < nout; ++k) {
      const int v = n.outputs[k];
      if (v < 0) continue;
      auto count = NumElements(ictx.output_shape(k));
      if (!count.ok()) return count.status().WithContext("node \"" + n.name + "\" output " + std::to_string(k));
      const size_t elem = DTypeSize(ictx.output_dtype(k));
      if (elem != 0 && static_cast<uint64_t>(*count) > memory_limit / elem) {
        return TP_ERROR(kResourceExhausted, "node \"" << n.name << "\" (" << n.op_type << ") output "
                                                      << ShapeToString(ictx.output_shape(k))
                                                      << " needs more than the session's memory limit of "
                                                      << memory_limit << " bytes");
      }
      values[v].dtype = ictx.output_dtype(k);
      values[v].shape = ictx.output_shape(k);
      values[v].slot = Slot::kArena;
    }
    if (!m.plan_time[ni]) {
      plan->steps.push_back(PlanStep{static_cast<int>(ni), n.inputs, n.outputs});
      continue;
    }
    // Evaluate now: see Note [Plan-time shape evaluation].
    std::vector<Tensor> shape_views;
    shape_views.reserve(nin);
    KernelContext kctx;
    for (int k = 0; k < nin; ++k) {
      const int v = n.inputs[k];
      if (v < 0) {
        kctx.inputs.push_back(nullptr);
      } else if (known[v] != nullptr) {
        kctx.inputs.push_back(known[v]);
      } else if (schema.shape_only) {
        shape_views.emplace_back(values[v].dtype, values[v].shape, nullptr);
        kctx.inputs.push_back(&shape_views.back());
      } else {
        return TP_ERROR(kUnimplemented, "node \"" << n.name << "\" (" << n.op_type
                                                  << ") computes a shape from \"" << g.values()[v].name
                                                  << "\", whose data is only known at run time");
      }
    }
    std::vector<Tensor> outs(nout);
    for (int k = 0; k < nout; ++k) {
      TP_ASSIGN_OR_RETURN(outs[k], Tensor::Empty(ictx.output_dtype(k), ictx.output_shape(k)));
      kctx.outputs.push_back(&outs[k]);
    }
    kctx.scratch = &scratch;
    TP_RETURN_IF_ERROR(m.nodes[ni].kernel->Compute(kctx));
    for (int k = 0; k < nout; ++k) {
      const int v = n.outputs[k];
      if (v < 0) continue;
      values[v].slot = Slot::kConstant;
      values[v].constant = std::move(outs[k]);
      known[v] = &values[v].constant;
    }
  }

  plan->outputs = g.outputs();
  if (device.backend != nullptr) {
    TP_RETURN_IF_ERROR(PlaceOnDevices(m, device, plan.get()));
  }
  // Graph outputs produced by steps are allocated per call, not in the arena.
  for (int v : plan->outputs) {
    if (values[v].slot == Slot::kArena) values[v].slot = Slot::kOutput;
  }
  if (device.backend != nullptr) AssignStaging(plan.get());
  // Lifetimes of arena values -> offsets.
  std::vector<int> first(values.size(), -1), last(values.size(), -1);
  for (int s = 0; s < static_cast<int>(plan->steps.size()); ++s) {
    for (int v : plan->steps[s].outputs) {
      if (v >= 0 && first[v] < 0) first[v] = s;
      if (v >= 0) last[v] = std::max(last[v], s);
    }
    for (int v : plan->steps[s].inputs) if (v >= 0) last[v] = s;
  }
  // Note [View aliasing]
  // Reshape, Flatten, Squeeze and Unsqueeze change only the shape. On the
  // host, when both their input and output live in the arena, the output
  // is given the input's bytes instead of a copy (the encoder's head
  // reshapes copied 0.8% of its run): the step is marked alias and skipped,
  // and the input's lifetime is extended over the output's. Nothing writes
  // a value after the step that made it, so sharing is safe. Graph inputs,
  // constants and graph outputs keep their copies.
  std::vector<int> alias_root(values.size(), -1);
  if (device.backend == nullptr) {
    for (PlanStep& step : plan->steps) {
      if (step.kind != StepKind::kNode || step.inputs.empty() || step.outputs.size() != 1) continue;
      const std::string& op = g.nodes()[step.node].op_type;
      if (op != "Reshape" && op != "Flatten" && op != "Squeeze" && op != "Unsqueeze") continue;
      const int in = step.inputs[0], out = step.outputs[0];
      if (in < 0 || out < 0 || values[in].slot != Slot::kArena || values[out].slot != Slot::kArena ||
          values[in].dtype != values[out].dtype) {
        continue;
      }
      alias_root[out] = alias_root[in] >= 0 ? alias_root[in] : in;
      step.alias = true;
    }
    for (size_t v = 0; v < values.size(); ++v) {
      if (alias_root[v] >= 0) last[alias_root[v]] = std::max(last[alias_root[v]], last[v]);
    }
  }
  // One arena per memory: host, then device.
  MemoryPlan mem[2];
  std::vector<BufferRequest> requests[2];
  std::vector<int> request_value[2];
  for (size_t v = 0; v < values.size(); ++v) {
    if (values[v].slot != Slot::kArena || first[v] < 0 || alias_root[v] >= 0) continue;
    const int d = values[v].on_device ? 1 : 0;
    requests[d].push_back({NumElementsUnchecked(values[v].shape) * DTypeSize(values[v].dtype), first[v], last[v]});
    request_value[d].push_back(static_cast<int>(v));
  }
  for (int d = 0; d < 2; ++d) mem[d] = PlanMemory(requests[d]);
  size_t call_bytes = mem[0].arena_bytes + mem[1].arena_bytes;
  for (const PlannedValue& v : values) {
    if (v.slot == Slot::kOutput) call_bytes += NumElementsUnchecked(v.shape) * DTypeSize(v.dtype);
  }
  if (call_bytes > memory_limit) {
    return TP_ERROR(kResourceExhausted, "one run needs " << call_bytes << " bytes of activations and outputs, over "
                                                         << "the session's memory limit of " << memory_limit
                                                         << " bytes");
  }
  for (int d = 0; d < 2; ++d) {
    for (size_t r = 0; r < requests[d].size(); ++r) values[request_value[d][r]].offset = mem[d].offsets[r];
  }
  for (size_t v = 0; v < values.size(); ++v) {
    if (alias_root[v] >= 0) values[v].offset = values[alias_root[v]].offset;
  }
  plan->arena_bytes = mem[0].arena_bytes;
  plan->device_arena_bytes = mem[1].arena_bytes;
  return std::shared_ptr<const ExecutionPlan>(std::move(plan));
}

}  // namespace tensorpod::internal
