// Batcher: many small requests in, full batches out. Requests submitted
// from any thread are queued, grouped by shape and concatenated along the
// batch (leading) dimension into one Session::Run on one of `instances`
// worker threads (each with its own pre-reserved batch buffers and, inside
// the session, its own execution context); each caller gets its rows of the
// outputs (views into the batch's output, no copy), through a callback or a
// future. The decisions are BatchScheduler's (scheduler.h); the load is
// tracked by LoadTracker (load_report.h). Thread-safe.
//
// Example:
//   BatcherOptions o;
//   o.policy.max_batch_size = 32;
//   o.policy.max_queue_delay_us = 500;
//   TP_ASSIGN_OR_RETURN(auto batcher, Batcher::Create(session.get(), o));
//   auto result = batcher->Submit({{"x"}, {x}}).get();   // StatusOr<std::vector<Tensor>>
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "batching/clock.h"
#include "batching/load_report.h"
#include "batching/scheduler.h"
#include "batching/slo.h"
#include "runtime/session.h"

namespace tensorpod::internal {

struct BatcherOptions {
  BatchPolicy policy;
  int instances = 1;                 // concurrent batches (worker threads)
  bool preserve_ordering = false;    // complete requests in submission order
  double target_utilization = 0.7;   // for LoadReport::recommended_replicas
  // SLO mode when > 0: the batch cap and queue delay adapt online to keep
  // the p99 total latency under this target (slo.h); policy.max_batch_size
  // and policy.max_queue_delay_us are the ceilings (a delay of 0 becomes
  // half the target).
  double slo_p99_ms = 0;
  int64_t report_window_us = 10'000'000;
  const Clock* clock = nullptr;      // nullptr: the steady clock; must outlive the batcher
};

struct BatchRequest {
  std::vector<std::string> input_names;
  std::vector<Tensor> inputs;  // each [rows, ...]; borrowed until completion
  int priority = 0;            // 0: the policy's default; 1 is the highest
  int64_t timeout_us = 0;      // 0: the policy's default; may only lower it
};

using BatchResult = StatusOr<std::vector<Tensor>>;
// Called once per request, on a worker thread (or the thread that caused a
// cancellation, timeout or shutdown; with preserve_ordering, possibly the
// thread completing an earlier request). It may Submit and Cancel; it must
// not destroy the batcher, and should not block long.
using BatchCallback = std::function<void(BatchResult)>;

class Batcher {
 public:
  // `session` must outlive the batcher. INVALID_ARGUMENT when the policy is
  // invalid or max_batch_size > 1 on a model whose inputs have no dynamic
  // leading (batch) dimension. max_batch_size 0 serves a model without a
  // batch dimension: requests queue (priorities, timeouts, cancellation,
  // queue limit all apply) and run one at a time with their shapes as given.
  static StatusOr<std::unique_ptr<Batcher>> Create(const Session* session, const BatcherOptions& options);
  ~Batcher();  // Shutdown()

  // Queues a request; `done` is called exactly once. Returns the request id
  // (for Cancel), or the error (and `done` is not called) when the request
  // is invalid (INVALID_ARGUMENT), the queue is full (RESOURCE_EXHAUSTED) or
  // the batcher is shut down (UNAVAILABLE).
  StatusOr<uint64_t> Submit(BatchRequest request, BatchCallback done);
  // The future form: errors at submission arrive through the future too.
  std::future<BatchResult> Submit(BatchRequest request);
  // Cancels a queued request: it completes with CANCELLED. False when it is
  // no longer queued (running or done).
  bool Cancel(uint64_t id);
  LoadReport Report() const;
  LoadHistograms Histograms() const { return tracker_.Histograms(); }
  // Stops accepting requests, completes every queued one with UNAVAILABLE,
  // waits for running batches. Idempotent.
  void Shutdown();

 private:
  struct Pending;
  struct Instance;
  Batcher(const Session* session, const BatcherOptions& options);
  StatusOr<std::vector<int64_t>> Validate(const BatchRequest& r, int64_t* rows) const;
  void Worker(Instance* instance);
  struct BatchTimes {
    int64_t service_us = 0;  // Session::Run
    int64_t compute_us = 0;  // gathering the inputs + Session::Run
  };
  BatchTimes RunBatch(Instance* instance, std::vector<std::unique_ptr<Pending>> batch);
  std::vector<std::unique_ptr<Pending>> TakeExpired(int64_t now);  // REQUIRES: mu_ held
  void AdaptToSlo(int64_t rows, int64_t service_us, int64_t now);
  // Publishes whether the queue is full, for Submit's lock-free refusal.
  // REQUIRES: mu_ held, after every change to the queue.
  void PublishFull();
  // Calls (or, with preserve_ordering, queues) p's callback; p stays the caller's.
  void Complete(Pending& p, BatchResult result);
  void CompleteAll(std::vector<std::unique_ptr<Pending>> ps, const Status& status);
  // Completed requests go back to a pool (their callbacks and inputs
  // released), so that a request costs no allocation in the steady state.
  std::unique_ptr<Pending> NewPending();
  void Recycle(std::unique_ptr<Pending>* ps, size_t n);

  const Session* session_;
  BatcherOptions options_;
  bool unbatched_ = false;  // max_batch_size 0: requests run one at a time, as given
  const Clock* clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  BatchScheduler scheduler_;  // guarded by mu_; owns the queued Pending requests (its payloads)
  std::vector<std::string> input_names_;                            // the model's, in order
  uint64_t next_id_ = 1;                                       // guarded by mu_
  int64_t in_flight_ = 0;                                      // requests running, guarded by mu_
  bool shutdown_ = false;                                      // guarded by mu_
  // While the queue is full: the time (us) until which it stays full unless
  // a request leaves it (the earliest queued deadline, INT64_MAX without
  // one); -1 when there is room. Written under mu_, read without it, so
  // that overload is refused without contending for the lock the workers
  // need.
  std::atomic<int64_t> full_until_us_{-1};
  std::string full_message_;  // the refusal's message, built once
  // preserve_ordering: results wait here until every earlier request is done.
  std::mutex order_mu_;
  uint64_t next_to_deliver_ = 1;                                       // guarded by order_mu_
  std::map<uint64_t, std::pair<BatchCallback, BatchResult>> ready_;    // guarded by order_mu_
  bool delivering_ = false;                                            // guarded by order_mu_
  std::mutex join_mu_;
  LoadTracker tracker_;
  std::unique_ptr<SloController> slo_;  // SLO mode; guarded by mu_
  int64_t slo_checked_us_ = 0;          // last p99 feedback, guarded by mu_
  std::vector<std::unique_ptr<Instance>> instances_;
  static constexpr size_t kPoolSize = 1024;
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Pending>> pool_;  // guarded by pool_mu_
};

}  // namespace tensorpod::internal
