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

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TENSORPOD_H_ */
