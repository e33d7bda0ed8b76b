// The CPU backend: Eigen for elementwise ops and reductions, oneDNN for GEMM
// and convolution (chosen by measurement, see bench/README.md). Intra-op
// parallelism runs on OpenMP, the runtime oneDNN and Eigen use, so kernels
// and the GEMM library share one thread pool. Thread-safe.
#pragma once

#include <memory>

#include "backend/backend.h"

namespace tensorpod::internal {

class CpuBackend : public Backend {
 public:
  // The process-wide CPU backend.
  static const CpuBackend& Get();

  std::string name() const override { return "cpu"; }
  Device device() const override { return Device{}; }
  bool Supports(const NodeDef& node) const override;
  StatusOr<std::unique_ptr<Kernel>> CreateKernel(const NodeDef& node) const override;
  Status Copy(const Tensor& src, Tensor* dst) const override;
  Status Synchronize() const override { return Status::Ok(); }
  Allocator* allocator() const override;
  const KernelRegistry& registry() const { return registry_; }

 private:
  CpuBackend();
  KernelRegistry registry_;
};

// One registration function per op family (src/backends/cpu/<family>.cc).
void RegisterElementwiseKernels(KernelRegistry* r);
void RegisterTensorKernels(KernelRegistry* r);
void RegisterNnKernels(KernelRegistry* r);
void RegisterReductionKernels(KernelRegistry* r);

}  // namespace tensorpod::internal
