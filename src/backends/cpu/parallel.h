// Intra-op parallel loops on the OpenMP runtime (the pool oneDNN and Eigen
// also use, so nothing is oversubscribed). Work below a grain size runs on
// the calling thread.
#pragma once

#include <algorithm>
#include <cstdint>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace tensorpod::internal {

// How many of `threads` a piece of `work` deserves when each thread should
// get at least `min_work_per_thread` of it: waking a thread and joining it
// costs microseconds, more than small operations take.
inline int ThreadsForWork(int threads, int64_t work, int64_t min_work_per_thread) {
  const int64_t by_work = std::max<int64_t>(1, work / std::max<int64_t>(min_work_per_thread, 1));
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, by_work)));
}

// Calls fn(begin, end) over [0, n) split into contiguous chunks across up to
// `threads` threads. `grain`: minimum elements per chunk.
template <typename Fn>
void ParallelFor(int64_t n, int threads, int64_t grain, Fn&& fn) {
  if (n <= 0) return;
  const int t = ThreadsForWork(threads, n, grain);
  if (t <= 1) {
    fn(int64_t{0}, n);
    return;
  }
#ifdef _OPENMP
#pragma omp parallel num_threads(t)
  {
    const int id = omp_get_thread_num();
    const int nt = omp_get_num_threads();
    const int64_t chunk = (n + nt - 1) / nt;
    const int64_t b = std::min<int64_t>(n, id * chunk);
    const int64_t e = std::min<int64_t>(n, b + chunk);
    if (b < e) fn(b, e);
  }
#else
  fn(int64_t{0}, n);
#endif
}

}  // namespace tensorpod::internal
