// The C ABI: handles are the internal objects behind opaque structs. Nothing
// crosses this boundary as an exception.
#include "tensorpod/tensorpod.h"

#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "core/logging.h"
#include "batching/batcher.h"
#include "runtime/devices.h"
#include "runtime/session.h"

namespace ti = tensorpod::internal;

struct tp_status_t {
  ti::StatusCode code;
  std::string message;
};

struct tp_tensor_t {
  ti::Tensor tensor;
};

struct tp_session_options_t {
  ti::SessionOptions options;
};

struct tp_batcher_options_t {
  ti::BatcherOptions options;
};

struct tp_batcher_t {
  std::unique_ptr<ti::Batcher> batcher;
};

struct tp_session_t {
  std::unique_ptr<ti::Session> session;
  std::vector<std::pair<std::string, int64_t>> op_types;
  std::string device;
};

namespace {

// Returned when an error's own status cannot be allocated: an error must
// never turn into NULL (success). tp_status_destroy leaves it alone.
tp_status_t g_out_of_memory{ti::StatusCode::kResourceExhausted, "out of memory"};

tp_status_t* Error(ti::StatusCode code, std::string message) noexcept {
  try {
    return new tp_status_t{code, std::move(message)};
  } catch (...) {
    return &g_out_of_memory;
  }
}

tp_status_t* MakeStatus(const ti::Status& s) noexcept {
  if (s.ok()) return nullptr;
  try {
    return Error(s.code(), s.message());
  } catch (...) {  // copying the message
    return &g_out_of_memory;
  }
}

tp_status_t* NullArg(const char* what) {
  return Error(ti::StatusCode::kInvalidArgument, std::string(what) + " must not be NULL");
}

// Runs `fn` (returning tp_status_t*) turning any escaped exception into a
// status: a bad_alloc is RESOURCE_EXHAUSTED, anything else INTERNAL.
template <typename Fn>
tp_status_t* Guard(Fn&& fn) {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    return Error(ti::StatusCode::kResourceExhausted, "out of memory");
  } catch (const std::exception& e) {
    return Error(ti::StatusCode::kInternal, std::string("unexpected exception: ") + e.what());
  } catch (...) {
    return Error(ti::StatusCode::kInternal, "unexpected exception");
  }
}

ti::StatusOr<ti::Shape> ShapeFrom(const int64_t* shape, size_t rank) {
  TP_CHECK_ARG(shape != nullptr || rank == 0, "shape must not be NULL when rank > 0");
  TP_CHECK_ARG(rank <= 64, "rank " << rank << " exceeds the supported 64");
  ti::Shape s(shape, shape + rank);
  TP_RETURN_IF_ERROR(ti::NumElements(s).status());
  return s;
}

const ti::IoInfo* Io(const tp_session_t* s, size_t index, bool input) {
  if (s == nullptr) return nullptr;
  const auto& v = input ? s->session->inputs() : s->session->outputs();
  return index < v.size() ? &v[index] : nullptr;
}

tp_tensor_t* Wrap(ti::Tensor t) { return new tp_tensor_t{std::move(t)}; }

}  // namespace

extern "C" {

void tp_get_api_version(int* major, int* minor) {
  if (major) *major = TP_API_VERSION_MAJOR;
  if (minor) *minor = TP_API_VERSION_MINOR;
}

const char* tp_get_version_string(void) { return TENSORPOD_VERSION_STRING; }

int tp_check_api_version(int major, int minor) {
  return major == TP_API_VERSION_MAJOR && minor <= TP_API_VERSION_MINOR;
}

tp_status_code_t tp_status_code(const tp_status_t* status) {
  return status ? static_cast<tp_status_code_t>(status->code) : TP_OK;
}

const char* tp_status_message(const tp_status_t* status) { return status ? status->message.c_str() : ""; }

const char* tp_status_code_name(tp_status_code_t code) {
  if (code < TP_OK || code > TP_INTERNAL) return "UNKNOWN";
  return ti::StatusCodeName(static_cast<ti::StatusCode>(code));
}

void tp_status_destroy(tp_status_t* status) {
  if (status != &g_out_of_memory) delete status;
}

size_t tp_dtype_size(tp_dtype_t dtype) {
  return ti::IsValidDType(dtype) ? ti::DTypeSize(static_cast<ti::DType>(dtype)) : 0;
}

const char* tp_dtype_name(tp_dtype_t dtype) {
  return ti::IsValidDType(dtype) ? ti::DTypeName(static_cast<ti::DType>(dtype)) : "undefined";
}

tp_status_t* tp_tensor_create(tp_dtype_t dtype, const int64_t* shape, size_t rank, tp_tensor_t** out) {
  return Guard([&]() -> tp_status_t* {
    if (out == nullptr) return NullArg("out");
    if (!ti::IsValidDType(dtype)) {
      return Error(ti::StatusCode::kInvalidArgument, "dtype " + std::to_string(dtype) + " is not a tp_dtype_t");
    }
    auto s = ShapeFrom(shape, rank);
    if (!s.ok()) return MakeStatus(s.status());
    auto t = ti::Tensor::Empty(static_cast<ti::DType>(dtype), *s);
    if (!t.ok()) return MakeStatus(t.status());
    *out = Wrap(std::move(t).value());
    return nullptr;
  });
}

tp_status_t* tp_tensor_create_borrowed(void* data, tp_dtype_t dtype, const int64_t* shape, size_t rank,
                                       tp_tensor_t** out) {
  return Guard([&]() -> tp_status_t* {
    if (out == nullptr) return NullArg("out");
    if (!ti::IsValidDType(dtype)) {
      return Error(ti::StatusCode::kInvalidArgument, "dtype " + std::to_string(dtype) + " is not a tp_dtype_t");
    }
    auto s = ShapeFrom(shape, rank);
    if (!s.ok()) return MakeStatus(s.status());
    if (data == nullptr && ti::NumElementsUnchecked(*s) > 0) return NullArg("data");
    *out = Wrap(ti::Tensor(static_cast<ti::DType>(dtype), *s, data));
    return nullptr;
  });
}

void tp_tensor_destroy(tp_tensor_t* tensor) { delete tensor; }
tp_dtype_t tp_tensor_dtype(const tp_tensor_t* t) {
  return t ? static_cast<tp_dtype_t>(t->tensor.dtype()) : TP_DTYPE_UNDEFINED;
}
size_t tp_tensor_rank(const tp_tensor_t* t) { return t ? t->tensor.shape().size() : 0; }
const int64_t* tp_tensor_shape(const tp_tensor_t* t) { return t ? t->tensor.shape().data() : nullptr; }
int64_t tp_tensor_num_elements(const tp_tensor_t* t) { return t ? t->tensor.num_elements() : 0; }
size_t tp_tensor_byte_size(const tp_tensor_t* t) { return t ? t->tensor.nbytes() : 0; }
void* tp_tensor_data(tp_tensor_t* t) { return t ? t->tensor.raw_data() : nullptr; }

tp_status_t* tp_session_options_create(tp_session_options_t** out) {
  return Guard([&]() -> tp_status_t* {
    if (out == nullptr) return NullArg("out");
    *out = new tp_session_options_t();
    return nullptr;
  });
}

void tp_session_options_destroy(tp_session_options_t* options) { delete options; }

tp_status_t* tp_session_options_set_device(tp_session_options_t* o, const char* device) {
  if (o == nullptr) return NullArg("options");
  if (device == nullptr) return NullArg("device");
  return Guard([&]() -> tp_status_t* {
    auto d = ti::ParseDevice(device);
    if (!d.ok()) return MakeStatus(d.status());
    o->options.device = device;
    return nullptr;
  });
}

tp_status_t* tp_session_options_set_threads(tp_session_options_t* o, int threads) {
  if (o == nullptr) return NullArg("options");
  if (threads < 0 || threads > 1024) {
    return Error(ti::StatusCode::kInvalidArgument,
                 "threads must be between 0 (one per core) and 1024, got " + std::to_string(threads));
  }
  o->options.threads = threads;
  return nullptr;
}

tp_status_t* tp_session_options_set_max_batch(tp_session_options_t* o, int64_t max_batch) {
  if (o == nullptr) return NullArg("options");
  if (max_batch < 0) {
    return Error(ti::StatusCode::kInvalidArgument, "max_batch must be >= 0, got " + std::to_string(max_batch));
  }
  o->options.max_batch = max_batch;
  return nullptr;
}

tp_status_t* tp_session_options_set_allow_cpu_fallback(tp_session_options_t* o, int allow) {
  if (o == nullptr) return NullArg("options");
  o->options.allow_cpu_fallback = allow != 0;
  return nullptr;
}

tp_status_t* tp_session_options_set_log_level(tp_session_options_t* o, const char* level) {
  if (o == nullptr) return NullArg("options");
  if (level == nullptr) return NullArg("level");
  return Guard([&]() -> tp_status_t* {
    if (!ti::SetLogLevel(level)) {
      return Error(ti::StatusCode::kInvalidArgument,
                   std::string("log level \"") + level + "\" is not one of trace, debug, info, warn, error, off");
    }
    o->options.log_level = level;
    return nullptr;
  });
}

tp_status_t* tp_session_options_set_optimize(tp_session_options_t* o, int optimize) {
  if (o == nullptr) return NullArg("options");
  o->options.optimize = optimize != 0;
  return nullptr;
}

tp_status_t* tp_session_options_set_precision(tp_session_options_t* o, const char* precision) {
  if (o == nullptr) return NullArg("options");
  if (precision == nullptr) return NullArg("precision");
  const std::string p = precision;
  if (p != "fp32" && p != "tf32" && p != "fp16" && p != "bf16") {
    return MakeStatus(TP_ERROR(kInvalidArgument, "precision \"" << p << "\" is not one of fp32, tf32, fp16, bf16"));
  }
  o->options.precision = p;
  return nullptr;
}

tp_status_t* tp_session_options_set_cuda_graphs(tp_session_options_t* o, int enable) {
  if (o == nullptr) return NullArg("options");
  o->options.cuda_graphs = enable != 0;
  return nullptr;
}

int tp_cuda_device_count(void) { return ti::CudaDevices(nullptr); }

static tp_session_t* WrapSession(std::unique_ptr<ti::Session> s) {
  auto* out = new tp_session_t{std::move(s), {}, {}};
  out->device = out->session->device();
  for (const auto& [name, count] : out->session->stats().op_histogram) out->op_types.emplace_back(name, count);
  return out;
}

tp_status_t* tp_session_load(const char* path, const tp_session_options_t* options, tp_session_t** out) {
  return Guard([&]() -> tp_status_t* {
    if (path == nullptr) return NullArg("path");
    if (out == nullptr) return NullArg("out");
    static const ti::SessionOptions kDefaults;
    auto s = ti::Session::Load(path, options ? options->options : kDefaults);
    if (!s.ok()) return MakeStatus(s.status());
    *out = WrapSession(std::move(s).value());
    return nullptr;
  });
}

tp_status_t* tp_session_load_from_bytes(const void* data, size_t size, const tp_session_options_t* options,
                                        tp_session_t** out) {
  return Guard([&]() -> tp_status_t* {
    if (data == nullptr && size > 0) return NullArg("data");
    if (out == nullptr) return NullArg("out");
    static const ti::SessionOptions kDefaults;
    auto s = ti::Session::LoadFromBytes(data, size, options ? options->options : kDefaults);
    if (!s.ok()) return MakeStatus(s.status());
    *out = WrapSession(std::move(s).value());
    return nullptr;
  });
}

void tp_session_destroy(tp_session_t* session) { delete session; }

const char* tp_session_device(const tp_session_t* session) {
  return session == nullptr ? nullptr : session->device.c_str();
}

size_t tp_session_input_count(const tp_session_t* s) { return s ? s->session->inputs().size() : 0; }
size_t tp_session_output_count(const tp_session_t* s) { return s ? s->session->outputs().size() : 0; }

const char* tp_session_input_name(const tp_session_t* s, size_t i) {
  const auto* io = Io(s, i, true);
  return io ? io->name.c_str() : nullptr;
}
tp_dtype_t tp_session_input_dtype(const tp_session_t* s, size_t i) {
  const auto* io = Io(s, i, true);
  return io ? static_cast<tp_dtype_t>(io->dtype) : TP_DTYPE_UNDEFINED;
}
size_t tp_session_input_rank(const tp_session_t* s, size_t i) {
  const auto* io = Io(s, i, true);
  return io ? io->shape.size() : 0;
}
const int64_t* tp_session_input_shape(const tp_session_t* s, size_t i) {
  const auto* io = Io(s, i, true);
  return io ? io->shape.data() : nullptr;
}
const char* tp_session_input_dim_name(const tp_session_t* s, size_t i, size_t dim) {
  const auto* io = Io(s, i, true);
  return io && dim < io->dim_params.size() ? io->dim_params[dim].c_str() : "";
}
const char* tp_session_output_name(const tp_session_t* s, size_t i) {
  const auto* io = Io(s, i, false);
  return io ? io->name.c_str() : nullptr;
}
tp_dtype_t tp_session_output_dtype(const tp_session_t* s, size_t i) {
  const auto* io = Io(s, i, false);
  return io ? static_cast<tp_dtype_t>(io->dtype) : TP_DTYPE_UNDEFINED;
}
size_t tp_session_output_rank(const tp_session_t* s, size_t i) {
  const auto* io = Io(s, i, false);
  return io ? io->shape.size() : 0;
}
const int64_t* tp_session_output_shape(const tp_session_t* s, size_t i) {
  const auto* io = Io(s, i, false);
  return io ? io->shape.data() : nullptr;
}

tp_status_t* tp_session_run(const tp_session_t* session, const char* const* input_names,
                            const tp_tensor_t* const* inputs, size_t input_count, const char* const* output_names,
                            size_t output_count, tp_tensor_t** outputs) {
  return Guard([&]() -> tp_status_t* {
    if (session == nullptr) return NullArg("session");
    if (input_count > 0 && (input_names == nullptr || inputs == nullptr)) return NullArg("input_names/inputs");
    if (output_count > 0 && outputs == nullptr) return NullArg("outputs");
    std::vector<std::string> names;
    std::vector<ti::Tensor> tensors;
    for (size_t i = 0; i < input_count; ++i) {
      if (input_names[i] == nullptr) return NullArg("input_names[i]");
      if (inputs[i] == nullptr) return Error(ti::StatusCode::kInvalidArgument,
                                             std::string("input \"") + input_names[i] + "\" is NULL");
      names.emplace_back(input_names[i]);
      tensors.push_back(inputs[i]->tensor);
    }
    std::vector<std::string> out_names;
    if (output_names == nullptr) {
      if (output_count != session->session->outputs().size()) {
        return Error(ti::StatusCode::kInvalidArgument,
                     "output_count " + std::to_string(output_count) + " does not match the model's " +
                         std::to_string(session->session->outputs().size()) + " outputs");
      }
    } else {
      for (size_t i = 0; i < output_count; ++i) {
        if (output_names[i] == nullptr) return NullArg("output_names[i]");
        out_names.emplace_back(output_names[i]);
      }
    }
    auto result = session->session->Run(names, tensors, out_names);
    if (!result.ok()) return MakeStatus(result.status());
    for (size_t i = 0; i < output_count; ++i) outputs[i] = Wrap(std::move((*result)[i]));
    return nullptr;
  });
}

size_t tp_session_op_type_count(const tp_session_t* s) { return s ? s->op_types.size() : 0; }
const char* tp_session_op_type_name(const tp_session_t* s, size_t i) {
  return s && i < s->op_types.size() ? s->op_types[i].first.c_str() : nullptr;
}
int64_t tp_session_op_type_nodes(const tp_session_t* s, size_t i) {
  return s && i < s->op_types.size() ? s->op_types[i].second : 0;
}
int64_t tp_session_parameter_count(const tp_session_t* s) {
  return s ? s->session->stats().parameter_count : 0;
}


tp_status_t* tp_batcher_options_create(tp_batcher_options_t** out) {
  return Guard([&]() -> tp_status_t* {
    if (out == nullptr) return NullArg("out");
    *out = new tp_batcher_options_t();
    return nullptr;
  });
}

void tp_batcher_options_destroy(tp_batcher_options_t* options) { delete options; }

tp_status_t* tp_batcher_options_set_max_batch_size(tp_batcher_options_t* o, int64_t n) {
  if (o == nullptr) return NullArg("options");
  o->options.policy.max_batch_size = n;
  return nullptr;
}

tp_status_t* tp_batcher_options_set_preferred_batch_sizes(tp_batcher_options_t* o, const int64_t* sizes,
                                                          size_t count) {
  return Guard([&]() -> tp_status_t* {
    if (o == nullptr) return NullArg("options");
    if (count > 0 && sizes == nullptr) return NullArg("sizes");
    o->options.policy.preferred_batch_sizes.assign(sizes, sizes + count);
    return nullptr;
  });
}

tp_status_t* tp_batcher_options_set_max_queue_delay_us(tp_batcher_options_t* o, int64_t us) {
  if (o == nullptr) return NullArg("options");
  o->options.policy.max_queue_delay_us = us;
  return nullptr;
}

tp_status_t* tp_batcher_options_set_max_queue_size(tp_batcher_options_t* o, int64_t n) {
  if (o == nullptr) return NullArg("options");
  o->options.policy.max_queue_size = n;
  return nullptr;
}

tp_status_t* tp_batcher_options_set_priority_levels(tp_batcher_options_t* o, int levels, int default_level) {
  if (o == nullptr) return NullArg("options");
  o->options.policy.priority_levels = levels;
  o->options.policy.default_priority = default_level;
  return nullptr;
}

tp_status_t* tp_batcher_options_set_default_timeout_us(tp_batcher_options_t* o, int64_t us, int reject) {
  if (o == nullptr) return NullArg("options");
  o->options.policy.default_timeout_us = us;
  o->options.policy.timeout_action = reject != 0 ? ti::TimeoutAction::kReject : ti::TimeoutAction::kDelay;
  return nullptr;
}

tp_status_t* tp_batcher_options_set_instances(tp_batcher_options_t* o, int instances) {
  if (o == nullptr) return NullArg("options");
  o->options.instances = instances;
  return nullptr;
}

tp_status_t* tp_batcher_options_set_slo_p99_ms(tp_batcher_options_t* o, double ms) {
  if (o == nullptr) return NullArg("options");
  o->options.slo_p99_ms = ms;
  return nullptr;
}

tp_status_t* tp_batcher_options_set_target_utilization(tp_batcher_options_t* o, double utilization) {
  if (o == nullptr) return NullArg("options");
  if (!(utilization > 0 && utilization <= 1)) {
    return Error(ti::StatusCode::kInvalidArgument,
                 "target utilization must be in (0, 1], got " + std::to_string(utilization));
  }
  o->options.target_utilization = utilization;
  return nullptr;
}

tp_status_t* tp_batcher_options_set_preserve_ordering(tp_batcher_options_t* o, int preserve) {
  if (o == nullptr) return NullArg("options");
  o->options.preserve_ordering = preserve != 0;
  return nullptr;
}

tp_status_t* tp_batcher_create(const tp_session_t* session, const tp_batcher_options_t* options,
                               tp_batcher_t** out) {
  return Guard([&]() -> tp_status_t* {
    if (session == nullptr) return NullArg("session");
    if (out == nullptr) return NullArg("out");
    const ti::BatcherOptions defaults;
    auto b = ti::Batcher::Create(session->session.get(), options ? options->options : defaults);
    if (!b.ok()) return MakeStatus(b.status());
    *out = new tp_batcher_t{std::move(b).value()};
    return nullptr;
  });
}

void tp_batcher_destroy(tp_batcher_t* batcher) { delete batcher; }

tp_status_t* tp_batcher_submit(tp_batcher_t* batcher, const char* const* input_names,
                               const tp_tensor_t* const* inputs, size_t input_count, int priority,
                               int64_t timeout_us, tp_batch_callback_t callback, void* user_data,
                               uint64_t* request_id) {
  return Guard([&]() -> tp_status_t* {
    if (batcher == nullptr) return NullArg("batcher");
    if (callback == nullptr) return NullArg("callback");
    if (input_count > 0 && (input_names == nullptr || inputs == nullptr)) return NullArg("input_names/inputs");
    ti::BatchRequest r;
    for (size_t i = 0; i < input_count; ++i) {
      if (input_names[i] == nullptr) return NullArg("input_names[i]");
      if (inputs[i] == nullptr) {
        return Error(ti::StatusCode::kInvalidArgument, std::string("input \"") + input_names[i] + "\" is NULL");
      }
      r.input_names.emplace_back(input_names[i]);
      r.inputs.push_back(inputs[i]->tensor);
    }
    r.priority = priority;
    r.timeout_us = timeout_us;
    auto id = batcher->batcher->Submit(std::move(r), [callback, user_data](ti::BatchResult result) {
      if (!result.ok()) {
        callback(user_data, MakeStatus(result.status()), nullptr, 0);
        return;
      }
      // The handles' array lives on the stack for the usual few outputs:
      // one allocation less per request on the batcher's thread.
      constexpr size_t kInline = 16;
      tp_tensor_t* inline_outs[kInline];
      std::vector<tp_tensor_t*> heap_outs;
      const size_t n = result->size();
      tp_tensor_t** outs = inline_outs;
      size_t made = 0;
      try {
        if (n > kInline) {
          heap_outs.resize(n);
          outs = heap_outs.data();
        }
        for (ti::Tensor& t : *result) outs[made++] = Wrap(std::move(t));
      } catch (const std::bad_alloc&) {
        for (size_t i = 0; i < made; ++i) delete outs[i];
        callback(user_data, Error(ti::StatusCode::kResourceExhausted, "out of memory returning outputs"), nullptr,
                 0);
        return;
      }
      callback(user_data, nullptr, outs, n);
    });
    if (!id.ok()) return MakeStatus(id.status());
    if (request_id != nullptr) *request_id = *id;
    return nullptr;
  });
}

int tp_batcher_cancel(tp_batcher_t* batcher, uint64_t request_id) {
  return batcher != nullptr && batcher->batcher->Cancel(request_id) ? 1 : 0;
}

tp_status_t* tp_batcher_histograms(const tp_batcher_t* batcher, tp_batcher_histograms_t* out) {
  return Guard([&]() -> tp_status_t* {
    if (batcher == nullptr) return NullArg("batcher");
    if (out == nullptr) return NullArg("out");
    static_assert(TP_BATCH_SIZE_BUCKETS == ti::LoadHistograms::kBatchBuckets, "batch buckets");
    static_assert(TP_DURATION_BUCKETS == ti::LoadHistograms::kDurationBuckets, "duration buckets");
    const ti::LoadHistograms h = batcher->batcher->Histograms();
    std::copy(std::begin(h.batch_size), std::end(h.batch_size), out->batch_size);
    std::copy(std::begin(ti::LoadHistograms::kDurationBoundsUs), std::end(ti::LoadHistograms::kDurationBoundsUs),
              out->duration_bounds_us);
    std::copy(std::begin(h.queue), std::end(h.queue), out->queue);
    std::copy(std::begin(h.compute), std::end(h.compute), out->compute);
    out->batches = h.batches;
    out->requests = h.requests;
    out->rows = h.rows;
    out->queue_us_sum = h.queue_us_sum;
    out->compute_us_sum = h.compute_us_sum;
    return nullptr;
  });
}

tp_status_t* tp_batcher_load_report(const tp_batcher_t* batcher, tp_load_report_t* out) {
  return Guard([&]() -> tp_status_t* {
    if (batcher == nullptr) return NullArg("batcher");
    if (out == nullptr) return NullArg("out");
    const ti::LoadReport r = batcher->batcher->Report();
    out->queue_depth = r.queue_depth;
    out->in_flight = r.in_flight;
    out->arrival_rate_per_s = r.arrival_rate_per_s;
    out->completed_per_s = r.completed_per_s;
    out->batches_per_s = r.batches_per_s;
    out->mean_batch_size = r.mean_batch_size;
    out->mean_batch_fill = r.mean_batch_fill;
    out->queue_compute_ratio = r.queue_compute_ratio;
    out->instance_busy_fraction = r.instance_busy_fraction;
    out->queue_p50_ms = r.queue.p50_ms;
    out->queue_p95_ms = r.queue.p95_ms;
    out->queue_p99_ms = r.queue.p99_ms;
    out->compute_p50_ms = r.compute.p50_ms;
    out->compute_p95_ms = r.compute.p95_ms;
    out->compute_p99_ms = r.compute.p99_ms;
    out->total_p50_ms = r.total.p50_ms;
    out->total_p95_ms = r.total.p95_ms;
    out->total_p99_ms = r.total.p99_ms;
    out->capacity_per_s = r.capacity_per_s;
    out->recommended_replicas = r.recommended_replicas;
    out->rejected = r.rejected;
    out->window_us = r.window_us;
    return nullptr;
  });
}
}  // extern "C"
