#include "backends/cpu/gemm.h"

#include "backends/cpu/parallel.h"

#include <oneapi/dnnl/dnnl.h>

#include <algorithm>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace tensorpod::internal {

void Sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
           const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
           int64_t ldc, int threads) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    for (int64_t i = 0; i < m; ++i) {
      float* row = c + i * ldc;
      if (beta == 0.0f) {
        std::fill(row, row + n, 0.0f);
      } else {
        for (int64_t j = 0; j < n; ++j) row[j] *= beta;
      }
    }
    return;
  }
#ifdef _OPENMP
  // oneDNN sizes its parallel regions from the calling thread's OpenMP ICV.
  // Small products stay on fewer threads: waking a thread costs more than
  // it saves below ~128K multiply-adds each.
  omp_set_num_threads(ThreadsForWork(threads, m * n * k, int64_t{1} << 17));
#endif
  // Arguments are validated by the callers' shape inference; oneDNN only
  // fails on inconsistent leading dimensions, which would be a tensorpod bug.
  dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c,
             ldc);
}

}  // namespace tensorpod::internal
