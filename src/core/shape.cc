#include "core/shape.h"

#include <algorithm>

namespace tensorpod::internal {

StatusOr<int64_t> NumElements(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    TP_CHECK_ARG(d >= 0, "shape " << ShapeToString(shape) << " has a negative dimension");
    if (d != 0 && n > INT64_MAX / d) {
      return TP_ERROR(kInvalidArgument,
                      "shape " << ShapeToString(shape) << " has more elements than int64 can count");
    }
    n *= d;
  }
  return n;
}

int64_t NumElementsUnchecked(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string ShapeToString(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ",";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

StatusOr<int64_t> NormalizeAxis(int64_t axis, int64_t rank, const char* what) {
  const int64_t a = axis < 0 ? axis + rank : axis;
  TP_CHECK_ARG(a >= 0 && a < rank, what << " " << axis << " is out of range for rank " << rank);
  return a;
}

StatusOr<Shape> BroadcastShapes(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da == db || db == 1) {
      out[i] = da;
    } else if (da == 1) {
      out[i] = db;
    } else {
      return TP_ERROR(kInvalidArgument, "shapes " << ShapeToString(a) << " and "
                                                  << ShapeToString(b) << " cannot be broadcast");
    }
  }
  return out;
}

int64_t DimProduct(const Shape& shape, int64_t begin, int64_t end) {
  int64_t n = 1;
  for (int64_t d = begin; d < end; ++d) n *= shape[d];
  return n;
}

void DenseStrides(const Shape& shape, int64_t* strides) {
  int64_t s = 1;
  for (int64_t k = static_cast<int64_t>(shape.size()) - 1; k >= 0; --k) {
    strides[k] = s;
    s *= shape[k];
  }
}

}  // namespace tensorpod::internal
