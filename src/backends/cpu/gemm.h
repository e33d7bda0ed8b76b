// The CPU backend's single-precision GEMM seam. Every float32 matrix product
// (MatMul, Gemm, tp.FusedMatMul) goes through Sgemm, so the library behind
// it can be swapped by editing gemm.cc alone; it is oneDNN today (chosen by
// measurement, see bench/README.md). Thread-safe.
#pragma once

#include <cstdint>

namespace tensorpod::internal {

// C = alpha * op(A) * op(B) + beta * C on row-major matrices, where op(A) is
// [m,k] and op(B) is [k,n]. lda/ldb/ldc are row strides in elements.
// `threads`: how many threads the product may use. With beta == 0, C is
// overwritten and never read (NaNs in it do not propagate).
void Sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
           const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
           int64_t ldc, int threads);

}  // namespace tensorpod::internal
