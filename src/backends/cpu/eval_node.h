// Runs one node on the CPU with fresh output tensors: schema inference, a
// kernel built for the call, Compute. Used for constant folding, for
// evaluating shape computations while planning, and by op tests. Not meant
// for the hot path (it allocates). Thread-safe.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "ops/attributes.h"

namespace tensorpod::internal {

struct EvalNodeArgs {
  std::string op_type;
  std::string name = "node";
  int opset = 17;
  const Attributes* attrs = nullptr;   // nullptr: no attributes
  std::vector<const Tensor*> inputs;   // nullptr for an omitted optional input
  int num_outputs = 1;
  int threads = 1;
};

StatusOr<std::vector<Tensor>> EvaluateNodeOnCpu(const EvalNodeArgs& args);

}  // namespace tensorpod::internal
