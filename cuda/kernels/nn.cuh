// Launchers for the matrix-product and convolution helpers (cuda/nn.cc).
// dtype_code: 0 float32, 1 float16, 2 bfloat16.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace tensorpod::internal {

// y[m, n] = c broadcast from [c_rows, c_cols] (c_rows in {1, m}, c_cols in
// {1, n}): Gemm's C operand before the product accumulates onto it.
cudaError_t LaunchBroadcast2D(int dtype_code, const void* c, int64_t c_rows, int64_t c_cols, void* y, int64_t m,
                              int64_t n, cudaStream_t stream);

}  // namespace tensorpod::internal
