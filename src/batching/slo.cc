#include "batching/slo.h"

#include <algorithm>
#include <cmath>

namespace tensorpod::internal {

SloController::SloController(int64_t target_us, int64_t max_batch, int64_t max_delay_us)
    : target_us_(std::max<int64_t>(target_us, 1)),
      max_batch_(std::max<int64_t>(max_batch, 1)),
      max_delay_us_(std::max<int64_t>(max_delay_us, 0)),
      service_(static_cast<size_t>(max_batch_) + 1, 0.0) {}

void SloController::OnBatch(int64_t rows, int64_t service_us) {
  if (rows < 1 || rows > max_batch_ || service_us < 0) return;
  double& s = service_[rows];
  if (s == 0) measured_.insert(std::lower_bound(measured_.begin(), measured_.end(), rows), rows);
  s = s == 0 ? std::max(1.0, static_cast<double>(service_us)) : 0.8 * s + 0.2 * static_cast<double>(service_us);
}

void SloController::OnP99(double p99_us) {
  if (p99_us > target_us_) {
    delay_scale_ = std::max(0.05, delay_scale_ * 0.5);   // back off fast
  } else if (p99_us < 0.8 * target_us_) {
    delay_scale_ = std::min(1.0, delay_scale_ * 1.1);    // recover slowly
  }
}

double SloController::ServiceUs(int64_t rows) const {
  if (measured_.empty()) return 0;
  // Nearest measured sizes below and above (binary search: Limits calls
  // this for every size up to the cap).
  auto above = std::lower_bound(measured_.begin(), measured_.end(), rows);
  const int64_t hi = above == measured_.end() ? 0 : *above;
  const int64_t lo = above != measured_.end() && *above == rows ? rows
                     : above == measured_.begin()                ? 0
                                                                 : *std::prev(above);
  if (lo == rows) return service_[lo];
  if (lo > 0 && hi > 0) {
    const double t = static_cast<double>(rows - lo) / static_cast<double>(hi - lo);
    return service_[lo] + t * (service_[hi] - service_[lo]);
  }
  if (hi > 0) {
    // Below every measurement: scale down linearly.
    return service_[hi] * static_cast<double>(rows) / static_cast<double>(hi);
  }
  // Beyond every measurement: continue the line through the two largest
  // measured sizes; with one, assume the same time. Batches cost less than
  // linearly, so this errs towards trying the larger batch, whose measured
  // time then corrects the estimate.
  if (measured_.size() < 2) return service_[lo];
  const int64_t lo2 = measured_[measured_.size() - 2];
  const double slope = std::max(0.0, (service_[lo] - service_[lo2]) / static_cast<double>(lo - lo2));
  return service_[lo] + slope * static_cast<double>(rows - lo);
}

SloLimits SloController::Limits() const {
  SloLimits l;
  // Largest batch that runs within half the target; without measurements,
  // the configured cap.
  // When not even one row fits the target, it cannot hold: serve as much
  // as possible (the largest batch) so that at least the queue drains.
  l.max_batch = max_batch_;
  for (int64_t b = max_batch_; b >= 1; --b) {
    const double s = ServiceUs(b);
    if (s == 0 || s <= 0.5 * target_us_) {
      l.max_batch = b;
      break;
    }
  }
  // What is left of the target after a full batch's service and one more
  // (the batch a request may wait behind), scaled by the feedback.
  const double s = ServiceUs(l.max_batch);
  const double room = std::max(0.0, static_cast<double>(target_us_) - 2.0 * s);
  l.delay_us = static_cast<int64_t>(std::min<double>(static_cast<double>(max_delay_us_), room * delay_scale_));
  return l;
}

}  // namespace tensorpod::internal
