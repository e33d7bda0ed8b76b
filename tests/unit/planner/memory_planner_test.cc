#include "planner/memory_planner.h"

#include <gtest/gtest.h>

#include <random>

namespace tensorpod::internal {
namespace {

bool LifetimesOverlap(const BufferRequest& a, const BufferRequest& b) {
  return a.first_step <= b.last_step && b.first_step <= a.last_step;
}

// Checks every invariant of a plan: alignment, bounds, and that no two
// requests alive at the same step share a byte.
void ExpectValidPlan(const std::vector<BufferRequest>& reqs,
                     const MemoryPlan& plan) {
  ASSERT_EQ(plan.offsets.size(), reqs.size());
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(plan.offsets[i] % 64, 0u) << "request " << i;
    EXPECT_LE(plan.offsets[i] + reqs[i].bytes, plan.arena_bytes)
        << "request " << i;
    for (size_t j = i + 1; j < reqs.size(); ++j) {
      if (!LifetimesOverlap(reqs[i], reqs[j])) continue;
      const size_t a0 = plan.offsets[i],
                   a1 = a0 + std::max<size_t>(reqs[i].bytes, 1);
      const size_t b0 = plan.offsets[j],
                   b1 = b0 + std::max<size_t>(reqs[j].bytes, 1);
      EXPECT_TRUE(a1 <= b0 || b1 <= a0)
          << "requests " << i << " [" << a0 << "," << a1 << ") and " << j
          << " [" << b0 << "," << b1 << ") are alive together and overlap";
    }
  }
}

TEST(MemoryPlannerTest, EmptyPlan) {
  MemoryPlan p = PlanMemory({});
  EXPECT_TRUE(p.offsets.empty());
  EXPECT_EQ(p.arena_bytes, 0u);
}

TEST(MemoryPlannerTest, ReusesMemoryOfDisjointLifetimes) {
  // The header's example: the first and third never live together.
  const std::vector<BufferRequest> reqs = {
      {1024, 0, 1}, {512, 1, 2}, {1024, 2, 3}};
  MemoryPlan p = PlanMemory(reqs);
  ExpectValidPlan(reqs, p);
  EXPECT_EQ(p.offsets[0], p.offsets[2]);
  EXPECT_EQ(p.arena_bytes, 1536u);
}

TEST(MemoryPlannerTest, ChainNeedsOnlyTwoSlots) {
  // A feed-forward chain: value i is written at step i and read at step i+1.
  std::vector<BufferRequest> reqs;
  for (int i = 0; i < 20; ++i) reqs.push_back({4096, i, i + 1});
  MemoryPlan p = PlanMemory(reqs);
  ExpectValidPlan(reqs, p);
  EXPECT_EQ(p.arena_bytes, 2u * 4096);
}

TEST(MemoryPlannerTest, SimultaneousValuesGetDisjointRanges) {
  const std::vector<BufferRequest> reqs = {
      {100, 0, 5}, {100, 0, 5}, {100, 0, 5}};
  MemoryPlan p = PlanMemory(reqs);
  ExpectValidPlan(reqs, p);
  // 100 bytes round up to 128 each.
  EXPECT_EQ(p.arena_bytes, 3u * 128);
}

TEST(MemoryPlannerTest, AlignsOddSizesAndZeroBytes) {
  const std::vector<BufferRequest> reqs = {
      {1, 0, 0}, {65, 0, 0}, {0, 0, 0}, {63, 0, 0}};
  MemoryPlan p = PlanMemory(reqs);
  ExpectValidPlan(reqs, p);
  for (size_t off : p.offsets) EXPECT_EQ(off % 64, 0u);
  // 64 + 128 + 64 + 64: even a zero-byte value gets its own aligned slot.
  EXPECT_EQ(p.arena_bytes, 320u);
}

TEST(MemoryPlannerTest, RandomLifetimesNeverOverlapWhileAlive) {
  std::mt19937 rng(1234);
  for (int trial = 0; trial < 200; ++trial) {
    const int n = std::uniform_int_distribution<int>(1, 40)(rng);
    const int steps = std::uniform_int_distribution<int>(1, 30)(rng);
    std::vector<BufferRequest> reqs;
    size_t peak_bound = 0;
    for (int i = 0; i < n; ++i) {
      BufferRequest r;
      r.bytes = std::uniform_int_distribution<size_t>(0, 5000)(rng);
      r.first_step = std::uniform_int_distribution<int>(0, steps - 1)(rng);
      r.last_step =
          std::uniform_int_distribution<int>(r.first_step, steps - 1)(rng);
      peak_bound += (std::max<size_t>(r.bytes, 1) + 63) / 64 * 64;
      reqs.push_back(r);
    }
    MemoryPlan p = PlanMemory(reqs);
    SCOPED_TRACE("trial " + std::to_string(trial));
    ExpectValidPlan(reqs, p);
    // Never worse than giving every value its own slot.
    EXPECT_LE(p.arena_bytes, peak_bound);
    if (HasFailure()) return;
  }
}

TEST(MemoryPlannerTest, ArenaAtLeastPeakLiveBytes) {
  std::mt19937 rng(99);
  for (int trial = 0; trial < 50; ++trial) {
    std::vector<BufferRequest> reqs;
    for (int i = 0; i < 25; ++i) {
      const int first = std::uniform_int_distribution<int>(0, 9)(rng);
      reqs.push_back(
          {std::uniform_int_distribution<size_t>(64, 4096)(rng) / 64 * 64,
           first, std::uniform_int_distribution<int>(first, 9)(rng)});
    }
    size_t peak = 0;
    for (int s = 0; s < 10; ++s) {
      size_t live = 0;
      for (const auto& r : reqs)
        if (r.first_step <= s && s <= r.last_step) live += r.bytes;
      peak = std::max(peak, live);
    }
    MemoryPlan p = PlanMemory(reqs);
    ExpectValidPlan(reqs, p);
    EXPECT_GE(p.arena_bytes, peak);
  }
}

}  // namespace
}  // namespace tensorpod::internal
