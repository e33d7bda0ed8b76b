// CUDA elementwise kernels: host code (validation, dispatch); launchers in
// kernels/elementwise.cu.
#include "cuda_common.h"
#include "cuda_kernels.h"

namespace tensorpod::internal {

void RegisterCudaElementwiseKernels(KernelRegistry* r) {}

}  // namespace tensorpod::internal
