// Runs one node on the CPU with fresh output tensors: schema inference, a
// kernel built for the call, Compute. Used for constant folding, for
// evaluating shape computations while planning, and by op tests. Not meant
// for the hot path (it allocates). Thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend/kernel.h"
#include "core/status.h"
#include "core/tensor.h"
#include "ops/attributes.h"

namespace tensorpod::internal {

// Scratch memory from the heap that grows to the largest request; for
// one-off evaluations outside an execution context. Not thread-safe.
class HeapScratch : public Scratch {
 public:
  HeapScratch() = default;
  HeapScratch(const HeapScratch&) = delete;
  HeapScratch& operator=(const HeapScratch&) = delete;
  ~HeapScratch() override { AlignedFree(p_); }
  void* Get(size_t bytes) override {
    if (bytes > size_) {
      AlignedFree(p_);
      p_ = AlignedAlloc(bytes);
      size_ = p_ ? bytes : 0;
    }
    return p_;
  }

 private:
  void* p_ = nullptr;
  size_t size_ = 0;
};

struct EvalNodeArgs {
  std::string op_type;
  std::string name = "node";
  int opset = 17;
  const Attributes* attrs = nullptr;   // nullptr: no attributes
  std::vector<const Tensor*> inputs;   // nullptr for an omitted optional input
  int num_outputs = 1;
  int threads = 1;
  // RESOURCE_EXHAUSTED, before anything is allocated, when the outputs
  // would take more bytes than this.
  size_t max_output_bytes = SIZE_MAX;
};

StatusOr<std::vector<Tensor>> EvaluateNodeOnCpu(const EvalNodeArgs& args);

}  // namespace tensorpod::internal
