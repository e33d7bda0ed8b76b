// Which devices this build and machine can run on: the CUDA backend when
// tensorpod was built with it and a GPU is usable, the CPU always.
//
// Example:
//   std::string why;
//   if (CudaDevices(&why) == 0) std::printf("GPU tests skipped: %s\n", why.c_str());
#pragma once

#include <string>

#include "backend/device_backend.h"
#include "device/device.h"

namespace tensorpod::internal {

// Usable CUDA devices; 0 with the reason in `*why` (no CUDA backend in this
// build, no driver, no GPU).
int CudaDevices(std::string* why = nullptr);

// The backend of a CUDA device. FAILED_PRECONDITION names why it cannot be
// used.
StatusOr<const DeviceBackend*> GetDeviceBackend(const Device& device);

// Resolves "auto" to the first GPU when one is usable, else the CPU (one log
// line either way); other strings as ParseDevice.
StatusOr<Device> ResolveDevice(const std::string& spec);

}  // namespace tensorpod::internal
