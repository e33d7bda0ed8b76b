#include "backends/cpu/cpu_backend.h"

namespace tensorpod::internal {

void RegisterTensorKernels(KernelRegistry* r) {}

}  // namespace tensorpod::internal
