// The CUDA backend: device selection, the per-session stream-ordered pool,
// pinned staging memory, streams, events and graphs. Kernels are listed in
// register_kernels.cc.
#include "cuda_backend.h"

#include <array>
#include <cstdint>
#include <mutex>

#include "core/logging.h"
#include "cuda_common.h"
#include "cuda_kernels.h"

namespace tensorpod::internal {

Status CudaStatus(cudaError_t e, const char* expr, const char* file, int line) {
  (void)cudaGetLastError();  // clear a non-sticky error
  const char* base = file;
  for (const char* p = file; *p; ++p) if (*p == '/') base = p + 1;
  if (e == cudaErrorMemoryAllocation) {
    return TP_ERROR(kResourceExhausted, "CUDA out of memory in " << expr << " (" << base << ":" << line << ")");
  }
  return TP_ERROR(kInternal, "CUDA error " << cudaGetErrorName(e) << " (" << cudaGetErrorString(e) << ") in "
                                           << expr << " (" << base << ":" << line << ")");
}

Status CublasStatus(cublasStatus_t e, const char* expr, const char* file, int line) {
  if (e == CUBLAS_STATUS_ALLOC_FAILED) {
    return TP_ERROR(kResourceExhausted, "cuBLAS out of memory in " << expr << " (" << file << ":" << line << ")");
  }
  if (e == CUBLAS_STATUS_NOT_SUPPORTED) {
    return TP_ERROR(kUnimplemented, "cuBLAS does not support this problem: " << expr << " (" << file << ":"
                                                                             << line << ")");
  }
  return TP_ERROR(kInternal, "cuBLAS error " << static_cast<int>(e) << " in " << expr << " (" << file << ":" << line
                                             << ")");
}

Status CudnnStatus(cudnnStatus_t e, const char* expr, const char* file, int line) {
  if (e == CUDNN_STATUS_ALLOC_FAILED) {
    return TP_ERROR(kResourceExhausted, "cuDNN out of memory in " << expr << " (" << file << ":" << line << ")");
  }
  return TP_ERROR(kInternal, "cuDNN error " << cudnnGetErrorString(e) << " in " << expr << " (" << file << ":"
                                            << line << ")");
}

// ---------------------------------------------------------------- streams

StatusOr<std::unique_ptr<CudaStream>> CudaStream::Create(int device) {
  TP_CUDA_CHECK(cudaSetDevice(device));
  cudaStream_t s = nullptr;
  TP_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return std::unique_ptr<CudaStream>(new CudaStream(device, s));
}

CudaStream::~CudaStream() {
  cudaSetDevice(device_);
  cudaStreamSynchronize(stream_);
  if (cudnn_ != nullptr) cudnnDestroy(cudnn_);
  if (lt_ != nullptr) cublasLtDestroy(lt_);
  if (lt_workspace_ != nullptr) cudaFree(lt_workspace_);
  cudaStreamDestroy(stream_);
}

Status CudaStream::Activate() {
  TP_CUDA_CHECK(cudaSetDevice(device_));
  return Status::Ok();
}

Status CudaStream::CopyHostToDevice(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return Status::Ok();
  TP_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_));
  return Status::Ok();
}
Status CudaStream::CopyDeviceToHost(void* dst, const void* src, size_t bytes) {
  if (bytes == 0) return Status::Ok();
  TP_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_));
  return Status::Ok();
}
Status CudaStream::CopyDeviceToDevice(void* dst, const void* src, size_t bytes) {
  if (bytes == 0 || dst == src) return Status::Ok();
  TP_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_));
  return Status::Ok();
}
Status CudaStream::Synchronize() {
  TP_CUDA_CHECK(cudaStreamSynchronize(stream_));
  return Status::Ok();
}

namespace {

class CudaEvent : public DeviceEvent {
 public:
  explicit CudaEvent(cudaEvent_t e) : event_(e) {}
  ~CudaEvent() override { cudaEventDestroy(event_); }
  void* native() const override { return event_; }

 private:
  cudaEvent_t event_;
};

class CudaGraph : public DeviceGraph {
 public:
  CudaGraph(cudaGraph_t g, cudaGraphExec_t e) : graph_(g), exec_(e) {}
  ~CudaGraph() override {
    cudaGraphExecDestroy(exec_);
    cudaGraphDestroy(graph_);
  }
  Status Launch(DeviceStream* stream) override {
    TP_CUDA_CHECK(cudaGraphLaunch(exec_, static_cast<cudaStream_t>(stream->native())));
    return Status::Ok();
  }

 private:
  cudaGraph_t graph_;
  cudaGraphExec_t exec_;
};

}  // namespace

Status CudaStream::RecordEvent(DeviceEvent* event) {
  TP_CUDA_CHECK(cudaEventRecord(static_cast<cudaEvent_t>(event->native()), stream_));
  return Status::Ok();
}
Status CudaStream::WaitEvent(DeviceEvent* event) {
  TP_CUDA_CHECK(cudaStreamWaitEvent(stream_, static_cast<cudaEvent_t>(event->native()), 0));
  return Status::Ok();
}

Status CudaStream::BeginCapture() {
  TP_INTERNAL_CHECK(!capturing_, "stream is already capturing");
  // Thread-local mode: only this thread's capture-unsafe calls invalidate
  // the capture. The stream is non-blocking, so other threads' work on the
  // legacy default stream (allocations, uploads) does not touch it.
  TP_CUDA_CHECK(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal));
  capturing_ = true;
  return Status::Ok();
}

StatusOr<std::unique_ptr<DeviceGraph>> CudaStream::EndCapture() {
  TP_INTERNAL_CHECK(capturing_, "EndCapture without BeginCapture");
  capturing_ = false;
  cudaGraph_t graph = nullptr;
  TP_CUDA_CHECK(cudaStreamEndCapture(stream_, &graph));
  cudaGraphExec_t exec = nullptr;
#if CUDART_VERSION >= 12000
  const cudaError_t e = cudaGraphInstantiate(&exec, graph, 0);
#else
  const cudaError_t e = cudaGraphInstantiate(&exec, graph, nullptr, nullptr, 0);
#endif
  if (e != cudaSuccess) {
    cudaGraphDestroy(graph);
    return CudaStatus(e, "cudaGraphInstantiate", __FILE__, __LINE__);
  }
  return std::unique_ptr<DeviceGraph>(new CudaGraph(graph, exec));
}

StatusOr<cublasLtHandle_t> CudaStream::lt() {
  if (lt_ == nullptr) {
    TP_INTERNAL_CHECK(!capturing_, "cuBLASLt handle created during graph capture");
    TP_CUDA_CHECK(cudaSetDevice(device_));
    if (lt_workspace_ == nullptr) TP_CUDA_CHECK(cudaMalloc(&lt_workspace_, kLtWorkspaceBytes));
    TP_CUBLAS_CHECK(cublasLtCreate(&lt_));
  }
  return lt_;
}

StatusOr<cudnnHandle_t> CudaStream::cudnn() {
  if (cudnn_ == nullptr) {
    TP_INTERNAL_CHECK(!capturing_, "cuDNN handle created during graph capture");
    TP_CUDA_CHECK(cudaSetDevice(device_));
    TP_CUDNN_CHECK(cudnnCreate(&cudnn_));
    TP_CUDNN_CHECK(cudnnSetStream(cudnn_, stream_));
  }
  return cudnn_;
}

StatusOr<CudaStream*> StreamOf(const KernelContext& ctx) {
  TP_INTERNAL_CHECK(ctx.stream != nullptr, "a CUDA kernel was run without a stream");
  return static_cast<CudaStream*>(ctx.stream);
}

// ------------------------------------------------------------- allocators

namespace {

// One session's memory: a private cudaMemPool that keeps freed blocks for
// reuse (release threshold: unlimited). Allocation waits for the legacy
// default stream, so a block is ready for any stream when Allocate returns;
// callers free a block only after synchronizing the streams that used it
// (contexts drain their stream before growing or dying). Destruction trims
// the pool and destroys it, which returns its memory to the driver.
class CudaPoolAllocator : public Allocator {
 public:
  static StatusOr<std::unique_ptr<Allocator>> Create(int device) {
    TP_CUDA_CHECK(cudaSetDevice(device));
    cudaMemPoolProps props = {};
    props.allocType = cudaMemAllocationTypePinned;
    props.handleTypes = cudaMemHandleTypeNone;
    props.location.type = cudaMemLocationTypeDevice;
    props.location.id = device;
    cudaMemPool_t pool = nullptr;
    TP_CUDA_CHECK(cudaMemPoolCreate(&pool, &props));
    uint64_t threshold = UINT64_MAX;
    const cudaError_t e = cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold);
    if (e != cudaSuccess) {
      cudaMemPoolDestroy(pool);
      return CudaStatus(e, "cudaMemPoolSetAttribute", __FILE__, __LINE__);
    }
    return std::unique_ptr<Allocator>(new CudaPoolAllocator(device, pool));
  }
  ~CudaPoolAllocator() override {
    cudaSetDevice(device_);
    cudaDeviceSynchronize();
    cudaMemPoolTrimTo(pool_, 0);
    cudaMemPoolDestroy(pool_);
  }
  void* Allocate(size_t bytes) override {
    if (bytes == 0) bytes = 1;
    cudaSetDevice(device_);
    void* p = nullptr;
    cudaError_t e = cudaMallocFromPoolAsync(&p, bytes, pool_, nullptr);
    if (e == cudaSuccess) e = cudaStreamSynchronize(nullptr);
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      // Freed blocks may still be pending on the stream: wait and retry once.
      cudaStreamSynchronize(nullptr);
      if (cudaMallocFromPoolAsync(&p, bytes, pool_, nullptr) != cudaSuccess ||
          cudaStreamSynchronize(nullptr) != cudaSuccess) {
        (void)cudaGetLastError();
        TP_LOG_WARN("CUDA device {}: out of memory allocating {} bytes", device_, bytes);
        return nullptr;
      }
    }
    return p;
  }
  void Deallocate(void* p, size_t) override {
    if (p == nullptr) return;
    cudaSetDevice(device_);
    cudaFreeAsync(p, nullptr);
  }
  Device device() const override { return Device{DeviceType::kCuda, device_}; }

 private:
  CudaPoolAllocator(int device, cudaMemPool_t pool) : device_(device), pool_(pool) {}
  int device_;
  cudaMemPool_t pool_;
};

class CudaPinnedAllocator : public Allocator {
 public:
  void* Allocate(size_t bytes) override {
    void* p = nullptr;
    if (cudaHostAlloc(&p, bytes == 0 ? 1 : bytes, cudaHostAllocPortable) != cudaSuccess) {
      (void)cudaGetLastError();
      return nullptr;
    }
    return p;
  }
  void Deallocate(void* p, size_t) override {
    if (p != nullptr) cudaFreeHost(p);
  }
  Device device() const override { return Device{}; }
};

// Plain device memory for tensors made outside a session (tests, plan-time
// uploads that outlive no session): cudaMalloc / cudaFree.
class CudaDeviceAllocator : public Allocator {
 public:
  explicit CudaDeviceAllocator(int device) : device_(device) {}
  void* Allocate(size_t bytes) override {
    cudaSetDevice(device_);
    void* p = nullptr;
    if (cudaMalloc(&p, bytes == 0 ? 1 : bytes) != cudaSuccess) {
      (void)cudaGetLastError();
      return nullptr;
    }
    return p;
  }
  void Deallocate(void* p, size_t) override {
    if (p == nullptr) return;
    cudaSetDevice(device_);
    cudaFree(p);
  }
  Device device() const override { return Device{DeviceType::kCuda, device_}; }

 private:
  int device_;
};

class CudaBackend : public DeviceBackend {
 public:
  explicit CudaBackend(int device) : device_(device), allocator_(device) {
    RegisterCudaElementwiseKernels(&registry_);
    RegisterCudaTensorKernels(&registry_);
    RegisterCudaNnKernels(&registry_);
    RegisterCudaReductionKernels(&registry_);
    RegisterCudaAttentionKernels(&registry_);
    cudaDeviceProp prop = {};
    if (cudaGetDeviceProperties(&prop, device) == cudaSuccess) {
      name_ = prop.name;
    } else {
      (void)cudaGetLastError();
      name_ = "CUDA device " + std::to_string(device);
    }
  }

  std::string name() const override { return "cuda:" + std::to_string(device_); }
  Device device() const override { return Device{DeviceType::kCuda, device_}; }
  std::string device_name() const override { return name_; }
  bool Supports(const NodeDef& node) const override { return registry_.Handles(node); }
  StatusOr<std::unique_ptr<Kernel>> CreateKernel(const NodeDef& node) const override {
    KernelFactory f = registry_.Find(node.op_type);
    if (f == nullptr) {
      return TP_ERROR(kUnimplemented, "the cuda backend has no kernel for op " << node.op_type << " (node \""
                                                                                << node.name << "\")");
    }
    auto k = f(node);
    if (!k.ok()) return k.status().WithContext("node \"" + node.name + "\" (" + node.op_type + ") on cuda");
    return k;
  }
  // Synchronous copy in any direction (cudaMemcpyDefault: unified addressing
  // tells host from device pointers).
  Status Copy(const Tensor& src, Tensor* dst) const override {
    TP_INTERNAL_CHECK(src.nbytes() == dst->nbytes(), "copy of " << src.nbytes() << " bytes into "
                                                                << dst->nbytes());
    if (src.nbytes() == 0 || src.raw_data() == dst->raw_data()) return Status::Ok();
    TP_CUDA_CHECK(cudaSetDevice(device_));
    TP_CUDA_CHECK(cudaMemcpy(dst->raw_data(), src.raw_data(), src.nbytes(), cudaMemcpyDefault));
    return Status::Ok();
  }
  Status Synchronize() const override {
    TP_CUDA_CHECK(cudaSetDevice(device_));
    TP_CUDA_CHECK(cudaDeviceSynchronize());
    return Status::Ok();
  }
  Allocator* allocator() const override { return &allocator_; }
  StatusOr<std::unique_ptr<DeviceStream>> CreateStream() const override {
    TP_ASSIGN_OR_RETURN(auto s, CudaStream::Create(device_));
    return std::unique_ptr<DeviceStream>(std::move(s));
  }
  StatusOr<std::unique_ptr<DeviceEvent>> CreateEvent() const override {
    TP_CUDA_CHECK(cudaSetDevice(device_));
    cudaEvent_t e = nullptr;
    TP_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    return std::unique_ptr<DeviceEvent>(new CudaEvent(e));
  }
  StatusOr<std::unique_ptr<Allocator>> CreateSessionAllocator() const override {
    return CudaPoolAllocator::Create(device_);
  }
  Allocator* pinned_allocator() const override { return &pinned_; }
  StatusOr<DeviceMemoryInfo> MemoryInfo() const override {
    TP_CUDA_CHECK(cudaSetDevice(device_));
    DeviceMemoryInfo info;
    TP_CUDA_CHECK(cudaMemGetInfo(&info.free_bytes, &info.total_bytes));
    return info;
  }

 private:
  int device_;
  std::string name_;
  KernelRegistry registry_;
  mutable CudaDeviceAllocator allocator_;
  mutable CudaPinnedAllocator pinned_;
};

}  // namespace

int CudaDeviceCount(std::string* why) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    if (why != nullptr) *why = std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e);
    return 0;
  }
  if (count == 0 && why != nullptr) *why = "the CUDA driver reports no devices";
  return count;
}

StatusOr<const DeviceBackend*> GetCudaBackend(int index) {
  constexpr int kMaxDevices = 64;
  static std::mutex mu;
  static std::array<const CudaBackend*, kMaxDevices> backends{};
  std::string why;
  const int count = CudaDeviceCount(&why);
  if (count == 0) {
    return TP_ERROR(kFailedPrecondition, "device \"cuda:" << index << "\" was requested but no CUDA device is "
                                                          << "usable (" << why << ")");
  }
  if (index < 0 || index >= count || index >= kMaxDevices) {
    return TP_ERROR(kFailedPrecondition, "device \"cuda:" << index << "\" was requested but this machine has "
                                                          << count << " CUDA device(s)");
  }
  std::lock_guard<std::mutex> lock(mu);
  if (backends[index] == nullptr) backends[index] = new CudaBackend(index);  // lives for the process
  return static_cast<const DeviceBackend*>(backends[index]);
}

}  // namespace tensorpod::internal
