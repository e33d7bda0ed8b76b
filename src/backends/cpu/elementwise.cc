#include "backends/cpu/cpu_backend.h"

namespace tensorpod::internal {

void RegisterElementwiseKernels(KernelRegistry* r) {}

}  // namespace tensorpod::internal
