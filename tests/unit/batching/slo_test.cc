// SloController: the SLO mode's choices from fed measurements.
#include "batching/slo.h"

#include <gtest/gtest.h>

namespace tensorpod::internal {
namespace {

TEST(SloTest, WithoutMeasurementsUsesTheCeilings) {
  SloController slo(10'000, 32, 2000);
  EXPECT_EQ(slo.Limits().max_batch, 32);
  EXPECT_EQ(slo.Limits().delay_us, 2000);
  EXPECT_EQ(slo.ServiceUs(8), 0);
}

TEST(SloTest, CapsTheBatchAtHalfTheTarget) {
  // Service time 100 + 50 us per row; target 2 ms: 1 ms fits 18 rows.
  SloController slo(2000, 32, 5000);
  for (int64_t b : {1, 4, 16, 32}) slo.OnBatch(b, 100 + 50 * b);
  EXPECT_DOUBLE_EQ(slo.ServiceUs(16), 900);
  EXPECT_DOUBLE_EQ(slo.ServiceUs(24), 1300);  // between 16 and 32
  const SloLimits l = slo.Limits();
  EXPECT_EQ(l.max_batch, 18);
  // 2000 - 2 x 1000 = 0 us of delay left.
  EXPECT_EQ(l.delay_us, 0);
}

TEST(SloTest, DelayIsWhatTheTargetLeaves) {
  SloController slo(10'000, 8, 50'000);
  for (int64_t b = 1; b <= 8; ++b) slo.OnBatch(b, 500);
  const SloLimits l = slo.Limits();
  EXPECT_EQ(l.max_batch, 8);
  EXPECT_EQ(l.delay_us, 9000);  // 10000 - 2 x 500
  SloController capped(10'000, 8, 1000);
  for (int64_t b = 1; b <= 8; ++b) capped.OnBatch(b, 500);
  EXPECT_EQ(capped.Limits().delay_us, 1000);  // never above the configured delay
}

TEST(SloTest, OvershootCutsTheDelayAndRecoveryRegrowsIt) {
  SloController slo(10'000, 8, 50'000);
  for (int64_t b = 1; b <= 8; ++b) slo.OnBatch(b, 500);
  slo.OnP99(12'000);
  EXPECT_EQ(slo.Limits().delay_us, 4500);
  slo.OnP99(12'000);
  EXPECT_EQ(slo.Limits().delay_us, 2250);
  slo.OnP99(9'000);  // within the target but not well below: holds
  EXPECT_EQ(slo.Limits().delay_us, 2250);
  for (int i = 0; i < 50; ++i) slo.OnP99(3'000);
  EXPECT_EQ(slo.Limits().delay_us, 9000);
}

TEST(SloTest, ServiceTimesAreSmoothed) {
  SloController slo(10'000, 4, 1000);
  slo.OnBatch(4, 1000);
  slo.OnBatch(4, 2000);
  EXPECT_DOUBLE_EQ(slo.ServiceUs(4), 1200);
  EXPECT_DOUBLE_EQ(slo.ServiceUs(2), 600);  // scaled from the nearest size
  slo.OnBatch(9, 100);                      // beyond the cap: ignored
  slo.OnBatch(0, 100);
  EXPECT_DOUBLE_EQ(slo.ServiceUs(4), 1200);
}

TEST(SloTest, ExploresLargerBatchesFromOneMeasurement) {
  // Only batch 1 measured (400 us): a larger batch is assumed no slower, so
  // the cap stays open and the next batches measure the truth.
  SloController slo(2000, 32, 1000);
  slo.OnBatch(1, 400);
  EXPECT_EQ(slo.Limits().max_batch, 32);
  slo.OnBatch(32, 3000);  // too slow: the line through 1 and 32 caps it
  const SloLimits l = slo.Limits();
  EXPECT_LT(l.max_batch, 32);
  EXPECT_LE(slo.ServiceUs(l.max_batch), 1000);
  EXPECT_GT(slo.ServiceUs(l.max_batch + 1), 1000);
}

TEST(SloTest, AnUnreachableTargetServesForThroughput) {
  SloController slo(1000, 16, 1000);
  slo.OnBatch(1, 800);  // even one row takes more than half the target
  EXPECT_EQ(slo.Limits().max_batch, 16);
  EXPECT_EQ(slo.Limits().delay_us, 0);
}

}  // namespace
}  // namespace tensorpod::internal
