#include "backends/cpu/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace tensorpod::internal {
namespace {

TEST(ParallelForTest, CoversEveryIndexOnce) {
  for (int threads : {1, 2, 3}) {
    for (int64_t n : {0, 1, 7, 1000}) {
      std::vector<std::atomic<int>> hits(n);
      ParallelFor(n, threads, 1, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
      });
      for (int64_t i = 0; i < n; ++i) EXPECT_EQ(hits[i].load(), 1) << "n=" << n << " i=" << i;
    }
  }
}

}  // namespace
}  // namespace tensorpod::internal
