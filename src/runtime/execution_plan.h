// A compiled model and its execution plans.
//
// CompiledModel is what a Session keeps after load: the optimised graph, one
// kernel per node, and which nodes compute shapes. An ExecutionPlan is
// specialised to one signature of concrete input shapes: every value's shape
// and dtype, the values fixed for this signature (constants, and shape
// computations such as Shape -> Gather -> Concat -> Reshape evaluated while
// planning), the steps left to run, and each activation's offset in the
// context's arena. Plans are immutable and shared by execution contexts.
//
// See Note [Plan-time shape evaluation] in execution_plan.cc.
#pragma once

#include <memory>
#include <vector>

#include "backend/device_backend.h"
#include "graph/graph.h"
#include "ops/op_schema.h"
#include "planner/partitioner.h"

namespace tensorpod::internal {

struct CompiledModel {
  Graph graph;
  std::vector<PartitionedNode> nodes;     // parallel to graph.nodes()
  std::vector<const OpSchema*> schemas;   // parallel to graph.nodes()
  std::vector<bool> plan_time;            // node evaluated while planning
  std::vector<bool> input_value_needed;   // per graph input: planning reads its data
  std::vector<bool> node_on_device;       // parallel to graph.nodes(): runs on the device backend
  std::vector<Tensor> device_constants;   // per value id: its device copy, uploaded at load
};

// What planning needs to place work on an accelerator; a default-made one
// plans for the CPU alone.
struct PlanDevice {
  const DeviceBackend* backend = nullptr;
  Allocator* allocator = nullptr;  // device memory for constants computed while planning
};

// Runs node `n` of a graph on the CPU with fresh outputs: the evaluator
// constant folding uses (see NodeEvaluator).
StatusOr<std::vector<Tensor>> EvaluateGraphNode(const Node& n, const std::vector<const Tensor*>& inputs,
                                                size_t max_output_bytes);

// Fills schemas, plan_time and input_value_needed for a graph whose
// nodes have kernels already.
Status AnalyzeModel(CompiledModel* m);

enum class Slot { kUnused, kInput, kConstant, kArena, kOutput };

struct PlannedValue {
  Slot slot = Slot::kUnused;
  bool on_device = false;  // lives in device memory (arena or constant)
  DType dtype = DType::kUndefined;
  Shape shape;
  size_t offset = 0;  // kArena: byte offset in the arena
  int index = -1;     // kInput: graph input index
  Tensor constant;    // kConstant
};

// A step runs a node, or copies one value between host and device (node -1,
// one input, one output). Copies of graph inputs and outputs go through the
// context's pinned staging buffer at `staging_offset`.
enum class StepKind { kNode, kToDevice, kToHost };

struct PlanStep {
  int node = 0;
  std::vector<int> inputs;   // value ids, -1 for omitted
  std::vector<int> outputs;  // value ids, -1 for omitted
  StepKind kind = StepKind::kNode;
  bool on_device = false;    // kNode: the node's kernel is a device kernel
  bool staged = false;       // copies: through pinned staging
  size_t staging_offset = 0;
  // kNode: a Reshape-like node whose output shares its input's arena bytes
  // (see Note [View aliasing]); there is nothing to run.
  bool alias = false;
};

struct ExecutionPlan {
  std::vector<PlannedValue> values;
  std::vector<PlanStep> steps;
  std::vector<int> outputs;        // value id of each graph output (host)
  size_t arena_bytes = 0;          // host arena
  size_t device_arena_bytes = 0;
  size_t staging_bytes = 0;        // pinned host staging for graph inputs/outputs
  bool uses_device = false;
  // Every step is a device kernel or a staged copy: the whole run can be
  // captured as one device graph.
  bool graph_capturable = false;
  // False when planning read the data (not just the shape) of a graph input,
  // so the plan is valid for this call only.
  bool cacheable = true;
};

// REQUIRES: inputs[i] matches graph input i in dtype and rank (validated by
// the Session). Errors name the node whose shapes do not fit.
// RESOURCE_EXHAUSTED, before allocating, when the values computed while
// planning or the arena and outputs of one call would exceed `memory_limit`
// bytes.
// With `device.backend` set, nodes with node_on_device run on it: copies are
// added where a value crosses between host and device, graph inputs and
// outputs are staged, and device values get their own arena.
StatusOr<std::shared_ptr<const ExecutionPlan>> BuildPlan(const CompiledModel& m,
                                                         const std::vector<const Tensor*>& inputs,
                                                         size_t memory_limit, const PlanDevice& device = {});

}  // namespace tensorpod::internal
