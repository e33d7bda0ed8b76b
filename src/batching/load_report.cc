#include "batching/load_report.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tensorpod::internal {
namespace {

// Values below kMinPositive (and NaN) count as zero; values above kMaxValue
// are clamped so that a bucket index always fits an int.
constexpr double kMinPositive = 1e-9;
constexpr double kMaxValue = 1e300;
// At alpha = 0.01, 2048 buckets span a ratio of about 6e17 between the
// smallest and the largest value, so collapsing is for pathological inputs;
// it keeps the highest buckets because the tail is what a report is for.
constexpr int kMaxBuckets = 2048;

// A slice that never held events; no real slice starts there.
constexpr int64_t kUnusedSlice = std::numeric_limits<int64_t>::min();

// The value a bucket stands for: bucket i holds (gamma^(i-1), gamma^i], and
// 2 gamma^i / (gamma + 1) is within alpha of both ends.
double BucketValue(int index, double gamma, double log_gamma) {
  return 2 * std::exp(index * log_gamma) / (gamma + 1);
}

// Adds n to `bucket` in the dense counts that start at bucket *offset,
// growing them to cover it. Past kMaxBuckets the lowest buckets fold into the
// lowest one kept (and so does `bucket` if it is below it).
void AddToBucket(int bucket, int64_t n, int* offset,
                 std::vector<int64_t>* counts) {
  if (counts->empty()) *offset = bucket;
  const int top = *offset + static_cast<int>(counts->size()) - 1;
  const int hi = std::max(top, bucket);
  const int lo = std::max(std::min(*offset, bucket), hi - kMaxBuckets + 1);
  if (lo == *offset) {
    if (hi > top) counts->resize(hi - lo + 1, 0);
  } else {
    std::vector<int64_t> moved(hi - lo + 1, 0);
    for (size_t k = 0; k < counts->size(); ++k) {
      moved[std::max(*offset + static_cast<int>(k), lo) - lo] += (*counts)[k];
    }
    counts->swap(moved);
    *offset = lo;
  }
  (*counts)[std::max(bucket, lo) - lo] += n;
}

}  // namespace

// alpha is clamped to [1e-4, 0.5]: gamma degenerates at 0 and 1, and far
// below 1e-4 the bucket index of kMaxValue would not fit an int. Note that
// kMaxBuckets spans a ratio of about exp(4096 alpha) before the lowest
// buckets fold: 6e17 at alpha 0.01, only 1.5 at 1e-4.
QuantileSketch::QuantileSketch(double alpha)
    : alpha_(std::clamp(alpha, 1e-4, 0.5)),
      gamma_((1 + alpha_) / (1 - alpha_)),
      log_gamma_(std::log(gamma_)) {}

int QuantileSketch::Bucket(double v) const {
  return static_cast<int>(std::ceil(std::log(v) / log_gamma_));
}

void QuantileSketch::Add(double value, int64_t n) {
  if (n <= 0) return;
  count_ += n;
  if (!(value >= kMinPositive)) {
    zeros_ += n;
    return;
  }
  AddToBucket(Bucket(std::min(value, kMaxValue)), n, &offset_, &counts_);
}

void QuantileSketch::Merge(const QuantileSketch& other) {
  count_ += other.count_;
  zeros_ += other.zeros_;
  const bool same_buckets = other.alpha_ == alpha_;
  for (size_t k = 0; k < other.counts_.size(); ++k) {
    if (other.counts_[k] == 0) continue;
    const int index = other.offset_ + static_cast<int>(k);
    // With another alpha, each of other's buckets moves whole to the bucket
    // of its value here: the errors of the two sketches add up.
    const int bucket =
        same_buckets
            ? index
            : Bucket(BucketValue(index, other.gamma_, other.log_gamma_));
    AddToBucket(bucket, other.counts_[k], &offset_, &counts_);
  }
}

void QuantileSketch::Clear() {
  counts_.clear();  // keeps the capacity: slices are cleared and refilled
  offset_ = 0;
  zeros_ = 0;
  count_ = 0;
}

double QuantileSketch::Quantile(double q) const {
  if (count_ == 0) return 0;
  // The value of rank floor(q * (count - 1)), counting from 0.
  const double rank = std::clamp(q, 0.0, 1.0) * static_cast<double>(count_ - 1);
  int64_t seen = zeros_;
  if (static_cast<double>(seen) > rank) return 0;
  for (size_t k = 0; k < counts_.size(); ++k) {
    seen += counts_[k];
    if (static_cast<double>(seen) > rank) {
      return BucketValue(offset_ + static_cast<int>(k), gamma_, log_gamma_);
    }
  }
  // Not reached: the counts sum to count_ > rank.
  return BucketValue(offset_ + static_cast<int>(counts_.size()) - 1, gamma_,
                     log_gamma_);
}

// Options that would divide by zero are raised to the smallest that do not.
LoadTracker::LoadTracker(const Clock* clock, const LoadTrackerOptions& options)
    : clock_(clock), options_(options) {
  options_.slices = std::max(options_.slices, 1);
  options_.window_us = std::max<int64_t>(options_.window_us, options_.slices);
  options_.instances = std::max(options_.instances, 1);
  slice_us_ = options_.window_us / options_.slices;
  slices_.resize(options_.slices);
  for (Slice& s : slices_) s.start_us = kUnusedSlice;
  started_us_ = clock_->NowMicros();
}

// Slices are aligned to multiples of slice_us_, and slice k of time lives in
// ring entry k mod slices: an entry that holds another start is from at least
// a window ago, so it is cleared and reused.
LoadTracker::Slice& LoadTracker::Current(int64_t now) const {
  const int64_t n = static_cast<int64_t>(slices_.size());
  const int64_t k = now / slice_us_ - (now % slice_us_ < 0 ? 1 : 0);
  Slice& s = slices_[((k % n) + n) % n];
  if (s.start_us != k * slice_us_) {
    s.start_us = k * slice_us_;
    s.arrivals = s.completed = s.batches = s.items = 0;
    s.busy_us = s.queue_us_sum = s.compute_us_sum = 0;
    s.refused_before = refused_.load(std::memory_order_relaxed);
    s.queue.Clear();
    s.compute.Clear();
    s.total.Clear();
  }
  return s;
}

void LoadTracker::OnArrival(int64_t requests) {
  std::lock_guard<std::mutex> lock(mu_);
  Current(clock_->NowMicros()).arrivals += requests;
}

void LoadTracker::OnRejected(int64_t requests) {
  rejected_.fetch_add(requests, std::memory_order_relaxed);
}

void LoadTracker::OnRefused(int64_t requests) {
  refused_.fetch_add(requests, std::memory_order_relaxed);
  rejected_.fetch_add(requests, std::memory_order_relaxed);
}

void LoadTracker::OnWorkerBusy(int64_t us) {
  if (us <= 0) return;
  std::lock_guard<std::mutex> lock(mu_);
  Current(clock_->NowMicros()).busy_us += us;
}

void LoadTracker::OnBatchDone(int64_t items,
                              const std::vector<int64_t>& queue_us,
                              int64_t compute_us) {
  std::lock_guard<std::mutex> lock(mu_);
  Slice& s = Current(clock_->NowMicros());
  const int64_t requests = static_cast<int64_t>(queue_us.size());
  s.completed += requests;
  s.batches += 1;
  s.items += items;
  s.busy_us += compute_us;
  s.compute_us_sum += compute_us * requests;
  s.compute.Add(compute_us / 1e3, requests);
  LoadHistograms& h = histograms_;
  auto duration_bucket = [](int64_t us) {
    int b = 0;
    while (b < LoadHistograms::kDurationBuckets - 1 && us > LoadHistograms::kDurationBoundsUs[b]) ++b;
    return b;
  };
  int size_bucket = 0;
  while (size_bucket < LoadHistograms::kBatchBuckets - 1 && (int64_t{1} << size_bucket) < items) ++size_bucket;
  ++h.batch_size[size_bucket];
  ++h.batches;
  h.requests += requests;
  h.rows += items;
  h.compute[duration_bucket(compute_us)] += requests;
  h.compute_us_sum += compute_us * requests;
  for (int64_t q : queue_us) {
    s.queue_us_sum += q;
    s.queue.Add(q / 1e3);
    s.total.Add((q + compute_us) / 1e3);
    ++h.queue[duration_bucket(q)];
    h.queue_us_sum += q;
  }
}

// The window is the current, partial slice and the slices-1 before it, so it
// covers between window_us - slice_us_ and window_us of time; rates divide by
// exactly that span (or the time since start, if shorter), so a steady rate
// reads the same whenever it is scraped.
LoadHistograms LoadTracker::Histograms() const {
  std::lock_guard<std::mutex> lock(mu_);
  return histograms_;
}

LoadReport LoadTracker::Report(int64_t queue_depth, int64_t in_flight) const {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now = clock_->NowMicros();
  const int64_t oldest = Current(now).start_us -
                         (static_cast<int64_t>(slices_.size()) - 1) * slice_us_;

  Slice sum;
  // Refusals are counted lock-free; those in the window are the count now
  // less the count when its oldest live slice began.
  const int64_t refused_now = refused_.load(std::memory_order_relaxed);
  int64_t refused_at_start = refused_now;
  for (const Slice& s : slices_) {
    if (s.start_us < oldest) continue;
    refused_at_start = std::min(refused_at_start, s.refused_before);
    sum.arrivals += s.arrivals;
    sum.completed += s.completed;
    sum.batches += s.batches;
    sum.items += s.items;
    sum.busy_us += s.busy_us;
    sum.queue_us_sum += s.queue_us_sum;
    sum.compute_us_sum += s.compute_us_sum;
    sum.queue.Merge(s.queue);
    sum.compute.Merge(s.compute);
    sum.total.Merge(s.total);
  }

  LoadReport r;
  r.queue_depth = queue_depth;
  r.in_flight = in_flight;
  r.rejected = rejected_.load(std::memory_order_relaxed);
  // At least 1 ms, so a report right after start divides by something.
  r.window_us = std::max<int64_t>(now - std::max(oldest, started_us_), 1000);
  const double seconds = r.window_us / 1e6;
  // Demand, not admissions: under overload the refused requests are exactly
  // what more replicas would serve.
  r.arrival_rate_per_s = (sum.arrivals + refused_now - refused_at_start) / seconds;
  r.completed_per_s = sum.completed / seconds;
  r.batches_per_s = sum.batches / seconds;
  if (sum.batches > 0) {
    r.mean_batch_size = static_cast<double>(sum.items) / sum.batches;
  }
  if (options_.max_batch_size > 0) {
    r.mean_batch_fill = r.mean_batch_size / options_.max_batch_size;
  }
  if (sum.compute_us_sum > 0) {
    r.queue_compute_ratio =
        static_cast<double>(sum.queue_us_sum) / sum.compute_us_sum;
  }
  r.instance_busy_fraction = std::clamp(
      sum.busy_us / (options_.instances * static_cast<double>(r.window_us)),
      0.0, 1.0);
  for (auto [sketch, out] :
       {std::pair{&sum.queue, &r.queue}, std::pair{&sum.compute, &r.compute},
        std::pair{&sum.total, &r.total}}) {
    out->p50_ms = sketch->Quantile(0.50);
    out->p95_ms = sketch->Quantile(0.95);
    out->p99_ms = sketch->Quantile(0.99);
  }
  // Capacity counts requests, like the arrival rate it is compared with:
  // each instance serves (requests per batch) / (seconds per batch), which is
  // completed requests per busy second. A request may be several batch rows,
  // so this is not mean_batch_size (rows) per batch time.
  if (sum.busy_us > 0) {
    r.capacity_per_s = options_.instances * sum.completed / (sum.busy_us / 1e6);
  }
  if (r.capacity_per_s > 0 && options_.target_utilization > 0) {
    const double needed =
        r.arrival_rate_per_s / (r.capacity_per_s * options_.target_utilization);
    // The tolerance keeps an exact fit (5.0000000001 from rounding) at 5.
    r.recommended_replicas =
        std::max<int64_t>(1, static_cast<int64_t>(std::ceil(needed - 1e-9)));
  }
  return r;
}

}  // namespace tensorpod::internal
