#include "backends/cpu/cpu_backend.h"

namespace tensorpod::internal {

void RegisterReductionKernels(KernelRegistry* r) {}

}  // namespace tensorpod::internal
