// Kernel: the compiled form of one node on one backend, and what a backend
// sees of a node when it builds one (NodeDef). A Kernel is created once per
// node at load and shared by every execution context, so Compute must be
// safe to call concurrently; per-call memory comes from the context's
// scratch space, never from members.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "ops/attributes.h"

namespace tensorpod::internal {

// A node as a backend sees it. Constant inputs (initializers, folded values)
// are given so kernels can pre-pack weights at creation.
struct NodeDef {
  std::string op_type;
  std::string name;
  int opset = 0;
  const Attributes* attrs = nullptr;             // outlives the kernel
  std::vector<DType> input_dtypes;               // kUndefined if not known at load
  std::vector<const Tensor*> constant_inputs;    // nullptr where not constant
  int num_outputs = 1;
};

// Per-call scratch memory owned by an execution context. Grows during
// warm-up; a warmed-up context hands out memory without allocating.
class Scratch {
 public:
  virtual ~Scratch() = default;
  // Returns 64-byte aligned memory valid until the kernel's Compute returns.
  // Each call invalidates the previous one's memory. nullptr when out of
  // memory.
  virtual void* Get(size_t bytes) = 0;
};

class DeviceStream;  // backend/device_backend.h

struct KernelContext {
  std::vector<const Tensor*> inputs;  // nullptr for an omitted optional input
  std::vector<Tensor*> outputs;       // allocated with the inferred shapes; nullptr
                                      // for an omitted optional output
  int threads = 1;                    // intra-op threads for this call
  Scratch* scratch = nullptr;         // memory on the kernel's device
  DeviceStream* stream = nullptr;     // device kernels: the context's stream; nullptr on the CPU

  const Tensor& input(int i) const { return *inputs[i]; }
  bool has_input(int i) const {
    return i < static_cast<int>(inputs.size()) && inputs[i] != nullptr;
  }
  Tensor& output(int i) { return *outputs[i]; }
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  // Outputs have been allocated with the shapes the op's schema inferred.
  // Kernels dispatch on the tensors' actual dtypes here and return
  // UNIMPLEMENTED naming the op and dtype they do not handle.
  virtual Status Compute(KernelContext& ctx) const = 0;
};

using KernelFactory = StatusOr<std::unique_ptr<Kernel>> (*)(const NodeDef& node);

// `Conv node "conv1"`: how kernels name their node in errors.
inline std::string KernelWhere(const NodeDef& node) { return node.op_type + " node \"" + node.name + "\""; }

// A factory's result: a new K built from `args`.
template <typename K, typename... Args>
StatusOr<std::unique_ptr<Kernel>> MakeKernel(Args&&... args) {
  return std::unique_ptr<Kernel>(new K(std::forward<Args>(args)...));
}

}  // namespace tensorpod::internal
