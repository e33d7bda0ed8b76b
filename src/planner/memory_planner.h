// The memory planner: given each activation's size and lifetime (the first
// and last plan step that touch it), assigns offsets in one arena so that
// values alive at the same time never overlap. Greedy by size, largest
// first, into the lowest free gap: simple and near-optimal on feed-forward
// graphs. Pure function; thread-safe.
//
// Example:
//   MemoryPlan p = PlanMemory({{1024, 0, 1}, {512, 1, 2}, {1024, 2, 3}});
//   // the first and third share offset 0; p.arena_bytes == 1536
#pragma once

#include <cstddef>
#include <vector>

namespace tensorpod::internal {

struct BufferRequest {
  size_t bytes = 0;
  int first_step = 0;  // inclusive
  int last_step = 0;   // inclusive
};

struct MemoryPlan {
  std::vector<size_t> offsets;  // one per request, 64-byte aligned
  size_t arena_bytes = 0;
};

MemoryPlan PlanMemory(const std::vector<BufferRequest>& requests);

}  // namespace tensorpod::internal
