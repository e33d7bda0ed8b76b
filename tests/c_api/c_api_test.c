/*
 * The C ABI exercised from C99, linking libtensorpod only. Uses
 * tests/data/affine.onnx: x [batch,4] -> y = x * [1,2,3,4] + [0.5,-1,0,-10],
 * z = Relu(y). Every value is exact in float32, so results compare with ==.
 *
 * Usage: tp_c_api_test [path/to/affine.onnx]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensorpod/tensorpod.h"

#ifndef TP_TEST_DATA_DIR
#define TP_TEST_DATA_DIR "tests/data"
#endif

static int g_failures = 0;
static const char* g_model_path = TP_TEST_DATA_DIR "/affine.onnx";

#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++g_failures;                                                            \
    }                                                                          \
  } while (0)

/* strcmp that treats NULL as different from every string. */
static int str_eq(const char* a, const char* b) {
  return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Checks that `st` is an error with `code` whose message contains `phrase`
 * (when not NULL), then destroys it. */
#define CHECK_STATUS(st, code, phrase) \
  check_status((st), (code), (phrase), __LINE__)

static void check_status(tp_status_t* st, tp_status_code_t code,
                         const char* phrase, int line) {
  if (st == NULL) {
    fprintf(stderr, "%s:%d: expected %s, got OK\n", __FILE__, line,
            tp_status_code_name(code));
    ++g_failures;
    return;
  }
  if (tp_status_code(st) != code) {
    fprintf(stderr, "%s:%d: expected %s, got %s: %s\n", __FILE__, line,
            tp_status_code_name(code), tp_status_code_name(tp_status_code(st)),
            tp_status_message(st));
    ++g_failures;
  } else if (tp_status_message(st)[0] == '\0') {
    fprintf(stderr, "%s:%d: %s with an empty message\n", __FILE__, line,
            tp_status_code_name(code));
    ++g_failures;
  } else if (phrase != NULL && strstr(tp_status_message(st), phrase) == NULL) {
    fprintf(stderr, "%s:%d: message lacks \"%s\": %s\n", __FILE__, line, phrase,
            tp_status_message(st));
    ++g_failures;
  }
  tp_status_destroy(st);
}

/* Checks that `st` is OK; prints and destroys it otherwise. Returns 1 on OK. */
#define CHECK_OK(st) check_ok((st), __LINE__)

static int check_ok(tp_status_t* st, int line) {
  if (st == NULL) return 1;
  fprintf(stderr, "%s:%d: unexpected %s: %s\n", __FILE__, line,
          tp_status_code_name(tp_status_code(st)), tp_status_message(st));
  tp_status_destroy(st);
  ++g_failures;
  return 0;
}

static void test_versions(void) {
  int major = -1, minor = -1;
  tp_get_api_version(&major, &minor);
  CHECK(major == TP_API_VERSION_MAJOR);
  CHECK(minor == TP_API_VERSION_MINOR);
  tp_get_api_version(NULL, NULL);
  CHECK(tp_check_api_version(TP_API_VERSION_MAJOR, TP_API_VERSION_MINOR) != 0);
  CHECK(tp_check_api_version(TP_API_VERSION_MAJOR, 0) != 0);
  CHECK(tp_check_api_version(TP_API_VERSION_MAJOR + 1, 0) == 0);
  CHECK(tp_check_api_version(TP_API_VERSION_MAJOR, TP_API_VERSION_MINOR + 1) ==
        0);
  CHECK(str_eq(tp_get_version_string(), TENSORPOD_VERSION_STRING));
}

static void test_status_and_dtypes(void) {
  CHECK(tp_status_code(NULL) == TP_OK);
  CHECK(str_eq(tp_status_message(NULL), ""));
  CHECK(str_eq(tp_status_code_name(TP_OK), "OK"));
  CHECK(str_eq(tp_status_code_name(TP_NOT_FOUND), "NOT_FOUND"));
  CHECK(str_eq(tp_status_code_name(TP_INTERNAL), "INTERNAL"));
  CHECK(str_eq(tp_status_code_name((tp_status_code_t)99), "UNKNOWN"));
  CHECK(tp_dtype_size(TP_DTYPE_F32) == 4);
  CHECK(tp_dtype_size(TP_DTYPE_I64) == 8);
  CHECK(tp_dtype_size(TP_DTYPE_F16) == 2);
  CHECK(tp_dtype_size((tp_dtype_t)99) == 0);
  CHECK(str_eq(tp_dtype_name(TP_DTYPE_F32), "float32"));
  CHECK(str_eq(tp_dtype_name((tp_dtype_t)99), "undefined"));
}

static void test_tensors(void) {
  int64_t shape[2] = {2, 3};
  tp_tensor_t* t = NULL;
  if (CHECK_OK(tp_tensor_create(TP_DTYPE_F32, shape, 2, &t))) {
    size_t i;
    const float* data = (const float*)tp_tensor_data(t);
    CHECK(tp_tensor_dtype(t) == TP_DTYPE_F32);
    CHECK(tp_tensor_rank(t) == 2);
    CHECK(tp_tensor_shape(t)[0] == 2 && tp_tensor_shape(t)[1] == 3);
    CHECK(tp_tensor_num_elements(t) == 6);
    CHECK(tp_tensor_byte_size(t) == 24);
    CHECK(data != NULL);
    for (i = 0; data != NULL && i < 6; ++i) CHECK(data[i] == 0.0f);
  }
  tp_tensor_destroy(t);

  {
    float buf[6] = {1, 2, 3, 4, 5, 6};
    tp_tensor_t* b = NULL;
    if (CHECK_OK(tp_tensor_create_borrowed(buf, TP_DTYPE_F32, shape, 2, &b))) {
      CHECK(tp_tensor_data(b) == (void*)buf);
      CHECK(tp_tensor_num_elements(b) == 6);
    }
    tp_tensor_destroy(b);
  }

  /* A scalar: rank 0, one element, shape may be NULL. */
  t = NULL;
  if (CHECK_OK(tp_tensor_create(TP_DTYPE_I64, NULL, 0, &t))) {
    CHECK(tp_tensor_rank(t) == 0);
    CHECK(tp_tensor_num_elements(t) == 1);
    CHECK(tp_tensor_byte_size(t) == 8);
  }
  tp_tensor_destroy(t);

  /* Errors: the out-parameter is left alone. */
  {
    float buf[4] = {0};
    int64_t huge[3] = {(int64_t)1 << 40, (int64_t)1 << 40, 16};
    int64_t negative[2] = {2, -3};
    int64_t empty[2] = {0, 5};
    tp_tensor_t* untouched = NULL;
    CHECK_STATUS(
        tp_tensor_create_borrowed(buf, TP_DTYPE_F32, huge, 3, &untouched),
        TP_INVALID_ARGUMENT, "int64");
    CHECK(untouched == NULL);
    CHECK_STATUS(tp_tensor_create(TP_DTYPE_F32, huge, 3, &untouched),
                 TP_INVALID_ARGUMENT, "int64");
    CHECK_STATUS(
        tp_tensor_create_borrowed(buf, TP_DTYPE_F32, negative, 2, &untouched),
        TP_INVALID_ARGUMENT, "negative");
    CHECK_STATUS(
        tp_tensor_create_borrowed(buf, (tp_dtype_t)77, shape, 2, &untouched),
        TP_INVALID_ARGUMENT, "77");
    CHECK_STATUS(
        tp_tensor_create_borrowed(NULL, TP_DTYPE_F32, shape, 2, &untouched),
        TP_INVALID_ARGUMENT, "data");
    CHECK_STATUS(
        tp_tensor_create_borrowed(buf, TP_DTYPE_F32, NULL, 2, &untouched),
        TP_INVALID_ARGUMENT, "shape");
    CHECK_STATUS(tp_tensor_create_borrowed(buf, TP_DTYPE_F32, shape, 2, NULL),
                 TP_INVALID_ARGUMENT, "out");
    CHECK_STATUS(tp_tensor_create(TP_DTYPE_F32, shape, 2, NULL),
                 TP_INVALID_ARGUMENT, "out");
    CHECK(untouched == NULL);
    /* An empty tensor needs no data. */
    if (CHECK_OK(tp_tensor_create_borrowed(NULL, TP_DTYPE_F32, empty, 2,
                                           &untouched))) {
      CHECK(tp_tensor_num_elements(untouched) == 0);
    }
    tp_tensor_destroy(untouched);
  }

  /* Getters accept NULL. */
  CHECK(tp_tensor_dtype(NULL) == TP_DTYPE_UNDEFINED);
  CHECK(tp_tensor_rank(NULL) == 0);
  CHECK(tp_tensor_shape(NULL) == NULL);
  CHECK(tp_tensor_num_elements(NULL) == 0);
  CHECK(tp_tensor_byte_size(NULL) == 0);
  CHECK(tp_tensor_data(NULL) == NULL);
}

static void test_options(void) {
  tp_session_options_t* o = NULL;
  if (!CHECK_OK(tp_session_options_create(&o))) return;
  CHECK_STATUS(tp_session_options_set_device(o, "tpu"), TP_INVALID_ARGUMENT,
               "\"tpu\"");
  CHECK_STATUS(tp_session_options_set_device(o, NULL), TP_INVALID_ARGUMENT,
               "device");
  CHECK_STATUS(tp_session_options_set_threads(o, -1), TP_INVALID_ARGUMENT,
               "threads");
  CHECK_STATUS(tp_session_options_set_max_batch(o, -2), TP_INVALID_ARGUMENT,
               "max_batch");
  CHECK_STATUS(tp_session_options_set_log_level(o, "loud"), TP_INVALID_ARGUMENT,
               "\"loud\"");
  CHECK_STATUS(tp_session_options_set_log_level(o, NULL), TP_INVALID_ARGUMENT,
               "level");
  CHECK_STATUS(tp_session_options_set_threads(NULL, 1), TP_INVALID_ARGUMENT,
               "options");
  CHECK_STATUS(tp_session_options_set_optimize(NULL, 1), TP_INVALID_ARGUMENT,
               "options");
  CHECK_STATUS(tp_session_options_create(NULL), TP_INVALID_ARGUMENT, "out");
  CHECK_OK(tp_session_options_set_device(o, "cpu"));
  CHECK_OK(tp_session_options_set_threads(o, 1));
  CHECK_OK(tp_session_options_set_max_batch(o, 4));
  CHECK_OK(tp_session_options_set_allow_cpu_fallback(o, 1));
  CHECK_OK(tp_session_options_set_optimize(o, 0));
  CHECK_OK(tp_session_options_set_log_level(o, "warn"));
  tp_session_options_destroy(o);
}

static tp_session_t* load(const char* device) {
  tp_session_options_t* o = NULL;
  tp_session_t* s = NULL;
  if (!CHECK_OK(tp_session_options_create(&o))) return NULL;
  CHECK_OK(tp_session_options_set_threads(o, 1));
  CHECK_OK(tp_session_options_set_max_batch(o, 4));
  CHECK_OK(tp_session_options_set_device(o, device));
  CHECK_OK(tp_session_load(g_model_path, o, &s));
  tp_session_options_destroy(o);
  return s;
}

static void test_load_errors(void) {
  tp_session_t* s = NULL;
  tp_session_options_t* o = NULL;
  static const char kJunk[] = "definitely not an ONNX model";
  CHECK_STATUS(tp_session_load("/nonexistent/tensorpod/model.onnx", NULL, &s),
               TP_NOT_FOUND, "/nonexistent/tensorpod/model.onnx");
  CHECK_STATUS(tp_session_load(NULL, NULL, &s), TP_INVALID_ARGUMENT, "path");
  CHECK_STATUS(tp_session_load(g_model_path, NULL, NULL), TP_INVALID_ARGUMENT,
               "out");
  CHECK_STATUS(tp_session_load_from_bytes(kJunk, sizeof kJunk, NULL, &s),
               TP_INVALID_ARGUMENT, "ONNX");
  CHECK_STATUS(tp_session_load_from_bytes(NULL, 10, NULL, &s),
               TP_INVALID_ARGUMENT, "data");
  CHECK_STATUS(tp_session_load_from_bytes(kJunk, 0, NULL, &s),
               TP_INVALID_ARGUMENT, "empty");
  CHECK(s == NULL);
  if (CHECK_OK(tp_session_options_create(&o))) {
    CHECK_OK(tp_session_options_set_device(o, "cuda"));
    CHECK_STATUS(tp_session_load(g_model_path, o, &s), TP_FAILED_PRECONDITION,
                 "CUDA");
    CHECK(s == NULL);
  }
  tp_session_options_destroy(o);
}

static void test_metadata(const tp_session_t* s) {
  const int64_t* shape;
  CHECK(tp_session_input_count(s) == 1);
  CHECK(str_eq(tp_session_input_name(s, 0), "x"));
  CHECK(tp_session_input_dtype(s, 0) == TP_DTYPE_F32);
  CHECK(tp_session_input_rank(s, 0) == 2);
  shape = tp_session_input_shape(s, 0);
  CHECK(shape != NULL && shape[0] == -1 && shape[1] == 4);
  CHECK(str_eq(tp_session_input_dim_name(s, 0, 0), "batch"));
  CHECK(str_eq(tp_session_input_dim_name(s, 0, 1), ""));
  CHECK(str_eq(tp_session_input_dim_name(s, 0, 7), ""));

  CHECK(tp_session_output_count(s) == 2);
  CHECK(str_eq(tp_session_output_name(s, 0), "y"));
  CHECK(str_eq(tp_session_output_name(s, 1), "z"));
  CHECK(tp_session_output_dtype(s, 1) == TP_DTYPE_F32);
  CHECK(tp_session_output_rank(s, 1) == 2);
  shape = tp_session_output_shape(s, 1);
  CHECK(shape != NULL && shape[0] == -1 && shape[1] == 4);

  /* Out of range and NULL. */
  CHECK(tp_session_input_name(s, 1) == NULL);
  CHECK(tp_session_input_dtype(s, 1) == TP_DTYPE_UNDEFINED);
  CHECK(tp_session_input_rank(s, 1) == 0);
  CHECK(tp_session_input_shape(s, 1) == NULL);
  CHECK(tp_session_output_name(s, 2) == NULL);
  CHECK(tp_session_input_count(NULL) == 0);
  CHECK(tp_session_output_name(NULL, 0) == NULL);

  /* Op histogram in name order; two 4-element initializers. */
  CHECK(tp_session_op_type_count(s) == 3);
  if (tp_session_op_type_count(s) == 3) {
    CHECK(str_eq(tp_session_op_type_name(s, 0), "Add"));
    CHECK(str_eq(tp_session_op_type_name(s, 1), "Mul"));
    CHECK(str_eq(tp_session_op_type_name(s, 2), "Relu"));
    CHECK(tp_session_op_type_nodes(s, 0) == 1);
  }
  CHECK(tp_session_op_type_name(s, 3) == NULL);
  CHECK(tp_session_parameter_count(s) == 8);
}

static const float kX[8] = {1, 2, 3, 4, -1, -2, -3, -4};
static const float kY[8] = {1.5f, 3, 9, 6, -0.5f, -5, -9, -26};
static const float kZ[8] = {1.5f, 3, 9, 6, 0, 0, 0, 0};

static int same_floats(const tp_tensor_t* t, const float* want, size_t n) {
  size_t i;
  const float* got = (const float*)tp_tensor_data((tp_tensor_t*)t);
  if (got == NULL || tp_tensor_num_elements(t) != (int64_t)n) return 0;
  for (i = 0; i < n; ++i) {
    if (got[i] != want[i]) {
      fprintf(stderr, "element %zu: got %g, want %g\n", i, got[i], want[i]);
      return 0;
    }
  }
  return 1;
}

static void test_run(const tp_session_t* s) {
  float xdata[8];
  int64_t shape[2] = {2, 4};
  tp_tensor_t* x = NULL;
  const char* in_names[1] = {"x"};
  tp_tensor_t* outs[2] = {NULL, NULL};
  memcpy(xdata, kX, sizeof xdata);
  if (!CHECK_OK(tp_tensor_create_borrowed(xdata, TP_DTYPE_F32, shape, 2, &x)))
    return;
  {
    const tp_tensor_t* inputs[1];
    inputs[0] = x;

    /* All outputs in model order. */
    if (CHECK_OK(tp_session_run(s, in_names, inputs, 1, NULL, 2, outs))) {
      CHECK(tp_tensor_dtype(outs[0]) == TP_DTYPE_F32);
      CHECK(tp_tensor_rank(outs[0]) == 2);
      CHECK(tp_tensor_shape(outs[0])[0] == 2 &&
            tp_tensor_shape(outs[0])[1] == 4);
      CHECK(same_floats(outs[0], kY, 8));
      CHECK(same_floats(outs[1], kZ, 8));
      /* The input was borrowed, not modified. */
      CHECK(memcmp(xdata, kX, sizeof xdata) == 0);
    }
    tp_tensor_destroy(outs[0]);
    tp_tensor_destroy(outs[1]);
    outs[0] = outs[1] = NULL;

    /* One output by name. */
    {
      const char* want[1] = {"z"};
      if (CHECK_OK(tp_session_run(s, in_names, inputs, 1, want, 1, outs)))
        CHECK(same_floats(outs[0], kZ, 8));
      tp_tensor_destroy(outs[0]);
      outs[0] = NULL;
    }

    /* Errors: a clear status, and no output handed over. */
    {
      const char* bad_names[1] = {"nope"};
      const char* bad_out[1] = {"w"};
      const char* null_name[1] = {NULL};
      const tp_tensor_t* null_input[1] = {NULL};
      CHECK_STATUS(tp_session_run(s, bad_names, inputs, 1, NULL, 2, outs),
                   TP_INVALID_ARGUMENT, "\"nope\"");
      CHECK_STATUS(tp_session_run(s, in_names, inputs, 1, bad_out, 1, outs),
                   TP_INVALID_ARGUMENT, "\"w\"");
      CHECK_STATUS(tp_session_run(s, in_names, inputs, 1, NULL, 1, outs),
                   TP_INVALID_ARGUMENT, "output_count");
      CHECK_STATUS(tp_session_run(s, NULL, inputs, 1, NULL, 2, outs),
                   TP_INVALID_ARGUMENT, NULL);
      CHECK_STATUS(tp_session_run(s, in_names, NULL, 1, NULL, 2, outs),
                   TP_INVALID_ARGUMENT, NULL);
      CHECK_STATUS(tp_session_run(s, in_names, inputs, 1, NULL, 2, NULL),
                   TP_INVALID_ARGUMENT, "outputs");
      CHECK_STATUS(tp_session_run(NULL, in_names, inputs, 1, NULL, 2, outs),
                   TP_INVALID_ARGUMENT, "session");
      CHECK_STATUS(tp_session_run(s, null_name, inputs, 1, NULL, 2, outs),
                   TP_INVALID_ARGUMENT, NULL);
      CHECK_STATUS(tp_session_run(s, in_names, null_input, 1, NULL, 2, outs),
                   TP_INVALID_ARGUMENT, "\"x\"");
      CHECK_STATUS(tp_session_run(s, in_names, inputs, 0, NULL, 2, outs),
                   TP_INVALID_ARGUMENT, "missing");
      CHECK(outs[0] == NULL && outs[1] == NULL);
    }
  }
  tp_tensor_destroy(x);

  /* Wrong shape and dtype name the input and what was expected. */
  {
    int64_t bad_shape[2] = {2, 3};
    int64_t i64_shape[2] = {2, 4};
    int64_t idata[8] = {0};
    tp_tensor_t* bad = NULL;
    tp_tensor_t* ints = NULL;
    if (CHECK_OK(tp_tensor_create_borrowed(xdata, TP_DTYPE_F32, bad_shape, 2,
                                           &bad))) {
      const tp_tensor_t* inputs[1];
      inputs[0] = bad;
      CHECK_STATUS(tp_session_run(s, in_names, inputs, 1, NULL, 2, outs),
                   TP_INVALID_ARGUMENT,
                   "input \"x\": expected shape [-1,4], got [2,3]");
    }
    if (CHECK_OK(tp_tensor_create_borrowed(idata, TP_DTYPE_I64, i64_shape, 2,
                                           &ints))) {
      const tp_tensor_t* inputs[1];
      inputs[0] = ints;
      CHECK_STATUS(tp_session_run(s, in_names, inputs, 1, NULL, 2, outs),
                   TP_INVALID_ARGUMENT, "int64");
    }
    CHECK(outs[0] == NULL && outs[1] == NULL);
    tp_tensor_destroy(bad);
    tp_tensor_destroy(ints);
  }
}

static void test_load_from_bytes(void) {
  FILE* f = fopen(g_model_path, "rb");
  char* bytes;
  long size;
  tp_session_t* s = NULL;
  CHECK(f != NULL);
  if (f == NULL) return;
  fseek(f, 0, SEEK_END);
  size = ftell(f);
  fseek(f, 0, SEEK_SET);
  bytes = (char*)malloc((size_t)size);
  CHECK(bytes != NULL && fread(bytes, 1, (size_t)size, f) == (size_t)size);
  fclose(f);
  if (CHECK_OK(tp_session_load_from_bytes(bytes, (size_t)size, NULL, &s))) {
    /* The bytes are copied during the call. */
    memset(bytes, 0, (size_t)size);
    CHECK(tp_session_output_count(s) == 2);
    test_run(s);
  }
  free(bytes);
  tp_session_destroy(s);
}

/* What the batch callbacks saw: one slot per request. Written by batcher
 * threads; read after tp_batcher_destroy, which waits for them. */
typedef struct {
  int calls;
  int ok;
  tp_status_code_t code;
  float y[8];
  size_t outputs;
} batch_slot_t;

static void on_batch_done(void* user_data, tp_status_t* status, tp_tensor_t** outputs, size_t count) {
  batch_slot_t* slot = (batch_slot_t*)user_data;
  size_t i;
  slot->calls++;
  slot->code = tp_status_code(status);
  slot->ok = status == NULL;
  slot->outputs = count;
  if (status == NULL && count == 2) {
    const float* y = (const float*)tp_tensor_data(outputs[0]);
    for (i = 0; i < 4 && i < (size_t)tp_tensor_num_elements(outputs[0]); ++i) slot->y[i] = y[i];
  }
  for (i = 0; i < count; ++i) tp_tensor_destroy(outputs[i]);
  tp_status_destroy(status);
}

static void test_batcher(const tp_session_t* s) {
  static const float kScale[4] = {1, 2, 3, 4}, kBias[4] = {0.5f, -1, 0, -10};
  tp_batcher_options_t* o = NULL;
  tp_batcher_t* b = NULL;
  tp_tensor_t* x[3] = {NULL, NULL, NULL};
  batch_slot_t slots[3];
  const char* names[1] = {"x"};
  int64_t shape[2] = {1, 4};
  int64_t preferred[2] = {2, 4};
  uint64_t id = 0;
  tp_load_report_t report;
  int i, k;
  memset(slots, 0, sizeof(slots));
  if (!CHECK_OK(tp_batcher_options_create(&o))) return;
  CHECK_OK(tp_batcher_options_set_max_batch_size(o, 4));
  CHECK_OK(tp_batcher_options_set_preferred_batch_sizes(o, preferred, 2));
  CHECK_OK(tp_batcher_options_set_max_queue_delay_us(o, 1000));
  CHECK_OK(tp_batcher_options_set_instances(o, 2));
  CHECK_STATUS(tp_batcher_options_set_max_batch_size(NULL, 4), TP_INVALID_ARGUMENT, "options");
  CHECK_STATUS(tp_batcher_options_set_target_utilization(o, 0), TP_INVALID_ARGUMENT, "utilization");
  CHECK_STATUS(tp_batcher_options_set_target_utilization(o, 1.5), TP_INVALID_ARGUMENT, "utilization");
  CHECK_OK(tp_batcher_options_set_target_utilization(o, 0.5));
  CHECK_OK(tp_batcher_options_set_priority_levels(o, 0, 0));
  /* An invalid policy is reported by tp_batcher_create. */
  CHECK_STATUS(tp_batcher_create(s, o, &b), TP_INVALID_ARGUMENT, "priority_levels");
  CHECK_OK(tp_batcher_options_set_priority_levels(o, 2, 1));
  if (!CHECK_OK(tp_batcher_create(s, o, &b))) {
    tp_batcher_options_destroy(o);
    return;
  }
  tp_batcher_options_destroy(o);
  for (i = 0; i < 3; ++i) {
    float* d;
    if (!CHECK_OK(tp_tensor_create(TP_DTYPE_F32, shape, 2, &x[i]))) continue;
    d = (float*)tp_tensor_data(x[i]);
    for (k = 0; k < 4; ++k) d[k] = (float)(i * 4 + k);
    CHECK_OK(tp_batcher_submit(b, names, (const tp_tensor_t* const*)&x[i], 1, 1 + i % 2, 0, on_batch_done,
                               &slots[i], &id));
  }
  CHECK(id == 3);
  CHECK_STATUS(tp_batcher_submit(b, names, (const tp_tensor_t* const*)&x[0], 1, 7, 0, on_batch_done, &slots[0],
                                 NULL),
               TP_INVALID_ARGUMENT, "priority");
  CHECK_STATUS(tp_batcher_submit(b, names, (const tp_tensor_t* const*)&x[0], 1, 0, 0, NULL, NULL, NULL),
               TP_INVALID_ARGUMENT, "callback");
  CHECK(tp_batcher_cancel(b, 999) == 0);
  /* Wait (up to about 10 s) until nothing is queued or running: the 1 ms
   * queue delay lets the last request run alone. */
  for (k = 0; k < 10000000; ++k) {
    if (!CHECK_OK(tp_batcher_load_report(b, &report))) break;
    if (report.queue_depth == 0 && report.in_flight == 0 && report.completed_per_s > 0) break;
  }
  CHECK(report.queue_depth == 0 && report.recommended_replicas >= 1);
  {
    tp_batcher_histograms_t h;
    int64_t batches = 0, requests = 0;
    CHECK_STATUS(tp_batcher_histograms(b, NULL), TP_INVALID_ARGUMENT, "out");
    if (CHECK_OK(tp_batcher_histograms(b, &h))) {
      for (k = 0; k < TP_BATCH_SIZE_BUCKETS; ++k) batches += h.batch_size[k];
      for (k = 0; k < TP_DURATION_BUCKETS; ++k) requests += h.queue[k];
      CHECK(h.requests == 3 && h.rows == 3 && requests == 3);
      CHECK(batches == h.batches && h.batches >= 1 && h.batches <= 3);
      CHECK(h.duration_bounds_us[0] > 0 && h.duration_bounds_us[TP_DURATION_BUCKETS - 2] > h.duration_bounds_us[0]);
    }
  }
  /* Destroy waits for running batches (anything still queued would
   * complete with TP_UNAVAILABLE). Every request's callback ran exactly
   * once, with both model outputs ("y", "z") of its own row. */
  tp_batcher_destroy(b);
  for (i = 0; i < 3; ++i) {
    CHECK(slots[i].calls == 1);
    CHECK(slots[i].ok);
    if (slots[i].ok) {
      CHECK(slots[i].outputs == 2);
      for (k = 0; k < 4; ++k) CHECK(slots[i].y[k] == (float)(i * 4 + k) * kScale[k] + kBias[k]);
    } else {
      CHECK(slots[i].code == TP_UNAVAILABLE);
    }
  }
  for (i = 0; i < 3; ++i) tp_tensor_destroy(x[i]);
  tp_batcher_destroy(NULL);
  tp_batcher_options_destroy(NULL);
}

int main(int argc, char** argv) {
  tp_session_t* s;
  if (argc > 1) g_model_path = argv[1];
  test_versions();
  test_status_and_dtypes();
  test_tensors();
  test_options();
  test_load_errors();
  s = load("cpu");
  CHECK(s != NULL);
  if (s != NULL) {
    test_metadata(s);
    test_run(s);
    test_batcher(s);
  }
  tp_session_destroy(s);
  s = load("auto");
  CHECK(s != NULL);
  tp_session_destroy(s);
  test_load_from_bytes();

  /* Destroy functions accept NULL. */
  tp_status_destroy(NULL);
  tp_tensor_destroy(NULL);
  tp_session_options_destroy(NULL);
  tp_session_destroy(NULL);

  if (g_failures > 0) {
    fprintf(stderr, "c_api_test: %d check(s) failed\n", g_failures);
    return 1;
  }
  printf("c_api_test: all checks passed\n");
  return 0;
}
