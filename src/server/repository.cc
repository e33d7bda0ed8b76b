#include "repository.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <filesystem>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <set>
#include <sstream>

#include "datatypes.h"
#include "log.h"

namespace fs = std::filesystem;

namespace tensorpod::server {
namespace {

Status Invalid(const std::string& m) { return Status(StatusCode::kInvalidArgument, m); }

bool IsVersionDir(const std::string& s) {
  return !s.empty() && s.size() <= 18 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string ShapeText(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? "," : "") + std::to_string(dims[i]);
  return s + "]";
}

// Collects the parser's errors (and its warnings about ignored fields).
class Collector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column, const std::string& message) override {
    if (errors.empty()) errors = "line " + std::to_string(line + 1) + ", column " + std::to_string(column + 1) + ": " + message;
  }
  void AddWarning(int line, google::protobuf::io::ColumnNumber, const std::string& message) override {
    warnings.push_back("line " + std::to_string(line + 1) + ": " + message);
  }
  std::string errors;
  std::vector<std::string> warnings;
};

// Every model input and output has a leading dynamic dimension: the model
// can batch.
bool Batchable(const std::vector<TensorInfo>& ins, const std::vector<TensorInfo>& outs) {
  for (const auto* list : {&ins, &outs}) {
    for (const TensorInfo& t : *list) {
      if (t.shape.empty() || t.shape[0] != -1) return false;
    }
  }
  return !ins.empty();
}

// Fills what the config leaves out from the model, and checks what it says
// against the model. `from_file` false: there was no config.pbtxt.
Status CompleteConfig(const std::string& name, const std::vector<TensorInfo>& ins,
                      const std::vector<TensorInfo>& outs, bool from_file, config::ModelConfig* c) {
  if (c->name().empty()) c->set_name(name);
  if (c->name() != name) {
    return Invalid("config.pbtxt of model \"" + name + "\" names it \"" + c->name() + "\"");
  }
  if (!c->platform().empty() && c->platform() != "onnxruntime_onnx" && c->platform() != "tensorpod_onnx") {
    return Invalid("model \"" + name + "\": platform \"" + c->platform() +
                   "\" is not served here (use onnxruntime_onnx or leave it out)");
  }
  if (!c->backend().empty() && c->backend() != "onnxruntime" && c->backend() != "tensorpod") {
    return Invalid("model \"" + name + "\": backend \"" + c->backend() + "\" is not served here (use onnxruntime)");
  }
  if (c->platform().empty() && c->backend().empty()) c->set_platform("onnxruntime_onnx");
  const bool batchable = Batchable(ins, outs);
  if (!from_file) {
    // Auto-complete: a model that can batch gets batches of up to 8 rows
    // through the dynamic batcher.
    c->set_max_batch_size(batchable ? 8 : 0);
    if (batchable) c->mutable_dynamic_batching();
  }
  if (c->max_batch_size() < 0) return Invalid("model \"" + name + "\": max_batch_size must be >= 0");
  if (c->max_batch_size() > 0 && !batchable) {
    return Invalid("model \"" + name + "\": max_batch_size " + std::to_string(c->max_batch_size()) +
                   " needs a dynamic first dimension on every input and output of the model");
  }
  const int skip = c->max_batch_size() > 0 ? 1 : 0;
  auto complete = [&](const std::vector<TensorInfo>& model, auto* configured, const char* what) -> Status {
    if (configured->empty()) {
      for (const TensorInfo& t : model) {
        auto* io = configured->Add();
        io->set_name(t.name);
        io->set_data_type(ConfigType(t.dtype));
        for (size_t d = skip; d < t.shape.size(); ++d) io->add_dims(t.shape[d]);
      }
      return Status();
    }
    for (const auto& io : *configured) {
      auto it = std::find_if(model.begin(), model.end(), [&](const TensorInfo& t) { return t.name == io.name(); });
      if (it == model.end()) {
        return Invalid("model \"" + name + "\": config " + what + " \"" + io.name() + "\" is not in the model");
      }
      if (io.data_type() != config::TYPE_INVALID && DTypeFromConfig(io.data_type()) != it->dtype) {
        return Invalid("model \"" + name + "\": config " + what + " \"" + io.name() + "\" has data_type " +
                       config::DataType_Name(io.data_type()) + ", the model " + ProtocolName(it->dtype));
      }
      const std::vector<int64_t> model_dims(it->shape.begin() + std::min<size_t>(skip, it->shape.size()), it->shape.end());
      bool match = static_cast<size_t>(io.dims_size()) == model_dims.size();
      for (size_t d = 0; match && d < model_dims.size(); ++d) {
        match = model_dims[d] == -1 || io.dims(d) == -1 || io.dims(d) == model_dims[d];
      }
      if (!match) {
        std::vector<int64_t> dims(io.dims().begin(), io.dims().end());
        return Invalid("model \"" + name + "\": config " + what + " \"" + io.name() + "\" has dims " + ShapeText(dims) +
                       ", the model " + ShapeText(model_dims) + (skip ? " (without the batch dimension)" : ""));
      }
    }
    if (configured->size() != static_cast<int>(model.size()) && std::string(what) == "input") {
      return Invalid("model \"" + name + "\": config lists " + std::to_string(configured->size()) +
                     " inputs, the model has " + std::to_string(model.size()));
    }
    return Status();
  };
  Status s = complete(ins, c->mutable_input(), "input");
  if (!s.ok()) return s;
  s = complete(outs, c->mutable_output(), "output");
  if (!s.ok()) return s;
  for (auto& io : *c->mutable_input()) {
    if (io.data_type() == config::TYPE_INVALID) {
      io.set_data_type(ConfigType(std::find_if(ins.begin(), ins.end(), [&](const TensorInfo& t) {
                                    return t.name == io.name();
                                  })->dtype));
    }
  }
  if (c->instance_group_size() == 0) c->add_instance_group()->set_count(1);
  return Status();
}

// The config's tensorpod parameters: precision, threads, cuda_graphs.
std::string Parameter(const config::ModelConfig& c, const std::string& key, const std::string& fallback) {
  auto it = c.parameters().find(key);
  return it == c.parameters().end() ? fallback : it->second.string_value();
}

std::string DeviceFor(const config::ModelConfig& c, const std::string& fallback) {
  const auto& g = c.instance_group(0);
  if (g.kind() == config::ModelInstanceGroup::KIND_CPU) return "cpu";
  if (g.kind() == config::ModelInstanceGroup::KIND_GPU) {
    return g.gpus_size() > 0 ? "cuda:" + std::to_string(g.gpus(0)) : "cuda";
  }
  return fallback;
}

// Warms the model up before it is ready, so that the first requests do
// not pay for planning: the config's model_warmup samples (each input zero,
// random or from <model>/warmup/<file>, `count` runs each), else one run at
// batch 1 with zeros (dynamic dimensions as 1).
Status WarmUp(const LoadedModel& m, const fs::path& model_dir) {
  const config::ModelConfig& c = m.config;
  auto run = [&](std::vector<Tensor>& tensors, int count) -> Status {
    NamedTensors named;
    for (size_t i = 0; i < tensors.size(); ++i) named.emplace_back(m.inputs[i].name, tensors[i]);
    for (int k = 0; k < std::max(1, count); ++k) {
      auto r = m.session->Run(named);
      if (!r.ok()) return r.status();
    }
    return Status();
  };
  if (c.model_warmup_size() == 0) {
    std::vector<Tensor> tensors;
    for (const TensorInfo& t : m.inputs) {
      std::vector<int64_t> shape = t.shape;
      for (int64_t& d : shape) d = d < 0 ? 1 : d;
      auto z = Tensor::Zeros(shape, t.dtype);
      if (!z.ok()) return z.status();
      tensors.push_back(std::move(z).value());
    }
    return run(tensors, 1);
  }
  std::mt19937 rng(1);
  for (const auto& w : c.model_warmup()) {
    const std::string what = "model_warmup \"" + w.name() + "\"";
    std::vector<Tensor> tensors;
    for (const TensorInfo& t : m.inputs) {
      auto it = w.inputs().find(t.name);
      if (it == w.inputs().end()) return Invalid(what + " gives no input \"" + t.name + "\"");
      const auto& in = it->second;
      if (in.data_type() != config::TYPE_INVALID && DTypeFromConfig(in.data_type()) != t.dtype) {
        return Invalid(what + ": input \"" + t.name + "\" has data_type " + config::DataType_Name(in.data_type()) +
                       ", the model " + ProtocolName(t.dtype));
      }
      std::vector<int64_t> shape;
      if (c.max_batch_size() > 0) shape.push_back(std::max<int64_t>(1, w.batch_size()));
      shape.insert(shape.end(), in.dims().begin(), in.dims().end());
      auto z = Tensor::Zeros(shape, t.dtype);
      if (!z.ok()) return Status(z.status().code(), what + ": input \"" + t.name + "\": " + z.status().message());
      Tensor x = std::move(z).value();
      char* data = static_cast<char*>(x.data());
      if (in.has_random_data() && in.random_data()) {
        // Random bytes for integers and booleans would be out of range
        // (indices, masks): those stay zero; floats get values in [0, 1).
        std::uniform_real_distribution<float> u(0.f, 1.f);
        if (t.dtype == DType::kF32) {
          for (int64_t i = 0; i < x.num_elements(); ++i) reinterpret_cast<float*>(data)[i] = u(rng);
        }
      } else if (in.has_input_data_file()) {
        const std::string& file = in.input_data_file();
        if (file.find('/') != std::string::npos || file.find("..") != std::string::npos) {
          return Invalid(what + ": input_data_file \"" + file + "\" must be a plain name in " + m.name + "/warmup/");
        }
        std::ifstream f(model_dir / "warmup" / file, std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        if (!f.good() && !f.eof()) return Invalid(what + ": cannot read warmup/" + file);
        if (bytes.size() != x.byte_size()) {
          return Invalid(what + ": warmup/" + file + " has " + std::to_string(bytes.size()) + " bytes, input \"" +
                         t.name + "\" needs " + std::to_string(x.byte_size()));
        }
        std::memcpy(data, bytes.data(), bytes.size());
      }
      tensors.push_back(std::move(x));
    }
    Status s = run(tensors, static_cast<int>(w.count()));
    if (!s.ok()) return Status(s.code(), what + ": " + s.message());
  }
  return Status();
}

StatusOr<std::shared_ptr<LoadedModel>> LoadVersion(const RepositoryOptions& o, const std::string& name,
                                                   int64_t version, const fs::path& file,
                                                   config::ModelConfig c, bool from_file) {
  const auto start = std::chrono::steady_clock::now();
  auto m = std::make_shared<LoadedModel>();
  m->name = name;
  m->version = version;
  int threads = o.threads;
  const std::string threads_param = Parameter(c, "threads", "");
  if (!threads_param.empty()) {
    try {
      threads = std::stoi(threads_param);
    } catch (...) {
      return Invalid("model \"" + name + "\": parameter threads \"" + threads_param + "\" is not an integer");
    }
  }
  const std::string device = c.instance_group_size() > 0 ? DeviceFor(c, o.device) : o.device;
  SessionOptions so;
  so.Device(device).Threads(threads).Precision(Parameter(c, "precision", "fp32"));
  so.CudaGraphs(Parameter(c, "cuda_graphs", "true") != "false");
  if (c.max_batch_size() > 0) so.MaxBatch(c.max_batch_size());
  auto s = Session::Load(file.string(), so);
  if (!s.ok()) return s.status();
  m->session = std::make_unique<Session>(std::move(s).value());
  m->inputs = m->session->Inputs();
  m->outputs = m->session->Outputs();
  Status st = CompleteConfig(name, m->inputs, m->outputs, from_file, &c);
  if (!st.ok()) return st;
  m->config = std::move(c);
  const config::ModelConfig& cfg = m->config;
  BatchOptions bo;
  int instances = 0;
  for (const auto& g : cfg.instance_group()) instances += std::max(1, g.count());
  bo.Instances(std::max(1, instances));
  if (cfg.has_dynamic_batching() && cfg.max_batch_size() > 0) {
    const auto& db = cfg.dynamic_batching();
    bo.MaxBatchSize(cfg.max_batch_size());
    bo.MaxQueueDelayUs(static_cast<int64_t>(db.max_queue_delay_microseconds()));
    if (db.preferred_batch_size_size() > 0) {
      bo.PreferredBatchSizes(std::vector<int64_t>(db.preferred_batch_size().begin(), db.preferred_batch_size().end()));
    }
    bo.PreserveOrdering(db.preserve_ordering());
    if (db.priority_levels() > 0) {
      bo.PriorityLevels(static_cast<int>(db.priority_levels()), static_cast<int>(db.default_priority_level()));
    }
    if (!db.priority_queue_policy().empty()) {
      LogWarning("model \"" + name + "\": priority_queue_policy is ignored; default_queue_policy applies to every level");
    }
    if (db.has_default_queue_policy()) {
      const auto& q = db.default_queue_policy();
      m->allow_timeout_override = q.allow_timeout_override();
      bo.MaxQueueSize(q.max_queue_size());
      if (q.default_timeout_microseconds() > 0) {
        bo.DefaultTimeoutUs(static_cast<int64_t>(q.default_timeout_microseconds()),
                            q.timeout_action() == config::ModelQueuePolicy::REJECT);
      }
    }
    const std::string slo = Parameter(cfg, "slo_p99_ms", "");
    if (!slo.empty()) {
      try {
        bo.SloP99Ms(std::stod(slo));
      } catch (...) {
        return Invalid("model \"" + name + "\": parameter slo_p99_ms \"" + slo + "\" is not a number");
      }
    }
  } else {
    // No dynamic batching: each request runs as it came, one per instance.
    bo.MaxBatchSize(0);
  }
  auto b = Batcher::Create(*m->session, bo);
  if (!b.ok()) return Status(b.status().code(), "model \"" + name + "\": " + b.status().message());
  m->batcher = std::make_unique<Batcher>(std::move(b).value());
  st = WarmUp(*m, file.parent_path().parent_path());
  if (!st.ok()) return Status(st.code(), "model \"" + name + "\" failed its warm-up run: " + st.message());
  m->load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return m;
}

// The versions to serve under the config's version policy (default: the
// latest one).
std::vector<int64_t> ChooseVersions(const config::ModelConfig& c, std::vector<int64_t> available) {
  std::sort(available.begin(), available.end());
  const auto& p = c.version_policy();
  if (p.has_all()) return available;
  if (p.has_specific()) {
    std::vector<int64_t> out;
    for (int64_t v : p.specific().versions()) {
      if (std::binary_search(available.begin(), available.end(), v)) out.push_back(v);
    }
    return out;
  }
  const size_t n = p.has_latest() && p.latest().num_versions() > 0 ? p.latest().num_versions() : 1;
  return std::vector<int64_t>(available.end() - std::min(n, available.size()), available.end());
}

}  // namespace

Status ValidateModelName(const std::string& name) {
  if (name.empty()) return Invalid("the model name is empty");
  if (name.size() > 255) return Invalid("the model name is longer than 255 characters");
  if (name == "." || name == ".." || name.find("..") != std::string::npos) {
    return Invalid("model name \"" + name + "\" contains \"..\"");
  }
  if (name[0] == '.') return Invalid("model name \"" + name + "\" starts with '.'");
  for (unsigned char ch : name) {
    if (ch == '/' || ch == '\\') return Invalid("model name \"" + name + "\" contains a path separator");
    if (ch < 0x20 || ch == 0x7f) return Invalid("model name contains a control character");
  }
  return Status();
}

StatusOr<config::ModelConfig> ParseModelConfig(const std::string& text, const std::string& where) {
  config::ModelConfig c;
  google::protobuf::TextFormat::Parser parser;
  Collector errors;
  parser.RecordErrorsTo(&errors);
  // Fields of Triton's schema that tensorpod does not use are ignored,
  // with a warning naming them.
  parser.AllowUnknownField(true);
  if (!parser.ParseFromString(text, &c)) {
    return Invalid(where + ": " + (errors.errors.empty() ? std::string("cannot parse") : errors.errors));
  }
  for (const std::string& w : errors.warnings) LogWarning(where + ": ignored: " + w);
  return c;
}

std::string ModelConfigJson(const config::ModelConfig& c) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(c, &out, o);
  return out;
}

StatusOr<std::unique_ptr<ModelRepository>> ModelRepository::Open(const RepositoryOptions& options) {
  std::error_code ec;
  if (options.root.empty()) return Invalid("--model-repository is required");
  if (!fs::is_directory(options.root, ec)) {
    return Status(StatusCode::kNotFound, "model repository \"" + options.root + "\" is not a directory");
  }
  return std::unique_ptr<ModelRepository>(new ModelRepository(options));
}

std::vector<std::string> ModelRepository::ModelNames() const {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(options_.root, ec)) {
    const std::string n = e.path().filename().string();
    if (e.is_directory(ec) && ValidateModelName(n).ok()) names.push_back(n);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string ModelRepository::Fingerprint(const std::string& name) const {
  std::ostringstream f;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(fs::path(options_.root) / name, ec)) {
    if (!e.is_regular_file(ec)) continue;
    f << e.path().string() << ':' << e.file_size(ec) << ':'
      << e.last_write_time(ec).time_since_epoch().count() << ';';
  }
  return f.str();
}

Status ModelRepository::Load(const std::string& name) {
  Status s = ValidateModelName(name);
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> serial(load_mu_);
  const fs::path dir = fs::path(options_.root) / name;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return Status(StatusCode::kNotFound, "model \"" + name + "\" is not in the repository");
  }
  const std::string fingerprint = Fingerprint(name);
  auto fail = [&](const Status& why, int64_t version) {
    LogError("loading model \"" + name + "\": " + why.message());
    std::lock_guard<std::mutex> lock(mu_);
    Entry& e = models_[name];
    e.versions.clear();
    e.status = {ModelStatus{name, version, "UNAVAILABLE", why.message()}};
    e.fingerprint = fingerprint;
    return why;
  };
  config::ModelConfig c;
  bool from_file = false;
  const fs::path config_path = dir / "config.pbtxt";
  if (fs::exists(config_path, ec)) {
    std::ifstream in(config_path);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) return fail(Invalid("cannot read " + config_path.string()), 0);
    auto parsed = ParseModelConfig(text.str(), name + "/config.pbtxt");
    if (!parsed.ok()) return fail(parsed.status(), 0);
    c = std::move(parsed).value();
    from_file = true;
  }
  const std::string filename = c.default_model_filename().empty() ? "model.onnx" : c.default_model_filename();
  if (filename.find('/') != std::string::npos || filename.find("..") != std::string::npos) {
    return fail(Invalid("model \"" + name + "\": default_model_filename \"" + filename + "\" must be a plain name"), 0);
  }
  std::vector<int64_t> available;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string v = e.path().filename().string();
    if (e.is_directory(ec) && IsVersionDir(v) && fs::exists(e.path() / filename, ec)) available.push_back(std::stoll(v));
  }
  const std::vector<int64_t> versions = ChooseVersions(c, available);
  if (versions.empty()) {
    return fail(Status(StatusCode::kNotFound, "model \"" + name + "\" has no version folder with " + filename +
                                                  " that its version policy selects"),
                0);
  }
  std::map<int64_t, std::shared_ptr<LoadedModel>> loaded;
  std::vector<ModelStatus> status;
  for (int64_t v : versions) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      models_[name].status.push_back(ModelStatus{name, v, "LOADING", ""});
    }
    auto m = LoadVersion(options_, name, v, dir / std::to_string(v) / filename, c, from_file);
    if (!m.ok()) return fail(m.status(), v);
    LogInfo("loaded model \"" + name + "\" version " + std::to_string(v) + " on " + (*m)->session->Device() + " in " +
            std::to_string(static_cast<int>((*m)->load_seconds * 1000)) + " ms");
    status.push_back(ModelStatus{name, v, "READY", ""});
    loaded.emplace(v, std::move(m).value());
  }
  std::map<int64_t, std::shared_ptr<LoadedModel>> old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Entry& e = models_[name];
    old.swap(e.versions);
    e.versions = std::move(loaded);
    e.status = std::move(status);
    e.fingerprint = fingerprint;
  }
  return Status();  // `old` unloads as its last request finishes
}

Status ModelRepository::Unload(const std::string& name) {
  Status s = ValidateModelName(name);
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> serial(load_mu_);
  std::map<int64_t, std::shared_ptr<LoadedModel>> old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = models_.find(name);
    if (it == models_.end()) {
      std::error_code ec;
      if (!fs::is_directory(fs::path(options_.root) / name, ec)) {
        return Status(StatusCode::kNotFound, "model \"" + name + "\" is not in the repository");
      }
      return Status();  // known, not loaded
    }
    old.swap(it->second.versions);
    it->second.status = {ModelStatus{name, 0, "UNAVAILABLE", "unloaded"}};
  }
  LogInfo("unloaded model \"" + name + "\"");
  return Status();
}

void ModelRepository::LoadAll() {
  for (const std::string& name : ModelNames()) (void)Load(name);
}

void ModelRepository::Rescan() {
  const std::vector<std::string> names = ModelNames();
  std::vector<std::string> gone;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, e] : models_) {
      if (!std::binary_search(names.begin(), names.end(), name)) gone.push_back(name);
    }
  }
  for (const std::string& name : gone) {
    (void)Unload(name);
    std::lock_guard<std::mutex> lock(mu_);
    models_.erase(name);
  }
  for (const std::string& name : names) {
    std::string before;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = models_.find(name);
      if (it != models_.end()) before = it->second.fingerprint;
    }
    if (before != Fingerprint(name)) (void)Load(name);
  }
}

void ModelRepository::UnloadAll() {
  std::map<std::string, Entry> old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    old.swap(models_);
  }
  old.clear();  // destroys batchers (running batches finish) and sessions
}

StatusOr<std::shared_ptr<LoadedModel>> ModelRepository::Get(const std::string& name, const std::string& version) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = models_.find(name);
  if (it == models_.end()) return Status(StatusCode::kNotFound, "unknown model \"" + name + "\"");
  const Entry& e = it->second;
  if (version.empty()) {
    if (e.versions.empty()) {
      const std::string why = e.status.empty() ? "" : e.status.front().reason;
      return Status(StatusCode::kUnavailable, "model \"" + name + "\" is not ready" + (why.empty() ? "" : ": " + why));
    }
    return e.versions.rbegin()->second;
  }
  if (!IsVersionDir(version)) return Status(StatusCode::kNotFound, "model \"" + name + "\" has no version \"" + version + "\"");
  auto v = e.versions.find(std::stoll(version));
  if (v == e.versions.end()) {
    return Status(StatusCode::kNotFound, "model \"" + name + "\" version " + version + " is not loaded");
  }
  return v->second;
}

std::vector<std::shared_ptr<LoadedModel>> ModelRepository::Loaded() const {
  std::vector<std::shared_ptr<LoadedModel>> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, e] : models_) {
    for (const auto& [v, m] : e.versions) out.push_back(m);
  }
  return out;
}

std::vector<ModelStatus> ModelRepository::Index() const {
  std::vector<ModelStatus> out;
  std::set<std::string> seen;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, e] : models_) {
      seen.insert(name);
      out.insert(out.end(), e.status.begin(), e.status.end());
    }
  }
  for (const std::string& name : ModelNames()) {
    if (!seen.count(name)) out.push_back(ModelStatus{name, 0, "UNAVAILABLE", "not loaded"});
  }
  return out;
}

bool ModelRepository::AllReady() const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, e] : models_) {
    // A model still serving its loaded versions is ready while a new
    // version or config loads (poll mode reloads it in place).
    if (!e.versions.empty()) continue;
    for (const ModelStatus& s : e.status) {
      if (s.state == "LOADING") return false;
    }
    // Explicitly unloaded models do not count against readiness.
    if (options_.control_mode != ControlMode::kExplicit) return false;
  }
  return true;
}

}  // namespace tensorpod::server
