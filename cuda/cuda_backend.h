// The CUDA backend as the runtime sees it: no CUDA headers here, so the
// runtime and tests build the same with and without the toolkit.
//
// Example:
//   std::string why;
//   if (CudaDeviceCount(&why) == 0) TP_LOG_INFO("no GPU: {}", why);
//   TP_ASSIGN_OR_RETURN(const DeviceBackend* gpu, GetCudaBackend(0));
#pragma once

#include <string>

#include "backend/device_backend.h"

namespace tensorpod::internal {

// Number of usable CUDA devices; 0 when there is no driver or no GPU, with
// the reason in `*why` (when not null). Never fails.
int CudaDeviceCount(std::string* why = nullptr);

// The process-wide backend of device `index`, created on first use.
// FAILED_PRECONDITION names the reason when the device cannot be used.
StatusOr<const DeviceBackend*> GetCudaBackend(int index);

}  // namespace tensorpod::internal
