#include "planner/partitioner.h"

#include "core/logging.h"

namespace tensorpod::internal {

NodeDef MakeNodeDef(const Graph& g, const Node& n) {
  NodeDef def;
  def.op_type = n.op_type;
  def.name = n.name;
  def.opset = n.opset;
  def.attrs = &n.attrs;
  def.num_outputs = static_cast<int>(n.outputs.size());
  for (int v : n.inputs) {
    if (v < 0) {
      def.input_dtypes.push_back(DType::kUndefined);
      def.constant_inputs.push_back(nullptr);
      continue;
    }
    const Value& val = g.values()[v];
    def.input_dtypes.push_back(val.dtype);
    def.constant_inputs.push_back(val.is_constant() ? &val.constant : nullptr);
  }
  return def;
}

StatusOr<std::vector<PartitionedNode>> Partition(const Graph& g, const std::vector<const Backend*>& backends,
                                                 const Backend& cpu, bool allow_cpu_fallback) {
  std::vector<PartitionedNode> out(g.nodes().size());
  std::string unsupported;
  int unsupported_count = 0;
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    const Node& n = g.nodes()[i];
    const NodeDef def = MakeNodeDef(g, n);
    const Backend* chosen = nullptr;
    for (const Backend* b : backends) {
      if (b->Supports(def)) {
        chosen = b;
        break;
      }
    }
    if (chosen == nullptr && cpu.Supports(def)) {
      if (!backends.empty() && backends.front() != &cpu) {
        if (!allow_cpu_fallback) {
          return TP_ERROR(kUnimplemented, "node \"" << n.name << "\" (" << n.op_type << ") is not supported on "
                                                    << backends.front()->name()
                                                    << " and CPU fallback is disabled");
        }
        TP_LOG_INFO("node \"{}\" ({}) falls back to the cpu backend", n.name, n.op_type);
      }
      chosen = &cpu;
    }
    if (chosen == nullptr) {
      ++unsupported_count;
      unsupported += (unsupported.empty() ? "" : ", ") + n.op_type + " (node \"" + n.name + "\")";
      continue;
    }
    TP_ASSIGN_OR_RETURN(out[i].kernel, chosen->CreateKernel(def));
    out[i].backend = chosen;
  }
  if (unsupported_count > 0) {
    return TP_ERROR(kUnimplemented,
                    unsupported_count << " node(s) use ops no backend supports: " << unsupported);
  }
  return out;
}

}  // namespace tensorpod::internal
