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
// Product of dims [begin, end) of `shape` (1 when empty).
int64_t DimProduct(const Shape& shape, int64_t begin, int64_t end);
// Row-major strides of a dense tensor of `shape`, in elements, into
// strides[0 .. rank).
void DenseStrides(const Shape& shape, int64_t* strides);
// "[2,3,-1]".
std::string ShapeToString(const Shape& shape);

// Normalises a possibly negative axis against `rank`; INVALID_ARGUMENT if out
// of range. `what` names the attribute or input for the message.
StatusOr<int64_t> NormalizeAxis(int64_t axis, int64_t rank, const char* what);

// Numpy-style broadcast of two shapes.
StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b);

}  // namespace tensorpod::internal
