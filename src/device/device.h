// Device: where memory lives and kernels run.
#pragma once

#include <string>

#include "core/status.h"

namespace tensorpod::internal {

enum class DeviceType : int { kCpu = 0, kCuda = 1 };

struct Device {
  DeviceType type = DeviceType::kCpu;
  int index = 0;

  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  // "cpu", "cuda:0".
  std::string ToString() const;
};

// Parses "cpu", "cuda", "cuda:N" or "auto" (auto resolves to "cpu" here;
// the CUDA backend widens it). INVALID_ARGUMENT names the bad string.
StatusOr<Device> ParseDevice(const std::string& s);

}  // namespace tensorpod::internal
