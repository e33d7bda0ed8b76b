#include "runtime/session.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include <unistd.h>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/eval_node.h"
#include "core/logging.h"
#include "onnx/onnx_importer.h"
#include "runtime/devices.h"

namespace tensorpod::internal {

// Scratch memory for kernels, from the session's activation allocator; grows
// to the largest request seen and then stays. While a device graph is being
// captured it must not grow (an allocation cannot be recorded): the kernel
// then fails and the run falls back to plain launches.
class ContextScratch : public Scratch {
 public:
  explicit ContextScratch(Allocator* a) : allocator_(a) {}
  void* Get(size_t bytes) override {
    if (buffer_ == nullptr || buffer_->size() < bytes) {
      if (frozen_) return nullptr;
      // Device kernels already enqueued may still use the old buffer.
      if (stream_ != nullptr && buffer_ != nullptr && !stream_->Synchronize().ok()) return nullptr;
      buffer_.reset();
      auto b = Buffer::Allocate(allocator_, bytes);
      if (!b.ok()) return nullptr;
      buffer_ = std::move(b).value();
      ++generation_;
    }
    return buffer_->data();
  }
  void set_frozen(bool f) { frozen_ = f; }
  void set_stream(DeviceStream* s) { stream_ = s; }
  // Grows by one each time the memory moves (captured graphs hold its address).
  int64_t generation() const { return generation_; }

 private:
  Allocator* allocator_;
  std::shared_ptr<Buffer> buffer_;
  DeviceStream* stream_ = nullptr;  // device scratch: the context's stream
  bool frozen_ = false;
  int64_t generation_ = 0;
};

// One growable allocation (an arena, a staging buffer). Returns true from
// Reserve when the memory moved.
class GrowableBuffer {
 public:
  StatusOr<bool> Reserve(Allocator* a, size_t bytes, const char* what) {
    if (buffer_ != nullptr && buffer_->size() >= bytes) return false;
    if (buffer_ != nullptr) TP_LOG_INFO("execution context {} grows from {} to {} bytes", what, buffer_->size(), bytes);
    buffer_.reset();
    TP_ASSIGN_OR_RETURN(buffer_, Buffer::Allocate(a, std::max<size_t>(bytes, 64)));
    return true;
  }
  char* data() const { return buffer_ ? static_cast<char*>(buffer_->data()) : nullptr; }

 private:
  std::shared_ptr<Buffer> buffer_;
};

// A captured device graph of one plan in one context; see Note [CUDA graphs].
struct CapturedRun {
  std::shared_ptr<const ExecutionPlan> plan;  // keeps the key alive
  int plain_runs = 0;
  int64_t scratch_generation = -1;  // the device scratch the graph points into
  bool failed = false;
  std::unique_ptr<DeviceGraph> graph;
};

// What one concurrent Run owns: arenas, scratch, per-value views and, on a
// device, its stream, device arena, pinned staging and captured graphs.
class ExecutionContext {
 public:
  ExecutionContext(Allocator* host, Allocator* device, Allocator* pinned)
      : host_(host), device_(device), pinned_(pinned), scratch_(host),
        device_scratch_(device != nullptr ? device : host) {}

  Status Reserve(const ExecutionPlan& plan) {
    TP_ASSIGN_OR_RETURN(bool moved, arena_.Reserve(host_, plan.arena_bytes, "arena"));
    if (plan.uses_device) {
      TP_INTERNAL_CHECK(device_ != nullptr, "device plan on a host-only context");
      bool m2 = false, m3 = false;
      TP_ASSIGN_OR_RETURN(m2, device_arena_.Reserve(device_, plan.device_arena_bytes, "device arena"));
      TP_ASSIGN_OR_RETURN(m3, staging_.Reserve(pinned_, plan.staging_bytes, "staging buffer"));
      moved = moved || m2 || m3;
    }
    // Captured graphs point into the old memory.
    if (moved) captured_.clear();
    return Status::Ok();
  }
  char* arena() { return arena_.data(); }
  char* device_arena() { return device_arena_.data(); }
  char* staging() { return staging_.data(); }
  ContextScratch* scratch() { return &scratch_; }
  ContextScratch* device_scratch() { return &device_scratch_; }
  std::vector<Tensor>& tensors() { return tensors_; }
  KernelContext& kernel_context() { return kctx_; }
  std::unique_ptr<DeviceStream>& stream() { return stream_; }
  CapturedRun& captured(const std::shared_ptr<const ExecutionPlan>& plan) {
    CapturedRun& c = captured_[plan.get()];
    if (c.plan == nullptr) c.plan = plan;
    return c;
  }

 private:
  Allocator* host_;
  Allocator* device_;  // null for CPU sessions
  Allocator* pinned_;
  GrowableBuffer arena_, device_arena_, staging_;
  ContextScratch scratch_;
  ContextScratch device_scratch_;
  std::vector<Tensor> tensors_;
  KernelContext kctx_;
  std::unique_ptr<DeviceStream> stream_;
  std::map<const ExecutionPlan*, CapturedRun> captured_;
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

// Per-op-type wall time over every run of the session (host side: a GPU
// kernel's time is its launch). For finding where a model's time goes:
// TENSORPOD_PROFILE_OPS=1 tensorpod bench MODEL.
struct Session::OpProfile {
  struct Entry {
    int64_t calls = 0;
    double seconds = 0;
  };
  explicit OpProfile(size_t nodes) : by_node(nodes) {}

  std::mutex mu;
  std::vector<Entry> by_node;  // one per graph node, guarded by mu

  void Add(int node, double seconds) {
    std::lock_guard<std::mutex> lock(mu);
    by_node[node].calls += 1;
    by_node[node].seconds += seconds;
  }

  void Print(const Graph& graph) {
    std::map<std::string, Entry> by_op;
    double total = 0;
    for (size_t i = 0; i < by_node.size(); ++i) {
      Entry& e = by_op[graph.nodes()[i].op_type];
      e.calls += by_node[i].calls;
      e.seconds += by_node[i].seconds;
      total += by_node[i].seconds;
    }
    std::vector<std::pair<std::string, Entry>> rows(by_op.begin(), by_op.end());
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
    std::fprintf(stderr, "tensorpod op profile (TENSORPOD_PROFILE_OPS): %.3f ms in kernels\n", total * 1e3);
    std::fprintf(stderr, "  %-28s %10s %12s %7s\n", "op", "calls", "total ms", "share");
    for (const auto& [op, e] : rows) {
      if (e.calls == 0) continue;
      std::fprintf(stderr, "  %-28s %10lld %12.3f %6.1f%%\n", op.c_str(), static_cast<long long>(e.calls), e.seconds * 1e3,
                   total > 0 ? 100.0 * e.seconds / total : 0.0);
    }
  }
};

Session::~Session() {
  if (profile_ != nullptr) profile_->Print(model_.graph);
}

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
  if (device.type == DeviceType::kCuda && options.device_backend == nullptr) {
    TP_RETURN_IF_ERROR(GetDeviceBackend(device).status());
  }
  TP_CHECK_ARG(options.precision == "fp32" || options.precision == "tf32" || options.precision == "fp16" ||
                   options.precision == "bf16",
               "precision \"" << options.precision << "\" is not one of fp32, tf32, fp16, bf16");
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
  if (options.device_backend != nullptr) {
    TP_ASSIGN_OR_RETURN(device_, ParseDevice(options.device));
  } else {
    TP_ASSIGN_OR_RETURN(device_, ResolveDevice(options.device));
  }
  precision_ = options.precision;
  cuda_graphs_ = options.cuda_graphs;
  if (device_.type == DeviceType::kCuda) {
    if (options.device_backend != nullptr) {
      device_backend_ = options.device_backend;
    } else {
      TP_ASSIGN_OR_RETURN(device_backend_, GetDeviceBackend(device_));
    }
    TP_ASSIGN_OR_RETURN(device_allocator_, device_backend_->CreateSessionAllocator());
  } else if (precision_ != "fp32") {
    TP_LOG_INFO("precision {} applies to GPU sessions; this session runs on the cpu in fp32", precision_);
  }

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
    TP_RETURN_IF_ERROR(FuseAttention(&graph));
    if (device_backend_ == nullptr) {
      // Blocked (nChw16c) layouts are the CPU backend's; GPU kernels read plain NCHW.
      TP_RETURN_IF_ERROR(AssignBlockedLayouts(&graph));
      TP_RETURN_IF_ERROR(FuseConvResidual(&graph));
      TP_RETURN_IF_ERROR(FoldAttentionTransposes(&graph));
    }
  }
  if (device_backend_ != nullptr && (precision_ == "fp16" || precision_ == "bf16")) {
    TP_RETURN_IF_ERROR(ConvertFloatPrecision(&graph, precision_ == "fp16" ? DType::kF16 : DType::kBF16));
  }
  if (device_backend_ != nullptr && precision_ == "tf32") {
    for (Node& n : graph.nodes()) n.attrs.Set("tp_allow_tf32", int64_t{1});
  }
  TP_RETURN_IF_ERROR(EliminateDeadNodes(&graph));
  model_.graph = std::move(graph);
  if (const char* p = std::getenv("TENSORPOD_PROFILE_OPS"); p != nullptr && std::strcmp(p, "1") == 0) {
    profile_ = std::make_unique<OpProfile>(model_.graph.nodes().size());
  }
  // The device first; the partitioner falls back to the CPU for the rest.
  std::vector<const Backend*> backends = {&cpu};
  if (device_backend_ != nullptr) backends = {device_backend_};
  TP_ASSIGN_OR_RETURN(model_.nodes, Partition(model_.graph, backends, cpu, options.allow_cpu_fallback));
  TP_RETURN_IF_ERROR(AnalyzeModel(&model_));
  model_.node_on_device.assign(model_.nodes.size(), false);
  for (size_t i = 0; i < model_.nodes.size(); ++i) {
    if (device_backend_ == nullptr || model_.nodes[i].backend != device_backend_) continue;
    if (model_.plan_time[i]) {
      // Shape computations run on the host while planning, never on the device.
      const Node& n = model_.graph.nodes()[i];
      TP_ASSIGN_OR_RETURN(model_.nodes[i].kernel, cpu.CreateKernel(MakeNodeDef(model_.graph, n)));
      model_.nodes[i].backend = &cpu;
      continue;
    }
    model_.node_on_device[i] = true;
  }
  if (device_backend_ != nullptr) TP_RETURN_IF_ERROR(UploadConstants());

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
      TP_ASSIGN_OR_RETURN(auto ctx, NewContext());
      TP_RETURN_IF_ERROR(ctx->Reserve(**plan));
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
  PlanDevice device;
  device.backend = device_backend_;
  device.allocator = device_allocator_.get();
  TP_ASSIGN_OR_RETURN(auto plan, BuildPlan(model_, inputs, memory_limit_, device));
  if (plan->cacheable) {
    std::lock_guard<std::mutex> lock(mu_);
    plans_.emplace(std::move(key), plan);
  }
  return plan;
}

StatusOr<std::unique_ptr<ExecutionContext>> Session::NewContext() const {
  auto ctx = std::make_unique<ExecutionContext>(
      allocator_, device_allocator_.get(), device_backend_ ? device_backend_->pinned_allocator() : nullptr);
  if (device_backend_ != nullptr) {
    TP_ASSIGN_OR_RETURN(ctx->stream(), device_backend_->CreateStream());
  }
  return ctx;
}

StatusOr<std::unique_ptr<ExecutionContext>> Session::AcquireContext() const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!free_contexts_.empty()) {
      auto ctx = std::move(free_contexts_.back());
      free_contexts_.pop_back();
      return ctx;
    }
  }
  return NewContext();
}

Status Session::UploadConstants() {
  const Graph& g = model_.graph;
  model_.device_constants.assign(g.values().size(), Tensor());
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    if (!model_.node_on_device[i]) continue;
    const Node& n = g.nodes()[i];
    const std::vector<int>& host_inputs = model_.schemas[i]->value_inputs;
    for (size_t k = 0; k < n.inputs.size(); ++k) {
      const int v = n.inputs[k];
      if (v < 0 || !g.values()[v].is_constant() || model_.device_constants[v].defined()) continue;
      if (std::find(host_inputs.begin(), host_inputs.end(), static_cast<int>(k)) != host_inputs.end()) continue;
      const Tensor& host = g.values()[v].constant;
      auto buf = Buffer::Allocate(device_allocator_.get(), std::max<size_t>(host.nbytes(), 1));
      if (!buf.ok()) {
        return buf.status().WithContext("uploading constant \"" + g.values()[v].name + "\" (" +
                                        std::to_string(host.nbytes()) + " bytes) to " + device_.ToString());
      }
      Tensor t(host.dtype(), host.shape(), (*buf)->data(), *buf);
      TP_RETURN_IF_ERROR(device_backend_->Copy(host, &t));
      model_.device_constants[v] = std::move(t);
    }
  }
  return Status::Ok();
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
  TP_ASSIGN_OR_RETURN(std::unique_ptr<ExecutionContext> ctx, AcquireContext());
  struct Returner {
    const Session* s;
    std::unique_ptr<ExecutionContext>* ctx;
    ~Returner() { s->ReleaseContext(std::move(*ctx)); }
  } returner{this, &ctx};
  TP_RETURN_IF_ERROR(ctx->Reserve(*plan));

  std::vector<Tensor>& tensors = ctx->tensors();
  tensors.resize(plan->values.size());
  char* arena = ctx->arena();
  char* device_arena = ctx->device_arena();
  for (size_t v = 0; v < plan->values.size(); ++v) {
    const PlannedValue& pv = plan->values[v];
    switch (pv.slot) {
      case Slot::kInput: tensors[v] = *ordered[pv.index]; break;
      case Slot::kConstant: tensors[v] = pv.constant; break;
      case Slot::kArena:
        tensors[v] = Tensor(pv.dtype, pv.shape, (pv.on_device ? device_arena : arena) + pv.offset);
        break;
      case Slot::kOutput: {
        TP_ASSIGN_OR_RETURN(tensors[v], Tensor::Uninitialized(pv.dtype, pv.shape));
        break;
      }
      case Slot::kUnused: break;
    }
  }
  // Drop views into caller memory and outputs before the context is reused.
  struct Clearer {
    std::vector<Tensor>* t;
    ~Clearer() { for (auto& x : *t) x = Tensor(); }
  } clearer{&tensors};

  if (!plan->uses_device) {
    TP_RETURN_IF_ERROR(RunSteps(*plan, ctx.get(), false));
  } else {
    TP_RETURN_IF_ERROR(RunOnDevice(plan, ctx.get()));
  }
  std::vector<Tensor> result;
  result.reserve(wanted.size());
  for (int id : wanted) {
    // The plan's value of the graph output with value id `id`.
    int v = id;
    for (size_t k = 0; k < g.outputs().size(); ++k) if (g.outputs()[k] == id) v = plan->outputs[k];
    const Slot slot = plan->values[v].slot;
    if (slot == Slot::kOutput) {
      result.push_back(tensors[v]);
    } else {
      TP_ASSIGN_OR_RETURN(Tensor copy, tensors[v].Clone());
      result.push_back(std::move(copy));
    }
  }
  return result;
}

// Runs the plan's steps in order on the context's tensors. With a device:
// device kernels and copies are enqueued on the context's stream; a CPU step
// first waits for copies to the host still in flight. Staged copies go
// through the pinned buffer; filling it from the inputs and emptying it into
// the outputs is the caller's (RunOnDevice) job. `device_only` asserts that
// no host work happens in between (graph capture).
Status Session::RunSteps(const ExecutionPlan& plan, ExecutionContext* ctx, bool device_only) const {
  std::vector<Tensor>& tensors = ctx->tensors();
  KernelContext& kctx = ctx->kernel_context();
  DeviceStream* stream = ctx->stream().get();
  char* staging = ctx->staging();
  bool host_reads_pending = false;
  for (const PlanStep& step : plan.steps) {
    if (step.kind == StepKind::kToDevice) {
      const Tensor& src = tensors[step.inputs[0]];
      Tensor& dst = tensors[step.outputs[0]];
      const void* from = step.staged ? staging + step.staging_offset : src.raw_data();
      TP_RETURN_IF_ERROR(stream->CopyHostToDevice(dst.raw_data(), from, dst.nbytes()));
      continue;
    }
    if (step.kind == StepKind::kToHost) {
      const Tensor& src = tensors[step.inputs[0]];
      Tensor& dst = tensors[step.outputs[0]];
      void* to = step.staged ? staging + step.staging_offset : dst.raw_data();
      TP_RETURN_IF_ERROR(stream->CopyDeviceToHost(to, src.raw_data(), src.nbytes()));
      host_reads_pending = host_reads_pending || !step.staged;
      continue;
    }
    if (step.alias) continue;  // the output already shares the input's bytes
    if (!step.on_device && host_reads_pending) {
      TP_INTERNAL_CHECK(!device_only, "host step in a captured run");
      TP_RETURN_IF_ERROR(stream->Synchronize());
      host_reads_pending = false;
    }
    kctx.inputs.clear();
    kctx.outputs.clear();
    for (int v : step.inputs) kctx.inputs.push_back(v >= 0 ? &tensors[v] : nullptr);
    for (int v : step.outputs) kctx.outputs.push_back(v >= 0 ? &tensors[v] : nullptr);
    kctx.threads = threads_;
    kctx.stream = step.on_device ? stream : nullptr;
    kctx.scratch = step.on_device ? static_cast<Scratch*>(ctx->device_scratch()) : ctx->scratch();
    const auto started = profile_ != nullptr ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
    Status s = model_.nodes[step.node].kernel->Compute(kctx);
    if (profile_ != nullptr) {
      profile_->Add(step.node, std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
    if (!s.ok()) {
      const Node& n = model_.graph.nodes()[step.node];
      return s.WithContext("node \"" + n.name + "\" (" + n.op_type + ")" + (step.on_device ? " on " + device_.ToString() : ""));
    }
  }
  return Status::Ok();
}

// Note [CUDA graphs]
// A plan whose steps are all device kernels and staged copies (the usual GPU
// plan: no CPU fallback) runs as one device graph per (context, plan): the
// first run launches kernels one by one (warming up scratch, library handles
// and algorithm caches), the second records them while launching nothing and
// replays the recording, later runs replay it. A graph holds raw addresses,
// so it is dropped when the context's arenas or staging buffer move; a new
// input signature has its own plan and so its own graph. When recording
// fails (a kernel that cannot be captured, scratch that would have to grow),
// the context falls back to plain launches for that plan.
Status Session::RunOnDevice(const std::shared_ptr<const ExecutionPlan>& plan, ExecutionContext* ctx) const {
  std::vector<Tensor>& tensors = ctx->tensors();
  DeviceStream* stream = ctx->stream().get();
  char* staging = ctx->staging();
  TP_RETURN_IF_ERROR(stream->Activate());
  ctx->device_scratch()->set_stream(stream);
  // Whatever happens, nothing of this run is still in flight when the
  // context goes back to the pool (its staging buffer is reused).
  struct Drain {
    DeviceStream* s;
    bool armed = true;
    ~Drain() {
      if (armed) (void)s->Synchronize();
    }
  } drain{stream};
  for (const PlanStep& step : plan->steps) {
    if (step.kind == StepKind::kToDevice && step.staged) {
      const Tensor& src = tensors[step.inputs[0]];
      if (src.nbytes() > 0) std::memcpy(staging + step.staging_offset, src.raw_data(), src.nbytes());
    }
  }
  CapturedRun* captured = cuda_graphs_ && plan->graph_capturable ? &ctx->captured(plan) : nullptr;
  if (captured != nullptr && captured->graph != nullptr &&
      captured->scratch_generation != ctx->device_scratch()->generation()) {
    captured->graph.reset();  // its scratch moved: record again
  }
  bool ran = false;
  if (captured != nullptr && captured->graph != nullptr) {
    TP_RETURN_IF_ERROR(captured->graph->Launch(stream));
    ran = true;
  } else if (captured != nullptr && !captured->failed && captured->plain_runs >= 1) {
    Status s = stream->BeginCapture();
    StatusOr<std::unique_ptr<DeviceGraph>> graph = s;
    if (s.ok()) {
      ctx->device_scratch()->set_frozen(true);
      s = RunSteps(*plan, ctx, true);
      ctx->device_scratch()->set_frozen(false);
      graph = stream->EndCapture();
    }
    if (s.ok() && graph.ok()) {
      captured->graph = std::move(graph).value();
      captured->scratch_generation = ctx->device_scratch()->generation();
      TP_RETURN_IF_ERROR(captured->graph->Launch(stream));
      ran = true;
      TP_LOG_DEBUG("recorded a device graph of {} steps", plan->steps.size());
    } else {
      captured->failed = true;
      TP_LOG_INFO("device graph capture failed ({}); this input signature runs with plain launches",
                  s.ok() ? graph.status().message() : s.message());
    }
  }
  if (!ran) {
    TP_RETURN_IF_ERROR(RunSteps(*plan, ctx, false));
    if (captured != nullptr) ++captured->plain_runs;
  }
  drain.armed = false;
  TP_RETURN_IF_ERROR(stream->Synchronize());
  for (const PlanStep& step : plan->steps) {
    if (step.kind == StepKind::kToHost && step.staged) {
      Tensor& dst = tensors[step.outputs[0]];
      if (dst.nbytes() > 0) std::memcpy(dst.raw_data(), staging + step.staging_offset, dst.nbytes());
    }
  }
  return Status::Ok();
}

}  // namespace tensorpod::internal
