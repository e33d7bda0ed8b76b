#include "grpc_server.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstring>
#include <future>

#include "datatypes.h"
#include "inference.grpc.pb.h"
#include "log.h"

namespace tensorpod::server {
namespace {

using Clock = std::chrono::steady_clock;

grpc::StatusCode GrpcCode(StatusCode c) {
  switch (c) {
    case StatusCode::kOk: return grpc::StatusCode::OK;
    case StatusCode::kInvalidArgument: return grpc::StatusCode::INVALID_ARGUMENT;
    case StatusCode::kFailedPrecondition: return grpc::StatusCode::FAILED_PRECONDITION;
    case StatusCode::kNotFound: return grpc::StatusCode::NOT_FOUND;
    case StatusCode::kAlreadyExists: return grpc::StatusCode::ALREADY_EXISTS;
    case StatusCode::kUnimplemented: return grpc::StatusCode::UNIMPLEMENTED;
    case StatusCode::kResourceExhausted: return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case StatusCode::kUnavailable: return grpc::StatusCode::UNAVAILABLE;
    case StatusCode::kDeadlineExceeded: return grpc::StatusCode::DEADLINE_EXCEEDED;
    case StatusCode::kCancelled: return grpc::StatusCode::CANCELLED;
    default: return grpc::StatusCode::INTERNAL;
  }
}

grpc::Status ToGrpc(const Status& s) {
  return s.ok() ? grpc::Status::OK : grpc::Status(GrpcCode(s.code()), s.message());
}

grpc::Status Invalid(const std::string& m) { return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, m); }

// Typed contents of one input as raw little-endian bytes of `dtype`.
grpc::Status FromContents(const inference::InferTensorContents& c, DType dtype, int64_t elements,
                          const std::string& name, std::vector<char>* out) {
  out->resize(static_cast<size_t>(elements) * DTypeSize(dtype));
  auto copy = [&](const auto& values, auto tag) -> grpc::Status {
    using T = decltype(tag);
    if (static_cast<int64_t>(values.size()) != elements) {
      return Invalid("input \"" + name + "\": " + std::to_string(elements) + " values expected, contents have " +
                     std::to_string(values.size()));
    }
    for (int64_t i = 0; i < elements; ++i) {
      const T v = static_cast<T>(values[static_cast<int>(i)]);
      std::memcpy(out->data() + i * sizeof(T), &v, sizeof(T));
    }
    return grpc::Status::OK;
  };
  switch (dtype) {
    case DType::kF32: return copy(c.fp32_contents(), float{});
    case DType::kF64: return copy(c.fp64_contents(), double{});
    case DType::kI64: return copy(c.int64_contents(), int64_t{});
    case DType::kI32: return copy(c.int_contents(), int32_t{});
    case DType::kI16: return copy(c.int_contents(), int16_t{});
    case DType::kI8: return copy(c.int_contents(), int8_t{});
    case DType::kU64: return copy(c.uint64_contents(), uint64_t{});
    case DType::kU32: return copy(c.uint_contents(), uint32_t{});
    case DType::kU16: return copy(c.uint_contents(), uint16_t{});
    case DType::kU8: return copy(c.uint_contents(), uint8_t{});
    case DType::kBool: return copy(c.bool_contents(), uint8_t{});
    default:
      return Invalid("input \"" + name + "\": " + ProtocolName(dtype) + " data must travel in raw_input_contents");
  }
}

class Service final : public inference::GRPCInferenceService::Service {
 public:
  explicit Service(ServingState* s) : s_(s) {}

  grpc::Status ServerLive(grpc::ServerContext*, const inference::ServerLiveRequest*,
                          inference::ServerLiveResponse* r) override {
    r->set_live(true);
    return grpc::Status::OK;
  }
  grpc::Status ServerReady(grpc::ServerContext*, const inference::ServerReadyRequest*,
                           inference::ServerReadyResponse* r) override {
    r->set_ready(s_->ready());
    return grpc::Status::OK;
  }
  grpc::Status ModelReady(grpc::ServerContext*, const inference::ModelReadyRequest* q,
                          inference::ModelReadyResponse* r) override {
    r->set_ready(!s_->draining->load() && s_->repo->Get(q->name(), q->version()).ok());
    return grpc::Status::OK;
  }
  grpc::Status ServerMetadata(grpc::ServerContext*, const inference::ServerMetadataRequest*,
                              inference::ServerMetadataResponse* r) override {
    r->set_name("tensorpod");
    r->set_version(tp_get_version_string());
    for (const char* e : {"binary_tensor_data", "model_repository", "statistics", "schedule_policy", "model_configuration"}) {
      r->add_extensions(e);
    }
    return grpc::Status::OK;
  }
  grpc::Status ModelMetadata(grpc::ServerContext*, const inference::ModelMetadataRequest* q,
                             inference::ModelMetadataResponse* r) override {
    auto m = s_->repo->Get(q->name(), q->version());
    if (!m.ok()) return ToGrpc(m.status());
    r->set_name((*m)->name);
    for (const auto& l : s_->repo->Loaded()) {
      if (l->name == (*m)->name) r->add_versions(std::to_string(l->version));
    }
    r->set_platform((*m)->config.platform().empty() ? "onnxruntime_onnx" : (*m)->config.platform());
    for (const auto* list : {&(*m)->inputs, &(*m)->outputs}) {
      for (const TensorInfo& t : *list) {
        auto* md = list == &(*m)->inputs ? r->add_inputs() : r->add_outputs();
        md->set_name(t.name);
        md->set_datatype(ProtocolName(t.dtype));
        for (int64_t d : t.shape) md->add_shape(d);
      }
    }
    return grpc::Status::OK;
  }
  grpc::Status ModelConfig(grpc::ServerContext*, const inference::ModelConfigRequest* q,
                           inference::ModelConfigResponse* r) override {
    auto m = s_->repo->Get(q->name(), q->version());
    if (!m.ok()) return ToGrpc(m.status());
    *r->mutable_config() = (*m)->config;
    return grpc::Status::OK;
  }
  grpc::Status ModelStatistics(grpc::ServerContext*, const inference::ModelStatisticsRequest* q,
                               inference::ModelStatisticsResponse* r) override {
    bool found = false;
    for (const auto& m : s_->repo->Loaded()) {
      if (!q->name().empty() && m->name != q->name()) continue;
      if (!q->version().empty() && std::to_string(m->version) != q->version()) continue;
      found = true;
      auto* st = r->add_model_stats();
      st->set_name(m->name);
      st->set_version(std::to_string(m->version));
      st->set_last_inference(m->stats.last_inference_ms.load());
      st->set_inference_count(m->stats.inference_count.load());
      const tp_batcher_histograms_t h = BatcherHistograms(*m);
      st->set_execution_count(h.batches);
      auto* is = st->mutable_inference_stats();
      is->mutable_success()->set_count(m->stats.success.load());
      is->mutable_success()->set_ns(m->stats.request_ns.load());
      is->mutable_fail()->set_count(m->stats.failure.load());
      // Every request the batcher ran counts in each phase (clients such as
      // perf_analyzer require equal counts); input and output copies are
      // inside compute_infer's time.
      is->mutable_queue()->set_count(h.requests);
      is->mutable_queue()->set_ns(h.queue_us_sum * 1000);
      is->mutable_compute_input()->set_count(h.requests);
      is->mutable_compute_infer()->set_count(h.requests);
      is->mutable_compute_infer()->set_ns(h.compute_us_sum * 1000);
      is->mutable_compute_output()->set_count(h.requests);
    }
    if (!q->name().empty() && !found) {
      auto m = s_->repo->Get(q->name(), q->version());
      if (!m.ok()) return ToGrpc(m.status());
    }
    return grpc::Status::OK;
  }
  grpc::Status RepositoryIndex(grpc::ServerContext*, const inference::RepositoryIndexRequest* q,
                               inference::RepositoryIndexResponse* r) override {
    for (const ModelStatus& m : s_->repo->Index()) {
      if (q->ready() && m.state != "READY") continue;
      auto* e = r->add_models();
      e->set_name(m.name);
      if (m.version > 0) e->set_version(std::to_string(m.version));
      e->set_state(m.state);
      e->set_reason(m.reason);
    }
    return grpc::Status::OK;
  }
  grpc::Status RepositoryModelLoad(grpc::ServerContext*, const inference::RepositoryModelLoadRequest* q,
                                   inference::RepositoryModelLoadResponse*) override {
    return Control(q->model_name(), true);
  }
  grpc::Status RepositoryModelUnload(grpc::ServerContext*, const inference::RepositoryModelUnloadRequest* q,
                                     inference::RepositoryModelUnloadResponse*) override {
    return Control(q->model_name(), false);
  }

  grpc::Status ModelInfer(grpc::ServerContext*, const inference::ModelInferRequest* q,
                          inference::ModelInferResponse* r) override {
    if (s_->refusing->load()) {
      ++*s_->refused;
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down");
    }
    auto found = s_->repo->Get(q->model_name(), q->model_version());
    if (!found.ok()) return ToGrpc(found.status());
    std::shared_ptr<LoadedModel> m = std::move(found).value();
    const auto start = Clock::now();
    int64_t rows = 0;
    grpc::Status st = Infer(*m, *q, r, &rows);
    if (!st.ok()) {
      ++m->stats.failure;
      return st;
    }
    m->stats.RecordSuccess(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count(), rows);
    return grpc::Status::OK;
  }

 private:
  grpc::Status Control(const std::string& name, bool load) {
    if (s_->control_mode != ControlMode::kExplicit) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          "models are loaded and unloaded through the API only with --model-control-mode explicit");
    }
    if (s_->draining->load()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down");
    return ToGrpc(load ? s_->repo->Load(name) : s_->repo->Unload(name));
  }

  // Runs one request; `rows` receives its batch size.
  grpc::Status Infer(LoadedModel& m, const inference::ModelInferRequest& q, inference::ModelInferResponse* r,
                     int64_t* rows_out) {
    const bool raw = q.raw_input_contents_size() > 0;
    if (raw && q.raw_input_contents_size() != q.inputs_size()) {
      return Invalid("raw_input_contents has " + std::to_string(q.raw_input_contents_size()) + " entries for " +
                     std::to_string(q.inputs_size()) + " inputs");
    }
    if (q.inputs_size() != static_cast<int>(m.inputs.size())) {
      return Invalid("model \"" + m.name + "\" takes " + std::to_string(m.inputs.size()) + " inputs, the request has " +
                     std::to_string(q.inputs_size()));
    }
    std::vector<std::vector<char>> owned(m.inputs.size());
    std::vector<Tensor> tensors(m.inputs.size());
    std::vector<bool> seen(m.inputs.size(), false);
    int64_t rows = 0;
    for (int i = 0; i < q.inputs_size(); ++i) {
      const auto& in = q.inputs(i);
      size_t k = 0;
      while (k < m.inputs.size() && m.inputs[k].name != in.name()) ++k;
      if (k == m.inputs.size()) return Invalid("model \"" + m.name + "\" has no input \"" + in.name() + "\"");
      if (seen[k]) return Invalid("input \"" + in.name() + "\" is given twice");
      seen[k] = true;
      std::vector<int64_t> shape(in.shape().begin(), in.shape().end());
      DType dtype = DType::kUndefined;
      int64_t elements = 0;
      Status checked = CheckInput(m, m.inputs[k], in.datatype(), shape, s_->limits, &dtype, &elements, &rows);
      if (!checked.ok()) return ToGrpc(checked);
      const size_t need = static_cast<size_t>(elements) * DTypeSize(dtype);
      const char* data = nullptr;
      if (raw) {
        const std::string& bytes = q.raw_input_contents(i);
        if (bytes.size() != need) {
          return Invalid("input \"" + in.name() + "\": raw_input_contents has " + std::to_string(bytes.size()) +
                         " bytes, shape " + std::to_string(elements) + " x " + in.datatype() + " needs " + std::to_string(need));
        }
        data = bytes.data();
        if (reinterpret_cast<uintptr_t>(data) % DTypeSize(dtype) != 0) {
          owned[k].assign(data, data + need);
          data = owned[k].data();
        }
      } else {
        grpc::Status st = FromContents(in.contents(), dtype, elements, in.name(), &owned[k]);
        if (!st.ok()) return st;
        data = owned[k].data();
      }
      tensors[k] = Tensor::Borrow(const_cast<char*>(data), shape, dtype);
    }
    NamedTensors named;
    for (size_t k = 0; k < m.inputs.size(); ++k) named.emplace_back(m.inputs[k].name, tensors[k]);
    RequestOptions ro;
    auto p = q.parameters().find("priority");
    if (p != q.parameters().end()) ro.priority = static_cast<int>(p->second.int64_param());
    auto t = q.parameters().find("timeout");
    if (t != q.parameters().end() && m.allow_timeout_override) ro.timeout_us = t->second.int64_param();
    ++*s_->in_progress;
    Batcher::Result result = m.batcher->Submit(named, ro).get();  // this RPC thread waits for its batch
    --*s_->in_progress;
    if (!result.ok()) return ToGrpc(result.status());
    *rows_out = rows;
    r->set_model_name(m.name);
    r->set_model_version(std::to_string(m.version));
    r->set_id(q.id());
    std::vector<int> wanted;
    for (const auto& o : q.outputs()) {
      size_t k = 0;
      while (k < m.outputs.size() && m.outputs[k].name != o.name()) ++k;
      if (k == m.outputs.size()) return Invalid("model \"" + m.name + "\" has no output \"" + o.name() + "\"");
      wanted.push_back(static_cast<int>(k));
    }
    if (wanted.empty()) {
      for (size_t k = 0; k < m.outputs.size(); ++k) wanted.push_back(static_cast<int>(k));
    }
    for (int k : wanted) {
      const Tensor& out = (*result)[k];
      auto* o = r->add_outputs();
      o->set_name(m.outputs[k].name);
      o->set_datatype(ProtocolName(out.dtype()));
      for (int64_t d : out.shape()) o->add_shape(d);
      r->add_raw_output_contents(static_cast<const char*>(out.data()), out.byte_size());
    }
    return grpc::Status::OK;
  }

  ServingState* s_;
};

}  // namespace

struct GrpcFrontEnd::Impl {
  std::unique_ptr<Service> service;
  std::unique_ptr<grpc::Server> server;
};

StatusOr<std::unique_ptr<GrpcFrontEnd>> GrpcFrontEnd::Start(const std::string& host, int port, ServingState* state) {
  std::unique_ptr<GrpcFrontEnd> f(new GrpcFrontEnd());
  f->impl_ = std::make_unique<Impl>();
  f->impl_->service = std::make_unique<Service>(state);
  grpc::ServerBuilder b;
  const std::string address = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  b.AddListeningPort(address, grpc::InsecureServerCredentials(), &f->port_);
  b.RegisterService(f->impl_->service.get());
  const int limit = static_cast<int>(std::min<size_t>(state->limits.max_body_bytes, INT32_MAX));
  b.SetMaxReceiveMessageSize(limit);
  b.SetMaxSendMessageSize(INT32_MAX);
  f->impl_->server = b.BuildAndStart();
  if (f->impl_->server == nullptr || f->port_ == 0) {
    return Status(StatusCode::kUnavailable, "cannot listen for gRPC on " + address);
  }
  return f;
}

GrpcFrontEnd::~GrpcFrontEnd() { Shutdown(0); }

void GrpcFrontEnd::Shutdown(double deadline_seconds) {
  if (impl_ && impl_->server) {
    impl_->server->Shutdown(std::chrono::system_clock::now() +
                            std::chrono::milliseconds(static_cast<int64_t>(deadline_seconds * 1000)));
    impl_->server->Wait();
    impl_->server.reset();
  }
}

}  // namespace tensorpod::server
