// BatchScheduler: every batching rule, with time given by hand.
#include "batching/scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>

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

namespace tensorpod::internal {
namespace {

// Many requests queued and cancelled in random order, against a plain
// reference: the id table (open addressing, deletion by backward shift),
// the slab's slot reuse and the interned keys must never lose, duplicate or
// misplace one.
TEST(SchedulerTest, RandomQueueAndCancelMatchesAReference) {
  BatchPolicy p = Policy(64);
  p.priority_levels = 3;
  BatchScheduler s(p);
  std::mt19937_64 rng(11);
  // Ids spaced so that many share a home cell, then the reference: queued
  // ids per priority, FIFO.
  std::vector<std::vector<uint64_t>> queued(3);
  std::vector<uint64_t> all;
  uint64_t next = 1;
  const std::vector<std::vector<int64_t>> keys = {kKeyA, kKeyB, {1, 2, 16}};
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 500; ++i) {
      const uint64_t id = next;
      next += 1 + (rng() % 3 == 0 ? 1024 : 0);
      const int priority = 1 + static_cast<int>(rng() % 3);
      void* payload = reinterpret_cast<void*>(static_cast<uintptr_t>(id * 8));
      QueuedRequest r = Req(id, round, 1, priority, keys[rng() % keys.size()]);
      r.payload = payload;
      ASSERT_TRUE(s.Enqueue(r).ok());
      queued[priority - 1].push_back(id);
      all.push_back(id);
    }
    // Cancel about a third of what is queued, some ids twice, some never queued.
    for (int i = 0; i < 200; ++i) {
      const uint64_t id = all[rng() % all.size()];
      bool in_queue = false;
      for (auto& q : queued) {
        auto it = std::find(q.begin(), q.end(), id);
        if (it != q.end()) {
          q.erase(it);
          in_queue = true;
        }
      }
      void* payload = nullptr;
      ASSERT_EQ(s.Remove(id, &payload), in_queue) << "id " << id;
      if (in_queue) EXPECT_EQ(payload, reinterpret_cast<void*>(static_cast<uintptr_t>(id * 8)));
      EXPECT_FALSE(s.Remove(next + 7));
    }
    int64_t want = 0;
    for (const auto& q : queued) want += static_cast<int64_t>(q.size());
    ASSERT_EQ(s.size(), want);
  }
  std::vector<void*> payloads;
  const std::vector<uint64_t> drained = s.DrainAll(&payloads);
  std::vector<uint64_t> want;
  for (const auto& q : queued) want.insert(want.end(), q.begin(), q.end());
  EXPECT_EQ(drained, want);
  ASSERT_EQ(payloads.size(), drained.size());
  for (size_t i = 0; i < drained.size(); ++i) {
    EXPECT_EQ(payloads[i], reinterpret_cast<void*>(static_cast<uintptr_t>(drained[i] * 8)));
  }
  EXPECT_EQ(s.size(), 0);
  // Usable again after draining.
  ASSERT_TRUE(s.Enqueue(Req(1, 0)).ok());
  EXPECT_EQ(s.NextBatch(0), (Ids{1}));
}

// Batches take only one key, in priority order, and the payloads come back
// with their ids.
TEST(SchedulerTest, BatchesHandBackPayloadsInOrder) {
  BatchScheduler s(Policy(4));
  for (uint64_t id = 1; id <= 6; ++id) {
    QueuedRequest r = Req(id, 0, 1, 0, id % 2 ? kKeyA : kKeyB);
    r.payload = reinterpret_cast<void*>(static_cast<uintptr_t>(id));
    ASSERT_TRUE(s.Enqueue(r).ok());
  }
  std::vector<void*> payloads;
  EXPECT_EQ(s.NextBatch(0, &payloads), (Ids{1, 3, 5}));
  EXPECT_EQ(payloads, (std::vector<void*>{reinterpret_cast<void*>(1), reinterpret_cast<void*>(3),
                                          reinterpret_cast<void*>(5)}));
  payloads.clear();
  EXPECT_EQ(s.NextBatch(0, &payloads), (Ids{2, 4, 6}));
  EXPECT_EQ(payloads.size(), 3u);
  EXPECT_EQ(s.size(), 0);
}

}  // namespace
}  // namespace tensorpod::internal
