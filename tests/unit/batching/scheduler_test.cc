// BatchScheduler: every batching rule, with time given by hand.
#include "batching/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace tensorpod::internal {
namespace {

using Ids = std::vector<uint64_t>;
const std::vector<int64_t> kKeyA = {1, 2, 4};  // dtype, rank, non-batch dims
const std::vector<int64_t> kKeyB = {1, 2, 8};

QueuedRequest Req(uint64_t id, int64_t arrival_us, int64_t rows = 1, int priority = 0,
                  const std::vector<int64_t>& key = kKeyA, int64_t timeout_us = 0) {
  QueuedRequest r;
  r.id = id;
  r.arrival_us = arrival_us;
  r.rows = rows;
  r.priority = priority;
  r.key = key;
  r.timeout_us = timeout_us;
  return r;
}

BatchPolicy Policy(int64_t max_batch, int64_t delay_us = 0) {
  BatchPolicy p;
  p.max_batch_size = max_batch;
  p.max_queue_delay_us = delay_us;
  return p;
}

TEST(SchedulerTest, NoDelayDispatchesWhatIsThere) {
  BatchScheduler s(Policy(8));
  EXPECT_TRUE(s.NextBatch(0).empty());
  ASSERT_TRUE(s.Enqueue(Req(1, 0)).ok());
  ASSERT_TRUE(s.Enqueue(Req(2, 0)).ok());
  EXPECT_EQ(s.NextBatch(0), (Ids{1, 2}));
  EXPECT_EQ(s.size(), 0);
}

TEST(SchedulerTest, DelayWaitsForTheOldestRequest) {
  BatchScheduler s(Policy(4, 100));
  ASSERT_TRUE(s.Enqueue(Req(1, 0)).ok());
  ASSERT_TRUE(s.Enqueue(Req(2, 30)).ok());
  EXPECT_TRUE(s.NextBatch(50).empty());
  EXPECT_EQ(s.NextEventUs(50), 100);  // the oldest's delay expires
  EXPECT_TRUE(s.NextBatch(99).empty());
  EXPECT_EQ(s.NextBatch(100), (Ids{1, 2}));
}

TEST(SchedulerTest, AFullBatchDoesNotWait) {
  BatchScheduler s(Policy(3, 1'000'000));
  for (uint64_t i = 1; i <= 4; ++i) ASSERT_TRUE(s.Enqueue(Req(i, 0)).ok());
  EXPECT_EQ(s.NextBatch(1), (Ids{1, 2, 3}));
  EXPECT_TRUE(s.NextBatch(2).empty());  // request 4 waits for its delay
  EXPECT_EQ(s.NextBatch(1'000'000), (Ids{4}));
}

TEST(SchedulerTest, ABatchThatCannotGrowGoesAtOnce) {
  // 3 rows queued, then a 2-row request that does not fit max 4.
  BatchScheduler s(Policy(4, 1'000'000));
  ASSERT_TRUE(s.Enqueue(Req(1, 0, 3)).ok());
  EXPECT_TRUE(s.NextBatch(1).empty());
  ASSERT_TRUE(s.Enqueue(Req(2, 1, 2)).ok());
  EXPECT_EQ(s.NextBatch(2), (Ids{1}));
  EXPECT_EQ(s.size(), 1);
}

TEST(SchedulerTest, RequestsAreNeverSplitOrOversized) {
  BatchScheduler s(Policy(4));
  EXPECT_EQ(s.Enqueue(Req(1, 0, 5)).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.Enqueue(Req(2, 0, 0)).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(s.Enqueue(Req(3, 0, 3)).ok());
  ASSERT_TRUE(s.Enqueue(Req(4, 0, 3)).ok());
  EXPECT_EQ(s.NextBatch(0), (Ids{3}));
  EXPECT_EQ(s.NextBatch(0), (Ids{4}));
}

TEST(SchedulerTest, PreferredSizesGoAtOnce) {
  BatchPolicy p = Policy(8, 1'000'000);
  p.preferred_batch_sizes = {4, 2};
  BatchScheduler s(p);
  ASSERT_TRUE(s.Enqueue(Req(1, 0)).ok());
  EXPECT_TRUE(s.NextBatch(1).empty());
  ASSERT_TRUE(s.Enqueue(Req(2, 0)).ok());
  ASSERT_TRUE(s.Enqueue(Req(3, 0)).ok());
  // 3 queued: the largest preferred size that can be made is 2.
  EXPECT_EQ(s.NextBatch(1), (Ids{1, 2}));
  for (uint64_t i = 4; i <= 7; ++i) ASSERT_TRUE(s.Enqueue(Req(i, 2)).ok());
  EXPECT_EQ(s.NextBatch(3), (Ids{3, 4, 5, 6}));  // 4 rows: preferred
  EXPECT_TRUE(s.NextBatch(4).empty());          // 1 left, waits
  EXPECT_EQ(s.NextBatch(1'000'002), (Ids{7}));
}

TEST(SchedulerTest, HigherPriorityFirst) {
  BatchPolicy p = Policy(2);
  p.priority_levels = 3;
  BatchScheduler s(p);
  ASSERT_TRUE(s.Enqueue(Req(1, 0, 1, 3)).ok());
  ASSERT_TRUE(s.Enqueue(Req(2, 1, 1, 2)).ok());
  ASSERT_TRUE(s.Enqueue(Req(3, 2, 1, 1)).ok());
  ASSERT_TRUE(s.Enqueue(Req(4, 3, 1, 0)).ok());  // default: the middle level, 2
  EXPECT_EQ(s.NextBatch(5), (Ids{3, 2}));
  EXPECT_EQ(s.NextBatch(5), (Ids{4, 1}));
  EXPECT_EQ(s.Enqueue(Req(5, 6, 1, 4)).code(), StatusCode::kInvalidArgument);
}

TEST(SchedulerTest, OnlyEqualShapesBatchTogether) {
  BatchScheduler s(Policy(8));
  ASSERT_TRUE(s.Enqueue(Req(1, 0, 1, 0, kKeyA)).ok());
  ASSERT_TRUE(s.Enqueue(Req(2, 1, 1, 0, kKeyB)).ok());
  ASSERT_TRUE(s.Enqueue(Req(3, 2, 1, 0, kKeyA)).ok());
  ASSERT_TRUE(s.Enqueue(Req(4, 3, 1, 0, kKeyB)).ok());
  EXPECT_EQ(s.NextBatch(4), (Ids{1, 3}));
  EXPECT_EQ(s.NextBatch(4), (Ids{2, 4}));
}

TEST(SchedulerTest, QueueFullRefusesAtOnce) {
  BatchPolicy p = Policy(8, 1000);
  p.max_queue_size = 2;
  BatchScheduler s(p);
  ASSERT_TRUE(s.Enqueue(Req(1, 0)).ok());
  ASSERT_TRUE(s.Enqueue(Req(2, 0)).ok());
  EXPECT_EQ(s.Enqueue(Req(3, 0)).code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(s.NextBatch(1000), (Ids{1, 2}));
  EXPECT_TRUE(s.Enqueue(Req(3, 1000)).ok());
}

TEST(SchedulerTest, TimeoutsReject) {
  BatchPolicy p = Policy(8, 10'000);
  p.default_timeout_us = 500;
  BatchScheduler s(p);
  ASSERT_TRUE(s.Enqueue(Req(1, 0)).ok());                        // default 500
  ASSERT_TRUE(s.Enqueue(Req(2, 0, 1, 0, kKeyA, 200)).ok());      // lowers it
  ASSERT_TRUE(s.Enqueue(Req(3, 0, 1, 0, kKeyA, 90'000)).ok());   // may not raise it: 500
  EXPECT_EQ(s.NextEventUs(0), 200);
  EXPECT_TRUE(s.ExpireTimeouts(199).empty());
  EXPECT_EQ(s.ExpireTimeouts(200), (Ids{2}));
  EXPECT_EQ(s.ExpireTimeouts(500), (Ids{1, 3}));
  EXPECT_EQ(s.size(), 0);
}

TEST(SchedulerTest, TimeoutsDelay) {
  BatchPolicy p = Policy(1);
  p.default_timeout_us = 100;
  p.timeout_action = TimeoutAction::kDelay;
  p.priority_levels = 2;
  BatchScheduler s(p);
  ASSERT_TRUE(s.Enqueue(Req(1, 0, 1, 1)).ok());
  ASSERT_TRUE(s.Enqueue(Req(2, 50, 1, 2)).ok());
  EXPECT_TRUE(s.ExpireTimeouts(100).empty());  // request 1 is delayed, not rejected
  ASSERT_TRUE(s.Enqueue(Req(3, 120, 1, 2)).ok());
  EXPECT_TRUE(s.ExpireTimeouts(150).empty());  // request 2 is delayed too
  // Delayed requests come after every other one, in the order they expired.
  EXPECT_EQ(s.NextBatch(200), (Ids{3}));
  EXPECT_EQ(s.NextBatch(200), (Ids{1}));
  EXPECT_EQ(s.NextBatch(200), (Ids{2}));
}

TEST(SchedulerTest, Cancellation) {
  BatchScheduler s(Policy(8, 1000));
  ASSERT_TRUE(s.Enqueue(Req(1, 0)).ok());
  ASSERT_TRUE(s.Enqueue(Req(2, 0)).ok());
  EXPECT_TRUE(s.Remove(1));
  EXPECT_FALSE(s.Remove(1));
  EXPECT_FALSE(s.Remove(42));
  EXPECT_EQ(s.NextBatch(1000), (Ids{2}));
}

TEST(SchedulerTest, DrainReturnsEverything) {
  BatchPolicy p = Policy(8, 1000);
  p.priority_levels = 2;
  BatchScheduler s(p);
  ASSERT_TRUE(s.Enqueue(Req(1, 0, 1, 2)).ok());
  ASSERT_TRUE(s.Enqueue(Req(2, 0, 1, 1, kKeyB)).ok());
  Ids drained = s.DrainAll();
  std::sort(drained.begin(), drained.end());
  EXPECT_EQ(drained, (Ids{1, 2}));
  EXPECT_EQ(s.size(), 0);
  EXPECT_TRUE(s.NextBatch(5000).empty());
}

TEST(SchedulerTest, PolicyValidation) {
  BatchPolicy p = Policy(0);
  EXPECT_EQ(ValidatePolicy(p).code(), StatusCode::kInvalidArgument);
  p = Policy(4);
  p.preferred_batch_sizes = {8};
  EXPECT_EQ(ValidatePolicy(p).code(), StatusCode::kInvalidArgument);
  p = Policy(4);
  p.priority_levels = 0;
  EXPECT_EQ(ValidatePolicy(p).code(), StatusCode::kInvalidArgument);
  p = Policy(4);
  p.max_queue_delay_us = -1;
  EXPECT_EQ(ValidatePolicy(p).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(ValidatePolicy(Policy(4, 100)).ok());
}

}  // namespace
}  // namespace tensorpod::internal

namespace tensorpod::internal {
namespace {

TEST(SchedulerTest, SloLimitsLowerTheCapAndDelay) {
  BatchScheduler s(Policy(8, 1000));
  s.SetLimits(3, 100);
  EXPECT_EQ(s.max_batch(), 3);
  EXPECT_EQ(s.delay_us(), 100);
  for (uint64_t i = 1; i <= 4; ++i) ASSERT_TRUE(s.Enqueue(Req(i, 0)).ok());
  EXPECT_EQ(s.NextBatch(0), (Ids{1, 2, 3}));  // full at the lowered cap
  EXPECT_TRUE(s.NextBatch(50).empty());
  EXPECT_EQ(s.NextBatch(100), (Ids{4}));      // the lowered delay
  // A request over the lowered cap (but within the policy's) runs alone.
  ASSERT_TRUE(s.Enqueue(Req(5, 200, 6)).ok());
  ASSERT_TRUE(s.Enqueue(Req(6, 200, 1)).ok());
  EXPECT_EQ(s.NextBatch(200), (Ids{5}));
  // Never above the policy.
  s.SetLimits(100, 1'000'000);
  EXPECT_EQ(s.max_batch(), 8);
  EXPECT_EQ(s.delay_us(), 1000);
}

}  // namespace
}  // namespace tensorpod::internal

namespace tensorpod::internal {
namespace {

TEST(SchedulerTest, AWaitingShapeDoesNotBlockAReadyOne) {
  BatchScheduler s(Policy(4, 10'000));
  ASSERT_TRUE(s.Enqueue(Req(1, 0, 1, 0, kKeyA)).ok());
  for (uint64_t i = 2; i <= 5; ++i) ASSERT_TRUE(s.Enqueue(Req(i, 1, 1, 0, kKeyB)).ok());
  EXPECT_EQ(s.NextBatch(100), (Ids{2, 3, 4, 5}));  // B is full; A keeps waiting
  EXPECT_TRUE(s.NextBatch(200).empty());
  EXPECT_EQ(s.NextEventUs(200), 10'000);
  EXPECT_EQ(s.NextBatch(10'000), (Ids{1}));
}

TEST(SchedulerTest, HugeTimeoutsAndDelaysDoNotOverflow) {
  BatchScheduler s(Policy(4, INT64_MAX / 2));
  ASSERT_TRUE(s.Enqueue(Req(1, INT64_MAX / 2 + 10, 1, 0, kKeyA, INT64_MAX)).ok());
  EXPECT_TRUE(s.ExpireTimeouts(INT64_MAX / 2 + 20).empty());
  EXPECT_EQ(s.NextEventUs(INT64_MAX / 2 + 20), INT64_MAX);
  EXPECT_TRUE(s.NextBatch(INT64_MAX / 2 + 20).empty());
}

}  // namespace
}  // namespace tensorpod::internal
