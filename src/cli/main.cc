// `tensorpod`: inspect, run and benchmark ONNX models from the shell.
// Uses only the public C++ API.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <cctype>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <vector>

#include "health.h"
#include "npy.h"
#include "tensorpod/tensorpod.hpp"
#ifdef TP_HAVE_SERVER
#include "server.h"
#endif

namespace tp = tensorpod;

namespace {

constexpr const char* kUsage =
    "usage: tensorpod <command> [options]\n"
    "\n"
    "commands:\n"
    "  inspect MODEL                       inputs, outputs, op histogram, parameter count\n"
    "  run MODEL --input NAME=FILE.npy ... --output-dir DIR [--threads T] [DEVICE FLAGS]\n"
    "                                      run once; writes DIR/<output>.npy per output\n"
    "  bench MODEL [--batch N] [--threads T] [--seconds S] [--dim NAME=VALUE ...] [--json] [DEVICE FLAGS]\n"
    "        [--mode open-loop --rate R [--max-batch B] [--max-delay-us D] [--instances N] [--max-queue Q]\n"
    "         [--slo-p99-ms T]]  requests arrive as a Poisson process, through the dynamic batcher\n"
    "                                      latency percentiles and throughput on random inputs\n"
    "  serve --model-repository DIR [--http-port 8000] [--grpc-port 8001] [--metrics-port 8002]\n"
    "        [--host 0.0.0.0] [--drain-seconds 5] [--exit-timeout-seconds 30]\n"
    "        [--model-control-mode none|explicit|poll] [--repository-poll-seconds 15] [--log-format text|json]\n"
    "        [--max-request-bytes N] [--http-threads N] [--device D] [--threads T] [--exit-on-error true|false]\n"
    "        [--metrics-compat triton]\n"
    "                                      the KServe v2 server; every flag also reads TENSORPOD_<FLAG>\n"
    "                                      (e.g. TENSORPOD_HTTP_PORT), which the flag overrides\n"
    "  health [--url URL] [--timeout-seconds S]\n"
    "                                      GET URL (default http://127.0.0.1:$TENSORPOD_HTTP_PORT/v2/health/live,\n"
    "                                      port 8000 when unset); exit 0 on HTTP 200, 1 otherwise: for\n"
    "                                      container health checks without curl\n"
    "  version                             print the version\n"
    "\n"
    "device flags: --device auto|cpu|cuda|cuda:N (default auto), --precision fp32|tf32|fp16|bf16,\n"
    "  --no-cuda-graphs\n"
    "\n"
    "environment: TENSORPOD_LOG_LEVEL=trace|debug|info|warn|error|off,\n"
    "  TENSORPOD_PROFILE_OPS=1 (print time per op type when a session closes)\n";

int Fail(const std::string& message) {
  std::cerr << "tensorpod: " << message << "\n";
  return 1;
}

int Usage(const std::string& message) {
  std::cerr << "tensorpod: " << message << "\n\n" << kUsage;
  return 2;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

bool ParseInt(const std::string& s, int64_t lo, int64_t hi, int64_t* out) {
  if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos) return false;
  const int64_t v = std::stoll(s);
  if (v < lo || v > hi) return false;
  *out = v;
  return true;
}

// Splits NAME=VALUE.
bool SplitAssign(const std::string& s, std::string* name, std::string* value) {
  const size_t eq = s.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == s.size()) return false;
  *name = s.substr(0, eq);
  *value = s.substr(eq + 1);
  return true;
}

// An argument no option claimed: the MODEL the first time, a usage error
// (exit code 2) for an unknown option or a second positional. 0 when taken.
int TakeModel(const std::string& arg, std::string* model) {
  if (arg.rfind("--", 0) == 0) return Usage("unknown option " + arg);
  if (!model->empty()) return Usage("unexpected argument " + arg);
  *model = arg;
  return 0;
}

int Inspect(const std::vector<std::string>& args) {
  if (args.size() != 1) return Usage("inspect takes exactly one MODEL");
  auto session = tp::Session::Load(args[0], tp::SessionOptions().Threads(1));
  if (!session.ok()) return Fail(session.status().ToString());
  const tp_session_t* s = session->c_session();
  std::cout << "model: " << args[0] << "\n";
  std::cout << "inputs:\n";
  for (size_t i = 0; i < tp_session_input_count(s); ++i) {
    std::string dims = "[";
    for (size_t d = 0; d < tp_session_input_rank(s, i); ++d) {
      const int64_t v = tp_session_input_shape(s, i)[d];
      const std::string name = tp_session_input_dim_name(s, i, d);
      dims += (d ? "," : "") + (v >= 0 ? std::to_string(v) : (name.empty() ? "?" : name));
    }
    std::cout << "  " << tp_session_input_name(s, i) << "  " << tp_dtype_name(tp_session_input_dtype(s, i)) << "  "
              << dims << "]\n";
  }
  std::cout << "outputs:\n";
  for (const auto& o : session->Outputs()) {
    std::cout << "  " << o.name << "  " << tp::DTypeName(o.dtype) << "  " << ShapeString(o.shape) << "\n";
  }
  std::cout << "ops (" << tp_session_op_type_count(s) << " types):\n";
  int64_t nodes = 0;
  for (size_t i = 0; i < tp_session_op_type_count(s); ++i) {
    std::printf("  %-24s %lld\n", tp_session_op_type_name(s, i), static_cast<long long>(tp_session_op_type_nodes(s, i)));
    nodes += tp_session_op_type_nodes(s, i);
  }
  std::cout << "nodes: " << nodes << "\n";
  std::cout << "parameters: " << tp_session_parameter_count(s) << "\n";
  return 0;
}

// --device D, --precision P and --no-cuda-graphs, shared by run and bench.
struct DeviceFlags {
  std::string device = "auto";
  std::string precision = "fp32";
  bool cuda_graphs = true;

  // Consumes args[*i] (and its value) when it is one of the flags; returns
  // false when it is not. Sets *error for a flag without its value.
  bool Take(const std::vector<std::string>& args, size_t* i, std::string* error) {
    const std::string& a = args[*i];
    if (a == "--no-cuda-graphs") {
      cuda_graphs = false;
      return true;
    }
    if (a != "--device" && a != "--precision") return false;
    if (*i + 1 >= args.size()) {
      *error = a + " needs a value";
      return true;
    }
    (a == "--device" ? device : precision) = args[++*i];
    return true;
  }
  tp::SessionOptions Options(int64_t threads) const {
    tp::SessionOptions o;
    o.Threads(static_cast<int>(threads)).Device(device).Precision(precision).CudaGraphs(cuda_graphs);
    return o;
  }
};

int Run(const std::vector<std::string>& args) {
  std::string model, out_dir;
  int64_t threads = 0;
  std::vector<std::pair<std::string, std::string>> inputs;
  DeviceFlags flags;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag_error;
    if (flags.Take(args, &i, &flag_error)) {
      if (!flag_error.empty()) return Usage(flag_error);
      continue;
    }
    const std::string& a = args[i];
    if ((a == "--input" || a == "--output-dir" || a == "--threads") && i + 1 >= args.size()) {
      return Usage(a + " needs a value");
    }
    if (a == "--input") {
      std::string name, file;
      if (!SplitAssign(args[++i], &name, &file)) return Usage("--input takes NAME=FILE.npy, got " + args[i]);
      inputs.emplace_back(name, file);
    } else if (a == "--output-dir") {
      out_dir = args[++i];
    } else if (a == "--threads") {
      if (!ParseInt(args[++i], 0, 1024, &threads)) return Usage("--threads takes 0..1024, got " + args[i]);
    } else if (const int rc = TakeModel(a, &model)) {
      return rc;
    }
  }
  if (model.empty()) return Usage("run needs a MODEL");
  if (out_dir.empty()) return Usage("run needs --output-dir DIR");
  auto session = tp::Session::Load(model, flags.Options(threads));
  if (!session.ok()) return Fail(session.status().ToString());
  std::vector<tp::cli::NpyArray> arrays;
  arrays.reserve(inputs.size());
  std::vector<tp::Tensor> tensors;
  for (const auto& [name, file] : inputs) {
    auto arr = tp::cli::ReadNpy(file);
    if (!arr.ok()) return Fail(arr.status().message());
    arrays.push_back(std::move(arr).value());
    auto& a = arrays.back();
    tensors.push_back(tp::Tensor::Borrow(a.data.data(), a.shape, a.dtype));
  }
  tp::NamedTensors named;
  for (size_t i = 0; i < inputs.size(); ++i) named.emplace_back(inputs[i].first, tensors[i]);
  auto outputs = session->Run(named);
  if (!outputs.ok()) return Fail(outputs.status().ToString());
  mkdir(out_dir.c_str(), 0755);
  const auto infos = session->Outputs();
  for (size_t i = 0; i < infos.size(); ++i) {
    std::string file = infos[i].name;
    std::replace_if(file.begin(), file.end(), [](char c) { return c == '/' || c == '\\' || c == ':'; }, '_');
    if (file.empty() || file == "." || file == "..") file = "output_" + std::to_string(i);
    const std::string path = out_dir + "/" + file + ".npy";
    tp::Status s = tp::cli::WriteNpy(path, (*outputs)[i]);
    if (!s.ok()) return Fail(s.message());
    std::cout << infos[i].name << " " << tp::DTypeName((*outputs)[i].dtype()) << " "
              << ShapeString((*outputs)[i].shape()) << " -> " << path << "\n";
  }
  return 0;
}

void FillRandom(tp::Tensor& t, std::mt19937& rng) {
  const int64_t n = t.num_elements();
  switch (t.dtype()) {
    case tp::DType::kF32: {
      std::uniform_real_distribution<float> d(-1.0f, 1.0f);
      for (int64_t i = 0; i < n; ++i) t.Data<float>()[i] = d(rng);
      break;
    }
    case tp::DType::kF64: {
      std::uniform_real_distribution<double> d(-1.0, 1.0);
      for (int64_t i = 0; i < n; ++i) t.Data<double>()[i] = d(rng);
      break;
    }
    case tp::DType::kI64:
      // Small non-negative values are valid token ids and masks for any model.
      for (int64_t i = 0; i < n; ++i) t.Data<int64_t>()[i] = static_cast<int64_t>(rng() % 2);
      break;
    case tp::DType::kI32:
      for (int64_t i = 0; i < n; ++i) t.Data<int32_t>()[i] = static_cast<int32_t>(rng() % 2);
      break;
    case tp::DType::kBool:
      for (int64_t i = 0; i < n; ++i) t.Data<bool>()[i] = rng() % 2;
      break;
    default:
      break;  // zeros
  }
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return std::nan("");
  std::sort(v.begin(), v.end());
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * (v.size() - 1) + 0.5));
  return v[k];
}

// bench --mode open-loop: requests of the --batch rows arrive as a Poisson
// process at --rate per second, each submitted to a batcher the moment it
// arrives (never waiting for earlier ones), for --seconds.
struct OpenLoop {
  double rate = 0;
  int64_t max_batch = 8;
  int64_t max_delay_us = 0;
  int64_t instances = 1;
  int64_t max_queue = 0;
  double slo_p99_ms = 0;
};

// One accepted request's record. Records live in chunks the generator
// allocates ahead, so that completing a request (on a batcher thread) costs
// a clock read and two stores: the load generator's own work stays out of
// the batcher's measured throughput as far as it can.
struct OpenLoopRequest {
  std::atomic<int64_t>* done;
  std::chrono::steady_clock::time_point due, submitted, completed;
  bool ok = false;
};

void OnOpenLoopDone(void* user_data, tp_status_t* status, tp_tensor_t** outputs, size_t count) {
  auto* r = static_cast<OpenLoopRequest*>(user_data);
  r->completed = std::chrono::steady_clock::now();
  for (size_t i = 0; i < count; ++i) tp_tensor_destroy(outputs[i]);
  r->ok = status == nullptr;
  tp_status_destroy(status);
  r->done->fetch_add(1, std::memory_order_release);
}

int RunOpenLoop(const tp::Session& session, const std::vector<std::string>& names,
                const std::vector<tp::Tensor>& tensors, const OpenLoop& open, double seconds, bool json) {
  tp_batcher_options_t* o = nullptr;
  tp::Status st = tp::Status::FromC(tp_batcher_options_create(&o));
  std::unique_ptr<tp_batcher_options_t, void (*)(tp_batcher_options_t*)> options(o, &tp_batcher_options_destroy);
  if (st.ok()) st = tp::Status::FromC(tp_batcher_options_set_max_batch_size(o, open.max_batch));
  if (st.ok()) st = tp::Status::FromC(tp_batcher_options_set_max_queue_delay_us(o, open.max_delay_us));
  if (st.ok()) st = tp::Status::FromC(tp_batcher_options_set_instances(o, static_cast<int>(open.instances)));
  if (st.ok()) st = tp::Status::FromC(tp_batcher_options_set_max_queue_size(o, open.max_queue));
  if (st.ok() && open.slo_p99_ms > 0) st = tp::Status::FromC(tp_batcher_options_set_slo_p99_ms(o, open.slo_p99_ms));
  // Declared before the batcher, whose destruction may still run callbacks.
  // Every batch size the batcher may form plans and sizes its memory on its
  // first run: do those runs now, not inside the measurement (sizes up to
  // 256 one by one, powers of two beyond).
  for (int64_t b = 1; b <= open.max_batch; b = b < 256 ? b + 1 : b * 2) {
    tp::NamedTensors warm;
    std::vector<tp::Tensor> keep;
    for (size_t i = 0; i < names.size(); ++i) {
      std::vector<int64_t> shape = tensors[i].shape();
      if (shape.empty()) break;
      shape[0] *= b;
      auto t = tp::Tensor::Zeros(shape, tensors[i].dtype());
      if (!t.ok()) return Fail(t.status().ToString());
      keep.push_back(std::move(t).value());
    }
    if (keep.size() != names.size()) break;
    for (size_t i = 0; i < names.size(); ++i) warm.emplace_back(names[i], keep[i]);
    auto out = session.Run(warm);
    if (!out.ok()) return Fail("warming up batch " + std::to_string(b) + ": " + out.status().ToString());
  }
  std::atomic<int64_t> done{0};
  constexpr size_t kChunk = 1 << 16;
  std::vector<std::unique_ptr<OpenLoopRequest[]>> records;
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);  // wake-ups on time, to the microsecond
  tp_batcher_t* raw = nullptr;
  if (st.ok()) st = tp::Status::FromC(tp_batcher_create(session.c_session(), o, &raw));
  if (!st.ok()) return Fail(st.ToString());
  std::unique_ptr<tp_batcher_t, void (*)(tp_batcher_t*)> batcher(raw, &tp_batcher_destroy);
  std::vector<const char*> cnames;
  // Each request borrows the input data, as a client submitting its own
  // buffers does (they stay alive until the last request completes), rather
  // than sharing one reference-counted tensor that every request would copy.
  std::vector<tp::Tensor> borrowed;
  std::vector<const tp_tensor_t*> ctensors;
  for (size_t i = 0; i < names.size(); ++i) {
    cnames.push_back(names[i].c_str());
    borrowed.push_back(tp::Tensor::Borrow(tensors[i].data(), tensors[i].shape(), tensors[i].dtype()));
    ctensors.push_back(borrowed.back().c_tensor());
  }
  std::mt19937_64 rng(7);
  std::exponential_distribution<double> gap(open.rate);
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto stop = start + std::chrono::duration<double>(seconds);
  auto next = start;
  int64_t submitted = 0, rejected = 0;
  double max_lag_ms = 0;
  while (next < stop) {
    // Sleep to just before the due time, then spin: a sleep alone wakes
    // tens of microseconds late, which would count as latency.
    if (next - Clock::now() > std::chrono::microseconds(100)) {
      std::this_thread::sleep_until(next - std::chrono::microseconds(80));
    }
    while (Clock::now() < next) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();  // leave the core's resources to whatever shares it
#endif
    }
    // Latency counts from when the request was due, so a generator that
    // falls behind does not hide queueing (coordinated omission).
    const auto now = Clock::now();
    max_lag_ms = std::max(max_lag_ms, std::chrono::duration<double, std::milli>(now - next).count());
    if (static_cast<size_t>(submitted) == records.size() * kChunk) records.emplace_back(new OpenLoopRequest[kChunk]);
    OpenLoopRequest* r = &records[submitted / kChunk][submitted % kChunk];
    r->done = &done;
    r->due = next;
    r->submitted = now;
    tp::Status s = tp::Status::FromC(tp_batcher_submit(batcher.get(), cnames.data(), ctensors.data(),
                                                       cnames.size(), 0, 0, OnOpenLoopDone, r, nullptr));
    if (s.ok()) {
      ++submitted;
    } else {
      if (s.code() != tp::StatusCode::kResourceExhausted) return Fail(s.ToString());
      ++rejected;
    }
    next += std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(gap(rng)));
  }
  for (auto waited = Clock::now(); done.load(std::memory_order_acquire) < submitted &&
                                   Clock::now() - waited < std::chrono::seconds(60);) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  tp_load_report_t report = {};
  tp_batcher_load_report(batcher.get(), &report);
  batcher.reset();  // anything left completes with UNAVAILABLE
  std::vector<double> latencies_ms, batcher_ms;  // successful requests, from due and from submission
  int64_t failed = 0;
  auto last_done = start;
  const int64_t finished = done.load(std::memory_order_acquire);
  for (int64_t i = 0; i < submitted; ++i) {
    const OpenLoopRequest& r = records[i / kChunk][i % kChunk];
    if (!r.ok) {
      ++failed;
      continue;
    }
    latencies_ms.push_back(std::chrono::duration<double, std::milli>(r.completed - r.due).count());
    batcher_ms.push_back(std::chrono::duration<double, std::milli>(r.completed - r.submitted).count());
    last_done = std::max(last_done, r.completed);
  }
  failed -= submitted - finished;  // unfinished ones are counted apart
  const double offered = static_cast<double>(submitted + rejected) / seconds;
  // Completed requests over the time from the first arrival to the last
  // completion.
  const double elapsed = std::max(seconds, std::chrono::duration<double>(last_done - start).count());
  const double throughput = static_cast<double>(latencies_ms.size()) / elapsed;
  const double p50 = Percentile(latencies_ms, 50), p99 = Percentile(latencies_ms, 99);
  // The batcher's own share: from submission, without the generator's lag.
  const double batcher_p50 = Percentile(batcher_ms, 50), batcher_p99 = Percentile(batcher_ms, 99);
  const int64_t lost = rejected + failed + (submitted - finished);
  if (json) {
    std::printf("{\"mode\": \"open-loop\", \"rate\": %.2f, \"throughput_per_s\": %.2f, \"p50_ms\": %.4f, "
                "\"p99_ms\": %.4f, \"mean_batch\": %.3f, \"rejected\": %lld, \"max_batch\": %lld, "
                "\"max_delay_us\": %lld, \"instances\": %lld, \"requests\": %lld, \"refused\": %lld, "
                "\"failed\": %lld, \"max_generator_lag_ms\": %.3f, \"batch_compute_p50_ms\": %.4f, "
                "\"busy_fraction\": %.3f, \"p50_from_submit_ms\": %.4f, \"p99_from_submit_ms\": %.4f, "
                "\"queue_p99_ms\": %.4f, \"compute_p99_ms\": %.4f}\n",
                offered, throughput, p50, p99, report.mean_batch_size, static_cast<long long>(lost),
                static_cast<long long>(open.max_batch), static_cast<long long>(open.max_delay_us),
                static_cast<long long>(open.instances), static_cast<long long>(submitted),
                static_cast<long long>(rejected), static_cast<long long>(failed + (submitted - finished)),
                max_lag_ms, report.compute_p50_ms, report.instance_busy_fraction, batcher_p50, batcher_p99,
                report.queue_p99_ms, report.compute_p99_ms);
  } else {
    std::printf("open loop: offered %.1f req/s, achieved %.1f req/s, %lld requests, %lld rejected or failed\n",
                offered, throughput, static_cast<long long>(submitted), static_cast<long long>(lost));
    std::printf("latency ms  p50 %.3f  p99 %.3f\nmean batch  %.2f rows (max %lld, delay %lld us, %lld instance(s))\n",
                p50, p99, report.mean_batch_size, static_cast<long long>(open.max_batch),
                static_cast<long long>(open.max_delay_us), static_cast<long long>(open.instances));
  }
  return 0;
}

int Bench(const std::vector<std::string>& args) {
  std::string model;
  int64_t batch = 1, threads = 0;
  double seconds = 5.0;
  bool json = false;
  std::map<std::string, int64_t> dims;
  DeviceFlags flags;
  OpenLoop open;
  std::string mode = "closed-loop";
  for (size_t i = 0; i < args.size(); ++i) {
    std::string flag_error;
    if (flags.Take(args, &i, &flag_error)) {
      if (!flag_error.empty()) return Usage(flag_error);
      continue;
    }
    const std::string& a = args[i];
    if ((a == "--batch" || a == "--threads" || a == "--seconds" || a == "--dim" || a == "--mode" ||
         a == "--rate" || a == "--max-batch" || a == "--max-delay-us" || a == "--instances" ||
         a == "--max-queue" || a == "--slo-p99-ms") &&
        i + 1 >= args.size()) {
      return Usage(a + " needs a value");
    }
    if (a == "--mode") {
      mode = args[++i];
      if (mode != "closed-loop" && mode != "open-loop") {
        return Usage("--mode takes closed-loop or open-loop, got " + mode);
      }
    } else if (a == "--rate") {
      char* end = nullptr;
      open.rate = std::strtod(args[++i].c_str(), &end);
      if (end == args[i].c_str() || *end != '\0' || !(open.rate > 0 && open.rate <= 1e7)) {
        return Usage("--rate takes requests/s in (0, 1e7], got " + args[i]);
      }
    } else if (a == "--max-batch") {
      if (!ParseInt(args[++i], 1, 1 << 16, &open.max_batch)) return Usage("--max-batch takes 1..65536, got " + args[i]);
    } else if (a == "--max-delay-us") {
      if (!ParseInt(args[++i], 0, 10'000'000, &open.max_delay_us)) {
        return Usage("--max-delay-us takes 0..10000000, got " + args[i]);
      }
    } else if (a == "--instances") {
      if (!ParseInt(args[++i], 1, 256, &open.instances)) return Usage("--instances takes 1..256, got " + args[i]);
    } else if (a == "--slo-p99-ms") {
      char* end = nullptr;
      open.slo_p99_ms = std::strtod(args[++i].c_str(), &end);
      if (end == args[i].c_str() || *end != '\0' || !(open.slo_p99_ms > 0 && open.slo_p99_ms <= 3.6e6)) {
        return Usage("--slo-p99-ms takes milliseconds in (0, 3600000], got " + args[i]);
      }
    } else if (a == "--max-queue") {
      if (!ParseInt(args[++i], 0, 1 << 30, &open.max_queue)) return Usage("--max-queue takes 0.., got " + args[i]);
    } else if (a == "--batch") {
      if (!ParseInt(args[++i], 1, 1 << 20, &batch)) return Usage("--batch takes 1..1048576, got " + args[i]);
    } else if (a == "--threads") {
      if (!ParseInt(args[++i], 0, 1024, &threads)) return Usage("--threads takes 0..1024, got " + args[i]);
    } else if (a == "--seconds") {
      char* end = nullptr;
      seconds = std::strtod(args[++i].c_str(), &end);
      if (end == args[i].c_str() || *end != '\0' || !(seconds > 0 && seconds <= 3600)) {
        return Usage("--seconds takes a number in (0, 3600], got " + args[i]);
      }
    } else if (a == "--dim") {
      std::string name, value;
      int64_t v = 0;
      if (!SplitAssign(args[++i], &name, &value) || !ParseInt(value, 1, 1 << 24, &v)) {
        return Usage("--dim takes NAME=VALUE with VALUE >= 1, got " + args[i]);
      }
      dims[name] = v;
    } else if (a == "--json") {
      json = true;
    } else if (const int rc = TakeModel(a, &model)) {
      return rc;
    }
  }
  if (model.empty()) return Usage("bench needs a MODEL");
  const bool open_loop = mode == "open-loop";
  if (open_loop && open.rate <= 0) return Usage("--mode open-loop needs --rate R");
  auto session = tp::Session::Load(model, flags.Options(threads).MaxBatch(open_loop ? open.max_batch : batch));
  if (!session.ok()) return Fail(session.status().ToString());
  const tp_session_t* s = session->c_session();
  std::mt19937 rng(42);
  std::vector<tp::Tensor> tensors;
  std::vector<std::string> names;
  for (size_t i = 0; i < tp_session_input_count(s); ++i) {
    std::vector<int64_t> shape;
    for (size_t d = 0; d < tp_session_input_rank(s, i); ++d) {
      int64_t v = tp_session_input_shape(s, i)[d];
      const std::string dim_name = tp_session_input_dim_name(s, i, d);
      if (!dim_name.empty() && dims.count(dim_name)) {
        v = dims[dim_name];
      } else if (v < 0 && d == 0) {
        v = batch;
      } else if (v < 0) {
        return Fail(std::string("input \"") + tp_session_input_name(s, i) + "\" dimension " + std::to_string(d) +
                    (dim_name.empty() ? "" : " (\"" + dim_name + "\")") + " is dynamic; pass --dim " +
                    (dim_name.empty() ? "NAME" : dim_name) + "=VALUE");
      }
      shape.push_back(v);
    }
    auto t = tp::Tensor::Zeros(shape, static_cast<tp::DType>(tp_session_input_dtype(s, i)));
    if (!t.ok()) return Fail(t.status().ToString());
    FillRandom(*t, rng);
    names.push_back(tp_session_input_name(s, i));
    tensors.push_back(std::move(t).value());
  }
  tp::NamedTensors named;
  for (size_t i = 0; i < names.size(); ++i) named.emplace_back(names[i], tensors[i]);
  using Clock = std::chrono::steady_clock;
  // Warm-up: plans, arena, caches.
  for (int i = 0; i < 3; ++i) {
    auto out = session->Run(named);
    if (!out.ok()) return Fail(out.status().ToString());
  }
  if (open_loop) return RunOpenLoop(*session, names, tensors, open, seconds, json);
  std::vector<double> latencies_ms;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration<double>(seconds);
  while (Clock::now() < deadline || latencies_ms.size() < 10) {
    const auto t0 = Clock::now();
    auto out = session->Run(named);
    const auto t1 = Clock::now();
    if (!out.ok()) return Fail(out.status().ToString());
    latencies_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const double p50 = Percentile(latencies_ms, 50), p90 = Percentile(latencies_ms, 90),
               p99 = Percentile(latencies_ms, 99);
  const double throughput = static_cast<double>(batch) * latencies_ms.size() / elapsed;
  const int used_threads = threads > 0 ? static_cast<int>(threads) : 0;
  if (json) {
    std::string escaped;
    for (char c : model) {
      if (c == '"' || c == '\\') escaped += '\\';
      escaped += c;
    }
    std::printf("{\"model\": \"%s\", \"device\": \"%s\", \"precision\": \"%s\", \"cuda_graphs\": %s, "
                "\"batch\": %lld, \"threads\": %d, \"p50_ms\": %.4f, \"p90_ms\": %.4f, "
                "\"p99_ms\": %.4f, \"throughput_per_s\": %.2f, \"runs\": %zu}\n",
                escaped.c_str(), session->Device().c_str(), flags.precision.c_str(),
                flags.cuda_graphs ? "true" : "false", static_cast<long long>(batch), used_threads, p50, p90, p99,
                throughput, latencies_ms.size());
  } else {
    std::printf("model %s  device %s  precision %s  batch %lld  threads %s  runs %zu\n", model.c_str(),
                session->Device().c_str(), flags.precision.c_str(), static_cast<long long>(batch),
                used_threads ? std::to_string(used_threads).c_str() : "auto", latencies_ms.size());
    std::printf("latency ms  p50 %.3f  p90 %.3f  p99 %.3f\nthroughput  %.1f items/s\n", p50, p90, p99, throughput);
  }
  return 0;
}

}  // namespace

#ifdef TP_HAVE_SERVER
// tensorpod serve: flags, each also read from TENSORPOD_<FLAG> (upper case,
// dashes as underscores) for containers; a flag overrides its variable.
int Serve(const std::vector<std::string>& args) {
  namespace srv = tp::server;
  const char* names[] = {"model-repository", "http-port", "grpc-port", "metrics-port", "host", "drain-seconds",
                         "exit-timeout-seconds", "model-control-mode", "repository-poll-seconds", "log-format",
                         "max-request-bytes", "http-threads", "device", "threads", "exit-on-error", "metrics-compat"};
  std::map<std::string, std::string> values;
  for (const char* n : names) {
    std::string env = std::string("TENSORPOD_") + n;
    for (char& c : env) c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (const char* v = std::getenv(env.c_str())) values[n] = v;
  }
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0) return Usage("serve takes flags only, got " + a);
    std::string key = a.substr(2), value;
    const size_t eq = key.find('=');
    if (eq != std::string::npos) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
    } else {
      if (i + 1 >= args.size()) return Usage(a + " needs a value");
      value = args[++i];
    }
    if (std::find(std::begin(names), std::end(names), key) == std::end(names)) return Usage("unknown option --" + key);
    values[key] = value;
  }
  srv::ServeOptions o;
  auto get_int = [&](const std::string& key, int64_t lo, int64_t hi, int64_t* out) -> bool {
    auto it = values.find(key);
    if (it == values.end()) return true;
    return ParseInt(it->second, lo, hi, out);
  };
  auto get_seconds = [&](const std::string& key, double* out) -> bool {
    auto it = values.find(key);
    if (it == values.end()) return true;
    char* end = nullptr;
    const double v = std::strtod(it->second.c_str(), &end);
    if (end == it->second.c_str() || *end != '\0' || !(v >= 0 && v <= 86400)) return false;
    *out = v;
    return true;
  };
  o.model_repository = values["model-repository"];
  if (o.model_repository.empty()) return Usage("serve needs --model-repository DIR (or TENSORPOD_MODEL_REPOSITORY)");
  int64_t v = 0;
  v = o.http_port;
  if (!get_int("http-port", 0, 65535, &v)) return Usage("--http-port takes 0..65535, got " + values["http-port"]);
  o.http_port = static_cast<int>(v);
  v = o.grpc_port;
  if (!get_int("grpc-port", 0, 65535, &v)) return Usage("--grpc-port takes 0..65535, got " + values["grpc-port"]);
  o.grpc_port = static_cast<int>(v);
  v = o.metrics_port;
  if (!get_int("metrics-port", 0, 65535, &v)) return Usage("--metrics-port takes 0..65535 (0: none), got " + values["metrics-port"]);
  o.metrics_port = static_cast<int>(v);
  if (values.count("host")) o.host = values["host"];
  if (!get_seconds("drain-seconds", &o.drain_seconds)) return Usage("--drain-seconds takes seconds >= 0, got " + values["drain-seconds"]);
  if (!get_seconds("exit-timeout-seconds", &o.exit_timeout_seconds)) {
    return Usage("--exit-timeout-seconds takes seconds >= 0, got " + values["exit-timeout-seconds"]);
  }
  if (!get_seconds("repository-poll-seconds", &o.poll_seconds) || o.poll_seconds <= 0) {
    return Usage("--repository-poll-seconds takes seconds > 0, got " + values["repository-poll-seconds"]);
  }
  if (values.count("model-control-mode")) {
    const std::string& m = values["model-control-mode"];
    if (m == "none") o.control_mode = srv::ControlMode::kNone;
    else if (m == "explicit") o.control_mode = srv::ControlMode::kExplicit;
    else if (m == "poll") o.control_mode = srv::ControlMode::kPoll;
    else return Usage("--model-control-mode takes none, explicit or poll, got " + m);
  }
  if (values.count("log-format")) {
    const std::string& f = values["log-format"];
    if (f == "text") o.log_format = srv::LogFormat::kText;
    else if (f == "json") o.log_format = srv::LogFormat::kJson;
    else return Usage("--log-format takes text or json, got " + f);
  }
  v = static_cast<int64_t>(o.limits.max_body_bytes);
  if (!get_int("max-request-bytes", 1024, int64_t{1} << 34, &v)) {
    return Usage("--max-request-bytes takes 1024.." + std::to_string(int64_t{1} << 34) + ", got " + values["max-request-bytes"]);
  }
  o.limits.max_body_bytes = static_cast<size_t>(v);
  v = o.http_threads;
  if (!get_int("http-threads", 0, 1024, &v)) return Usage("--http-threads takes 0..1024, got " + values["http-threads"]);
  o.http_threads = static_cast<int>(v);
  v = o.threads;
  if (!get_int("threads", 0, 1024, &v)) return Usage("--threads takes 0..1024, got " + values["threads"]);
  o.threads = static_cast<int>(v);
  if (values.count("device")) o.device = values["device"];
  if (values.count("exit-on-error")) {
    const std::string& e = values["exit-on-error"];
    if (e != "true" && e != "false") return Usage("--exit-on-error takes true or false, got " + e);
    o.exit_on_error = e == "true";
  }
  if (values.count("metrics-compat")) {
    if (values["metrics-compat"] != "triton") return Usage("--metrics-compat takes triton, got " + values["metrics-compat"]);
    o.metrics_triton = true;
  }
  return srv::Serve(o);
}
#else
int Serve(const std::vector<std::string>&) {
  return Fail("this build has no server (configure with -DTENSORPOD_BUILD_SERVER=ON)");
}
#endif

int Health(const std::vector<std::string>& args) {
  const char* env_port = std::getenv("TENSORPOD_HTTP_PORT");
  std::string url = std::string("http://127.0.0.1:") + (env_port && *env_port ? env_port : "8000") + "/v2/health/live";
  int64_t timeout_s = 2;
  for (size_t i = 0; i < args.size(); ++i) {
    const bool has_value = i + 1 < args.size();
    if (args[i] == "--url" && has_value) {
      url = args[++i];
    } else if (args[i] == "--timeout-seconds" && has_value) {
      if (!ParseInt(args[++i], 1, 3600, &timeout_s)) return Usage("--timeout-seconds takes 1..3600, got " + args[i]);
    } else {
      return Usage("health: unknown or incomplete option " + args[i]);
    }
  }
  tp::cli::HealthTarget target;
  std::string error;
  if (!tp::cli::ParseHttpUrl(url, &target, &error)) return Usage("--url: " + error);
  if (!tp::cli::ProbeHttp(target, static_cast<int>(timeout_s * 1000), &error)) return Fail(url + ": " + error);
  return 0;
}

int main(int argc, char** argv) {
  int major = 0, minor = 0;
  tp_get_api_version(&major, &minor);
  if (!tp_check_api_version(TP_API_VERSION_MAJOR, TP_API_VERSION_MINOR)) {
    return Fail("libtensorpod API " + std::to_string(major) + "." + std::to_string(minor) +
                " cannot serve this tool (built for " + std::to_string(TP_API_VERSION_MAJOR) + "." +
                std::to_string(TP_API_VERSION_MINOR) + ")");
  }
  if (argc < 2) return Usage("missing command");
  const std::string cmd = argv[1];
  std::vector<std::string> args(argv + 2, argv + argc);
  if (cmd == "inspect") return Inspect(args);
  if (cmd == "run") return Run(args);
  if (cmd == "bench") return Bench(args);
  if (cmd == "serve") return Serve(args);
  if (cmd == "health") return Health(args);
  if (cmd == "version" || cmd == "--version") {
    std::cout << "tensorpod " << tp_get_version_string() << " (C API " << major << "." << minor << ")\n";
    return 0;
  }
  if (cmd == "help" || cmd == "--help" || cmd == "-h") {
    std::cout << kUsage;
    return 0;
  }
  return Usage("unknown command \"" + cmd + "\"");
}
