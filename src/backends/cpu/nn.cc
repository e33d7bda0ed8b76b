#include "backends/cpu/cpu_backend.h"

namespace tensorpod::internal {

void RegisterNnKernels(KernelRegistry* r) {}

}  // namespace tensorpod::internal
