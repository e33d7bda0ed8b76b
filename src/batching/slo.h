// SloController: SLO mode of the batcher. Given a p99 latency target, it
// picks the batch cap and the queue delay online: the cap is the largest
// batch whose measured service time fits half the target (so a request
// that just missed a batch still makes it in the next one), and the delay
// is what is left of the target after waiting for and running such a batch,
// (when no batch fits, the target cannot hold and the cap opens fully for
// throughput),
// scaled down whenever the measured p99 overshoots the target and back up
// while it stays well below it. Deterministic: it sees only what it is fed.
//
// Example:
//   SloController slo(/*target_us=*/5000, /*max_batch=*/32, /*max_delay_us=*/2000);
//   slo.OnBatch(/*rows=*/8, /*service_us=*/900);
//   slo.OnP99(/*p99_us=*/4100);
//   SloLimits l = slo.Limits();   // {max_batch, delay_us}
#pragma once

#include <cstdint>
#include <vector>

namespace tensorpod::internal {

struct SloLimits {
  int64_t max_batch = 1;
  int64_t delay_us = 0;
};

class SloController {
 public:
  // `max_batch` and `max_delay_us` are the configured ceilings.
  SloController(int64_t target_us, int64_t max_batch, int64_t max_delay_us);
  // A batch of `rows` rows took `service_us` to compute.
  void OnBatch(int64_t rows, int64_t service_us);
  // The p99 total latency measured recently.
  void OnP99(double p99_us);
  SloLimits Limits() const;
  // Estimated service time of a batch of `rows`: measured sizes, linear
  // between them, scaled down below them, the line through the two largest
  // beyond them (constant with one); 0 when nothing was measured.
  double ServiceUs(int64_t rows) const;

 private:
  int64_t target_us_, max_batch_, max_delay_us_;
  std::vector<double> service_;    // EWMA per batch size, 0: not measured
  std::vector<int64_t> measured_;  // sizes with a measurement, ascending
  double delay_scale_ = 1.0;     // in (0, 1]: cut on overshoot, regrown slowly
};

}  // namespace tensorpod::internal
