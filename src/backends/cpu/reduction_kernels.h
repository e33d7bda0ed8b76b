// Kernel factories of the reduction family that live outside reduction.cc,
// and the small fixed-capacity index helpers they share. Kernels keep their
// per-call index bookkeeping in these arrays so a warmed-up Compute does
// not touch the heap.
#pragma once

#include <array>
#include <cstdint>
#include <memory>

#include "backend/kernel.h"
#include "core/shape.h"

namespace tensorpod::internal {

StatusOr<std::unique_ptr<Kernel>> CreateTopKKernel(const NodeDef& node);
// Serves Resize (all opsets) and Upsample.
StatusOr<std::unique_ptr<Kernel>> CreateResizeKernel(const NodeDef& node);

// The largest rank these kernels handle without heap memory.
inline constexpr int kMaxReduceRank = 16;
using DimArray = std::array<int64_t, kMaxReduceRank>;

// A tensor seen as [outer, axis, inner] around one axis.
struct AxisSplit {
  int64_t outer = 1;
  int64_t axis = 1;
  int64_t inner = 1;
};

inline AxisSplit SplitAtAxis(const Shape& shape, int64_t axis) {
  AxisSplit s;
  for (int64_t i = 0; i < axis; ++i) s.outer *= shape[i];
  s.axis = shape[axis];
  for (size_t i = axis + 1; i < shape.size(); ++i) s.inner *= shape[i];
  return s;
}

}  // namespace tensorpod::internal
