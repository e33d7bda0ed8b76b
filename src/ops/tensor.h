// Parameter resolution shared by the tensor ops' shape inference
// (src/ops/tensor.cc) and their CPU kernels, so both read attributes and
// value inputs the same way. The functions read their arguments in place and
// allocate only to report an error, so kernels may call them from Compute.
// Messages start with `where`, e.g. `Slice node "s1"`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "core/tensor.h"
#include "ops/attributes.h"

namespace tensorpod::internal {

// A list of ints given either as a tensor (a value input since the op's
// opset moved it there) or as an attribute (older opsets). Borrows what it
// views; an IntList built by default is absent.
class IntList {
 public:
  IntList() = default;
  // REQUIRES: `t` is an int32 or int64 tensor (see CheckIntTensor).
  explicit IntList(const Tensor* t) : tensor_(t), size_(t->num_elements()) {}
  IntList(const int64_t* data, int64_t size)
      : data_(data), size_(size), present_(true) {}

  bool present() const { return tensor_ != nullptr || present_; }
  int64_t size() const { return size_; }
  int64_t operator[](int64_t i) const {
    return tensor_ ? tensor_->GetAsInt64(i) : data_[i];
  }
  // "[1,-1,4]".
  std::string ToString() const;

 private:
  const Tensor* tensor_ = nullptr;
  const int64_t* data_ = nullptr;
  int64_t size_ = 0;
  bool present_ = false;
};

// INVALID_ARGUMENT naming `what` unless `t` is an int32/int64 tensor of rank
// 0 or 1.
Status CheckIntTensor(const Tensor& t, std::string_view where,
                      const char* what);

// The int or ints attribute `name` as an IntList (absent when the node does
// not have it); INVALID_ARGUMENT when it holds another type.
StatusOr<IntList> AttrIntList(const Attributes& attrs, const char* name,
                              std::string_view where);

// One input dimension after Slice: the first index read, the step between
// reads and how many are read.
struct SliceAxis {
  int64_t start = 0;
  int64_t step = 1;
  int64_t count = 0;
};

// Resolves Slice's starts/ends/axes/steps (ONNX semantics: negative values
// count from the end, out-of-range values are clamped, negative steps walk
// backwards) into one SliceAxis per input dimension; dimensions that `axes`
// does not name are read whole. REQUIRES: `out` holds input_shape.size()
// entries.
Status ResolveSlice(std::string_view where, const Shape& input_shape,
                    const IntList& starts, const IntList& ends,
                    const IntList& axes, const IntList& steps, SliceAxis* out);

enum class PadMode { kConstant, kReflect, kEdge };

// Reads Pad's "mode" attribute.
StatusOr<PadMode> ParsePadMode(const Attributes& attrs, std::string_view where);

// Resolves Pad's pads ([x1_begin, x2_begin, ..., x1_end, x2_end, ...], may be
// negative to crop) into per-dimension `begin` and `end`, checking that no
// crop is larger than its dimension and that reflect/edge modes have data to
// replicate. REQUIRES: `begin` and `end` hold input_shape.size() entries.
Status ResolvePads(std::string_view where, const Shape& input_shape,
                   const IntList& pads, PadMode mode, int64_t* begin,
                   int64_t* end);

// The dimensions Shape (opset 15 start/end attributes, clamped to the rank)
// reports: [*start, *start + *count).
void ShapeOpRange(int64_t rank, const Attributes& attrs, int opset,
                  int64_t* start, int64_t* count);

// The tensor a Constant node produces, from whichever of value, value_float,
// value_floats, value_int or value_ints it has (exactly one is required);
// UNIMPLEMENTED for string and sparse values. Allocates for the scalar and
// list forms.
StatusOr<Tensor> ConstantOpValue(const Attributes& attrs,
                                 std::string_view where);

}  // namespace tensorpod::internal
