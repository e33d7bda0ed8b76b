// The partitioner: decides which backend runs each node and builds its
// kernel. Backends are asked in priority order; a node no backend in the list
// supports falls back to the CPU backend (logged), or is an error when
// `allow_cpu_fallback` is false. Every node that no backend can run is
// reported in one UNIMPLEMENTED status.
#pragma once

#include <memory>
#include <vector>

#include "backend/backend.h"
#include "graph/graph.h"

namespace tensorpod::internal {

struct PartitionedNode {
  const Backend* backend = nullptr;
  std::unique_ptr<Kernel> kernel;
};

// NodeDef view of node `n` of `g` (constant inputs and known dtypes filled).
NodeDef MakeNodeDef(const Graph& g, const Node& n);

StatusOr<std::vector<PartitionedNode>> Partition(const Graph& g, const std::vector<const Backend*>& backends,
                                                 const Backend& cpu, bool allow_cpu_fallback);

}  // namespace tensorpod::internal
