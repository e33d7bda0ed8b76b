// LoadReport: what the batcher reports about its load, cheap to read at any
// time, and LoadTracker, which computes it from events. Latency quantiles
// come from a mergeable log-bucket sketch (QuantileSketch) kept per time
// slice over a sliding window, so a report never sorts samples.
//
// Example:
//   LoadTracker t(&clock, LoadTrackerOptions{});
//   t.OnArrival();  t.OnBatchDone(/*items=*/4, queue_us, compute_us);  ...
//   LoadReport r = t.Report(/*queue_depth=*/3, /*in_flight=*/1);
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "batching/clock.h"

namespace tensorpod::internal {

// Quantiles with relative error `alpha` (values are bucketed by
// ceil(log_gamma(v)), gamma = (1 + alpha) / (1 - alpha)); values <= 0 count
// in a zero bucket. Mergeable; not thread-safe.
class QuantileSketch {
 public:
  explicit QuantileSketch(double alpha = 0.01);
  void Add(double value, int64_t n = 1);  // n copies of value
  void Merge(const QuantileSketch& other);
  void Clear();
  int64_t count() const { return count_; }
  // q in [0, 1]; 0 when empty.
  double Quantile(double q) const;

 private:
  int Bucket(double v) const;
  double alpha_, gamma_, log_gamma_;
  int offset_ = 0;                 // bucket index of counts_[0]
  std::vector<int64_t> counts_;
  int64_t zeros_ = 0;
  int64_t count_ = 0;
};

struct LatencyQuantiles {
  double p50_ms = 0, p95_ms = 0, p99_ms = 0;
};

struct LoadReport {
  int64_t queue_depth = 0;           // requests waiting
  int64_t in_flight = 0;             // requests in running batches
  double arrival_rate_per_s = 0;     // submitted per second over the window, refused ones included
  double completed_per_s = 0;
  double batches_per_s = 0;
  double mean_batch_fill = 0;        // mean batch size / max_batch_size
  double mean_batch_size = 0;
  double queue_compute_ratio = 0;    // mean queue time / mean compute time
  double instance_busy_fraction = 0; // busy instance-time / (instances x window); busy: a
                                     // worker forming, computing or completing a batch
  LatencyQuantiles queue, compute, total;
  double capacity_per_s = 0;         // requests/s the instances can serve at the current batch sizes
  int64_t recommended_replicas = 1;  // ceil(arrival / (capacity x target utilization)), >= 1
  int64_t rejected = 0;              // since start: queue full, timed out, shut down
  int64_t window_us = 0;             // what the rates cover
};

// Cumulative distributions since the tracker started, for Prometheus
// histograms: batch sizes (bucket i holds sizes in (2^(i-1), 2^i], bucket 0
// size 1), and per-request queue and compute times (bucket i holds times in
// (kDurationBoundsUs[i-1], kDurationBoundsUs[i]], the last one above the
// last bound). Counts are per bucket, not cumulative.
struct LoadHistograms {
  static constexpr int kBatchBuckets = 17;  // up to 65536 rows
  static constexpr int kDurationBuckets = 16;
  static constexpr int64_t kDurationBoundsUs[kDurationBuckets - 1] = {
      10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000};
  int64_t batch_size[kBatchBuckets] = {};
  int64_t queue[kDurationBuckets] = {};
  int64_t compute[kDurationBuckets] = {};
  int64_t batches = 0, requests = 0, rows = 0;
  int64_t queue_us_sum = 0, compute_us_sum = 0;  // per request
};

struct LoadTrackerOptions {
  int64_t window_us = 10'000'000;  // sliding window of the rates and quantiles
  int slices = 10;                 // the window moves in window_us / slices steps
  int instances = 1;
  int64_t max_batch_size = 1;
  double target_utilization = 0.7;
};

// Thread-safe; `clock` must outlive the tracker. Every method is O(buckets)
// at most; Report is what a metrics
// scrape calls.
class LoadTracker {
 public:
  LoadTracker(const Clock* clock, const LoadTrackerOptions& options);
  void OnArrival(int64_t requests = 1);
  // Refused at submission because the queue was full: counted as rejected,
  // and as demand in the arrival rate (what replicas must be sized for).
  void OnRefused(int64_t requests = 1);
  // Dropped after they were accepted (timed out in the queue, shut down).
  void OnRejected(int64_t requests = 1);
  // A worker's time on a batch outside its compute: forming it, splitting
  // the outputs, running the completion callbacks. Busy time, like compute.
  void OnWorkerBusy(int64_t us);
  // A batch of `requests` requests (`items` batch rows) ran for compute_us;
  // each request waited queue_us[i] before it.
  void OnBatchDone(int64_t items, const std::vector<int64_t>& queue_us, int64_t compute_us);
  LoadReport Report(int64_t queue_depth, int64_t in_flight) const;
  LoadHistograms Histograms() const;

 private:
  struct Slice {
    int64_t start_us = 0;
    int64_t arrivals = 0, completed = 0, batches = 0, items = 0;
    int64_t busy_us = 0, queue_us_sum = 0, compute_us_sum = 0;
    int64_t refused_before = 0;  // refused_ when the slice began
    QuantileSketch queue, compute, total;
  };
  Slice& Current(int64_t now) const;  // REQUIRES: mu_ held
  const Clock* clock_;
  LoadTrackerOptions options_;
  int64_t slice_us_;
  mutable std::mutex mu_;
  mutable std::vector<Slice> slices_;  // ring, guarded by mu_
  std::atomic<int64_t> rejected_{0};   // lock-free: refusals under overload must not contend
  std::atomic<int64_t> refused_{0};    // the refusals at submission among them
  LoadHistograms histograms_;          // guarded by mu_
  int64_t started_us_;
};

}  // namespace tensorpod::internal
