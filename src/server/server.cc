#include "server.h"

#include <signal.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <atomic>
#include <chrono>
#include <cctype>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <sstream>
#include <thread>
#include <tuple>

#include "grpc_server.h"
#include "http_server.h"

namespace tensorpod::server {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> SplitPath(const std::string& target) {
  const std::string path = target.substr(0, target.find('?'));
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) {
      // Percent-decoding, for model names with reserved characters.
      std::string seg;
      for (size_t k = i; k < j; ++k) {
        if (path[k] == '%' && k + 2 < j && std::isxdigit(static_cast<unsigned char>(path[k + 1])) &&
            std::isxdigit(static_cast<unsigned char>(path[k + 2]))) {
          seg += static_cast<char>(std::stoi(path.substr(k + 1, 2), nullptr, 16));
          k += 2;
        } else {
          seg += path[k];
        }
      }
      parts.push_back(std::move(seg));
    }
    i = j;
  }
  return parts;
}

HttpResponse Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

std::string Labels(const LoadedModel& m) {
  return "model=" + JsonQuote(m.name) + ",version=\"" + std::to_string(m.version) + "\"";
}

class Server {
 public:
  explicit Server(const ServeOptions& o) : options_(o) {}

  int Run();

 private:
  void Handle(HttpRequest&& req, Reply reply);
  void HandleModel(const std::vector<std::string>& p, HttpRequest&& req, Reply& reply);
  void Infer(std::shared_ptr<LoadedModel> m, HttpRequest&& req, Reply reply);
  HttpResponse Stats(const std::string& name, const std::string& version);
  HttpResponse Repository(const std::vector<std::string>& p, const HttpRequest& req);
  std::string Metrics();
  bool Ready() const { return loaded_.load() && !draining_.load() && repo_->AllReady(); }

  ServeOptions options_;
  std::unique_ptr<ModelRepository> repo_;
  std::atomic<bool> loaded_{false};
  std::atomic<bool> draining_{false};   // readiness 503, still serving
  std::atomic<bool> refusing_{false};   // new requests get UNAVAILABLE
  std::atomic<int64_t> requests_in_progress_{0};
  std::atomic<int64_t> refused_{0};
};

void Server::Handle(HttpRequest&& req, Reply reply) {
  const std::vector<std::string> p = SplitPath(req.target);
  const bool get = req.method == "GET";
  const bool post = req.method == "POST";
  if (p.empty() || p[0] != "v2") {
    return reply(ErrorResponse(Status(StatusCode::kNotFound, "no route for " + req.method + " " + req.target)));
  }
  if (p.size() == 3 && p[1] == "health" && get) {
    if (p[2] == "live") return reply(Json(200, "{\"live\":true}"));
    if (p[2] == "ready") {
      const bool ready = Ready();
      return reply(Json(ready ? 200 : 503, ready ? "{\"ready\":true}" : "{\"ready\":false}"));
    }
  }
  if (p.size() == 1 && get) {
    return reply(Json(200, std::string("{\"name\":\"tensorpod\",\"version\":\"") + tp_get_version_string() +
                               "\",\"extensions\":[\"binary_tensor_data\",\"model_repository\",\"statistics\","
                               "\"schedule_policy\",\"model_configuration\"]}"));
  }
  if (p.size() >= 2 && p[1] == "models") {
    if (p.size() == 3 && p[2] == "stats" && get) return reply(Stats("", ""));
    return HandleModel(p, std::move(req), reply);
  }
  if (p.size() >= 3 && p[1] == "repository" && post) return reply(Repository(p, req));
  reply(ErrorResponse(Status(StatusCode::kNotFound, "no route for " + req.method + " " + req.target)));
}

void Server::HandleModel(const std::vector<std::string>& p, HttpRequest&& req, Reply& reply) {
  // /v2/models/{m}[/versions/{v}][/ready|/config|/stats|/infer]
  const std::string& name = p[2];
  Status s = ValidateModelName(name);
  if (!s.ok()) return reply(ErrorResponse(s));
  size_t i = 3;
  std::string version;
  if (p.size() > i + 1 && p[i] == "versions") {
    version = p[i + 1];
    i += 2;
  }
  const std::string action = p.size() > i ? p[i] : "";
  if (p.size() > i + 1 || (!action.empty() && action != "ready" && action != "config" && action != "stats" &&
                           action != "infer")) {
    return reply(ErrorResponse(Status(StatusCode::kNotFound, "no route for " + req.method + " " + req.target)));
  }
  const bool get = req.method == "GET";
  if (action == "stats" && get) return reply(Stats(name, version));
  auto m = repo_->Get(name, version);
  if (action == "ready" && get) {
    const bool ready = m.ok() && !draining_.load();
    return reply(Json(ready ? 200 : 503, "{\"name\":" + JsonQuote(name) + ",\"ready\":" + (ready ? "true" : "false") + "}"));
  }
  if (!m.ok()) return reply(ErrorResponse(m.status()));
  if (action.empty() && get) {
    std::vector<int64_t> versions;
    for (const auto& l : repo_->Loaded()) {
      if (l->name == name) versions.push_back(l->version);
    }
    return reply(Json(200, ModelMetadataJson(**m, versions)));
  }
  if (action == "config" && get) return reply(Json(200, ModelConfigJson((*m)->config)));
  if (action == "infer" && req.method == "POST") return Infer(std::move(m).value(), std::move(req), std::move(reply));
  reply(ErrorResponse(Status(StatusCode::kNotFound, "no route for " + req.method + " " + req.target)));
}

// What a request in the batcher holds: its body (binary inputs point into
// it), the parsed request, the model, and where to answer.
struct InferCall {
  HttpRequest http;
  InferRequest request;
  std::shared_ptr<LoadedModel> model;
  Reply reply;
  Clock::time_point start;
};

void Server::Infer(std::shared_ptr<LoadedModel> m, HttpRequest&& req, Reply reply) {
  if (refusing_.load()) {
    ++refused_;
    return reply(ErrorResponse(Status(StatusCode::kUnavailable, "the server is shutting down")));
  }
  auto call = std::make_shared<InferCall>();
  call->start = Clock::now();
  call->http = std::move(req);
  call->model = std::move(m);
  LoadedModel& model = *call->model;
  Status s = ParseInferRequest(call->http.body, call->http.inference_header_length, model, options_.limits,
                               &call->request);
  if (!s.ok()) {
    ++model.stats.failure;
    return reply(ErrorResponse(s));
  }
  std::vector<Tensor> tensors;
  tensors.reserve(call->request.inputs.size());
  NamedTensors named;
  for (const InferInput& x : call->request.inputs) {
    tensors.push_back(Tensor::Borrow(const_cast<char*>(x.data), x.shape, x.dtype));
    if (!tensors.back().defined()) {
      ++model.stats.failure;
      return reply(ErrorResponse(Status(StatusCode::kInvalidArgument, "input \"" + x.name + "\" cannot be viewed")));
    }
  }
  for (size_t i = 0; i < tensors.size(); ++i) named.emplace_back(call->request.inputs[i].name, tensors[i]);
  RequestOptions ro;
  ro.priority = call->request.priority;
  ro.timeout_us = model.allow_timeout_override ? call->request.timeout_us : 0;
  call->reply = std::move(reply);
  ++requests_in_progress_;
  auto id = model.batcher->Submit(
      named,
      [this, call](Batcher::Result r) {
        LoadedModel& mm = *call->model;
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - call->start).count();
        if (!r.ok()) {
          ++mm.stats.failure;
          call->reply(ErrorResponse(r.status()));
        } else {
          HttpResponse resp;
          size_t json_length = 0;
          BuildInferResponse(mm, call->request, *r, &resp.body, &json_length);
          if (json_length != resp.body.size()) {
            resp.content_type = "application/octet-stream";
            resp.headers.emplace_back("Inference-Header-Content-Length", std::to_string(json_length));
          }
          mm.stats.RecordSuccess(ns, call->request.rows);
          call->reply(std::move(resp));
        }
        --requests_in_progress_;
      },
      ro);
  if (!id.ok()) {
    --requests_in_progress_;
    ++model.stats.failure;
    call->reply(ErrorResponse(id.status()));
  }
}

HttpResponse Server::Stats(const std::string& name, const std::string& version) {
  std::ostringstream o;
  o << "{\"model_stats\":[";
  bool first = true;
  bool found = false;
  for (const auto& m : repo_->Loaded()) {
    if (!name.empty() && m->name != name) continue;
    if (!version.empty() && std::to_string(m->version) != version) continue;
    found = true;
    const ModelStats& s = m->stats;
    const tp_batcher_histograms_t h = BatcherHistograms(*m);
    auto pair = [](int64_t count, int64_t ns) {
      return "{\"count\":" + std::to_string(count) + ",\"ns\":" + std::to_string(ns) + "}";
    };
    o << (first ? "" : ",") << "{\"name\":" << JsonQuote(m->name) << ",\"version\":\"" << m->version
      << "\",\"last_inference\":" << s.last_inference_ms.load() << ",\"inference_count\":" << s.inference_count.load()
      << ",\"execution_count\":" << h.batches << ",\"inference_stats\":{\"success\":"
      << pair(s.success.load(), s.request_ns.load()) << ",\"fail\":" << pair(s.failure.load(), 0)
      << ",\"queue\":" << pair(h.requests, h.queue_us_sum * 1000)
      << ",\"compute_input\":" << pair(h.requests, 0)
      << ",\"compute_infer\":" << pair(h.requests, h.compute_us_sum * 1000)
      << ",\"compute_output\":" << pair(h.requests, 0)
      << "},\"batch_stats\":[]}";
    first = false;
  }
  o << "]}";
  if (!name.empty() && !found) {
    auto m = repo_->Get(name, version);
    if (!m.ok()) return ErrorResponse(m.status());
  }
  return Json(200, o.str());
}

HttpResponse Server::Repository(const std::vector<std::string>& p, const HttpRequest& req) {
  if (p.size() == 3 && p[2] == "index") {
    std::ostringstream o;
    o << "[";
    bool first = true;
    for (const ModelStatus& s : repo_->Index()) {
      o << (first ? "" : ",") << "{\"name\":" << JsonQuote(s.name);
      if (s.version > 0) o << ",\"version\":\"" << s.version << "\"";
      o << ",\"state\":\"" << s.state << "\",\"reason\":" << JsonQuote(s.reason) << "}";
      first = false;
    }
    o << "]";
    return Json(200, o.str());
  }
  if (p.size() == 5 && p[2] == "models" && (p[4] == "load" || p[4] == "unload")) {
    if (options_.control_mode != ControlMode::kExplicit) {
      return ErrorResponse(Status(StatusCode::kFailedPrecondition,
                                  "models are loaded and unloaded through the API only with --model-control-mode explicit"));
    }
    if (draining_.load()) return ErrorResponse(Status(StatusCode::kUnavailable, "the server is shutting down"));
    Status s = p[4] == "load" ? repo_->Load(p[3]) : repo_->Unload(p[3]);
    return s.ok() ? Json(200, "{}") : ErrorResponse(s);
  }
  return ErrorResponse(Status(StatusCode::kNotFound, "no route for " + req.method + " " + req.target));
}

std::string Server::Metrics() {
  std::ostringstream o;
  const auto loaded = repo_->Loaded();
  auto family = [&](const char* name, const char* type, const char* help) {
    o << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
  };
  family("tensorpod_inference_requests_total", "counter", "Inference requests answered, by result.");
  for (const auto& m : loaded) {
    o << "tensorpod_inference_requests_total{" << Labels(*m) << ",result=\"success\"} " << m->stats.success.load() << "\n";
    o << "tensorpod_inference_requests_total{" << Labels(*m) << ",result=\"failure\"} " << m->stats.failure.load() << "\n";
  }
  family("tensorpod_inference_rows_total", "counter", "Rows (batch items) inferred.");
  for (const auto& m : loaded) o << "tensorpod_inference_rows_total{" << Labels(*m) << "} " << m->stats.inference_count.load() << "\n";
  family("tensorpod_request_duration_seconds", "histogram", "Time from request parsed to response ready, successful requests.");
  for (const auto& m : loaded) {
    int64_t cumulative = 0;
    for (size_t b = 0; b < ModelStats::kBuckets; ++b) {
      cumulative += m->stats.duration_buckets[b].load();
      o << "tensorpod_request_duration_seconds_bucket{" << Labels(*m) << ",le=\""
        << (b + 1 < ModelStats::kBuckets ? std::to_string(ModelStats::kBucketBounds[b]) : std::string("+Inf")) << "\"} "
        << cumulative << "\n";
    }
    o << "tensorpod_request_duration_seconds_sum{" << Labels(*m) << "} " << m->stats.request_ns.load() / 1e9 << "\n";
    o << "tensorpod_request_duration_seconds_count{" << Labels(*m) << "} " << cumulative << "\n";
  }
  std::vector<tp_batcher_histograms_t> hists;
  for (const auto& m : loaded) hists.push_back(BatcherHistograms(*m));
  family("tensorpod_batch_size", "histogram", "Rows per batch the batcher ran.");
  for (size_t i = 0; i < loaded.size(); ++i) {
    const tp_batcher_histograms_t& h = hists[i];
    const int64_t max_batch = std::max<int64_t>(1, loaded[i]->config.max_batch_size());
    int64_t cumulative = 0;
    for (int b = 0; b < TP_BATCH_SIZE_BUCKETS; ++b) {
      cumulative += h.batch_size[b];
      if ((int64_t{1} << b) >= max_batch || b + 1 == TP_BATCH_SIZE_BUCKETS) {
        for (int r = b + 1; r < TP_BATCH_SIZE_BUCKETS; ++r) cumulative += h.batch_size[r];
        break;
      }
      o << "tensorpod_batch_size_bucket{" << Labels(*loaded[i]) << ",le=\"" << (int64_t{1} << b) << "\"} " << cumulative << "\n";
    }
    o << "tensorpod_batch_size_bucket{" << Labels(*loaded[i]) << ",le=\"+Inf\"} " << cumulative << "\n";
    o << "tensorpod_batch_size_sum{" << Labels(*loaded[i]) << "} " << h.rows << "\n";
    o << "tensorpod_batch_size_count{" << Labels(*loaded[i]) << "} " << h.batches << "\n";
  }
  for (const auto& [name, help, which] :
       {std::tuple<const char*, const char*, int>{"tensorpod_queue_duration_seconds", "Time requests waited in the batch queue.", 0},
        {"tensorpod_compute_duration_seconds", "Run time of the batch each request was in.", 1}}) {
    family(name, "histogram", help);
    for (size_t i = 0; i < loaded.size(); ++i) {
      const tp_batcher_histograms_t& h = hists[i];
      const int64_t* counts = which == 0 ? h.queue : h.compute;
      int64_t cumulative = 0;
      for (int b = 0; b < TP_DURATION_BUCKETS; ++b) {
        cumulative += counts[b];
        o << name << "_bucket{" << Labels(*loaded[i]) << ",le=\""
          << (b + 1 < TP_DURATION_BUCKETS ? std::to_string(h.duration_bounds_us[b] / 1e6) : std::string("+Inf")) << "\"} "
          << cumulative << "\n";
      }
      o << name << "_sum{" << Labels(*loaded[i]) << "} " << (which == 0 ? h.queue_us_sum : h.compute_us_sum) / 1e6 << "\n";
      o << name << "_count{" << Labels(*loaded[i]) << "} " << h.requests << "\n";
    }
  }
  family("tensorpod_model_load_duration_seconds", "gauge", "How long the model took to load and warm up.");
  for (const auto& m : loaded) o << "tensorpod_model_load_duration_seconds{" << Labels(*m) << "} " << m->load_seconds << "\n";
  struct Gauge {
    const char* name;
    const char* help;
    double (*get)(const LoadReport&);
  };
  static const Gauge gauges[] = {
      {"tensorpod_queue_depth", "Requests waiting in the batch queue.", [](const LoadReport& r) { return double(r.queue_depth); }},
      {"tensorpod_in_flight", "Requests in running batches.", [](const LoadReport& r) { return double(r.in_flight); }},
      {"tensorpod_arrival_rate", "Requests submitted per second over the window, refused ones included (the demand).", [](const LoadReport& r) { return r.arrival_rate_per_s; }},
      {"tensorpod_batch_size_mean", "Mean rows per batch over the window.", [](const LoadReport& r) { return r.mean_batch_size; }},
      {"tensorpod_queue_compute_ratio", "Mean queue time over mean compute time.", [](const LoadReport& r) { return r.queue_compute_ratio; }},
      {"tensorpod_instance_busy_ratio", "Fraction of instance time spent on batches (forming, computing, completing them).", [](const LoadReport& r) { return r.instance_busy_fraction; }},
      {"tensorpod_capacity_requests_per_second", "Requests per second the instances can serve at the current batch sizes.", [](const LoadReport& r) { return r.capacity_per_s; }},
      {"tensorpod_recommended_replicas", "ceil(arrival rate / (capacity x target utilization)).", [](const LoadReport& r) { return double(r.recommended_replicas); }},
  };
  std::vector<LoadReport> reports;
  for (const auto& m : loaded) {
    auto r = m->batcher->Report();
    reports.push_back(r.ok() ? *r : LoadReport{});
  }
  for (const Gauge& g : gauges) {
    family(g.name, "gauge", g.help);
    for (size_t i = 0; i < loaded.size(); ++i) o << g.name << "{" << Labels(*loaded[i]) << "} " << g.get(reports[i]) << "\n";
  }
  // The batcher's latency quantiles over its window (queue, compute, and
  // both), as gauges: what an autoscaler or an SLO alert reads.
  struct Quantile {
    const char* name;
    double LoadReport::*field;
  };
  static const Quantile quantiles[] = {
      {"tensorpod_batcher_queue_p50_seconds", &LoadReport::queue_p50_ms},
      {"tensorpod_batcher_queue_p99_seconds", &LoadReport::queue_p99_ms},
      {"tensorpod_batcher_compute_p50_seconds", &LoadReport::compute_p50_ms},
      {"tensorpod_batcher_compute_p99_seconds", &LoadReport::compute_p99_ms},
      {"tensorpod_batcher_total_p50_seconds", &LoadReport::total_p50_ms},
      {"tensorpod_batcher_total_p95_seconds", &LoadReport::total_p95_ms},
      {"tensorpod_batcher_total_p99_seconds", &LoadReport::total_p99_ms},
  };
  for (const Quantile& q : quantiles) {
    family(q.name, "gauge", "Batcher latency quantile over its sliding window.");
    for (size_t i = 0; i < loaded.size(); ++i) o << q.name << "{" << Labels(*loaded[i]) << "} " << reports[i].*q.field / 1e3 << "\n";
  }
  family("tensorpod_requests_refused_total", "counter", "Requests refused while shutting down.");
  o << "tensorpod_requests_refused_total " << refused_.load() << "\n";
  if (options_.metrics_triton) {
    // Triton's names, for existing dashboards (they do not follow
    // Prometheus' naming conventions; promtool's lint rejects them).
    struct Compat {
      const char* name;
      const char* type;
      double (*get)(const LoadedModel&, const tp_batcher_histograms_t&, const LoadReport&);
    };
    static const Compat compat[] = {
        {"nv_inference_request_success", "counter", [](const LoadedModel& m, const tp_batcher_histograms_t&, const LoadReport&) { return double(m.stats.success.load()); }},
        {"nv_inference_request_failure", "counter", [](const LoadedModel& m, const tp_batcher_histograms_t&, const LoadReport&) { return double(m.stats.failure.load()); }},
        {"nv_inference_count", "counter", [](const LoadedModel& m, const tp_batcher_histograms_t&, const LoadReport&) { return double(m.stats.inference_count.load()); }},
        {"nv_inference_exec_count", "counter", [](const LoadedModel&, const tp_batcher_histograms_t& h, const LoadReport&) { return double(h.batches); }},
        {"nv_inference_request_duration_us", "counter", [](const LoadedModel& m, const tp_batcher_histograms_t&, const LoadReport&) { return m.stats.request_ns.load() / 1e3; }},
        {"nv_inference_queue_duration_us", "counter", [](const LoadedModel&, const tp_batcher_histograms_t& h, const LoadReport&) { return double(h.queue_us_sum); }},
        {"nv_inference_compute_infer_duration_us", "counter", [](const LoadedModel&, const tp_batcher_histograms_t& h, const LoadReport&) { return double(h.compute_us_sum); }},
        {"nv_inference_pending_request_count", "gauge", [](const LoadedModel&, const tp_batcher_histograms_t&, const LoadReport& r) { return double(r.queue_depth); }},
        {"nv_model_load_duration_secs", "gauge", [](const LoadedModel& m, const tp_batcher_histograms_t&, const LoadReport&) { return m.load_seconds; }},
    };
    for (const Compat& c : compat) {
      family(c.name, c.type, "Triton-compatible name.");
      for (size_t i = 0; i < loaded.size(); ++i) {
        o << c.name << "{" << Labels(*loaded[i]) << "} " << c.get(*loaded[i], hists[i], reports[i]) << "\n";
      }
    }
  }
  return o.str();
}

int Server::Run() {
  SetLogFormat(options_.log_format);
  RepositoryOptions ro;
  ro.root = options_.model_repository;
  ro.control_mode = options_.control_mode;
  ro.device = options_.device;
  ro.threads = options_.threads;
  auto repo = ModelRepository::Open(ro);
  if (!repo.ok()) {
    LogError(repo.status().message());
    return 1;
  }
  repo_ = std::move(repo).value();

  // Signals are taken by sigwait below, never by a handler on some thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  HttpServerOptions ho;
  ho.host = options_.host;
  ho.port = options_.http_port;
  ho.max_body_bytes = options_.limits.max_body_bytes;
  HttpServer http(io, ho, [this](HttpRequest&& r, Reply reply) { Handle(std::move(r), std::move(reply)); });
  Status s = http.Start();
  if (!s.ok()) {
    LogError(s.message());
    return 1;
  }
  ServingState state;
  state.repo = repo_.get();
  state.ready = [this] { return Ready(); };
  state.draining = &draining_;
  state.refusing = &refusing_;
  state.in_progress = &requests_in_progress_;
  state.refused = &refused_;
  state.control_mode = options_.control_mode;
  state.limits = options_.limits;
  std::unique_ptr<GrpcFrontEnd> grpc;
  if (options_.grpc_port > 0) {
    auto g = GrpcFrontEnd::Start(options_.host, options_.grpc_port, &state);
    if (!g.ok()) {
      LogError(g.status().message());
      return 1;
    }
    grpc = std::move(g).value();
  }
  std::unique_ptr<HttpServer> metrics;
  if (options_.metrics_port > 0) {
    HttpServerOptions mo = ho;
    mo.port = options_.metrics_port;
    mo.max_body_bytes = 1 << 16;
    metrics = std::make_unique<HttpServer>(io, mo, [this](HttpRequest&& r, Reply reply) {
      if (r.method == "GET" && r.target.substr(0, r.target.find('?')) == "/metrics") {
        HttpResponse resp;
        resp.content_type = "text/plain; version=0.0.4; charset=utf-8";
        resp.body = Metrics();
        return reply(std::move(resp));
      }
      reply(ErrorResponse(Status(StatusCode::kNotFound, "metrics are at GET /metrics")));
    });
    s = metrics->Start();
    if (!s.ok()) {
      LogError(s.message());
      return 1;
    }
  }
  const int threads = options_.http_threads > 0 ? options_.http_threads
                                                : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  LogInfo("tensorpod " + std::string(tp_get_version_string()) + " serving " + options_.model_repository +
          ": HTTP on " + options_.host + ":" + std::to_string(http.port()) +
          (grpc ? ", gRPC on :" + std::to_string(grpc->port()) : std::string()) +
          (metrics ? ", metrics on :" + std::to_string(metrics->port()) + "/metrics" : std::string()));

  auto stop_all = [&](int code) {
    if (grpc) grpc->Shutdown(1.0);
    http.StopAccepting();
    if (metrics) metrics->StopAccepting();
    work.reset();
    io.stop();
    for (auto& t : pool) t.join();
    repo_->UnloadAll();
    return code;
  };
  if (options_.control_mode != ControlMode::kExplicit) {
    repo_->LoadAll();
    bool failed = false;
    for (const ModelStatus& m : repo_->Index()) {
      if (m.state != "READY") failed = true;
    }
    if (failed && options_.exit_on_error) {
      LogError("a model failed to load (see above); exiting (--exit-on-error=false serves the others)");
      return stop_all(1);
    }
  }
  loaded_ = true;
  LogInfo(Ready() ? "ready" : "serving; not every model is ready");

  // Poll mode rescans until the drain begins.
  std::mutex poll_mu;
  std::condition_variable poll_cv;
  bool stop_polling = false;
  std::thread poller;
  if (options_.control_mode == ControlMode::kPoll) {
    poller = std::thread([&] {
      std::unique_lock<std::mutex> lock(poll_mu);
      while (!poll_cv.wait_for(lock, std::chrono::duration<double>(options_.poll_seconds), [&] { return stop_polling; })) {
        lock.unlock();
        repo_->Rescan();
        lock.lock();
      }
    });
  }

  int sig = 0;
  sigwait(&signals, &sig);
  const auto t0 = Clock::now();
  const auto deadline = t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options_.exit_timeout_seconds));
  char drain_text[32];
  std::snprintf(drain_text, sizeof(drain_text), "%g", options_.drain_seconds);
  LogInfo(std::string("received ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") + ": readiness off, serving for " +
          drain_text + " s more");
  draining_ = true;
  {
    std::lock_guard<std::mutex> lock(poll_mu);
    stop_polling = true;
  }
  poll_cv.notify_all();
  if (poller.joinable()) poller.join();
  // Keep serving for the drain window (a second signal ends it early).
  timespec wait{};
  const double drain = std::max(0.0, options_.drain_seconds);
  wait.tv_sec = static_cast<time_t>(drain);
  wait.tv_nsec = static_cast<long>((drain - std::floor(drain)) * 1e9);
  siginfo_t info;
  (void)sigtimedwait(&signals, &info, &wait);
  refusing_ = true;
  LogInfo("refusing new requests; finishing " + std::to_string(requests_in_progress_.load()) + " in progress");
  bool clean = true;
  while (requests_in_progress_.load() > 0 || http.in_flight() > 0) {
    if (Clock::now() >= deadline) {
      LogError("exit timeout: " + std::to_string(requests_in_progress_.load()) + " requests still in progress");
      clean = false;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // Let the last responses reach their sockets.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const int code = stop_all(clean ? 0 : 1);
  char took[32];
  std::snprintf(took, sizeof(took), "%.2f", std::chrono::duration<double>(Clock::now() - t0).count());
  LogInfo("models unloaded; exiting with " + std::to_string(code) + " after " + took + " s");
  return code;
}

}  // namespace

int Serve(const ServeOptions& options) {
  Server s(options);
  return s.Run();
}

}  // namespace tensorpod::server
