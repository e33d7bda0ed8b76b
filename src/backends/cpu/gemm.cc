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
  // Products under ~32K multiply-adds a thread stay on fewer threads. The
  // threshold was 128K: the MLP's second layer at batch 1 (1x512x256, 131K)
  // then ran alone, and splitting it took the whole model on 2 threads
  // from 15 to 13 us (`tensorpod bench mlp.onnx --threads 2`).
  omp_set_num_threads(ThreadsForWork(threads, m * n * k, int64_t{1} << 15));
#endif
  // Arguments are validated by the callers' shape inference; oneDNN only
  // fails on inconsistent leading dimensions, which would be a tensorpod bug.
  dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c,
             ldc);
}

}  // namespace tensorpod::internal
