#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "nn.cuh"

namespace tensorpod::internal {
namespace {

template <typename T>
__global__ void Broadcast2DKernel(const T* __restrict__ c, int64_t c_rows, int64_t c_cols, T* __restrict__ y,
                                  int64_t m, int64_t n) {
  const int64_t total = m * n;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = i / n, col = i % n;
    y[i] = c[(c_rows == 1 ? 0 : r) * c_cols + (c_cols == 1 ? 0 : col)];
  }
}

template <typename T>
cudaError_t Broadcast2D(const void* c, int64_t c_rows, int64_t c_cols, void* y, int64_t m, int64_t n,
                        cudaStream_t stream) {
  const int64_t total = m * n;
  if (total == 0) return cudaSuccess;
  int64_t blocks = (total + 255) / 256;
  if (blocks > 65535LL * 16) blocks = 65535LL * 16;
  Broadcast2DKernel<T><<<static_cast<unsigned>(blocks), 256, 0, stream>>>(static_cast<const T*>(c), c_rows, c_cols,
                                                                          static_cast<T*>(y), m, n);
  return cudaGetLastError();
}

}  // namespace

cudaError_t LaunchBroadcast2D(int dtype_code, const void* c, int64_t c_rows, int64_t c_cols, void* y, int64_t m,
                              int64_t n, cudaStream_t stream) {
  switch (dtype_code) {
    case 0: return Broadcast2D<float>(c, c_rows, c_cols, y, m, n, stream);
    case 1: return Broadcast2D<__half>(c, c_rows, c_cols, y, m, n, stream);
    case 2: return Broadcast2D<__nv_bfloat16>(c, c_rows, c_cols, y, m, n, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace tensorpod::internal
