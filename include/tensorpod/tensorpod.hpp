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
// Thread safety: a Session may be Run from many threads at once; Tensors and
// SessionOptions are not synchronised.
#pragma once

#include <cstdint>
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

// Number of usable CUDA devices (0 without a GPU or a CUDA build).
inline int CudaDeviceCount() { return tp_cuda_device_count(); }

}  // namespace tensorpod
