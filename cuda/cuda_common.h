// What every CUDA source of tensorpod shares: TP_CUDA_CHECK and friends,
// CudaStream (the DeviceStream with the per-stream library handles), and
// small helpers for host code that launches kernels. Only cuda/ includes it.
#pragma once

#include <cublasLt.h>
#include <cuda_runtime_api.h>
#include <cudnn.h>

#include <cstddef>
#include <memory>

#include "backend/device_backend.h"
#include "backend/kernel.h"

namespace tensorpod::internal {

// A Status for a failed CUDA runtime call. Out-of-memory maps to
// RESOURCE_EXHAUSTED, everything else to INTERNAL, with the call's text and
// the driver's message. Clears the (non-sticky) error so the next call
// starts clean.
Status CudaStatus(cudaError_t e, const char* expr, const char* file, int line);
Status CublasStatus(cublasStatus_t e, const char* expr, const char* file, int line);
Status CudnnStatus(cudnnStatus_t e, const char* expr, const char* file, int line);

// Returns the Status of a failed CUDA runtime / cuBLAS / cuDNN call from the
// enclosing function.
#define TP_CUDA_CHECK(expr)                                                                   \
  do {                                                                                        \
    const cudaError_t tp_cuda_err_ = (expr);                                                  \
    if (tp_cuda_err_ != cudaSuccess) {                                                        \
      return ::tensorpod::internal::CudaStatus(tp_cuda_err_, #expr, __FILE__, __LINE__);      \
    }                                                                                         \
  } while (0)
#define TP_CUBLAS_CHECK(expr)                                                                 \
  do {                                                                                        \
    const cublasStatus_t tp_cublas_err_ = (expr);                                             \
    if (tp_cublas_err_ != CUBLAS_STATUS_SUCCESS) {                                            \
      return ::tensorpod::internal::CublasStatus(tp_cublas_err_, #expr, __FILE__, __LINE__);  \
    }                                                                                         \
  } while (0)
#define TP_CUDNN_CHECK(expr)                                                                  \
  do {                                                                                        \
    const cudnnStatus_t tp_cudnn_err_ = (expr);                                               \
    if (tp_cudnn_err_ != CUDNN_STATUS_SUCCESS) {                                              \
      return ::tensorpod::internal::CudnnStatus(tp_cudnn_err_, #expr, __FILE__, __LINE__);    \
    }                                                                                         \
  } while (0)

// The CUDA DeviceStream: a non-blocking stream (so the legacy default
// stream, where session pools allocate and free, never waits on it or
// breaks a capture on it), plus the library handles bound to it, created on
// first use. Memory is freed only after the streams that used it are
// synchronized.
class CudaStream : public DeviceStream {
 public:
  static StatusOr<std::unique_ptr<CudaStream>> Create(int device);
  ~CudaStream() override;

  void* native() const override { return stream_; }
  Status Activate() override;
  cudaStream_t get() const { return stream_; }
  int device() const { return device_; }
  Status CopyHostToDevice(void* dst, const void* src, size_t bytes) override;
  Status CopyDeviceToHost(void* dst, const void* src, size_t bytes) override;
  Status CopyDeviceToDevice(void* dst, const void* src, size_t bytes) override;
  Status Synchronize() override;
  Status RecordEvent(DeviceEvent* event) override;
  Status WaitEvent(DeviceEvent* event) override;
  Status BeginCapture() override;
  StatusOr<std::unique_ptr<DeviceGraph>> EndCapture() override;
  bool capturing() const override { return capturing_; }

  // cuBLASLt handle and its workspace (kLtWorkspaceBytes), bound to this
  // stream.
  StatusOr<cublasLtHandle_t> lt();
  void* lt_workspace() const { return lt_workspace_; }
  static constexpr size_t kLtWorkspaceBytes = size_t{32} << 20;
  // cuDNN handle bound to this stream.
  StatusOr<cudnnHandle_t> cudnn();

 private:
  CudaStream(int device, cudaStream_t s) : device_(device), stream_(s) {}
  int device_;
  cudaStream_t stream_;
  bool capturing_ = false;
  cublasLtHandle_t lt_ = nullptr;
  void* lt_workspace_ = nullptr;
  cudnnHandle_t cudnn_ = nullptr;
};

// The context's CudaStream, or INTERNAL when a CUDA kernel is run without
// one (a planner bug).
StatusOr<CudaStream*> StreamOf(const KernelContext& ctx);

// Launch geometry for a grid-stride loop over `n` elements.
inline unsigned BlocksFor(int64_t n, int threads_per_block = 256) {
  const int64_t blocks = (n + threads_per_block - 1) / threads_per_block;
  return static_cast<unsigned>(blocks < 1 ? 1 : (blocks > 65535 * 8 ? 65535 * 8 : blocks));
}

}  // namespace tensorpod::internal
