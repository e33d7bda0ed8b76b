#include "batching/load_report.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <random>
#include <thread>
#include <vector>

#include "batching/clock.h"

namespace tensorpod::internal {
namespace {

constexpr double kQuantiles[] = {0,   0.01, 0.1,  0.25,  0.5, 0.75,
                                 0.9, 0.95, 0.99, 0.999, 1};

// The sketch answers for the value of rank floor(q * (n - 1)) within alpha;
// the tiny slack is for values that sit on a bucket edge.
void ExpectQuantilesWithin(const QuantileSketch& sketch,
                           std::vector<double> values, double alpha) {
  std::sort(values.begin(), values.end());
  ASSERT_EQ(sketch.count(), static_cast<int64_t>(values.size()));
  for (double q : kQuantiles) {
    const double want = values[static_cast<size_t>(q * (values.size() - 1))];
    const double got = sketch.Quantile(q);
    if (want < 1e-9) {
      EXPECT_EQ(got, 0) << "q=" << q;
    } else {
      EXPECT_LE(std::abs(got - want), alpha * want * (1 + 1e-9))
          << "q=" << q << " want " << want << " got " << got;
    }
  }
}

TEST(QuantileSketchTest, EmptyIsZero) {
  QuantileSketch s;
  EXPECT_EQ(s.count(), 0);
  for (double q : kQuantiles) EXPECT_EQ(s.Quantile(q), 0);
}

TEST(QuantileSketchTest, UniformWithinAlpha) {
  for (double alpha : {0.01, 0.05}) {
    QuantileSketch s(alpha);
    std::vector<double> values;
    for (int v = 1; v <= 10000; ++v) values.push_back(v);
    std::shuffle(values.begin(), values.end(), std::mt19937(7));
    for (double v : values) s.Add(v);
    ExpectQuantilesWithin(s, values, alpha);
  }
}

TEST(QuantileSketchTest, ExponentialWithinAlpha) {
  QuantileSketch s(0.01);
  std::mt19937_64 rng(42);
  std::exponential_distribution<double> dist(1 / 50.0);
  std::vector<double> values;
  for (int i = 0; i < 100000; ++i) values.push_back(dist(rng));
  for (double v : values) s.Add(v);
  ExpectQuantilesWithin(s, values, 0.01);
}

TEST(QuantileSketchTest, ConstantWithinAlpha) {
  QuantileSketch s(0.01);
  for (int i = 0; i < 1000; ++i) s.Add(42.5);
  for (double q : kQuantiles) EXPECT_NEAR(s.Quantile(q), 42.5, 0.425) << q;
}

TEST(QuantileSketchTest, MergeEqualsAddingAll) {
  QuantileSketch odd, even, all;
  std::mt19937_64 rng(3);
  std::lognormal_distribution<double> dist(1, 2);
  for (int i = 0; i < 20000; ++i) {
    const double v = i % 100 == 0 ? 0 : dist(rng);
    (i % 2 ? odd : even).Add(v);
    all.Add(v);
  }
  odd.Merge(even);
  EXPECT_EQ(odd.count(), all.count());
  for (double q : kQuantiles) EXPECT_EQ(odd.Quantile(q), all.Quantile(q)) << q;
}

TEST(QuantileSketchTest, MergeIntoEmptyAndOfEmpty) {
  QuantileSketch empty, s;
  for (int v = 1; v <= 100; ++v) s.Add(v);
  QuantileSketch copy;
  copy.Merge(s);
  copy.Merge(empty);
  EXPECT_EQ(copy.count(), 100);
  for (double q : kQuantiles) EXPECT_EQ(copy.Quantile(q), s.Quantile(q)) << q;
}

TEST(QuantileSketchTest, MergeAcrossAlphasAddsTheErrors) {
  QuantileSketch fine(0.01), coarse(0.05);
  std::vector<double> values;
  for (int v = 1; v <= 1000; ++v) {
    values.push_back(v);
    (v % 2 ? fine : coarse).Add(v);
  }
  fine.Merge(coarse);
  ExpectQuantilesWithin(fine, values, 1.01 * 1.05 - 1);
}

TEST(QuantileSketchTest, ZerosNegativesAndTinyValuesCountAsZero) {
  QuantileSketch s;
  for (double v : {0.0, -5.0, 1e-12, std::nan("")}) s.Add(v);
  for (int v = 1; v <= 6; ++v) s.Add(v);
  EXPECT_EQ(s.count(), 10);
  EXPECT_EQ(s.Quantile(0), 0);
  EXPECT_EQ(s.Quantile(0.4), 0);           // rank 3.6: the fourth zero
  EXPECT_NEAR(s.Quantile(0.45), 1, 0.01);  // rank 4.05: the first value
  EXPECT_NEAR(s.Quantile(1), 6, 0.06);
}

TEST(QuantileSketchTest, InfinityIsClampedToAFiniteBucket) {
  QuantileSketch s;
  s.Add(1);
  s.Add(INFINITY);
  EXPECT_TRUE(std::isfinite(s.Quantile(1)));
  EXPECT_GT(s.Quantile(1), 1e299);
}

TEST(QuantileSketchTest, HugeRangeKeepsTheTopBucketsAccurate) {
  // 1e-6 .. 5e97 at alpha 0.01 needs ~12000 buckets; the sketch keeps 2048,
  // the highest, and folds everything below into the lowest of them.
  const double alpha = 0.01;
  const double gamma = (1 + alpha) / (1 - alpha);
  QuantileSketch s(alpha);
  std::vector<double> values;
  for (int k = 0; k < 24000; ++k) values.push_back(1e-6 * std::pow(1.01, k));
  std::shuffle(values.begin(), values.end(), std::mt19937(1));
  for (double v : values) s.Add(v);
  std::sort(values.begin(), values.end());
  const double max = values.back();
  const double lowest_kept = max / std::pow(gamma, 2047);
  // Everything below the kept buckets reads as the lowest of them.
  EXPECT_GE(s.Quantile(0), lowest_kept / gamma);
  EXPECT_LE(s.Quantile(0), lowest_kept * gamma);
  for (double q : {0.9, 0.99, 1.0}) {
    const double want = values[static_cast<size_t>(q * (values.size() - 1))];
    ASSERT_GT(want, lowest_kept * gamma);
    EXPECT_LE(std::abs(s.Quantile(q) - want), alpha * want * (1 + 1e-9)) << q;
  }
  s.Clear();
  EXPECT_EQ(s.count(), 0);
  EXPECT_EQ(s.Quantile(0.5), 0);
  s.Add(3);
  EXPECT_NEAR(s.Quantile(0.5), 3, 0.03);
}

LoadTrackerOptions Options(int instances = 1, int64_t max_batch_size = 1,
                           double target_utilization = 0.7) {
  LoadTrackerOptions o;
  o.window_us = 10'000'000;
  o.slices = 10;
  o.instances = instances;
  o.max_batch_size = max_batch_size;
  o.target_utilization = target_utilization;
  return o;
}

TEST(LoadTrackerTest, SteadyRateReadsTheSameWheneverScraped) {
  FakeClock clock(1'234'567);  // not on a slice boundary
  LoadTracker t(&clock, Options());
  for (int ms = 1; ms <= 25'000; ++ms) {
    t.OnArrival();
    clock.Advance(1000);
    if (ms % 777 == 0) {
      const LoadReport r = t.Report(0, 0);
      // Exact while the window is the time since start; after that, off by
      // at most the one arrival the window edge cuts (of 9000 or more).
      EXPECT_NEAR(r.arrival_rate_per_s, 1000, 0.12) << "at " << ms << " ms";
      EXPECT_LE(r.window_us, 10'000'000);
      EXPECT_GE(r.window_us, std::min<int64_t>(ms * 1000, 9'000'000));
    }
  }
}

TEST(LoadTrackerTest, RatesCoverTheTimeSinceStartAtFirst) {
  FakeClock clock(0);
  LoadTracker t(&clock, Options());
  t.OnArrival(500);
  EXPECT_EQ(t.Report(0, 0).window_us, 1000);  // the 1 ms floor
  clock.Advance(5'000'000);
  const LoadReport r = t.Report(0, 0);
  EXPECT_EQ(r.window_us, 5'000'000);
  EXPECT_DOUBLE_EQ(r.arrival_rate_per_s, 100);
}

TEST(LoadTrackerTest, OldSlicesFallOutOfTheWindow) {
  FakeClock clock(0);
  LoadTracker t(&clock, Options());
  t.OnArrival(500);
  t.OnBatchDone(2, {1000, 1000}, 5000);
  clock.Advance(9'999'999);  // still in the slice 9 slices back
  EXPECT_GT(t.Report(0, 0).arrival_rate_per_s, 0);

  clock.Advance(1);  // the slice of t=0 is 10 slices back: out
  LoadReport r = t.Report(0, 0);
  EXPECT_EQ(r.arrival_rate_per_s, 0);
  EXPECT_EQ(r.completed_per_s, 0);
  EXPECT_EQ(r.batches_per_s, 0);
  EXPECT_EQ(r.mean_batch_size, 0);
  EXPECT_EQ(r.queue.p99_ms, 0);
  EXPECT_EQ(r.total.p50_ms, 0);
  EXPECT_EQ(r.capacity_per_s, 0);
  EXPECT_EQ(r.window_us, 9'000'000);

  // The ring entry of t=0 is reused for t=10s and holds only what is new.
  t.OnArrival(9);
  r = t.Report(0, 0);
  EXPECT_NEAR(r.arrival_rate_per_s, 1, 1e-12);
}

TEST(LoadTrackerTest, BatchStatistics) {
  FakeClock clock(0);
  LoadTracker t(&clock, Options(/*instances=*/2, /*max_batch_size=*/8));
  for (int i = 0; i < 10; ++i) {
    t.OnArrival(4);
    t.OnBatchDone(4, {1000, 2000, 3000, 4000}, 10'000);
  }
  clock.Advance(1'000'000);
  const LoadReport r = t.Report(/*queue_depth=*/3, /*in_flight=*/1);
  EXPECT_EQ(r.queue_depth, 3);
  EXPECT_EQ(r.in_flight, 1);
  EXPECT_EQ(r.window_us, 1'000'000);
  EXPECT_DOUBLE_EQ(r.arrival_rate_per_s, 40);
  EXPECT_DOUBLE_EQ(r.completed_per_s, 40);
  EXPECT_DOUBLE_EQ(r.batches_per_s, 10);
  EXPECT_DOUBLE_EQ(r.mean_batch_size, 4);
  EXPECT_DOUBLE_EQ(r.mean_batch_fill, 0.5);
  EXPECT_DOUBLE_EQ(r.queue_compute_ratio, 0.25);     // 2.5 ms / 10 ms
  EXPECT_DOUBLE_EQ(r.instance_busy_fraction, 0.05);  // 100 ms / (2 x 1 s)
  EXPECT_DOUBLE_EQ(r.capacity_per_s, 800);           // 2 x 4 requests / 10 ms
  // 40 queue times, ten each of 1..4 ms: rank 19 is 2 ms, rank 38 is 4 ms.
  EXPECT_NEAR(r.queue.p50_ms, 2, 0.02);
  EXPECT_NEAR(r.queue.p95_ms, 4, 0.04);
  EXPECT_NEAR(r.queue.p99_ms, 4, 0.04);
  EXPECT_NEAR(r.compute.p50_ms, 10, 0.1);
  EXPECT_NEAR(r.compute.p99_ms, 10, 0.1);
  EXPECT_NEAR(r.total.p50_ms, 12, 0.12);
  EXPECT_NEAR(r.total.p99_ms, 14, 0.14);
}

TEST(LoadTrackerTest, CapacityCountsRequestsNotRows) {
  FakeClock clock(0);
  LoadTracker t(&clock, Options(/*instances=*/1, /*max_batch_size=*/8));
  t.OnBatchDone(/*items=*/6, {0, 0}, 100'000);  // 2 requests of 3 rows
  clock.Advance(1'000'000);
  const LoadReport r = t.Report(0, 0);
  EXPECT_DOUBLE_EQ(r.mean_batch_size, 6);
  EXPECT_DOUBLE_EQ(r.mean_batch_fill, 0.75);
  EXPECT_DOUBLE_EQ(r.capacity_per_s, 20);  // 2 requests / 100 ms
  EXPECT_EQ(r.queue_compute_ratio, 0);
}

TEST(LoadTrackerTest, RecommendedReplicas) {
  FakeClock clock(0);
  LoadTracker t(&clock, Options(/*instances=*/1, /*max_batch_size=*/4,
                                /*target_utilization=*/0.5));
  t.OnArrival(1000);
  clock.Advance(1'000'000);
  LoadReport r = t.Report(0, 0);
  EXPECT_EQ(r.capacity_per_s, 0);  // no batch yet: nothing to go by
  EXPECT_EQ(r.recommended_replicas, 1);

  t.OnBatchDone(4, {0, 0, 0, 0}, 10'000);  // 4 requests per 10 ms: 400/s
  r = t.Report(0, 0);
  EXPECT_DOUBLE_EQ(r.arrival_rate_per_s, 1000);
  EXPECT_DOUBLE_EQ(r.capacity_per_s, 400);
  EXPECT_EQ(r.recommended_replicas, 5);  // 1000 / (400 x 0.5), exactly

  t.OnArrival(1);
  EXPECT_EQ(t.Report(0, 0).recommended_replicas, 6);
}

TEST(LoadTrackerTest, LightLoadRecommendsOneReplica) {
  FakeClock clock(0);
  LoadTracker t(&clock, Options(/*instances=*/1, /*max_batch_size=*/4, 0.5));
  t.OnArrival(10);
  t.OnBatchDone(4, {0, 0, 0, 0}, 10'000);
  clock.Advance(1'000'000);
  EXPECT_EQ(t.Report(0, 0).recommended_replicas, 1);
}

TEST(LoadTrackerTest, BusyFractionIsClamped) {
  FakeClock clock(0);
  LoadTracker t(&clock, Options());
  t.OnBatchDone(1, {0}, 5'000'000);  // finished in the first second
  clock.Advance(1'000'000);
  EXPECT_EQ(t.Report(0, 0).instance_busy_fraction, 1);
}

TEST(LoadTrackerTest, RejectedCountsSinceStart) {
  FakeClock clock(0);
  LoadTracker t(&clock, Options());
  t.OnRejected(3);
  clock.Advance(60'000'000);  // far past the window
  t.OnRejected();
  const LoadReport r = t.Report(0, 0);
  EXPECT_EQ(r.rejected, 4);
  EXPECT_EQ(r.arrival_rate_per_s, 0);
}

TEST(LoadTrackerTest, RefusedRequestsAreDemandWhileInTheWindow) {
  FakeClock clock(0);
  LoadTracker t(&clock, Options(/*instances=*/1, /*max_batch_size=*/4, 0.5));
  t.OnArrival(400);
  t.OnBatchDone(4, {0, 0, 0, 0}, 10'000);  // capacity 400/s
  t.OnRefused(600);                        // a full queue turned these away
  t.OnRejected(50);                        // timed out after admission: not new demand
  clock.Advance(1'000'000);
  LoadReport r = t.Report(0, 0);
  EXPECT_EQ(r.rejected, 650);
  EXPECT_DOUBLE_EQ(r.arrival_rate_per_s, 1000);  // 400 admitted + 600 refused
  EXPECT_EQ(r.recommended_replicas, 5);          // 1000 / (400 x 0.5)

  clock.Advance(20'000'000);  // both fall out of the 10 s window
  t.OnArrival(10);
  r = t.Report(0, 0);
  EXPECT_EQ(r.rejected, 650);
  EXPECT_NEAR(r.arrival_rate_per_s, 10 / 9.0, 0.2);
}

TEST(LoadTrackerTest, WorkerTimeOutsideComputeIsBusyTime) {
  FakeClock clock(0);
  LoadTracker t(&clock, Options(/*instances=*/1, /*max_batch_size=*/4));
  t.OnBatchDone(4, {0, 0, 0, 0}, 10'000);
  t.OnWorkerBusy(30'000);  // callbacks and output splitting took 3x the compute
  t.OnWorkerBusy(-5);      // a clock step backwards counts nothing
  clock.Advance(1'000'000);
  const LoadReport r = t.Report(0, 0);
  EXPECT_DOUBLE_EQ(r.instance_busy_fraction, 0.04);  // 40 ms of 1 s
  EXPECT_DOUBLE_EQ(r.capacity_per_s, 100);           // 4 requests per 40 ms
  EXPECT_NEAR(r.compute.p50_ms, 10, 0.1);            // compute stays compute (sketch: 1%)
}

TEST(LoadTrackerTest, ConcurrentEventsAndReports) {
  FakeClock clock(0);
  LoadTrackerOptions o = Options(/*instances=*/2, /*max_batch_size=*/4);
  o.window_us = 1'000'000'000;  // everything stays in the window
  LoadTracker t(&clock, o);
  constexpr int kPerThread = 5000;
  std::atomic<int> writers_left{2};
  std::vector<std::thread> threads;
  for (int w = 0; w < 2; ++w) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        t.OnArrival(2);
        t.OnBatchDone(2, {100 + i % 50, 200}, 1000);
        if (i % 10 == 0) t.OnRejected();
      }
      writers_left.fetch_sub(1);
    });
  }
  threads.emplace_back([&] {
    while (writers_left.load() > 0) {
      clock.Advance(10);
      const LoadReport r = t.Report(0, 0);
      EXPECT_TRUE(std::isfinite(r.arrival_rate_per_s));
      EXPECT_LE(r.rejected, 2 * kPerThread / 10);
    }
  });
  for (std::thread& th : threads) th.join();
  clock.Advance(1000);
  const LoadReport r = t.Report(0, 0);
  const double seconds = r.window_us / 1e6;
  EXPECT_NEAR(r.arrival_rate_per_s * seconds, 2 * 2 * kPerThread, 1e-6);
  EXPECT_NEAR(r.completed_per_s * seconds, 2 * 2 * kPerThread, 1e-6);
  EXPECT_NEAR(r.batches_per_s * seconds, 2 * kPerThread, 1e-6);
  EXPECT_DOUBLE_EQ(r.mean_batch_size, 2);
  EXPECT_EQ(r.rejected, 2 * kPerThread / 10);
  EXPECT_NEAR(r.compute.p50_ms, 1, 0.01);
}

}  // namespace
}  // namespace tensorpod::internal

namespace tensorpod::internal {
namespace {

// The cumulative histograms behind the server's Prometheus histograms: every
// batch and request lands in its bucket, and nothing leaves with the window.
TEST(LoadTrackerTest, HistogramsAccumulateForever) {
  FakeClock clock(0);
  LoadTrackerOptions o;
  o.max_batch_size = 64;
  LoadTracker t(&clock, o);
  t.OnBatchDone(1, {5}, 8);                 // 1 row; queue 5 us, compute 8 us
  t.OnBatchDone(3, {30, 600}, 40);          // 3 rows: bucket (2, 4]
  t.OnBatchDone(64, {2'000'000}, 200'000);  // bucket (32, 64]; queue above the last bound
  clock.Advance(60'000'000);                // long after the report window
  const LoadHistograms h = t.Histograms();
  EXPECT_EQ(h.batches, 3);
  EXPECT_EQ(h.requests, 4);
  EXPECT_EQ(h.rows, 68);
  EXPECT_EQ(h.batch_size[0], 1);
  EXPECT_EQ(h.batch_size[2], 1);
  EXPECT_EQ(h.batch_size[6], 1);
  EXPECT_EQ(h.queue[0], 1);                                 // 5 <= 10
  EXPECT_EQ(h.queue[2], 1);                                 // 30 in (25, 50]
  EXPECT_EQ(h.queue[6], 1);                                 // 600 in (500, 1000]
  EXPECT_EQ(h.queue[LoadHistograms::kDurationBuckets - 1], 1);  // 2 s: above 1 s
  EXPECT_EQ(h.compute[0], 1);                               // 8 us, one request
  EXPECT_EQ(h.compute[2], 2);                               // 40 us, two requests
  EXPECT_EQ(h.compute[13], 1);                              // 200 ms in (100, 250] ms
  EXPECT_EQ(h.queue_us_sum, 5 + 30 + 600 + 2'000'000);
  EXPECT_EQ(h.compute_us_sum, 8 + 2 * 40 + 200'000);
  EXPECT_EQ(t.Report(0, 0).batches_per_s, 0);  // the window forgot them
}

}  // namespace
}  // namespace tensorpod::internal
