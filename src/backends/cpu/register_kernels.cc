// The CPU backend's kernel table: every family is listed here, explicitly.
#include "backends/cpu/cpu_backend.h"

#include <cstring>

namespace tensorpod::internal {

CpuBackend::CpuBackend() {
  RegisterElementwiseKernels(&registry_);
  RegisterTensorKernels(&registry_);
  RegisterNnKernels(&registry_);
  RegisterReductionKernels(&registry_);
}

const CpuBackend& CpuBackend::Get() {
  static const CpuBackend* backend = new CpuBackend();
  return *backend;
}

bool CpuBackend::Supports(const NodeDef& node) const {
  return registry_.Handles(node);
}

StatusOr<std::unique_ptr<Kernel>> CpuBackend::CreateKernel(const NodeDef& node) const {
  KernelFactory f = registry_.Find(node.op_type);
  if (f == nullptr) {
    return TP_ERROR(kUnimplemented, "the cpu backend has no kernel for op " << node.op_type
                                                                             << " (node \"" << node.name << "\")");
  }
  auto k = f(node);
  if (!k.ok()) return k.status().WithContext("node \"" + node.name + "\" (" + node.op_type + ")");
  return k;
}

Status CpuBackend::Copy(const Tensor& src, Tensor* dst) const {
  TP_INTERNAL_CHECK(src.nbytes() == dst->nbytes(), "copy of " << src.nbytes() << " bytes into "
                                                              << dst->nbytes());
  if (src.nbytes() > 0 && src.raw_data() != dst->raw_data()) {
    std::memcpy(dst->raw_data(), src.raw_data(), src.nbytes());
  }
  return Status::Ok();
}

Allocator* CpuBackend::allocator() const { return &CpuAllocator::Get(); }

}  // namespace tensorpod::internal
