// The model repository (Triton's layout) and the models loaded from it:
//
//   <repo>/<model>/config.pbtxt          optional; without it the config is
//                                        completed from the ONNX model
//   <repo>/<model>/<version>/model.onnx  numeric versions
//
// Each loaded version owns a tensorpod Session and a Batcher (dynamic
// batching when the config asks for it or the model batches and names no
// scheduler; one request at a time otherwise). Models are handed out as
// shared_ptrs, so a request in flight keeps its model alive across an
// unload. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "model_config.pb.h"
#include "tensorpod/tensorpod.hpp"

namespace tensorpod::server {

enum class ControlMode { kNone, kExplicit, kPoll };

struct RepositoryOptions {
  std::string root;
  ControlMode control_mode = ControlMode::kNone;
  std::string device = "auto";  // for instance_group KIND_AUTO
  int threads = 0;              // engine threads per run (0: the engine's default)
};

// Request counters and times of one model version as the front ends saw
// them (Triton's statistics and the metrics add the batcher's own
// histograms). Lock-free.
struct ModelStats {
  // Upper bounds (seconds) of the request duration histogram's buckets; the
  // last bucket is +Inf.
  static constexpr double kBucketBounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                             0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};
  static constexpr size_t kBuckets = sizeof(kBucketBounds) / sizeof(double) + 1;
  void RecordSuccess(int64_t ns, int64_t rows) {
    ++success;
    inference_count += rows;
    request_ns += ns;
    size_t b = 0;
    while (b + 1 < kBuckets && ns > kBucketBounds[b] * 1e9) ++b;
    ++duration_buckets[b];
    last_inference_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
  }
  std::atomic<int64_t> duration_buckets[kBuckets] = {};
  std::atomic<int64_t> success{0}, failure{0};
  std::atomic<int64_t> inference_count{0};  // rows
  std::atomic<int64_t> request_ns{0};       // batches, queue and compute times: the batcher's histograms
  std::atomic<int64_t> last_inference_ms{0};
};

struct LoadedModel {
  std::string name;
  int64_t version = 0;
  config::ModelConfig config;  // complete: inputs, outputs, batching
  std::unique_ptr<Session> session;
  std::unique_ptr<Batcher> batcher;
  std::vector<TensorInfo> inputs, outputs;
  // Whether a request's own timeout counts (config: dynamic_batching's
  // default_queue_policy.allow_timeout_override; no queue policy: yes).
  bool allow_timeout_override = true;
  double load_seconds = 0;
  ModelStats stats;
};

// A repository entry's state, for the index and readiness.
struct ModelStatus {
  std::string name;
  int64_t version = 0;  // 0: no version (the model failed before one was chosen)
  std::string state;    // READY, LOADING, UNLOADING, UNAVAILABLE
  std::string reason;   // why not READY
};

class ModelRepository {
 public:
  // INVALID_ARGUMENT / NOT_FOUND when the root is not a readable directory.
  static StatusOr<std::unique_ptr<ModelRepository>> Open(const RepositoryOptions& options);

  // Loads every model in the repository (modes none and poll, at start);
  // failures are kept in the index with their reason and logged.
  void LoadAll();
  // Explicit mode (and poll's rescans): (re)loads `name`'s versions per its
  // version policy. NOT_FOUND for a model not in the repository,
  // INVALID_ARGUMENT for a bad name or config.
  Status Load(const std::string& name);
  // Unloads every version of `name` (requests in flight finish first).
  Status Unload(const std::string& name);
  // Poll mode: loads new or changed models, unloads removed ones.
  void Rescan();
  void UnloadAll();

  // The model to serve: `version` empty takes the highest ready version.
  // NOT_FOUND (unknown model or version) or UNAVAILABLE (not ready).
  StatusOr<std::shared_ptr<LoadedModel>> Get(const std::string& name, const std::string& version) const;
  std::vector<std::shared_ptr<LoadedModel>> Loaded() const;
  std::vector<ModelStatus> Index() const;
  // Every model the repository should serve is loaded (and warmed up).
  bool AllReady() const;
  const RepositoryOptions& options() const { return options_; }

 private:
  explicit ModelRepository(RepositoryOptions options) : options_(std::move(options)) {}
  struct Entry {
    std::map<int64_t, std::shared_ptr<LoadedModel>> versions;  // loaded
    std::vector<ModelStatus> status;                            // per version, or one for the model
    std::string fingerprint;                                    // files' sizes and times, for polling
  };
  std::vector<std::string> ModelNames() const;
  std::string Fingerprint(const std::string& name) const;

  RepositoryOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> models_;  // guarded by mu_
  std::mutex load_mu_;                   // one load or unload at a time
};

// The model's batcher distributions since load (zeros if unavailable).
inline tp_batcher_histograms_t BatcherHistograms(const LoadedModel& m) {
  auto h = m.batcher ? m.batcher->Histograms() : StatusOr<tp_batcher_histograms_t>(tp_batcher_histograms_t{});
  return h.ok() ? *h : tp_batcher_histograms_t{};
}

// Repository model names are folder names: no path separators, no "..",
// nothing hidden. INVALID_ARGUMENT naming the problem.
Status ValidateModelName(const std::string& name);

// Parses config.pbtxt text (protobuf text format, Triton's schema).
StatusOr<config::ModelConfig> ParseModelConfig(const std::string& text, const std::string& where);

// The model configuration as the protocol's JSON (GET .../config).
std::string ModelConfigJson(const config::ModelConfig& c);

}  // namespace tensorpod::server
