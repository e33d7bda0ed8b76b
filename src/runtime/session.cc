#include "runtime/session.h"

#include <algorithm>
#include <thread>

#include <unistd.h>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/eval_node.h"
#include "core/logging.h"
#include "onnx/onnx_importer.h"

namespace tensorpod::internal {

// Scratch memory for kernels, from the session's activation allocator; grows
// to the largest request seen and then stays.
class ContextScratch : public Scratch {
 public:
  explicit ContextScratch(Allocator* a) : allocator_(a) {}
  void* Get(size_t bytes) override {
    if (buffer_ == nullptr || buffer_->size() < bytes) {
      buffer_.reset();
      auto b = Buffer::Allocate(allocator_, bytes);
      if (!b.ok()) return nullptr;
      buffer_ = std::move(b).value();
    }
    return buffer_->data();
  }

 private:
  Allocator* allocator_;
  std::shared_ptr<Buffer> buffer_;
};

// What one concurrent Run owns: the arena, scratch and per-value views.
class ExecutionContext {
 public:
  explicit ExecutionContext(Allocator* a) : allocator_(a), scratch_(a) {}

  Status ReserveArena(size_t bytes) {
    if (arena_ != nullptr && arena_->size() >= bytes) return Status::Ok();
    if (arena_ != nullptr) {
      TP_LOG_INFO("execution context arena grows from {} to {} bytes", arena_->size(), bytes);
    }
    arena_.reset();
    TP_ASSIGN_OR_RETURN(arena_, Buffer::Allocate(allocator_, std::max<size_t>(bytes, 64)));
    return Status::Ok();
  }
  char* arena() { return static_cast<char*>(arena_->data()); }
  ContextScratch* scratch() { return &scratch_; }
  std::vector<Tensor>& tensors() { return tensors_; }
  KernelContext& kernel_context() { return kctx_; }

 private:
  Allocator* allocator_;
  std::shared_ptr<Buffer> arena_;
  ContextScratch scratch_;
  std::vector<Tensor> tensors_;
  KernelContext kctx_;
};

namespace {

std::vector<IoInfo> DescribeValues(const Graph& g, const std::vector<int>& ids) {
  std::vector<IoInfo> out;
  for (int id : ids) {
    const Value& v = g.values()[id];
    IoInfo info;
    info.name = v.name;
    info.dtype = v.dtype;
    info.has_shape = v.has_shape;
    info.shape = v.shape;
    info.dim_params = v.dim_params;
    info.dim_params.resize(info.shape.size());
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace

Session::~Session() = default;

StatusOr<std::unique_ptr<Session>> Session::Load(const std::string& path, const SessionOptions& options) {
  TP_ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  auto s = LoadFromBytes(bytes.data(), bytes.size(), options, dir);
  if (!s.ok()) return s.status().WithContext("loading \"" + path + "\"");
  return s;
}

StatusOr<std::unique_ptr<Session>> Session::LoadFromBytes(const void* data, size_t size,
                                                          const SessionOptions& options,
                                                          const std::string& model_dir) {
  if (!options.log_level.empty() && !SetLogLevel(options.log_level)) {
    return TP_ERROR(kInvalidArgument, "log level \"" << options.log_level
                                                     << "\" is not one of trace, debug, info, warn, error, off");
  }
  TP_ASSIGN_OR_RETURN(Device device, ParseDevice(options.device));
  if (device.type == DeviceType::kCuda) {
    return TP_ERROR(kFailedPrecondition, "device \"" << options.device
                                                     << "\" was requested but this build of tensorpod has no "
                                                        "CUDA backend; use \"cpu\" or \"auto\"");
  }
  TP_CHECK_ARG(options.threads >= 0 && options.threads <= 1024,
               "threads must be between 0 (one per core) and 1024, got " << options.threads);
  TP_CHECK_ARG(options.max_batch >= 0, "max_batch must be >= 0, got " << options.max_batch);
  ImportOptions import;
  import.model_dir = model_dir;
  TP_ASSIGN_OR_RETURN(Graph graph, ImportOnnxModel(data, size, import));
  std::unique_ptr<Session> session(new Session());
  TP_RETURN_IF_ERROR(session->Initialize(std::move(graph), options));
  return session;
}

Status Session::Initialize(Graph graph, const SessionOptions& options) {
  threads_ = options.threads > 0 ? options.threads
                                 : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  max_batch_ = options.max_batch;
  memory_limit_ = options.memory_limit_bytes;
  if (memory_limit_ == 0) {
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    memory_limit_ = pages > 0 && page > 0 ? static_cast<size_t>(pages) * static_cast<size_t>(page) : SIZE_MAX;
  }
  const CpuBackend& cpu = CpuBackend::Get();
  allocator_ = options.activation_allocator ? options.activation_allocator : cpu.allocator();
  if (options.device == "auto") TP_LOG_INFO("device \"auto\": no GPU backend in this build, using cpu");

  for (const Node& n : graph.nodes()) ++stats_.op_histogram[n.op_type];
  stats_.parameter_count = graph.ParameterCount();
  stats_.opset = graph.nodes().empty() ? 0 : graph.nodes().front().opset;
  inputs_ = DescribeValues(graph, graph.inputs());
  outputs_ = DescribeValues(graph, graph.outputs());
  for (const IoInfo& in : inputs_) {
    TP_CHECK_ARG(in.dtype != DType::kUndefined, "graph input \"" << in.name << "\" has no element type");
  }

  if (options.optimize) {
    TP_RETURN_IF_ERROR(FoldConstants(&graph, EvaluateGraphNode));
    TP_RETURN_IF_ERROR(FoldConvBatchNorm(&graph));
    TP_RETURN_IF_ERROR(FuseBiasActivation(&graph));
    TP_RETURN_IF_ERROR(AssignBlockedLayouts(&graph));
  }
  TP_RETURN_IF_ERROR(EliminateDeadNodes(&graph));
  model_.graph = std::move(graph);
  TP_ASSIGN_OR_RETURN(model_.nodes, Partition(model_.graph, {&cpu}, cpu, options.allow_cpu_fallback));
  TP_RETURN_IF_ERROR(AnalyzeModel(&model_));

  // Reserve the arena for max_batch when every input's only dynamic dim is
  // the leading (batch) one.
  if (max_batch_ > 0) {
    std::vector<Tensor> dummies;
    bool reservable = true;
    for (size_t i = 0; i < inputs_.size() && reservable; ++i) {
      const IoInfo& in = inputs_[i];
      Shape shape = in.shape;
      for (size_t d = 0; d < shape.size(); ++d) {
        if (shape[d] == kDynamicDim) {
          if (d == 0) shape[d] = max_batch_;
          else reservable = false;
        }
      }
      reservable = reservable && in.has_shape && !model_.input_value_needed[i];
      if (!reservable) break;
      TP_ASSIGN_OR_RETURN(Tensor t, Tensor::Empty(in.dtype, shape));
      dummies.push_back(std::move(t));
    }
    if (reservable) {
      std::vector<const Tensor*> ptrs;
      for (const Tensor& t : dummies) ptrs.push_back(&t);
      auto plan = GetPlan(ptrs);
      if (!plan.ok()) return plan.status().WithContext("planning for max_batch " + std::to_string(max_batch_));
      auto ctx = std::make_unique<ExecutionContext>(allocator_);
      TP_RETURN_IF_ERROR(ctx->ReserveArena((*plan)->arena_bytes));
      std::lock_guard<std::mutex> lock(mu_);
      free_contexts_.push_back(std::move(ctx));
    } else {
      TP_LOG_INFO("max_batch {}: inputs have dynamic dims other than the batch; arena sized at first run",
                  max_batch_);
    }
  }
  return Status::Ok();
}

Status Session::ValidateInput(int index, const Tensor& t) const {
  const IoInfo& info = inputs_[index];
  TP_CHECK_ARG(t.dtype() == info.dtype, "input \"" << info.name << "\": expected dtype " << DTypeName(info.dtype)
                                                   << ", got " << DTypeName(t.dtype()));
  if (!info.has_shape) return Status::Ok();
  bool match = t.rank() == static_cast<int64_t>(info.shape.size());
  for (size_t d = 0; match && d < info.shape.size(); ++d) {
    match = info.shape[d] == kDynamicDim || info.shape[d] == t.dim(d);
  }
  TP_CHECK_ARG(match, "input \"" << info.name << "\": expected shape " << ShapeToString(info.shape) << ", got "
                                 << ShapeToString(t.shape()));
  if (max_batch_ > 0 && t.rank() > 0 && !info.shape.empty() && info.shape[0] == kDynamicDim &&
      t.dim(0) > max_batch_) {
    TP_LOG_INFO("input \"{}\": batch {} exceeds max_batch {}; planning a larger arena", info.name, t.dim(0),
                max_batch_);
  }
  return Status::Ok();
}

StatusOr<std::shared_ptr<const ExecutionPlan>> Session::GetPlan(const std::vector<const Tensor*>& inputs) const {
  std::vector<int64_t> key;
  for (const Tensor* t : inputs) {
    key.push_back(static_cast<int64_t>(t->dtype()));
    key.push_back(t->rank());
    key.insert(key.end(), t->shape().begin(), t->shape().end());
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = plans_.find(key);
    if (it != plans_.end()) return it->second;
  }
  TP_ASSIGN_OR_RETURN(auto plan, BuildPlan(model_, inputs, memory_limit_));
  if (plan->cacheable) {
    std::lock_guard<std::mutex> lock(mu_);
    plans_.emplace(std::move(key), plan);
  }
  return plan;
}

std::unique_ptr<ExecutionContext> Session::AcquireContext() const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!free_contexts_.empty()) {
      auto ctx = std::move(free_contexts_.back());
      free_contexts_.pop_back();
      return ctx;
    }
  }
  return std::make_unique<ExecutionContext>(allocator_);
}

void Session::ReleaseContext(std::unique_ptr<ExecutionContext> ctx) const {
  std::lock_guard<std::mutex> lock(mu_);
  free_contexts_.push_back(std::move(ctx));
}

StatusOr<std::vector<Tensor>> Session::Run(const std::vector<std::string>& input_names,
                                           const std::vector<Tensor>& inputs,
                                           const std::vector<std::string>& output_names) const {
  TP_CHECK_ARG(input_names.size() == inputs.size(),
               input_names.size() << " input names were given for " << inputs.size() << " tensors");
  std::vector<const Tensor*> ordered(inputs_.size(), nullptr);
  for (size_t i = 0; i < inputs.size(); ++i) {
    int index = -1;
    for (size_t k = 0; k < inputs_.size(); ++k) {
      if (inputs_[k].name == input_names[i]) index = static_cast<int>(k);
    }
    if (index < 0) {
      std::string names;
      for (const IoInfo& in : inputs_) names += (names.empty() ? "\"" : ", \"") + in.name + "\"";
      return TP_ERROR(kInvalidArgument, "the model has no input named \"" << input_names[i]
                                                                          << "\"; its inputs are " << names);
    }
    TP_CHECK_ARG(ordered[index] == nullptr, "input \"" << input_names[i] << "\" is given twice");
    TP_RETURN_IF_ERROR(ValidateInput(index, inputs[i]));
    TP_CHECK_ARG(inputs[i].raw_data() != nullptr || inputs[i].num_elements() == 0,
                 "input \"" << input_names[i] << "\" has no data");
    ordered[index] = &inputs[i];
  }
  for (size_t k = 0; k < inputs_.size(); ++k) {
    TP_CHECK_ARG(ordered[k] != nullptr, "input \"" << inputs_[k].name << "\" is missing");
  }
  std::vector<int> wanted;
  const Graph& g = model_.graph;
  if (output_names.empty()) {
    wanted = g.outputs();
  } else {
    for (const std::string& name : output_names) {
      int id = -1;
      for (size_t k = 0; k < outputs_.size(); ++k) if (outputs_[k].name == name) id = g.outputs()[k];
      if (id < 0) {
        std::string names;
        for (const IoInfo& o : outputs_) names += (names.empty() ? "\"" : ", \"") + o.name + "\"";
        return TP_ERROR(kInvalidArgument, "the model has no output named \"" << name << "\"; its outputs are "
                                                                             << names);
      }
      wanted.push_back(id);
    }
  }

  TP_ASSIGN_OR_RETURN(auto plan, GetPlan(ordered));
  std::unique_ptr<ExecutionContext> ctx = AcquireContext();
  struct Returner {
    const Session* s;
    std::unique_ptr<ExecutionContext>* ctx;
    ~Returner() { s->ReleaseContext(std::move(*ctx)); }
  } returner{this, &ctx};
  TP_RETURN_IF_ERROR(ctx->ReserveArena(plan->arena_bytes));

  std::vector<Tensor>& tensors = ctx->tensors();
  tensors.resize(plan->values.size());
  char* arena = ctx->arena();
  for (size_t v = 0; v < plan->values.size(); ++v) {
    const PlannedValue& pv = plan->values[v];
    switch (pv.slot) {
      case Slot::kInput: tensors[v] = *ordered[pv.index]; break;
      case Slot::kConstant: tensors[v] = pv.constant; break;
      case Slot::kArena: tensors[v] = Tensor(pv.dtype, pv.shape, arena + pv.offset); break;
      case Slot::kOutput: {
        TP_ASSIGN_OR_RETURN(tensors[v], Tensor::Uninitialized(pv.dtype, pv.shape));
        break;
      }
      case Slot::kUnused: break;
    }
  }
  KernelContext& kctx = ctx->kernel_context();
  kctx.threads = threads_;
  kctx.scratch = ctx->scratch();
  for (const PlanStep& step : plan->steps) {
    kctx.inputs.clear();
    kctx.outputs.clear();
    for (int v : step.inputs) kctx.inputs.push_back(v >= 0 ? &tensors[v] : nullptr);
    for (int v : step.outputs) kctx.outputs.push_back(v >= 0 ? &tensors[v] : nullptr);
    Status s = model_.nodes[step.node].kernel->Compute(kctx);
    if (!s.ok()) {
      const Node& n = g.nodes()[step.node];
      return s.WithContext("node \"" + n.name + "\" (" + n.op_type + ")");
    }
  }
  std::vector<Tensor> result;
  result.reserve(wanted.size());
  for (int v : wanted) {
    const Slot slot = plan->values[v].slot;
    if (slot == Slot::kOutput) {
      result.push_back(tensors[v]);
    } else {
      TP_ASSIGN_OR_RETURN(Tensor copy, tensors[v].Clone());
      result.push_back(std::move(copy));
    }
  }
  // Drop views into caller memory and outputs before the context is reused.
  for (auto& t : tensors) t = Tensor();
  return result;
}

}  // namespace tensorpod::internal
