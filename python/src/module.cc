// tensorpod._C: the private extension module under the `tensorpod` package.
// It uses the public C++ API only (tensorpod.hpp) and does what needs C++:
// borrowing numpy buffers as engine tensors, handing engine outputs to numpy
// without a copy, DLPack in both directions, running with the GIL released,
// and the batcher's completions. Everything users see is in tensorpod/*.py.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dlpack_abi.h"
#include "tensorpod/tensorpod.hpp"
#include "tensorpod/version.h"

namespace py = pybind11;
namespace tp = tensorpod;
namespace dl = tensorpod_python::dlpack;

namespace {

// ------------------------------------------------------------------ errors

// tensorpod._errors' classes, by status code; filled at import.
py::handle g_error_classes[16];

py::handle ErrorClass(tp::StatusCode code) {
  const int c = static_cast<int>(code);
  if (c > 0 && c < 16 && g_error_classes[c]) return g_error_classes[c];
  return PyExc_RuntimeError;
}

// The exception object for a status (not raised).
py::object MakeError(const tp::Status& s) { return ErrorClass(s.code())(s.message()); }

[[noreturn]] void Raise(const tp::Status& s) {
  PyErr_SetString(ErrorClass(s.code()).ptr(), s.message().c_str());
  throw py::error_already_set();
}

[[noreturn]] void RaiseInvalid(const std::string& message) {
  Raise(tp::Status(tp::StatusCode::kInvalidArgument, message));
}

// ------------------------------------------------------------------ dtypes

struct DTypeEntry {
  tp::DType dtype;
  const char* numpy_name;
};
constexpr DTypeEntry kDTypes[] = {
    {tp::DType::kF32, "float32"}, {tp::DType::kF16, "float16"}, {tp::DType::kF64, "float64"},
    {tp::DType::kI64, "int64"},   {tp::DType::kI32, "int32"},   {tp::DType::kI16, "int16"},
    {tp::DType::kI8, "int8"},     {tp::DType::kU8, "uint8"},    {tp::DType::kU16, "uint16"},
    {tp::DType::kU32, "uint32"},  {tp::DType::kU64, "uint64"},  {tp::DType::kBool, "bool"},
};

// numpy dtypes by tensorpod dtype, made once (never destroyed: they may be
// needed until the interpreter is gone). bfloat16 comes from ml_dtypes,
// when it is installed.
py::object* g_numpy_dtypes[32];
py::object* g_bfloat16 = nullptr;

void InitDTypes() {
  for (const DTypeEntry& e : kDTypes) {
    g_numpy_dtypes[static_cast<int>(e.dtype)] = new py::object(py::dtype(e.numpy_name));
  }
  try {
    g_bfloat16 = new py::object(py::dtype::from_args(py::module_::import("ml_dtypes").attr("bfloat16")));
    g_numpy_dtypes[static_cast<int>(tp::DType::kBF16)] = g_bfloat16;
  } catch (py::error_already_set&) {
    PyErr_Clear();
  }
}

py::dtype NumpyDType(tp::DType t) {
  const int i = static_cast<int>(t);
  if (i < 0 || i >= 32 || g_numpy_dtypes[i] == nullptr) {
    Raise(tp::Status(tp::StatusCode::kUnimplemented,
                     std::string("dtype ") + tp::DTypeName(t) + " has no numpy equivalent" +
                         (t == tp::DType::kBF16 ? " (install ml_dtypes for bfloat16)" : "")));
  }
  return py::reinterpret_borrow<py::dtype>(*g_numpy_dtypes[i]);
}

// tensorpod's dtype for a numpy dtype; kUndefined when there is none.
tp::DType FromNumpy(const py::dtype& d) {
  if (g_bfloat16 != nullptr && d.equal(py::reinterpret_borrow<py::dtype>(*g_bfloat16))) return tp::DType::kBF16;
  const char kind = d.kind();
  const auto size = d.itemsize();
  switch (kind) {
    case 'f':
      return size == 4 ? tp::DType::kF32 : size == 2 ? tp::DType::kF16 : size == 8 ? tp::DType::kF64 : tp::DType::kUndefined;
    case 'i':
      return size == 8 ? tp::DType::kI64 : size == 4 ? tp::DType::kI32 : size == 2 ? tp::DType::kI16
             : size == 1 ? tp::DType::kI8 : tp::DType::kUndefined;
    case 'u':
      return size == 1 ? tp::DType::kU8 : size == 2 ? tp::DType::kU16 : size == 4 ? tp::DType::kU32
             : size == 8 ? tp::DType::kU64 : tp::DType::kUndefined;
    case 'b':
      return size == 1 ? tp::DType::kBool : tp::DType::kUndefined;
    default:
      return tp::DType::kUndefined;
  }
}

// Inputs that had to be copied (not C-contiguous, not aligned, another byte
// order, or not an array at all): tests read it to prove the zero-copy path.
std::atomic<int64_t> g_input_copies{0};

// ------------------------------------------------------------------ outputs

// An engine tensor as a numpy array that owns it: no copy.
py::array ToNumpy(tp::Tensor t) {
  py::dtype dtype = NumpyDType(t.dtype());
  const std::vector<int64_t> shape = t.shape();
  auto* owned = new tp::Tensor(std::move(t));
  py::capsule base(owned, "tensorpod.tensor", [](PyObject* cap) {
    delete static_cast<tp::Tensor*>(PyCapsule_GetPointer(cap, "tensorpod.tensor"));
  });
  if (owned->data() == nullptr) return py::array(dtype, shape);  // empty
  return py::array(dtype, std::vector<py::ssize_t>(shape.begin(), shape.end()), owned->data(), base);
}

py::list ToNumpyList(std::vector<tp::Tensor> tensors) {
  py::list out(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) out[i] = ToNumpy(std::move(tensors[i]));
  return out;
}

// ------------------------------------------------------------------ Tensor

// tensorpod.Tensor: an engine tensor over memory that `owner` keeps alive
// (a numpy array, a DLPack producer's tensor), or that the tensor owns.
struct PyTensor {
  tp::Tensor tensor;
  py::object owner;

  std::vector<int64_t> shape() const { return tensor.shape(); }
};

struct Feed {
  tp::Tensor tensor;
  py::object keep;  // what the tensor borrows from
};

// Borrows a numpy array (copying it once when it cannot be borrowed).
Feed FromArray(py::array arr, const std::string& what) {
  constexpr int kCContiguous = 0x0001, kAligned = 0x0100;  // NumPy's NPY_ARRAY_* flag bits
  const bool native = arr.dtype().byteorder() != '>';
  if (!(arr.flags() & kCContiguous) || !(arr.flags() & kAligned) || !native) {
    arr = py::array(py::module_::import("numpy").attr("ascontiguousarray")(
        arr, arr.dtype().attr("newbyteorder")("=")));
    ++g_input_copies;
  }
  const tp::DType dtype = FromNumpy(arr.dtype());
  if (dtype == tp::DType::kUndefined) {
    RaiseInvalid(what + ": numpy dtype " + py::str(arr.dtype()).cast<std::string>() + " is not supported");
  }
  std::vector<int64_t> shape(arr.shape(), arr.shape() + arr.ndim());
  Feed f;
  f.tensor = tp::Tensor::Borrow(const_cast<void*>(arr.data()), shape, dtype);
  if (!f.tensor.defined()) RaiseInvalid(what + ": cannot view an array of shape " + py::str(py::tuple(py::cast(shape))).cast<std::string>());
  f.keep = std::move(arr);
  return f;
}

// One feed value: a tensorpod.Tensor, a numpy array, or anything numpy can
// make an array of (converted to `want`, the model input's dtype).
Feed ToFeed(py::handle value, tp::DType want, const std::string& what) {
  if (py::isinstance<PyTensor>(value)) {
    const PyTensor& t = value.cast<const PyTensor&>();
    Feed f;
    f.tensor = tp::Tensor::Borrow(t.tensor.data(), t.tensor.shape(), t.tensor.dtype());
    f.keep = py::reinterpret_borrow<py::object>(value);
    return f;
  }
  if (py::isinstance<py::array>(value)) return FromArray(py::reinterpret_borrow<py::array>(value), what);
  ++g_input_copies;
  py::object np = py::module_::import("numpy");
  py::object arr;
  try {
    arr = want == tp::DType::kUndefined ? np.attr("asarray")(value) : np.attr("asarray")(value, NumpyDType(want));
  } catch (py::error_already_set& e) {
    RaiseInvalid(what + ": cannot convert a " + std::string(py::str(py::type::handle_of(value).attr("__name__"))) +
                 " to an array: " + e.what());
  }
  return FromArray(py::reinterpret_steal<py::array>(arr.release()), what);
}

// ------------------------------------------------------------------ DLPack

// An exported tensor: the capsule's ManagedTensor and what keeps it alive.
struct ExportContext {
  dl::ManagedTensor managed{};
  std::vector<int64_t> shape;
  py::object owner;  // the tensorpod.Tensor
};

void DeleteExport(dl::ManagedTensor* m) {
  auto* ctx = static_cast<ExportContext*>(m->manager_ctx);
  py::gil_scoped_acquire gil;  // consumers may call this from any thread
  delete ctx;
}

bool ToDLPackDType(tp::DType t, dl::DataType* out) {
  out->lanes = 1;
  switch (t) {
    case tp::DType::kF32: *out = {dl::kDLFloat, 32, 1}; return true;
    case tp::DType::kF16: *out = {dl::kDLFloat, 16, 1}; return true;
    case tp::DType::kF64: *out = {dl::kDLFloat, 64, 1}; return true;
    case tp::DType::kBF16: *out = {dl::kDLBfloat, 16, 1}; return true;
    case tp::DType::kI64: *out = {dl::kDLInt, 64, 1}; return true;
    case tp::DType::kI32: *out = {dl::kDLInt, 32, 1}; return true;
    case tp::DType::kI16: *out = {dl::kDLInt, 16, 1}; return true;
    case tp::DType::kI8: *out = {dl::kDLInt, 8, 1}; return true;
    case tp::DType::kU8: *out = {dl::kDLUInt, 8, 1}; return true;
    case tp::DType::kU16: *out = {dl::kDLUInt, 16, 1}; return true;
    case tp::DType::kU32: *out = {dl::kDLUInt, 32, 1}; return true;
    case tp::DType::kU64: *out = {dl::kDLUInt, 64, 1}; return true;
    case tp::DType::kBool: *out = {dl::kDLBool, 8, 1}; return true;
    default: return false;
  }
}

tp::DType FromDLPackDType(const dl::DataType& d) {
  if (d.lanes != 1) return tp::DType::kUndefined;
  switch (d.code) {
    case dl::kDLFloat:
      return d.bits == 32 ? tp::DType::kF32 : d.bits == 16 ? tp::DType::kF16 : d.bits == 64 ? tp::DType::kF64
             : tp::DType::kUndefined;
    case dl::kDLBfloat:
      return d.bits == 16 ? tp::DType::kBF16 : tp::DType::kUndefined;
    case dl::kDLInt:
      return d.bits == 64 ? tp::DType::kI64 : d.bits == 32 ? tp::DType::kI32 : d.bits == 16 ? tp::DType::kI16
             : d.bits == 8 ? tp::DType::kI8 : tp::DType::kUndefined;
    case dl::kDLUInt:
      return d.bits == 8 ? tp::DType::kU8 : d.bits == 16 ? tp::DType::kU16 : d.bits == 32 ? tp::DType::kU32
             : d.bits == 64 ? tp::DType::kU64 : tp::DType::kUndefined;
    case dl::kDLBool:
      return d.bits == 8 ? tp::DType::kBool : tp::DType::kUndefined;
    default:
      return tp::DType::kUndefined;
  }
}

py::capsule ExportDLPack(py::object self) {
  PyTensor& t = self.cast<PyTensor&>();
  auto ctx = std::make_unique<ExportContext>();
  if (!ToDLPackDType(t.tensor.dtype(), &ctx->managed.dl_tensor.dtype)) {
    Raise(tp::Status(tp::StatusCode::kUnimplemented,
                     std::string("dtype ") + tp::DTypeName(t.tensor.dtype()) + " has no DLPack type"));
  }
  ctx->shape = t.tensor.shape();
  ctx->owner = self;
  dl::Tensor& d = ctx->managed.dl_tensor;
  d.data = t.tensor.data();
  d.device = {dl::kDLCPU, 0};
  d.ndim = static_cast<int32_t>(ctx->shape.size());
  d.shape = ctx->shape.data();
  d.strides = nullptr;  // compact row-major
  d.byte_offset = 0;
  ctx->managed.manager_ctx = ctx.get();
  ctx->managed.deleter = &DeleteExport;
  dl::ManagedTensor* m = &ctx.release()->managed;
  // A capsule nobody consumed (still named "dltensor") frees the tensor.
  PyObject* cap = PyCapsule_New(m, dl::kCapsuleName, [](PyObject* c) {
    if (PyCapsule_IsValid(c, dl::kCapsuleName)) {
      auto* mt = static_cast<dl::ManagedTensor*>(PyCapsule_GetPointer(c, dl::kCapsuleName));
      if (mt != nullptr && mt->deleter != nullptr) mt->deleter(mt);
    }
  });
  if (cap == nullptr) {
    DeleteExport(m);
    throw py::error_already_set();
  }
  return py::reinterpret_steal<py::capsule>(cap);
}

// Imports a "dltensor" capsule without a copy; raises ValueError-derived
// InvalidArgumentError for what cannot be borrowed (the Python layer copies
// non-compact strides).
PyTensor ImportDLPack(py::capsule cap) {
  if (!PyCapsule_IsValid(cap.ptr(), dl::kCapsuleName)) {
    RaiseInvalid("from_dlpack: expected an unconsumed \"dltensor\" capsule (a DLPack capsule can be used once)");
  }
  auto* m = static_cast<dl::ManagedTensor*>(PyCapsule_GetPointer(cap.ptr(), dl::kCapsuleName));
  const dl::Tensor& d = m->dl_tensor;
  if (d.device.device_type != dl::kDLCPU && d.device.device_type != dl::kDLCUDAHost) {
    RaiseInvalid("from_dlpack: the tensor is on device type " + std::to_string(d.device.device_type) +
                 "; tensorpod borrows host memory only (copy it to the CPU first)");
  }
  const tp::DType dtype = FromDLPackDType(d.dtype);
  if (dtype == tp::DType::kUndefined) {
    RaiseInvalid("from_dlpack: DLPack type code " + std::to_string(d.dtype.code) + " with " +
                 std::to_string(d.dtype.bits) + " bits x " + std::to_string(d.dtype.lanes) + " lanes is not supported");
  }
  if (d.ndim < 0 || d.ndim > 64) RaiseInvalid("from_dlpack: rank " + std::to_string(d.ndim) + " is not supported");
  std::vector<int64_t> shape(d.shape, d.shape + d.ndim);
  if (d.strides != nullptr) {
    int64_t expected = 1;
    for (int i = d.ndim - 1; i >= 0; --i) {
      if (shape[i] != 1 && d.strides[i] != expected) {
        RaiseInvalid("from_dlpack: non-contiguous strides");
      }
      expected *= shape[i];
    }
  }
  // Own it now: the capsule is "used"; our own capsule calls the deleter.
  PyCapsule_SetName(cap.ptr(), dl::kUsedCapsuleName);
  py::capsule keeper(m, "tensorpod.dlpack", [](PyObject* c) {
    auto* mt = static_cast<dl::ManagedTensor*>(PyCapsule_GetPointer(c, "tensorpod.dlpack"));
    if (mt != nullptr && mt->deleter != nullptr) mt->deleter(mt);
  });
  PyTensor t;
  t.tensor = tp::Tensor::Borrow(static_cast<char*>(d.data) + d.byte_offset, shape, dtype);
  t.owner = std::move(keeper);
  return t;
}

// ------------------------------------------------------------------ Session

struct Session {
  tp::Session session;
  std::vector<std::string> input_names;
  std::vector<tp::DType> input_dtypes;

  explicit Session(tp::Session s) : session(std::move(s)) {
    for (const tp::TensorInfo& i : session.Inputs()) {
      input_names.push_back(i.name);
      input_dtypes.push_back(i.dtype);
    }
  }

  // feeds: a dict name -> value, or a sequence in model input order.
  std::vector<std::pair<std::string, Feed>> Feeds(py::handle feeds) const {
    std::vector<std::pair<std::string, Feed>> out;
    if (py::isinstance<py::dict>(feeds)) {
      for (auto item : py::reinterpret_borrow<py::dict>(feeds)) {
        if (!py::isinstance<py::str>(item.first)) RaiseInvalid("feed names must be str");
        std::string name = item.first.cast<std::string>();
        tp::DType want = tp::DType::kUndefined;
        for (size_t i = 0; i < input_names.size(); ++i) {
          if (input_names[i] == name) want = input_dtypes[i];
        }
        Feed f = ToFeed(item.second, want, "input \"" + name + "\"");
        out.emplace_back(std::move(name), std::move(f));
      }
      return out;
    }
    if (!py::isinstance<py::sequence>(feeds) || py::isinstance<py::str>(feeds)) {
      RaiseInvalid("inputs must be a dict of name -> array or a sequence of arrays in input order, got " +
                   std::string(py::str(py::type::handle_of(feeds).attr("__name__"))));
    }
    py::sequence seq = py::reinterpret_borrow<py::sequence>(feeds);
    if (seq.size() != input_names.size()) {
      RaiseInvalid("the model has " + std::to_string(input_names.size()) + " inputs, got " +
                   std::to_string(seq.size()) + " positional values");
    }
    for (size_t i = 0; i < input_names.size(); ++i) {
      out.emplace_back(input_names[i], ToFeed(seq[i], input_dtypes[i], "input \"" + input_names[i] + "\""));
    }
    return out;
  }

  py::list Run(py::handle feeds, std::optional<std::vector<std::string>> output_names) const {
    std::vector<std::pair<std::string, Feed>> fs = Feeds(feeds);
    tp::NamedTensors named;
    named.reserve(fs.size());
    for (const auto& [name, f] : fs) named.emplace_back(name, f.tensor);
    const std::vector<std::string> outs = output_names ? *output_names : std::vector<std::string>{};
    std::optional<tp::StatusOr<std::vector<tp::Tensor>>> r;
    {
      py::gil_scoped_release release;
      r.emplace(session.Run(named, outs));
    }
    if (!r->ok()) Raise(r->status());
    return ToNumpyList(std::move(*r).value());
  }

  py::list Describe(bool inputs) const {
    py::list out;
    for (const tp::TensorInfo& i : inputs ? session.Inputs() : session.Outputs()) {
      py::list shape;
      for (int64_t d : i.shape) shape.append(d < 0 ? py::object(py::none()) : py::object(py::int_(d)));
      out.append(py::make_tuple(i.name, tp::DTypeName(i.dtype), static_cast<int>(i.dtype), py::tuple(shape)));
    }
    return out;
  }
};

tp::SessionOptions MakeOptions(const std::string& device, int threads, const std::string& precision,
                               int64_t max_batch, bool cuda_graphs, bool optimize, bool allow_cpu_fallback,
                               const std::string& log_level) {
  tp::SessionOptions o;
  o.Device(device).Threads(threads).Precision(precision).CudaGraphs(cuda_graphs).Optimize(optimize);
  o.AllowCpuFallback(allow_cpu_fallback);
  if (max_batch > 0) o.MaxBatch(max_batch);
  if (!log_level.empty()) o.LogLevel(log_level);
  return o;
}

std::unique_ptr<Session> LoadPath(const std::string& path, const std::string& device, int threads,
                                  const std::string& precision, int64_t max_batch, bool cuda_graphs, bool optimize,
                                  bool allow_cpu_fallback, const std::string& log_level) {
  tp::SessionOptions o = MakeOptions(device, threads, precision, max_batch, cuda_graphs, optimize,
                                     allow_cpu_fallback, log_level);
  std::optional<tp::StatusOr<tp::Session>> s;
  {
    py::gil_scoped_release release;
    s.emplace(tp::Session::Load(path, o));
  }
  if (!s->ok()) Raise(s->status());
  return std::make_unique<Session>(std::move(*s).value());
}

std::unique_ptr<Session> LoadBytes(py::bytes data, const std::string& device, int threads,
                                   const std::string& precision, int64_t max_batch, bool cuda_graphs, bool optimize,
                                   bool allow_cpu_fallback, const std::string& log_level) {
  tp::SessionOptions o = MakeOptions(device, threads, precision, max_batch, cuda_graphs, optimize,
                                     allow_cpu_fallback, log_level);
  char* buf = nullptr;
  py::ssize_t size = 0;
  if (PyBytes_AsStringAndSize(data.ptr(), &buf, &size) != 0) throw py::error_already_set();
  std::optional<tp::StatusOr<tp::Session>> s;
  {
    py::gil_scoped_release release;  // `data` stays referenced by the caller
    s.emplace(tp::Session::LoadFromBytes(buf, static_cast<size_t>(size), o));
  }
  if (!s->ok()) Raise(s->status());
  return std::make_unique<Session>(std::move(*s).value());
}

// ------------------------------------------------------------------ Batcher

// What a queued request holds from Python: its callback and the objects its
// input tensors borrow. Created and destroyed with the GIL held.
struct Request {
  py::object callback;  // callback(outputs: list | None, error: BaseException | None)
  std::vector<py::object> keep;
};

struct Batcher {
  py::object session_ref;  // keeps the Session alive while the batcher runs
  std::unique_ptr<tp::Batcher> batcher;

  ~Batcher() { Close(); }

  // Waits for running batches; queued requests complete with UNAVAILABLE.
  // Their callbacks need the GIL, so it is released meanwhile.
  void Close() {
    if (!batcher) return;
    std::unique_ptr<tp::Batcher> b = std::move(batcher);
    if (Py_IsInitialized() && PyGILState_Check()) {
      py::gil_scoped_release release;
      b.reset();
    } else {
      b.reset();
    }
  }

  const tp::Batcher& Get() const {
    if (!batcher) Raise(tp::Status(tp::StatusCode::kUnavailable, "the batcher is closed"));
    return *batcher;
  }

  uint64_t Submit(py::handle feeds, py::object callback, int priority, int64_t timeout_us) {
    const tp::Batcher& b = Get();
    const Session& s = session_ref.cast<const Session&>();
    std::vector<std::pair<std::string, Feed>> fs = s.Feeds(feeds);
    tp::NamedTensors named;
    named.reserve(fs.size());
    auto* request = new Request{std::move(callback), {}};
    for (auto& [name, f] : fs) {
      named.emplace_back(name, f.tensor);
      request->keep.push_back(f.keep);
    }
    tp::RequestOptions ro;
    ro.priority = priority;
    ro.timeout_us = timeout_us;
    tp::StatusOr<uint64_t> id = b.Submit(
        named,
        [request](tp::Batcher::Result r) {
          py::gil_scoped_acquire gil;
          std::unique_ptr<Request> owned(request);
          try {
            if (r.ok()) {
              owned->callback(ToNumpyList(std::move(r).value()), py::none());
            } else {
              owned->callback(py::none(), MakeError(r.status()));
            }
          } catch (py::error_already_set& e) {
            e.discard_as_unraisable("tensorpod batcher callback");
          }
        },
        ro);
    if (!id.ok()) {
      delete request;
      Raise(id.status());
    }
    return *id;
  }

  bool Cancel(uint64_t id) { return Get().Cancel(id); }

  py::dict Report() const {
    tp::StatusOr<tp::LoadReport> r = Get().Report();
    if (!r.ok()) Raise(r.status());
    const tp::LoadReport& l = *r;
    py::dict d;
    d["queue_depth"] = l.queue_depth;
    d["in_flight"] = l.in_flight;
    d["arrival_rate_per_s"] = l.arrival_rate_per_s;
    d["completed_per_s"] = l.completed_per_s;
    d["batches_per_s"] = l.batches_per_s;
    d["mean_batch_size"] = l.mean_batch_size;
    d["mean_batch_fill"] = l.mean_batch_fill;
    d["queue_compute_ratio"] = l.queue_compute_ratio;
    d["instance_busy_fraction"] = l.instance_busy_fraction;
    d["queue_p50_ms"] = l.queue_p50_ms;
    d["queue_p95_ms"] = l.queue_p95_ms;
    d["queue_p99_ms"] = l.queue_p99_ms;
    d["compute_p50_ms"] = l.compute_p50_ms;
    d["compute_p95_ms"] = l.compute_p95_ms;
    d["compute_p99_ms"] = l.compute_p99_ms;
    d["total_p50_ms"] = l.total_p50_ms;
    d["total_p95_ms"] = l.total_p95_ms;
    d["total_p99_ms"] = l.total_p99_ms;
    d["capacity_per_s"] = l.capacity_per_s;
    d["recommended_replicas"] = l.recommended_replicas;
    d["rejected"] = l.rejected;
    d["window_s"] = static_cast<double>(l.window_us) / 1e6;
    return d;
  }
};

std::unique_ptr<Batcher> MakeBatcher(py::object session, int64_t max_batch_size,
                                     std::vector<int64_t> preferred_batch_sizes, int64_t max_queue_delay_us,
                                     int64_t max_queue_size, int priority_levels, int default_priority,
                                     int64_t default_timeout_us, bool timeout_reject, int instances,
                                     bool preserve_ordering, double slo_p99_ms, double target_utilization) {
  const Session& s = session.cast<const Session&>();
  tp::BatchOptions o;
  o.MaxBatchSize(max_batch_size).MaxQueueDelayUs(max_queue_delay_us).MaxQueueSize(max_queue_size);
  o.PriorityLevels(priority_levels, default_priority).Instances(instances).PreserveOrdering(preserve_ordering);
  o.TargetUtilization(target_utilization);
  if (!preferred_batch_sizes.empty()) o.PreferredBatchSizes(preferred_batch_sizes);
  if (default_timeout_us > 0) o.DefaultTimeoutUs(default_timeout_us, timeout_reject);
  if (slo_p99_ms > 0) o.SloP99Ms(slo_p99_ms);
  tp::StatusOr<tp::Batcher> b = tp::Batcher::Create(s.session, o);
  if (!b.ok()) Raise(b.status());
  auto out = std::make_unique<Batcher>();
  out->session_ref = std::move(session);
  out->batcher = std::make_unique<tp::Batcher>(std::move(b).value());
  return out;
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "tensorpod's private extension module; use the tensorpod package.";
  m.attr("__version__") = tp_get_version_string();
  m.attr("API_VERSION") = py::make_tuple(TP_API_VERSION_MAJOR, TP_API_VERSION_MINOR);

  py::module_ errors = py::module_::import("tensorpod._errors");
  const std::pair<tp::StatusCode, const char*> classes[] = {
      {tp::StatusCode::kInvalidArgument, "InvalidArgumentError"},
      {tp::StatusCode::kFailedPrecondition, "FailedPreconditionError"},
      {tp::StatusCode::kNotFound, "NotFoundError"},
      {tp::StatusCode::kAlreadyExists, "AlreadyExistsError"},
      {tp::StatusCode::kUnimplemented, "UnimplementedError"},
      {tp::StatusCode::kResourceExhausted, "ResourceExhaustedError"},
      {tp::StatusCode::kUnavailable, "UnavailableError"},
      {tp::StatusCode::kDeadlineExceeded, "DeadlineExceededError"},
      {tp::StatusCode::kCancelled, "CancelledError"},
      {tp::StatusCode::kInternal, "InternalError"},
  };
  for (const auto& [code, name] : classes) {
    g_error_classes[static_cast<int>(code)] = py::object(errors.attr(name)).release();  // kept for the process
  }
  InitDTypes();

  m.def("cuda_device_count", &tp::CudaDeviceCount, "Usable CUDA devices (0 without a GPU or a CUDA build).");
  m.def("input_copies", [] { return g_input_copies.load(); },
        "How many inputs so far had to be copied instead of borrowed.");
  m.def("numpy_dtype", [](int dtype) { return NumpyDType(static_cast<tp::DType>(dtype)); });
  m.def("capsule_data_ptr", [](py::capsule c) -> uintptr_t {
    const char* name = c.name();
    if (name == nullptr || std::strcmp(name, "tensorpod.tensor") != 0) RaiseInvalid("not a tensorpod output capsule");
    return reinterpret_cast<uintptr_t>(static_cast<tp::Tensor*>(c.get_pointer())->data());
  }, "The engine buffer a model output's base capsule owns (for zero-copy checks).");

  py::class_<PyTensor>(m, "Tensor")
      .def_static("from_numpy", [](py::array a) {
        Feed f = FromArray(std::move(a), "Tensor.from_numpy");
        return PyTensor{std::move(f.tensor), std::move(f.keep)};
      })
      .def_property_readonly("shape", [](const PyTensor& t) { return py::tuple(py::cast(t.shape())); })
      .def_property_readonly("dtype_code", [](const PyTensor& t) { return static_cast<int>(t.tensor.dtype()); })
      .def_property_readonly("nbytes", [](const PyTensor& t) { return t.tensor.byte_size(); })
      .def_property_readonly("data_ptr", [](const PyTensor& t) { return reinterpret_cast<uintptr_t>(t.tensor.data()); })
      .def("numpy", [](py::object self) {
        PyTensor& t = self.cast<PyTensor&>();
        const std::vector<int64_t> shape = t.tensor.shape();
        return py::array(NumpyDType(t.tensor.dtype()), std::vector<py::ssize_t>(shape.begin(), shape.end()),
                         t.tensor.data(), self);
      })
      .def_property_readonly("dtype", [](const PyTensor& t) { return NumpyDType(t.tensor.dtype()); },
                             "The numpy dtype.")
      .def_property_readonly("device", [](const PyTensor&) { return std::string("cpu"); })
      .def("__dlpack__", [](py::object self, py::kwargs) { return ExportDLPack(std::move(self)); },
           "DLPack export (host memory, compact row-major, no copy).")
      .def("__dlpack_device__", [](const PyTensor&) { return py::make_tuple(static_cast<int>(dl::kDLCPU), 0); })
      .def("__array__", [](py::object self, py::args, py::kwargs) {
        PyTensor& t = self.cast<PyTensor&>();
        const std::vector<int64_t> shape = t.tensor.shape();
        return py::array(NumpyDType(t.tensor.dtype()), std::vector<py::ssize_t>(shape.begin(), shape.end()),
                         t.tensor.data(), self);
      })
      .def("__repr__", [](const PyTensor& t) {
        std::string s = "tensorpod.Tensor(shape=(";
        const std::vector<int64_t> shape = t.tensor.shape();
        for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
        if (shape.size() == 1) s += ",";
        return s + "), dtype=" + tp::DTypeName(t.tensor.dtype()) + ")";
      });
  m.def("from_dlpack_capsule", &ImportDLPack);

  py::class_<Session>(m, "Session")
      .def_static("load", &LoadPath, py::arg("path"), py::arg("device"), py::arg("threads"), py::arg("precision"),
                  py::arg("max_batch"), py::arg("cuda_graphs"), py::arg("optimize"), py::arg("allow_cpu_fallback"),
                  py::arg("log_level"))
      .def_static("load_bytes", &LoadBytes, py::arg("data"), py::arg("device"), py::arg("threads"),
                  py::arg("precision"), py::arg("max_batch"), py::arg("cuda_graphs"), py::arg("optimize"),
                  py::arg("allow_cpu_fallback"), py::arg("log_level"))
      .def_property_readonly("device", [](const Session& s) { return s.session.Device(); })
      .def_property_readonly("inputs", [](const Session& s) { return s.Describe(true); })
      .def_property_readonly("outputs", [](const Session& s) { return s.Describe(false); })
      .def("run", &Session::Run, py::arg("feeds"), py::arg("output_names") = py::none());

  py::class_<Batcher>(m, "Batcher")
      .def(py::init(&MakeBatcher), py::arg("session"), py::arg("max_batch_size"), py::arg("preferred_batch_sizes"),
           py::arg("max_queue_delay_us"), py::arg("max_queue_size"), py::arg("priority_levels"),
           py::arg("default_priority"), py::arg("default_timeout_us"), py::arg("timeout_reject"),
           py::arg("instances"), py::arg("preserve_ordering"), py::arg("slo_p99_ms"), py::arg("target_utilization"))
      .def("submit", &Batcher::Submit, py::arg("feeds"), py::arg("callback"), py::arg("priority"),
           py::arg("timeout_us"))
      .def("cancel", &Batcher::Cancel)
      .def("load_report", &Batcher::Report)
      .def("close", &Batcher::Close)
      .def_property_readonly("closed", [](const Batcher& b) { return !b.batcher; });
}
