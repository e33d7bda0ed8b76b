// Factories of the CPU nn kernels, one per op, registered in nn.cc. Each
// parses its node's attributes once; the kernels they build are immutable
// after creation (Conv's primitive cache is internally locked), so Compute
// is safe to call concurrently.
#pragma once

#include <memory>

#include "backend/kernel.h"

namespace tensorpod::internal {

StatusOr<std::unique_ptr<Kernel>> MakeMatMulKernel(const NodeDef& node);
StatusOr<std::unique_ptr<Kernel>> MakeFusedMatMulKernel(const NodeDef& node);
StatusOr<std::unique_ptr<Kernel>> MakeGemmKernel(const NodeDef& node);
StatusOr<std::unique_ptr<Kernel>> MakeConvKernel(const NodeDef& node);
StatusOr<std::unique_ptr<Kernel>> MakeToPlainKernel(const NodeDef& node);
StatusOr<std::unique_ptr<Kernel>> MakeMaxPoolKernel(const NodeDef& node);
StatusOr<std::unique_ptr<Kernel>> MakeAveragePoolKernel(const NodeDef& node);
StatusOr<std::unique_ptr<Kernel>> MakeGlobalAveragePoolKernel(const NodeDef& node);
StatusOr<std::unique_ptr<Kernel>> MakeGlobalMaxPoolKernel(const NodeDef& node);
StatusOr<std::unique_ptr<Kernel>> MakeBatchNormKernel(const NodeDef& node);
StatusOr<std::unique_ptr<Kernel>> MakeSoftmaxKernel(const NodeDef& node);
StatusOr<std::unique_ptr<Kernel>> MakeAttentionKernel(const NodeDef& node);
StatusOr<std::unique_ptr<Kernel>> MakeLogSoftmaxKernel(const NodeDef& node);
StatusOr<std::unique_ptr<Kernel>> MakeLayerNormKernel(const NodeDef& node);

}  // namespace tensorpod::internal
