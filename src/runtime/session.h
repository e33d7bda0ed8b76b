// Session: a loaded model ready to run. Load parses and validates the model,
// optimises the graph (constant folding, Conv+BatchNormalization folding,
// bias/activation fusion, dead-node elimination), builds one kernel per
// node and reserves an arena for `max_batch`. Run is safe to call from many
// threads at once: each call borrows an execution context (its own arena and
// scratch) from a pool that grows on demand. After warm-up, a Run whose
// input shapes were seen before allocates no activation memory.
//
// Example:
//   SessionOptions opts;
//   opts.threads = 2;
//   TP_ASSIGN_OR_RETURN(auto session, Session::Load("model.onnx", opts));
//   TP_ASSIGN_OR_RETURN(auto outputs, session->Run({"x"}, {x}, {}));
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "device/allocator.h"
#include "runtime/execution_plan.h"

namespace tensorpod::internal {

struct SessionOptions {
  std::string device = "auto";   // "cpu", "auto", "cuda", "cuda:N"
  int threads = 0;               // intra-op threads; 0: one per core
  int64_t max_batch = 0;         // arena reserved for this batch; 0: none
  bool allow_cpu_fallback = true;
  bool optimize = true;          // graph passes
  std::string log_level;         // empty: keep the current level
  // Largest activation and output memory one run may plan, in bytes; a
  // model that needs more fails with RESOURCE_EXHAUSTED instead of
  // exhausting the machine. 0: the machine's physical memory.
  size_t memory_limit_bytes = 0;
  // Arithmetic on the GPU: "fp32" (default), "tf32" (float32 data, TF32
  // tensor-core products), "fp16" or "bf16" (weights converted at load,
  // activations in that type, accumulation in float32; inputs and outputs
  // keep the model's declared dtypes). The CPU runs fp32 whatever is set.
  std::string precision = "fp32";
  // GPU: record each input signature's run as one CUDA graph after its first
  // run and replay it.
  bool cuda_graphs = true;
  // Tests only: the device backend to plan and run "cuda" sessions on,
  // instead of the CUDA backend. Must outlive the session.
  const DeviceBackend* device_backend = nullptr;
  // Where host activations and scratch live; nullptr: the CPU allocator.
  // Must outlive the session. Tests pass a CountingAllocator here.
  Allocator* activation_allocator = nullptr;
};

struct IoInfo {
  std::string name;
  DType dtype = DType::kUndefined;
  Shape shape;                         // kDynamicDim for dynamic dims
  std::vector<std::string> dim_params; // symbolic names, "" if none
  bool has_shape = false;
};

struct ModelStats {
  std::map<std::string, int> op_histogram;  // of the model as loaded
  int64_t parameter_count = 0;
  int opset = 0;                            // default-domain opset the model imports
};

class ExecutionContext;

class Session {
 public:
  static StatusOr<std::unique_ptr<Session>> Load(const std::string& path, const SessionOptions& options);
  // `model_dir`: where external data files are; empty if the model has none.
  static StatusOr<std::unique_ptr<Session>> LoadFromBytes(const void* data, size_t size,
                                                          const SessionOptions& options,
                                                          const std::string& model_dir = "");
  ~Session();

  const std::vector<IoInfo>& inputs() const { return inputs_; }
  const std::vector<IoInfo>& outputs() const { return outputs_; }
  const ModelStats& stats() const { return stats_; }
  int threads() const { return threads_; }
  // "cpu" or "cuda:N".
  std::string device() const { return device_.ToString(); }
  const std::string& precision() const { return precision_; }

  // Runs the model. `input_names[i]` names `inputs[i]`; every model input
  // must be given once. `output_names` empty: all outputs in model order.
  // Outputs are freshly allocated tensors owned by the caller.
  StatusOr<std::vector<Tensor>> Run(const std::vector<std::string>& input_names,
                                    const std::vector<Tensor>& inputs,
                                    const std::vector<std::string>& output_names) const;

 private:
  Session() = default;
  Status Initialize(Graph graph, const SessionOptions& options);
  Status ValidateInput(int index, const Tensor& t) const;
  StatusOr<std::shared_ptr<const ExecutionPlan>> GetPlan(const std::vector<const Tensor*>& inputs) const;
  StatusOr<std::unique_ptr<ExecutionContext>> NewContext() const;
  StatusOr<std::unique_ptr<ExecutionContext>> AcquireContext() const;
  Status UploadConstants();
  Status RunSteps(const ExecutionPlan& plan, ExecutionContext* ctx, bool device_only) const;
  Status RunOnDevice(const std::shared_ptr<const ExecutionPlan>& plan, ExecutionContext* ctx) const;
  void ReleaseContext(std::unique_ptr<ExecutionContext> ctx) const;

  // Declared first so that it is destroyed last: the session's device pool,
  // which every device buffer below comes from. Its destruction returns the
  // session's device memory to the driver.
  std::unique_ptr<Allocator> device_allocator_;
  const DeviceBackend* device_backend_ = nullptr;  // process-wide; null on the CPU
  Device device_;
  std::string precision_ = "fp32";
  bool cuda_graphs_ = true;

  CompiledModel model_;
  std::vector<IoInfo> inputs_;
  std::vector<IoInfo> outputs_;
  ModelStats stats_;
  int threads_ = 1;
  int64_t max_batch_ = 0;
  size_t memory_limit_ = 0;
  Allocator* allocator_ = nullptr;

  // TENSORPOD_PROFILE_OPS=1 at load: time spent per node, summed by op type
  // and printed to stderr when the session closes. Null otherwise.
  struct OpProfile;
  std::unique_ptr<OpProfile> profile_;

  mutable std::mutex mu_;
  mutable std::map<std::vector<int64_t>, std::shared_ptr<const ExecutionPlan>> plans_;  // guarded by mu_
  mutable std::vector<std::unique_ptr<ExecutionContext>> free_contexts_;              // guarded by mu_
};

}  // namespace tensorpod::internal
