#include "runtime/devices.h"

#include "core/logging.h"
#ifdef TENSORPOD_HAVE_CUDA
#include "cuda_backend.h"
#endif

namespace tensorpod::internal {

int CudaDevices(std::string* why) {
#ifdef TENSORPOD_HAVE_CUDA
  return CudaDeviceCount(why);
#else
  if (why != nullptr) *why = "this build of tensorpod has no CUDA backend (built with TENSORPOD_CUDA=OFF)";
  return 0;
#endif
}

StatusOr<const DeviceBackend*> GetDeviceBackend(const Device& device) {
  TP_INTERNAL_CHECK(device.type == DeviceType::kCuda, "GetDeviceBackend(" << device.ToString() << ")");
#ifdef TENSORPOD_HAVE_CUDA
  return GetCudaBackend(device.index);
#else
  return TP_ERROR(kFailedPrecondition, "device \"" << device.ToString()
                                                   << "\" was requested but this build of tensorpod has no CUDA "
                                                      "backend (built with TENSORPOD_CUDA=OFF); use \"cpu\" or "
                                                      "\"auto\"");
#endif
}

StatusOr<Device> ResolveDevice(const std::string& spec) {
  TP_ASSIGN_OR_RETURN(Device d, ParseDevice(spec));
  if (spec != "auto") return d;
  std::string why;
  if (CudaDevices(&why) > 0) {
    auto backend = GetDeviceBackend(Device{DeviceType::kCuda, 0});
    if (backend.ok()) {
      TP_LOG_INFO("device \"auto\": using cuda:0 ({})", (*backend)->device_name());
      return Device{DeviceType::kCuda, 0};
    }
    why = backend.status().message();
  }
  TP_LOG_INFO("device \"auto\": no usable GPU ({}), using cpu", why);
  return Device{};
}

}  // namespace tensorpod::internal
