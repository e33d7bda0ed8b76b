// The CPU Pad kernel (constant, reflect and edge modes; negative pads crop).
#pragma once

#include <memory>

#include "backend/kernel.h"

namespace tensorpod::internal {

StatusOr<std::unique_ptr<Kernel>> CreatePadKernel(const NodeDef& node);

}  // namespace tensorpod::internal
