// CUDA reduction kernels: host code (validation, dispatch); launchers in
// kernels/reduction.cu.
#include "cuda_common.h"
#include "cuda_kernels.h"

namespace tensorpod::internal {

void RegisterCudaReductionKernels(KernelRegistry* r) {}

}  // namespace tensorpod::internal
