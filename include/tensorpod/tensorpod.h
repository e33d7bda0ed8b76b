/*
 * tensorpod C API: the binary-stable contract of libtensorpod.
 *
 * Conventions
 *  - Objects are opaque handles created by tp_<object>_create/_load and
 *    released by tp_<object>_destroy, which accepts NULL.
 *  - Functions that can fail return a tp_status_t*: NULL means success; on
 *    failure the caller owns the status and releases it with
 *    tp_status_destroy. Ownership of out-parameters moves to the caller only
 *    on success.
 *  - Strings returned by getters are owned by the object they came from and
 *    stay valid until it is destroyed.
 *  - Enum values are explicit and only ever appended.
 *  - Thread safety: a tp_session_t may be run from many threads at once;
 *    options and tensors must not be mutated concurrently.
 *
 * Example:
 *   tp_session_options_t* opts = NULL;
 *   tp_session_options_create(&opts);
 *   tp_session_options_set_threads(opts, 2);
 *   tp_session_t* s = NULL;
 *   tp_status_t* st = tp_session_load(path, opts, &s);
 *   if (st) { fprintf(stderr, "%s\n", tp_status_message(st)); tp_status_destroy(st); }
 *   int64_t shape[2] = {1, 784};
 *   tp_tensor_t* x = NULL;
 *   tp_tensor_create_borrowed(data, TP_DTYPE_F32, shape, 2, &x);
 *   const char* in_names[] = {"input"};
 *   tp_tensor_t* y = NULL;
 *   st = tp_session_run(s, in_names, (const tp_tensor_t* const*)&x, 1, NULL, 1, &y);
 *   ... tp_tensor_data(y) ...
 *   tp_tensor_destroy(y); tp_tensor_destroy(x); tp_session_destroy(s);
 *   tp_session_options_destroy(opts);
 */
#ifndef TENSORPOD_H_
#define TENSORPOD_H_

#include <stddef.h>
#include <stdint.h>

#include "tensorpod/export.h"
#include "tensorpod/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Versions ---------------------------------------------------------- */

/* The API version the library was built with. A caller compiled against
 * major M works with a library of the same major and a minor at least the
 * caller's. */
TP_API void tp_get_api_version(int* major, int* minor);
/* "0.1.0". */
TP_API const char* tp_get_version_string(void);
/* Non-zero when this library can serve a caller compiled with
 * TP_API_VERSION_MAJOR/MINOR: call as tp_check_api_version(TP_API_VERSION_MAJOR,
 * TP_API_VERSION_MINOR). */
TP_API int tp_check_api_version(int major, int minor);

/* ---- Status ------------------------------------------------------------ */

typedef enum tp_status_code_t {
  TP_OK = 0,
  TP_INVALID_ARGUMENT = 1,
  TP_FAILED_PRECONDITION = 2,
  TP_NOT_FOUND = 3,
  TP_ALREADY_EXISTS = 4,
  TP_UNIMPLEMENTED = 5,
  TP_RESOURCE_EXHAUSTED = 6,
  TP_UNAVAILABLE = 7,
  TP_DEADLINE_EXCEEDED = 8,
  TP_CANCELLED = 9,
  TP_INTERNAL = 10
} tp_status_code_t;

typedef struct tp_status_t tp_status_t;

TP_API tp_status_code_t tp_status_code(const tp_status_t* status);
/* The message, naming what is wrong; "" for NULL. */
TP_API const char* tp_status_message(const tp_status_t* status);
/* "INVALID_ARGUMENT" etc. */
TP_API const char* tp_status_code_name(tp_status_code_t code);
TP_API void tp_status_destroy(tp_status_t* status);

/* ---- Data types -------------------------------------------------------- */

typedef enum tp_dtype_t {
  TP_DTYPE_UNDEFINED = 0,
  TP_DTYPE_F32 = 1,
  TP_DTYPE_F16 = 2,
  TP_DTYPE_BF16 = 3,
  TP_DTYPE_F64 = 4,
  TP_DTYPE_I64 = 5,
  TP_DTYPE_I32 = 6,
  TP_DTYPE_I16 = 7,
  TP_DTYPE_I8 = 8,
  TP_DTYPE_U8 = 9,
  TP_DTYPE_BOOL = 10,
  TP_DTYPE_U16 = 11,
  TP_DTYPE_U32 = 12,
  TP_DTYPE_U64 = 13
} tp_dtype_t;

/* Bytes per element, 0 for an unknown value. */
TP_API size_t tp_dtype_size(tp_dtype_t dtype);
/* "float32", "int64", ...; "undefined" for an unknown value. */
TP_API const char* tp_dtype_name(tp_dtype_t dtype);

/* ---- Tensors ----------------------------------------------------------- */

typedef struct tp_tensor_t tp_tensor_t;

/* A new tensor owning zero-initialised, 64-byte aligned memory. */
TP_API tp_status_t* tp_tensor_create(tp_dtype_t dtype, const int64_t* shape, size_t rank, tp_tensor_t** out);
/* A view of caller memory (no copy). `data` must hold the tensor's bytes
 * in row-major order and stay valid until the view is destroyed. */
TP_API tp_status_t* tp_tensor_create_borrowed(void* data, tp_dtype_t dtype, const int64_t* shape, size_t rank,
                                              tp_tensor_t** out);
TP_API void tp_tensor_destroy(tp_tensor_t* tensor);
TP_API tp_dtype_t tp_tensor_dtype(const tp_tensor_t* tensor);
TP_API size_t tp_tensor_rank(const tp_tensor_t* tensor);
/* Pointer to `rank` dimensions owned by the tensor. */
TP_API const int64_t* tp_tensor_shape(const tp_tensor_t* tensor);
TP_API int64_t tp_tensor_num_elements(const tp_tensor_t* tensor);
TP_API size_t tp_tensor_byte_size(const tp_tensor_t* tensor);
TP_API void* tp_tensor_data(tp_tensor_t* tensor);

/* ---- Session options --------------------------------------------------- */

typedef struct tp_session_options_t tp_session_options_t;

TP_API tp_status_t* tp_session_options_create(tp_session_options_t** out);
TP_API void tp_session_options_destroy(tp_session_options_t* options);
/* "cpu", "auto" (default), "cuda", "cuda:N". Checked at load. */
TP_API tp_status_t* tp_session_options_set_device(tp_session_options_t* options, const char* device);
/* Intra-op threads; 0 (default) means one per core. */
TP_API tp_status_t* tp_session_options_set_threads(tp_session_options_t* options, int threads);
/* Reserve activation memory at load for this batch size; 0 (default): none. */
TP_API tp_status_t* tp_session_options_set_max_batch(tp_session_options_t* options, int64_t max_batch);
/* Non-zero (default): run on the CPU what the chosen device cannot. */
TP_API tp_status_t* tp_session_options_set_allow_cpu_fallback(tp_session_options_t* options, int allow);
/* "trace", "debug", "info", "warn", "error", "off". */
TP_API tp_status_t* tp_session_options_set_log_level(tp_session_options_t* options, const char* level);
/* Non-zero (default): run graph optimisations (folding, fusion). */
TP_API tp_status_t* tp_session_options_set_optimize(tp_session_options_t* options, int optimize);
/* GPU arithmetic: "fp32" (default), "tf32", "fp16" or "bf16". In fp16/bf16
 * the weights are converted at load and accumulation stays in float32;
 * inputs and outputs keep the model's dtypes. CPU sessions run fp32.
 * (API 1.1) */
TP_API tp_status_t* tp_session_options_set_precision(tp_session_options_t* options, const char* precision);
/* Non-zero (default): replay each input shape's GPU run as a CUDA graph
 * after its first run. (API 1.1) */
TP_API tp_status_t* tp_session_options_set_cuda_graphs(tp_session_options_t* options, int enable);

/* Number of usable CUDA devices: 0 without a GPU, a driver, or a CUDA build.
 * (API 1.1) */
TP_API int tp_cuda_device_count(void);

/* ---- Sessions ---------------------------------------------------------- */

typedef struct tp_session_t tp_session_t;

/* Loads an ONNX model file. `options` may be NULL for defaults. */
TP_API tp_status_t* tp_session_load(const char* path, const tp_session_options_t* options, tp_session_t** out);
/* Loads an ONNX model from memory (copied during the call). */
TP_API tp_status_t* tp_session_load_from_bytes(const void* data, size_t size, const tp_session_options_t* options,
                                               tp_session_t** out);
TP_API void tp_session_destroy(tp_session_t* session);
/* Where the session runs: "cpu" or "cuda:N" (what "auto" resolved to).
 * (API 1.1) */
TP_API const char* tp_session_device(const tp_session_t* session);

TP_API size_t tp_session_input_count(const tp_session_t* session);
TP_API size_t tp_session_output_count(const tp_session_t* session);
/* Name, dtype and shape of input/output `index`; the shape has -1 for a
 * dynamic dimension and `rank` entries (rank from *_rank). NULL/0 for an
 * index out of range. */
TP_API const char* tp_session_input_name(const tp_session_t* session, size_t index);
TP_API tp_dtype_t tp_session_input_dtype(const tp_session_t* session, size_t index);
TP_API size_t tp_session_input_rank(const tp_session_t* session, size_t index);
TP_API const int64_t* tp_session_input_shape(const tp_session_t* session, size_t index);
/* Symbolic name of dimension `dim` of input `index` ("batch"), or "". */
TP_API const char* tp_session_input_dim_name(const tp_session_t* session, size_t index, size_t dim);
TP_API const char* tp_session_output_name(const tp_session_t* session, size_t index);
TP_API tp_dtype_t tp_session_output_dtype(const tp_session_t* session, size_t index);
TP_API size_t tp_session_output_rank(const tp_session_t* session, size_t index);
TP_API const int64_t* tp_session_output_shape(const tp_session_t* session, size_t index);

/* Runs the model. `input_names[i]` names `inputs[i]` (all model inputs must
 * be given). `output_names` NULL with `output_count` equal to the model's
 * output count returns every output in model order; otherwise it lists the
 * `output_count` outputs wanted. On success `outputs[i]` receives new
 * tensors the caller destroys. Safe to call concurrently. */
TP_API tp_status_t* tp_session_run(const tp_session_t* session, const char* const* input_names,
                                   const tp_tensor_t* const* inputs, size_t input_count,
                                   const char* const* output_names, size_t output_count, tp_tensor_t** outputs);

/* Model statistics for tools: the number of distinct op types, and for
 * op type `index` its name and node count, in name order. */
TP_API size_t tp_session_op_type_count(const tp_session_t* session);
TP_API const char* tp_session_op_type_name(const tp_session_t* session, size_t index);
TP_API int64_t tp_session_op_type_nodes(const tp_session_t* session, size_t index);
TP_API int64_t tp_session_parameter_count(const tp_session_t* session);

/* ---- Dynamic batching (API 1.1) ---------------------------------------
 *
 * A batcher queues requests from any thread, groups those with equal
 * non-batch shapes and runs them as one batch along the leading dimension;
 * each request's callback receives its own rows of the outputs.
 *
 *   tp_batcher_options_t* o; tp_batcher_options_create(&o);
 *   tp_batcher_options_set_max_batch_size(o, 32);
 *   tp_batcher_options_set_max_queue_delay_us(o, 500);
 *   tp_batcher_t* b; tp_batcher_create(session, o, &b);
 *   tp_batcher_submit(b, names, inputs, 1, 0, 0, on_done, user_data, &id);
 *   ...
 *   tp_batcher_destroy(b);   (completes queued requests with TP_UNAVAILABLE)
 */

typedef struct tp_batcher_options_t tp_batcher_options_t;
typedef struct tp_batcher_t tp_batcher_t;

TP_API tp_status_t* tp_batcher_options_create(tp_batcher_options_t** out);
TP_API void tp_batcher_options_destroy(tp_batcher_options_t* options);
/* Rows per batch (default 1: no batching; 0: the model has no batch dimension, requests
 * run one at a time with their shapes as given). */
TP_API tp_status_t* tp_batcher_options_set_max_batch_size(tp_batcher_options_t* options, int64_t n);
/* Batch sizes dispatched as soon as they can be formed. */
TP_API tp_status_t* tp_batcher_options_set_preferred_batch_sizes(tp_batcher_options_t* options, const int64_t* sizes,
                                                                 size_t count);
/* How long a partial batch may wait for more requests (default 0). */
TP_API tp_status_t* tp_batcher_options_set_max_queue_delay_us(tp_batcher_options_t* options, int64_t us);
/* Queued requests beyond which submit fails with TP_RESOURCE_EXHAUSTED (0, default: unbounded). */
TP_API tp_status_t* tp_batcher_options_set_max_queue_size(tp_batcher_options_t* options, int64_t n);
/* Priority levels 1 (highest) .. levels (default 1); the default level for requests giving 0. */
TP_API tp_status_t* tp_batcher_options_set_priority_levels(tp_batcher_options_t* options, int levels,
                                                           int default_level);
/* Queue timeout for requests giving 0 (0, default: none); `reject` non-zero (default): the request fails with
 * TP_DEADLINE_EXCEEDED, zero: it is delayed behind all others. */
TP_API tp_status_t* tp_batcher_options_set_default_timeout_us(tp_batcher_options_t* options, int64_t us, int reject);
/* Batches running at once (default 1). */
TP_API tp_status_t* tp_batcher_options_set_instances(tp_batcher_options_t* options, int instances);
/* SLO mode when > 0: the batch cap and queue delay adapt online so the p99
 * latency stays under this target (the configured ones are the ceilings). */
TP_API tp_status_t* tp_batcher_options_set_slo_p99_ms(tp_batcher_options_t* options, double ms);
/* The utilization (0, 1] at which recommended_replicas aims (default 0.7). API 1.2. */
TP_API tp_status_t* tp_batcher_options_set_target_utilization(tp_batcher_options_t* options, double utilization);
/* Non-zero: callbacks are called in submission order. */
TP_API tp_status_t* tp_batcher_options_set_preserve_ordering(tp_batcher_options_t* options, int preserve);

/* `session` must outlive the batcher. */
TP_API tp_status_t* tp_batcher_create(const tp_session_t* session, const tp_batcher_options_t* options,
                                      tp_batcher_t** out);
/* Shuts down (queued requests complete with TP_UNAVAILABLE, running ones finish) and frees the batcher. */
TP_API void tp_batcher_destroy(tp_batcher_t* batcher);

/* Called once per accepted request, on a batcher thread (or, for
 * cancellation and shutdown, the thread that caused it). `status` is NULL on
 * success; the callee owns `status` and every tensor of `outputs` (all model
 * outputs, in model order; NULL on error) and destroys them; the `outputs`
 * array itself is valid only during the call. */
typedef void (*tp_batch_callback_t)(void* user_data, tp_status_t* status, tp_tensor_t** outputs,
                                    size_t output_count);

/* Queues a request: all model inputs, each [rows, ...] with the same rows.
 * The tensors' memory must stay valid until the callback runs. `priority`
 * and `timeout_us` 0 take the defaults (a request may only shorten the
 * timeout). On error nothing is queued and the callback is not called.
 * `request_id` (may be NULL) receives the id for tp_batcher_cancel. */
TP_API tp_status_t* tp_batcher_submit(tp_batcher_t* batcher, const char* const* input_names,
                                      const tp_tensor_t* const* inputs, size_t input_count, int priority,
                                      int64_t timeout_us, tp_batch_callback_t callback, void* user_data,
                                      uint64_t* request_id);
/* Cancels a queued request (its callback gets TP_CANCELLED); 0 when it is no longer queued. */
TP_API int tp_batcher_cancel(tp_batcher_t* batcher, uint64_t request_id);

/* The batcher's load over its sliding window. arrival_rate_per_s counts
 * every request submitted, those refused because the queue was full
 * included (the demand); instance_busy_fraction counts a worker's whole time
 * on a batch (forming it, computing, completing its requests); capacity_per_s
 * is completed requests per busy second; recommended_replicas is
 * ceil(arrival / (capacity x target utilization)), at least 1. */
typedef struct tp_load_report_t {
  int64_t queue_depth;
  int64_t in_flight;
  double arrival_rate_per_s;
  double completed_per_s;
  double batches_per_s;
  double mean_batch_size;
  double mean_batch_fill;
  double queue_compute_ratio;
  double instance_busy_fraction;
  double queue_p50_ms, queue_p95_ms, queue_p99_ms;
  double compute_p50_ms, compute_p95_ms, compute_p99_ms;
  double total_p50_ms, total_p95_ms, total_p99_ms;
  double capacity_per_s;
  int64_t recommended_replicas;
  int64_t rejected;
  int64_t window_us;
} tp_load_report_t;

/* The batcher's load over its sliding window (cheap; for metrics scrapes). */
TP_API tp_status_t* tp_batcher_load_report(const tp_batcher_t* batcher, tp_load_report_t* out);

/* Distributions since the batcher was created, for Prometheus histograms.
 * Counts are per bucket (not cumulative). batch_size[i]: batches of
 * (2^(i-1), 2^i] rows (i = 0: 1 row). queue[i], compute[i]: requests whose
 * queue (compute) time was in (duration_bounds_us[i-1],
 * duration_bounds_us[i]] (the last bucket: above the last bound). API 1.2. */
#define TP_BATCH_SIZE_BUCKETS 17
#define TP_DURATION_BUCKETS 16
typedef struct tp_batcher_histograms_t {
  int64_t batch_size[TP_BATCH_SIZE_BUCKETS];
  int64_t duration_bounds_us[TP_DURATION_BUCKETS - 1];
  int64_t queue[TP_DURATION_BUCKETS];
  int64_t compute[TP_DURATION_BUCKETS];
  int64_t batches, requests, rows;
  int64_t queue_us_sum, compute_us_sum; /* over requests */
} tp_batcher_histograms_t;
TP_API tp_status_t* tp_batcher_histograms(const tp_batcher_t* batcher, tp_batcher_histograms_t* out);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TENSORPOD_H_ */
