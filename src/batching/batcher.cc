#include "batching/batcher.h"

#include <algorithm>
#include <cstring>

#include "core/logging.h"

#ifdef __linux__
#include <sys/prctl.h>
#endif

namespace tensorpod::internal {

// A queued or running request.
struct Batcher::Pending {
  uint64_t id = 0;
  std::vector<Tensor> inputs;  // in model input order
  int64_t rows = 1;
  int64_t arrival_us = 0;
  BatchCallback done;
};

// One worker thread and the batch buffers it gathers inputs into.
struct Batcher::Instance {
  std::thread thread;
  std::vector<Tensor> buffers;  // per model input; grown, never shrunk
};

StatusOr<std::unique_ptr<Batcher>> Batcher::Create(const Session* session, const BatcherOptions& options) {
  TP_CHECK_ARG(session != nullptr, "the batcher needs a session");
  // max_batch_size 0: the model has no batch dimension; requests queue as
  // usual and run one at a time, as given (the scheduler sees batches of 1).
  const bool unbatched = options.policy.max_batch_size == 0;
  TP_CHECK_ARG(!unbatched || options.policy.preferred_batch_sizes.empty(),
               "preferred batch sizes need max_batch_size >= 1 (0 means the model is not batched)");
  BatchPolicy policy = options.policy;
  if (unbatched) policy.max_batch_size = 1;
  TP_RETURN_IF_ERROR(ValidatePolicy(policy));
  TP_CHECK_ARG(options.instances >= 1 && options.instances <= 256,
               "instances must be in [1, 256], got " << options.instances);
  TP_CHECK_ARG(options.target_utilization > 0 && options.target_utilization <= 1,
               "target utilization must be in (0, 1], got " << options.target_utilization);
  TP_CHECK_ARG(options.report_window_us >= 1000, "the report window must be >= 1000 us");
  TP_CHECK_ARG(options.slo_p99_ms >= 0 && options.slo_p99_ms <= 3'600'000,
               "the p99 latency target must be in [0, 3600000] ms, got " << options.slo_p99_ms);
  if (options.policy.max_batch_size > 1) {
    for (const IoInfo& in : session->inputs()) {
      TP_CHECK_ARG(in.has_shape && !in.shape.empty() && in.shape[0] == kDynamicDim,
                   "max_batch_size " << options.policy.max_batch_size << " needs a dynamic leading (batch) "
                                     << "dimension on every input, but input \"" << in.name << "\" has shape "
                                     << (in.has_shape ? ShapeToString(in.shape) : std::string("unknown")));
    }
  }
  BatcherOptions adjusted = options;
  adjusted.policy = policy;
  if (options.slo_p99_ms > 0 && adjusted.policy.max_queue_delay_us == 0) {
    adjusted.policy.max_queue_delay_us = static_cast<int64_t>(options.slo_p99_ms * 500);
  }
  std::unique_ptr<Batcher> b(new Batcher(session, adjusted));
  b->unbatched_ = unbatched;
  for (int i = 0; i < options.instances; ++i) {
    b->instances_.push_back(std::make_unique<Instance>());
  }
  for (auto& inst : b->instances_) {
    Instance* raw = inst.get();
    inst->thread = std::thread([p = b.get(), raw] { p->Worker(raw); });
  }
  return b;
}

namespace {

LoadTrackerOptions TrackerOptions(const BatcherOptions& o) {
  LoadTrackerOptions t;
  t.window_us = o.report_window_us;
  t.instances = o.instances;
  t.max_batch_size = o.policy.max_batch_size;
  t.target_utilization = o.target_utilization;
  return t;
}

}  // namespace

Batcher::Batcher(const Session* session, const BatcherOptions& options)
    : session_(session),
      options_(options),
      clock_(options.clock != nullptr ? options.clock : &SteadyClock::Get()),
      scheduler_(options.policy),
      tracker_(clock_, TrackerOptions(options)) {
  for (const IoInfo& in : session->inputs()) input_names_.push_back(in.name);
  full_message_ = "the batch queue is full (" + std::to_string(options.policy.max_queue_size) + " requests)";
  if (options.slo_p99_ms > 0) {
    slo_ = std::make_unique<SloController>(static_cast<int64_t>(options.slo_p99_ms * 1000),
                                           options.policy.max_batch_size, options.policy.max_queue_delay_us);
  }
}

Batcher::~Batcher() {
  Shutdown();
  // A worker skipped by a Shutdown it called itself (from a callback) is
  // joined here. Destroying the batcher from its own callback is not
  // allowed; detaching avoids terminating the process if it happens.
  for (auto& inst : instances_) {
    if (!inst->thread.joinable()) continue;
    if (inst->thread.get_id() == std::this_thread::get_id()) {
      inst->thread.detach();
    } else {
      inst->thread.join();
    }
  }
}

StatusOr<std::vector<int64_t>> Batcher::Validate(const BatchRequest& r, int64_t* rows) const {
  const std::vector<IoInfo>& model = session_->inputs();
  TP_CHECK_ARG(r.input_names.size() == r.inputs.size(),
               r.input_names.size() << " input names were given for " << r.inputs.size() << " tensors");
  TP_CHECK_ARG(r.inputs.size() == model.size(),
               "the model has " << model.size() << " inputs, the request gives " << r.inputs.size());
  std::vector<int64_t> key;
  *rows = -1;
  for (size_t k = 0; k < model.size(); ++k) {
    auto it = std::find(r.input_names.begin(), r.input_names.end(), model[k].name);
    TP_CHECK_ARG(it != r.input_names.end(), "input \"" << model[k].name << "\" is missing");
    const Tensor& t = r.inputs[it - r.input_names.begin()];
    TP_CHECK_ARG(t.dtype() == model[k].dtype, "input \"" << model[k].name << "\": expected dtype "
                                                          << DTypeName(model[k].dtype) << ", got "
                                                          << DTypeName(t.dtype()));
    TP_CHECK_ARG(t.raw_data() != nullptr || t.num_elements() == 0, "input \"" << model[k].name << "\" has no data");
    if (model[k].has_shape) {
      // The model's fixed dimensions, checked now: a request the session
      // would refuse must not reach a batch.
      bool match = t.rank() == static_cast<int64_t>(model[k].shape.size());
      for (size_t d = 0; match && d < model[k].shape.size(); ++d) {
        match = model[k].shape[d] == kDynamicDim || model[k].shape[d] == t.dim(d);
      }
      TP_CHECK_ARG(match, "input \"" << model[k].name << "\": expected shape " << ShapeToString(model[k].shape)
                                      << ", got " << ShapeToString(t.shape()));
    }
    if (unbatched_) {
      // Not batched: the whole shape is the key, and each request is one run.
      key.push_back(static_cast<int64_t>(t.dtype()));
      key.push_back(t.rank());
      key.insert(key.end(), t.shape().begin(), t.shape().end());
      *rows = 1;
      continue;
    }
    TP_CHECK_ARG(t.rank() >= 1, "input \"" << model[k].name << "\" must have a batch dimension, got a scalar");
    if (*rows < 0) *rows = t.dim(0);
    TP_CHECK_ARG(t.dim(0) == *rows, "inputs disagree on the batch size: \"" << model[k].name << "\" has "
                                                                             << t.dim(0) << " rows, others "
                                                                             << *rows);
    key.push_back(static_cast<int64_t>(t.dtype()));
    key.push_back(t.rank());
    key.insert(key.end(), t.shape().begin() + 1, t.shape().end());
  }
  TP_CHECK_ARG(*rows >= 1, "a request needs at least one row, got " << *rows);
  TP_CHECK_ARG(*rows <= options_.policy.max_batch_size,
               "a request of batch " << *rows << " exceeds max_batch_size " << options_.policy.max_batch_size);
  return key;
}

StatusOr<uint64_t> Batcher::Submit(BatchRequest request, BatchCallback done) {
  TP_CHECK_ARG(done != nullptr, "Submit needs a completion callback");
  // A bad request is told so even when the queue is full: retrying it
  // would not help.
  TP_CHECK_ARG(request.priority >= 0 && request.priority <= options_.policy.priority_levels,
               "priority " << request.priority << " is not in [1, " << options_.policy.priority_levels
                           << "] (or 0 for the default)");
  TP_CHECK_ARG(request.timeout_us >= 0, "timeout must be >= 0 us, got " << request.timeout_us);
  int64_t rows = 0;
  TP_ASSIGN_OR_RETURN(std::vector<int64_t> key, Validate(request, &rows));
  const int64_t full_until = full_until_us_.load(std::memory_order_acquire);
  if (full_until >= 0 && clock_->NowMicros() < full_until) {
    // Overload: refuse before allocating or locking.
    tracker_.OnRefused();
    return Status(StatusCode::kResourceExhausted, full_message_);
  }
  std::unique_ptr<Pending> p = NewPending();
  // Model input order.
  for (const IoInfo& in : session_->inputs()) {
    auto it = std::find(request.input_names.begin(), request.input_names.end(), in.name);
    p->inputs.push_back(std::move(request.inputs[it - request.input_names.begin()]));
  }
  p->rows = rows;
  p->done = std::move(done);
  uint64_t id = 0;
  std::vector<std::unique_ptr<Pending>> expired;
  Status rejected = Status::Ok();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutdown_) return TP_ERROR(kUnavailable, "the batcher is shut down");
    p->arrival_us = clock_->NowMicros();
    if (scheduler_.Full(p->arrival_us)) {
      // Refuse overload cheaply: nothing queued, nothing to undo.
      PublishFull();
      tracker_.OnRefused();
      return Status(StatusCode::kResourceExhausted, full_message_);
    }
    QueuedRequest q;
    q.id = next_id_;
    q.priority = request.priority;
    q.rows = rows;
    q.key = std::move(key);
    q.arrival_us = p->arrival_us;
    q.timeout_us = request.timeout_us;
    // The scheduler holds the request (as its payload) once Enqueue
    // succeeds; until then it stays ours, so a refusal leaves nothing behind.
    p->id = q.id;
    q.payload = p.get();
    Status s = scheduler_.Enqueue(q);
    if (!s.ok() && s.code() == StatusCode::kResourceExhausted) {
      // Timed-out requests may hold the room: free it (no worker may be idle
      // to notice them).
      expired = TakeExpired(q.arrival_us);
      if (!expired.empty()) s = scheduler_.Enqueue(q);
    }
    if (!s.ok()) {
      if (s.code() == StatusCode::kResourceExhausted) tracker_.OnRefused();
      rejected = std::move(s);
    } else {
      p.release();  // owned by the queue now
      id = next_id_++;
      tracker_.OnArrival();
    }
    PublishFull();
  }
  if (!expired.empty()) {
    CompleteAll(std::move(expired), TP_ERROR(kDeadlineExceeded, "the request timed out in the batch queue"));
  }
  if (!rejected.ok()) return rejected;
  cv_.notify_one();
  return id;
}

std::future<BatchResult> Batcher::Submit(BatchRequest request) {
  auto promise = std::make_shared<std::promise<BatchResult>>();
  std::future<BatchResult> f = promise->get_future();
  auto id = Submit(std::move(request), [promise](BatchResult r) { promise->set_value(std::move(r)); });
  if (!id.ok()) promise->set_value(id.status());
  return f;
}

bool Batcher::Cancel(uint64_t id) {
  std::unique_ptr<Pending> p;
  {
    std::lock_guard<std::mutex> lock(mu_);
    void* payload = nullptr;
    if (!scheduler_.Remove(id, &payload)) return false;
    p.reset(static_cast<Pending*>(payload));
    PublishFull();
  }
  cv_.notify_all();  // the batch being formed may have changed
  Complete(*p, TP_ERROR(kCancelled, "request " << id << " was cancelled"));
  Recycle(&p, 1);
  return true;
}

LoadReport Batcher::Report() const {
  int64_t depth = 0, in_flight = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    depth = scheduler_.size();
    in_flight = in_flight_;
  }
  return tracker_.Report(depth, in_flight);
}

void Batcher::Shutdown() {
  std::vector<std::unique_ptr<Pending>> drained;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!shutdown_) {
      shutdown_ = true;
      std::vector<void*> payloads;
      scheduler_.DrainAll(&payloads);
      for (void* payload : payloads) drained.emplace_back(static_cast<Pending*>(payload));
      PublishFull();
    }
  }
  cv_.notify_all();
  if (!drained.empty()) tracker_.OnRejected(static_cast<int64_t>(drained.size()));
  CompleteAll(std::move(drained), TP_ERROR(kUnavailable, "the batcher shut down before the request ran"));
  // Concurrent Shutdown calls join once; a callback calling Shutdown on a
  // worker does not join itself.
  std::lock_guard<std::mutex> join_lock(join_mu_);
  for (auto& inst : instances_) {
    if (inst->thread.joinable() && inst->thread.get_id() != std::this_thread::get_id()) inst->thread.join();
  }
}

std::unique_ptr<Batcher::Pending> Batcher::NewPending() {
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (!pool_.empty()) {
      std::unique_ptr<Pending> p = std::move(pool_.back());
      pool_.pop_back();
      return p;
    }
  }
  return std::make_unique<Pending>();
}

void Batcher::Recycle(std::unique_ptr<Pending>* ps, size_t n) {
  // Release what the requests hold (their callbacks, their inputs) now,
  // outside the pool's lock.
  for (size_t i = 0; i < n; ++i) {
    ps[i]->done = nullptr;
    ps[i]->inputs.clear();
  }
  std::lock_guard<std::mutex> lock(pool_mu_);
  for (size_t i = 0; i < n && pool_.size() < kPoolSize; ++i) pool_.push_back(std::move(ps[i]));
}

void Batcher::Complete(Pending& p, BatchResult result) {
  if (!options_.preserve_ordering) {
    p.done(std::move(result));
    return;
  }
  // Deliver in id order. One thread at a time delivers (whoever finds no
  // one delivering); the others leave their results for it. Callbacks run
  // without the lock, so they may Submit or Cancel (which lands here again
  // and is delivered by the loop below).
  std::unique_lock<std::mutex> lock(order_mu_);
  ready_.emplace(p.id, std::make_pair(std::move(p.done), std::move(result)));
  if (delivering_) return;
  delivering_ = true;
  while (!ready_.empty() && ready_.begin()->first == next_to_deliver_) {
    auto item = std::move(ready_.begin()->second);
    ready_.erase(ready_.begin());
    ++next_to_deliver_;
    lock.unlock();
    item.first(std::move(item.second));
    lock.lock();
  }
  delivering_ = false;
}

void Batcher::CompleteAll(std::vector<std::unique_ptr<Pending>> ps, const Status& status) {
  for (auto& p : ps) Complete(*p, status);
  Recycle(ps.data(), ps.size());
}

namespace {

// Takes the lock, spinning briefly first: submitters hold it for well under
// a microsecond, while sleeping on a contended mutex and being woken costs
// the worker several microseconds per batch.
void LockSpinning(std::unique_lock<std::mutex>& lock) {
  for (int i = 0; i < 512; ++i) {
    if (lock.try_lock()) return;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  lock.lock();
}

}  // namespace

std::vector<std::unique_ptr<Batcher::Pending>> Batcher::TakeExpired(int64_t now) {
  std::vector<std::unique_ptr<Pending>> expired;
  std::vector<void*> payloads;
  scheduler_.ExpireTimeouts(now, &payloads);
  for (void* payload : payloads) expired.emplace_back(static_cast<Pending*>(payload));
  if (!expired.empty()) {
    tracker_.OnRejected(static_cast<int64_t>(expired.size()));
    PublishFull();
  }
  return expired;
}

void Batcher::PublishFull() {
  int64_t until = -1;
  if (options_.policy.max_queue_size > 0 && scheduler_.size() >= options_.policy.max_queue_size) {
    until = scheduler_.EarliestDeadlineUs();
  }
  full_until_us_.store(until, std::memory_order_release);
}

void Batcher::Worker(Instance* instance) {
#ifdef __linux__
  // Queue delays are in microseconds: the default 50 us timer slack would
  // add up to 50 us to every delay expiry.
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
#endif
  std::vector<void*> payloads;  // reused: the batch's requests
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    const int64_t now = clock_->NowMicros();
    std::vector<std::unique_ptr<Pending>> expired = TakeExpired(now);
    if (!expired.empty()) {
      lock.unlock();
      CompleteAll(std::move(expired), TP_ERROR(kDeadlineExceeded, "the request timed out in the batch queue"));
      lock.lock();
      continue;
    }
    payloads.clear();
    if (!scheduler_.NextBatch(now, &payloads).empty()) {
      std::vector<std::unique_ptr<Pending>> batch;
      batch.reserve(payloads.size());
      int64_t rows = 0;
      for (void* payload : payloads) {
        batch.emplace_back(static_cast<Pending*>(payload));
        rows += batch.back()->rows;
      }
      in_flight_ += static_cast<int64_t>(batch.size());
      PublishFull();
      // Others may form the next batch meanwhile.
      if (scheduler_.size() > 0) cv_.notify_one();
      lock.unlock();
      const int64_t count = static_cast<int64_t>(batch.size());
      const BatchTimes times = RunBatch(instance, std::move(batch));
      // The worker was busy from forming the batch to its last callback.
      tracker_.OnWorkerBusy(clock_->NowMicros() - now - times.compute_us);
      LockSpinning(lock);
      in_flight_ -= count;
      if (slo_ != nullptr) AdaptToSlo(rows, times.service_us, clock_->NowMicros());
      continue;
    }
    if (shutdown_) return;
    const int64_t next = scheduler_.NextEventUs(now);
    if (next == INT64_MAX) {
      cv_.wait(lock);
    } else {
      // Fake clocks in tests: never sleep longer than 1 ms at a time.
      cv_.wait_for(lock, std::chrono::microseconds(std::clamp<int64_t>(next - now, 1, 1000)));
    }
  }
}

// SLO mode: feed the service time of every batch and, every 100 ms, the
// measured p99, then apply the controller's limits. REQUIRES: mu_ held.
void Batcher::AdaptToSlo(int64_t rows, int64_t service_us, int64_t now) {
  slo_->OnBatch(rows, service_us);
  if (now - slo_checked_us_ >= 100'000) {
    slo_checked_us_ = now;
    const LoadReport r = tracker_.Report(0, 0);
    if (r.total.p99_ms > 0) slo_->OnP99(r.total.p99_ms * 1000);
  }
  const SloLimits l = slo_->Limits();
  scheduler_.SetLimits(l.max_batch, l.delay_us);
}

Batcher::BatchTimes Batcher::RunBatch(Instance* instance, std::vector<std::unique_ptr<Pending>> batch) {
  const std::vector<IoInfo>& model = session_->inputs();
  const int64_t start = clock_->NowMicros();
  int64_t rows = 0;
  for (const auto& p : batch) rows += p->rows;
  const std::vector<std::string>& names = input_names_;
  std::vector<Tensor> inputs;
  Status gathered = Status::Ok();
  if (batch.size() == 1) {
    inputs = batch[0]->inputs;  // one request: no copy
  } else {
    instance->buffers.resize(model.size());
    for (size_t k = 0; k < model.size() && gathered.ok(); ++k) {
      const Tensor& first = batch[0]->inputs[k];
      Shape shape = first.shape();
      shape[0] = rows;
      const size_t bytes = NumElementsUnchecked(shape) * DTypeSize(first.dtype());
      Tensor& buf = instance->buffers[k];
      if (!buf.defined() || buf.nbytes() < bytes) {
        // Room for max_batch_size rows, so it grows once.
        Shape full = shape;
        full[0] = options_.policy.max_batch_size;
        auto t = Tensor::Uninitialized(first.dtype(), full);
        if (!t.ok()) {
          gathered = t.status();
          break;
        }
        buf = std::move(t).value();
      }
      Tensor view(first.dtype(), shape, buf.raw_data(), buf.holder());
      char* dst = static_cast<char*>(view.raw_data());
      for (const auto& p : batch) {
        const Tensor& t = p->inputs[k];
        if (t.nbytes() > 0) std::memcpy(dst, t.raw_data(), t.nbytes());
        dst += t.nbytes();
      }
      inputs.push_back(std::move(view));
    }
  }
  const int64_t run_start = clock_->NowMicros();
  BatchResult out = gathered.ok() ? session_->Run(names, inputs, {}) : BatchResult(gathered);
  const int64_t end = clock_->NowMicros();
  const BatchTimes times{end - run_start, end - start};
  std::vector<int64_t> queue_us;
  for (const auto& p : batch) queue_us.push_back(start - p->arrival_us);
  tracker_.OnBatchDone(rows, queue_us, end - start);
  if (!out.ok()) {
    CompleteAll(std::move(batch), out.status());
    return times;
  }
  if (unbatched_) {
    // One request, run as given: its outputs are the run's.
    Complete(*batch[0], std::move(out));
    Recycle(batch.data(), batch.size());
    return times;
  }
  // Each caller gets its rows of every output, as views sharing the batch's memory.
  for (const Tensor& o : *out) {
    if (o.rank() == 0 || o.dim(0) != rows) {
      CompleteAll(std::move(batch), TP_ERROR(kFailedPrecondition,
                                             "an output of shape " << ShapeToString(o.shape())
                                                                   << " is not batched along its first dimension "
                                                                   << "(expected " << rows << " rows)"));
      return times;
    }
  }
  int64_t row = 0;
  for (auto& p : batch) {
    std::vector<Tensor> mine;
    mine.reserve(out->size());
    for (const Tensor& o : *out) {
      Shape shape = o.shape();
      shape[0] = p->rows;
      const size_t row_bytes = o.dim(0) == 0 ? 0 : o.nbytes() / static_cast<size_t>(o.dim(0));
      mine.emplace_back(o.dtype(), std::move(shape),
                        static_cast<char*>(const_cast<void*>(o.raw_data())) + row * row_bytes, o.holder());
    }
    row += p->rows;
    Complete(*p, std::move(mine));
  }
  Recycle(batch.data(), batch.size());
  return times;
}

}  // namespace tensorpod::internal
