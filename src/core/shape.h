// Shape: the dimensions of a tensor, outermost first. Concrete shapes hold
// non-negative sizes; shapes declared by a model may hold kDynamicDim (-1).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace tensorpod::internal {

using Shape = std::vector<int64_t>;
inline constexpr int64_t kDynamicDim = -1;

// Element count of a concrete shape; INVALID_ARGUMENT on a negative dim or
// when the count overflows int64.
StatusOr<int64_t> NumElements(const Shape& shape);
// Same, for shapes already validated (no check).
int64_t NumElementsUnchecked(const Shape& shape);
// "[2,3,-1]".
std::string ShapeToString(const Shape& shape);

// Normalises a possibly negative axis against `rank`; INVALID_ARGUMENT if out
// of range. `what` names the attribute or input for the message.
StatusOr<int64_t> NormalizeAxis(int64_t axis, int64_t rank, const char* what);

// Numpy-style broadcast of two shapes.
StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b);

}  // namespace tensorpod::internal
