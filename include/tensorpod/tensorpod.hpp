// tensorpod C++ API: a header-only RAII wrapper over the C ABI in
// tensorpod.h, compiled into the caller. Source-stable; errors are returned
// as tensorpod::Status / StatusOr, never thrown.
//
// Example:
//   namespace tp = tensorpod;
//   auto session = tp::Session::Load("model.onnx", tp::SessionOptions().Threads(2).MaxBatch(32));
//   if (!session.ok()) { std::cerr << session.status().ToString() << "\n"; return 1; }
//   std::vector<float> data(784);
//   tp::Tensor x = tp::Tensor::Borrow(data.data(), {1, 784}, tp::DType::kF32);
//   auto outputs = session->Run({{"input", x}});
//   const float* y = outputs->at(0).Data<float>();
//
//   // Many small requests in, full batches out:
//   auto batcher = tp::Batcher::Create(*session, tp::BatchOptions().MaxBatchSize(32).MaxQueueDelayUs(2000));
//   std::future<tp::Batcher::Result> f = batcher->Submit({{"input", x}});
//
// Thread safety: a Session may be Run from many threads at once, and a
// Batcher submitted to from many; Tensors, SessionOptions and BatchOptions
// are not synchronised.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tensorpod/tensorpod.h"

namespace tensorpod {

enum class StatusCode : int {
  kOk = TP_OK,
  kInvalidArgument = TP_INVALID_ARGUMENT,
  kFailedPrecondition = TP_FAILED_PRECONDITION,
  kNotFound = TP_NOT_FOUND,
  kAlreadyExists = TP_ALREADY_EXISTS,
  kUnimplemented = TP_UNIMPLEMENTED,
  kResourceExhausted = TP_RESOURCE_EXHAUSTED,
  kUnavailable = TP_UNAVAILABLE,
  kDeadlineExceeded = TP_DEADLINE_EXCEEDED,
  kCancelled = TP_CANCELLED,
  kInternal = TP_INTERNAL,
};

enum class DType : int {
  kUndefined = TP_DTYPE_UNDEFINED,
  kF32 = TP_DTYPE_F32,
  kF16 = TP_DTYPE_F16,
  kBF16 = TP_DTYPE_BF16,
  kF64 = TP_DTYPE_F64,
  kI64 = TP_DTYPE_I64,
  kI32 = TP_DTYPE_I32,
  kI16 = TP_DTYPE_I16,
  kI8 = TP_DTYPE_I8,
  kU8 = TP_DTYPE_U8,
  kBool = TP_DTYPE_BOOL,
  kU16 = TP_DTYPE_U16,
  kU32 = TP_DTYPE_U32,
  kU64 = TP_DTYPE_U64,
};

inline const char* DTypeName(DType t) { return tp_dtype_name(static_cast<tp_dtype_t>(t)); }
inline size_t DTypeSize(DType t) { return tp_dtype_size(static_cast<tp_dtype_t>(t)); }

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  // Takes ownership of a C status (NULL = OK).
  static Status FromC(tp_status_t* s) {
    if (s == nullptr) return Status();
    Status out(static_cast<StatusCode>(tp_status_code(s)), tp_status_message(s));
    tp_status_destroy(s);
    return out;
  }
  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const {
    return ok() ? "OK" : std::string(tp_status_code_name(static_cast<tp_status_code_t>(code_))) + ": " + message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status s) : status_(std::move(s)) {}  // NOLINT: implicit
  StatusOr(T v) : value_(std::move(v)) {}        // NOLINT: implicit
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  // REQUIRES: ok().
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T&& operator*() && { return std::move(*value_); }

 private:
  Status status_;
  std::optional<T> value_;
};

// A tensor: either owns its memory (Zeros, Run outputs) or borrows the
// caller's (Borrow). Move-only.
class Tensor {
 public:
  Tensor() = default;
  // A zero-copy view of `data`, which must outlive the Tensor.
  static Tensor Borrow(void* data, const std::vector<int64_t>& shape, DType dtype) {
    tp_tensor_t* t = nullptr;
    Status s = Status::FromC(
        tp_tensor_create_borrowed(data, static_cast<tp_dtype_t>(dtype), shape.data(), shape.size(), &t));
    return s.ok() ? Tensor(t) : Tensor();
  }
  static StatusOr<Tensor> Zeros(const std::vector<int64_t>& shape, DType dtype) {
    tp_tensor_t* t = nullptr;
    Status s = Status::FromC(tp_tensor_create(static_cast<tp_dtype_t>(dtype), shape.data(), shape.size(), &t));
    if (!s.ok()) return s;
    return Tensor(t);
  }
  // Takes ownership of a C tensor.
  explicit Tensor(tp_tensor_t* t) : t_(t, &tp_tensor_destroy) {}

  bool defined() const { return t_ != nullptr; }
  DType dtype() const { return static_cast<DType>(tp_tensor_dtype(t_.get())); }
  std::vector<int64_t> shape() const {
    const int64_t* s = tp_tensor_shape(t_.get());
    return std::vector<int64_t>(s, s + tp_tensor_rank(t_.get()));
  }
  int64_t num_elements() const { return tp_tensor_num_elements(t_.get()); }
  size_t byte_size() const { return tp_tensor_byte_size(t_.get()); }
  void* data() const { return tp_tensor_data(t_.get()); }
  template <typename T>
  T* Data() const { return static_cast<T*>(data()); }
  const tp_tensor_t* c_tensor() const { return t_.get(); }

 private:
  std::unique_ptr<tp_tensor_t, void (*)(tp_tensor_t*)> t_{nullptr, &tp_tensor_destroy};
};

class SessionOptions {
 public:
  SessionOptions() { tp_session_options_create(&raw_); }
  ~SessionOptions() { tp_session_options_destroy(raw_); }
  SessionOptions(const SessionOptions&) = delete;
  SessionOptions& operator=(const SessionOptions&) = delete;
  SessionOptions(SessionOptions&& o) noexcept : raw_(o.raw_), error_(std::move(o.error_)) { o.raw_ = nullptr; }

  SessionOptions& Device(const std::string& d) { return Keep(tp_session_options_set_device(raw_, d.c_str())); }
  SessionOptions& Threads(int n) { return Keep(tp_session_options_set_threads(raw_, n)); }
  SessionOptions& MaxBatch(int64_t n) { return Keep(tp_session_options_set_max_batch(raw_, n)); }
  SessionOptions& AllowCpuFallback(bool b) { return Keep(tp_session_options_set_allow_cpu_fallback(raw_, b)); }
  SessionOptions& LogLevel(const std::string& l) { return Keep(tp_session_options_set_log_level(raw_, l.c_str())); }
  SessionOptions& Optimize(bool b) { return Keep(tp_session_options_set_optimize(raw_, b)); }
  // "fp32", "tf32", "fp16", "bf16" (GPU sessions).
  SessionOptions& Precision(const std::string& p) { return Keep(tp_session_options_set_precision(raw_, p.c_str())); }
  SessionOptions& CudaGraphs(bool b) { return Keep(tp_session_options_set_cuda_graphs(raw_, b)); }

  // The first error a setter met, reported by Session::Load.
  const Status& error() const { return error_; }
  const tp_session_options_t* c_options() const { return raw_; }

 private:
  SessionOptions& Keep(tp_status_t* s) {
    Status st = Status::FromC(s);
    if (error_.ok()) error_ = std::move(st);
    return *this;
  }
  tp_session_options_t* raw_ = nullptr;
  Status error_;
};

struct TensorInfo {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;  // -1 for dynamic dims
};

using NamedTensors = std::vector<std::pair<std::string, const Tensor&>>;

class Session {
 public:
  static StatusOr<Session> Load(const std::string& path, const SessionOptions& options = SessionOptions()) {
    if (!options.error().ok()) return options.error();
    tp_session_t* s = nullptr;
    Status st = Status::FromC(tp_session_load(path.c_str(), options.c_options(), &s));
    if (!st.ok()) return st;
    return Session(s);
  }
  static StatusOr<Session> LoadFromBytes(const void* data, size_t size,
                                         const SessionOptions& options = SessionOptions()) {
    if (!options.error().ok()) return options.error();
    tp_session_t* s = nullptr;
    Status st = Status::FromC(tp_session_load_from_bytes(data, size, options.c_options(), &s));
    if (!st.ok()) return st;
    return Session(s);
  }

  // "cpu" or "cuda:N": where the session runs.
  std::string Device() const { return tp_session_device(s_.get()); }
  std::vector<TensorInfo> Inputs() const { return Describe(true); }
  std::vector<TensorInfo> Outputs() const { return Describe(false); }

  // Runs with named inputs; returns every output in model order, or those
  // named in `output_names`.
  StatusOr<std::vector<Tensor>> Run(const NamedTensors& inputs,
                                    const std::vector<std::string>& output_names = {}) const {
    std::vector<const char*> names;
    std::vector<const tp_tensor_t*> tensors;
    for (const auto& [name, t] : inputs) {
      names.push_back(name.c_str());
      tensors.push_back(t.c_tensor());
    }
    std::vector<const char*> out_names;
    for (const auto& n : output_names) out_names.push_back(n.c_str());
    const size_t count = output_names.empty() ? tp_session_output_count(s_.get()) : output_names.size();
    std::vector<tp_tensor_t*> raw(count, nullptr);
    Status st = Status::FromC(tp_session_run(s_.get(), names.data(), tensors.data(), names.size(),
                                             output_names.empty() ? nullptr : out_names.data(), count, raw.data()));
    if (!st.ok()) return st;
    std::vector<Tensor> out;
    for (tp_tensor_t* t : raw) out.emplace_back(t);
    return out;
  }

  const tp_session_t* c_session() const { return s_.get(); }

 private:
  explicit Session(tp_session_t* s) : s_(s, &tp_session_destroy) {}
  std::vector<TensorInfo> Describe(bool input) const {
    std::vector<TensorInfo> out;
    const size_t n = input ? tp_session_input_count(s_.get()) : tp_session_output_count(s_.get());
    for (size_t i = 0; i < n; ++i) {
      TensorInfo info;
      info.name = input ? tp_session_input_name(s_.get(), i) : tp_session_output_name(s_.get(), i);
      info.dtype = static_cast<DType>(input ? tp_session_input_dtype(s_.get(), i)
                                            : tp_session_output_dtype(s_.get(), i));
      const int64_t* shape = input ? tp_session_input_shape(s_.get(), i) : tp_session_output_shape(s_.get(), i);
      const size_t rank = input ? tp_session_input_rank(s_.get(), i) : tp_session_output_rank(s_.get(), i);
      info.shape.assign(shape, shape + rank);
      out.push_back(std::move(info));
    }
    return out;
  }
  std::unique_ptr<tp_session_t, void (*)(tp_session_t*)> s_{nullptr, &tp_session_destroy};
};

// Dynamic batching options (the C ABI's tp_batcher_options_*). Setters
// record their first error, which Batcher::Create reports.
class BatchOptions {
 public:
  BatchOptions() { Keep(tp_batcher_options_create(&raw_)); }
  ~BatchOptions() { tp_batcher_options_destroy(raw_); }
  BatchOptions(const BatchOptions&) = delete;
  BatchOptions& operator=(const BatchOptions&) = delete;
  BatchOptions(BatchOptions&& o) noexcept : raw_(o.raw_), error_(std::move(o.error_)) { o.raw_ = nullptr; }

  // Rows per batch (1: no batching; 0: the model has no batch dimension).
  BatchOptions& MaxBatchSize(int64_t n) { return Keep(tp_batcher_options_set_max_batch_size(raw_, n)); }
  BatchOptions& PreferredBatchSizes(const std::vector<int64_t>& sizes) {
    return Keep(tp_batcher_options_set_preferred_batch_sizes(raw_, sizes.data(), sizes.size()));
  }
  BatchOptions& MaxQueueDelayUs(int64_t us) { return Keep(tp_batcher_options_set_max_queue_delay_us(raw_, us)); }
  template <typename Rep, typename Period>
  BatchOptions& MaxQueueDelay(std::chrono::duration<Rep, Period> d) {
    return MaxQueueDelayUs(std::chrono::duration_cast<std::chrono::microseconds>(d).count());
  }
  // 0: unbounded; beyond it Submit fails with kResourceExhausted.
  BatchOptions& MaxQueueSize(int64_t n) { return Keep(tp_batcher_options_set_max_queue_size(raw_, n)); }
  // Levels 1 (highest) .. levels; default_level 0: the middle one.
  BatchOptions& PriorityLevels(int levels, int default_level = 0) {
    return Keep(tp_batcher_options_set_priority_levels(raw_, levels, default_level));
  }
  // reject: kDeadlineExceeded at the timeout; otherwise the request is
  // delayed behind all others.
  BatchOptions& DefaultTimeoutUs(int64_t us, bool reject = true) {
    return Keep(tp_batcher_options_set_default_timeout_us(raw_, us, reject ? 1 : 0));
  }
  BatchOptions& Instances(int n) { return Keep(tp_batcher_options_set_instances(raw_, n)); }
  BatchOptions& SloP99Ms(double ms) { return Keep(tp_batcher_options_set_slo_p99_ms(raw_, ms)); }
  BatchOptions& PreserveOrdering(bool b) { return Keep(tp_batcher_options_set_preserve_ordering(raw_, b ? 1 : 0)); }
  // For LoadReport::recommended_replicas (default 0.7).
  BatchOptions& TargetUtilization(double u) {
    return Keep(tp_batcher_options_set_target_utilization(raw_, u));
  }

  const Status& error() const { return error_; }
  const tp_batcher_options_t* c_options() const { return raw_; }

 private:
  BatchOptions& Keep(tp_status_t* s) {
    Status st = Status::FromC(s);
    if (error_.ok()) error_ = std::move(st);
    return *this;
  }
  tp_batcher_options_t* raw_ = nullptr;
  Status error_;
};

// Per-request options: 0 takes the batcher's defaults; a timeout may only
// shorten the default.
struct RequestOptions {
  int priority = 0;
  int64_t timeout_us = 0;
  RequestOptions& Priority(int p) {
    priority = p;
    return *this;
  }
  template <typename Rep, typename Period>
  RequestOptions& Timeout(std::chrono::duration<Rep, Period> d) {
    timeout_us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
    return *this;
  }
};

using LoadReport = tp_load_report_t;

// A dynamic batcher over a Session, which must outlive it. Destroying it
// completes queued requests with kUnavailable and waits for running ones.
class Batcher {
 public:
  using Result = StatusOr<std::vector<Tensor>>;
  // Called once per accepted request, on a batcher thread (see
  // tp_batch_callback_t); it must not destroy the batcher.
  using Callback = std::function<void(Result)>;

  static StatusOr<Batcher> Create(const Session& session, const BatchOptions& options = BatchOptions()) {
    if (!options.error().ok()) return options.error();
    tp_batcher_t* b = nullptr;
    Status st = Status::FromC(tp_batcher_create(session.c_session(), options.c_options(), &b));
    if (!st.ok()) return st;
    return Batcher(b);
  }

  // Queues a request (all model inputs, each [rows, ...]); their memory must
  // stay valid until `done` runs. Returns the id for Cancel; on error
  // nothing is queued and `done` is not called.
  StatusOr<uint64_t> Submit(const NamedTensors& inputs, Callback done,
                            const RequestOptions& request = RequestOptions()) const {
    std::vector<const char*> names;
    std::vector<const tp_tensor_t*> tensors;
    names.reserve(inputs.size());
    tensors.reserve(inputs.size());
    for (const auto& [name, t] : inputs) {
      names.push_back(name.c_str());
      tensors.push_back(t.c_tensor());
    }
    auto* owned = new Callback(std::move(done));
    uint64_t id = 0;
    Status st = Status::FromC(tp_batcher_submit(b_.get(), names.data(), tensors.data(), names.size(),
                                                request.priority, request.timeout_us, &Trampoline, owned, &id));
    if (!st.ok()) {
      delete owned;
      return st;
    }
    return id;
  }
  // The future form: errors at submission arrive through the future too.
  std::future<Result> Submit(const NamedTensors& inputs, const RequestOptions& request = RequestOptions()) const {
    auto promise = std::make_shared<std::promise<Result>>();
    std::future<Result> f = promise->get_future();
    StatusOr<uint64_t> id = Submit(inputs, [promise](Result r) { promise->set_value(std::move(r)); }, request);
    if (!id.ok()) promise->set_value(id.status());
    return f;
  }
  // Cancels a queued request (its callback gets kCancelled); false when it
  // is no longer queued.
  bool Cancel(uint64_t id) const { return tp_batcher_cancel(b_.get(), id) != 0; }
  StatusOr<LoadReport> Report() const {
    LoadReport r{};
    Status st = Status::FromC(tp_batcher_load_report(b_.get(), &r));
    if (!st.ok()) return st;
    return r;
  }
  // Distributions since creation (batch sizes, queue and compute times).
  StatusOr<tp_batcher_histograms_t> Histograms() const {
    tp_batcher_histograms_t h{};
    Status st = Status::FromC(tp_batcher_histograms(b_.get(), &h));
    if (!st.ok()) return st;
    return h;
  }
  const tp_batcher_t* c_batcher() const { return b_.get(); }

 private:
  explicit Batcher(tp_batcher_t* b) : b_(b, &tp_batcher_destroy) {}
  static void Trampoline(void* user_data, tp_status_t* status, tp_tensor_t** outputs, size_t count) {
    std::unique_ptr<Callback> done(static_cast<Callback*>(user_data));
    if (status != nullptr) {
      (*done)(Status::FromC(status));
      return;
    }
    std::vector<Tensor> out;
    out.reserve(count);
    for (size_t i = 0; i < count; ++i) out.emplace_back(outputs[i]);
    (*done)(std::move(out));
  }
  std::unique_ptr<tp_batcher_t, void (*)(tp_batcher_t*)> b_{nullptr, &tp_batcher_destroy};
};

// Number of usable CUDA devices (0 without a GPU or a CUDA build).
inline int CudaDeviceCount() { return tp_cuda_device_count(); }

}  // namespace tensorpod
