#include "core/tensor.h"

#include <cstdlib>
#include <cstring>

namespace tensorpod::internal {

void* AlignedAlloc(size_t bytes) {
  const size_t rounded = (bytes + kTensorAlignment - 1) / kTensorAlignment * kTensorAlignment;
  return std::aligned_alloc(kTensorAlignment, rounded == 0 ? kTensorAlignment : rounded);
}

void AlignedFree(void* p) { std::free(p); }

StatusOr<Tensor> Tensor::Empty(DType dtype, const Shape& shape) {
  TP_ASSIGN_OR_RETURN(Tensor t, Uninitialized(dtype, shape));
  if (t.nbytes() > 0) std::memset(t.raw_data(), 0, t.nbytes());
  return t;
}

StatusOr<Tensor> Tensor::Uninitialized(DType dtype, const Shape& shape) {
  TP_ASSIGN_OR_RETURN(int64_t n, NumElements(shape));
  const size_t elem = DTypeSize(dtype);
  TP_CHECK_ARG(elem > 0, "cannot allocate a tensor of undefined type");
  // 1 TiB: beyond any real model, and beyond what allocators can map.
  TP_CHECK_ARG(static_cast<uint64_t>(n) <= (uint64_t{1} << 40) / elem,
               "tensor of shape " << ShapeToString(shape) << " is too large to allocate");
  const size_t bytes = static_cast<size_t>(n) * elem;
  void* p = AlignedAlloc(bytes);
  if (p == nullptr) {
    return TP_ERROR(kResourceExhausted, "out of memory allocating " << bytes << " bytes");
  }
  std::shared_ptr<void> holder(p, AlignedFree);
  return Tensor(dtype, shape, p, std::move(holder));
}

StatusOr<Tensor> Tensor::Clone() const {
  TP_ASSIGN_OR_RETURN(Tensor t, Empty(dtype_, shape_));
  if (nbytes() > 0) std::memcpy(t.raw_data(), data_, nbytes());
  return t;
}

double Tensor::GetAsDouble(int64_t i) const {
  switch (dtype_) {
    case DType::kF32: return data<float>()[i];
    case DType::kF64: return data<double>()[i];
    case DType::kF16: return HalfToFloat(data<uint16_t>()[i]);
    case DType::kBF16: return BFloat16ToFloat(data<uint16_t>()[i]);
    case DType::kI64: return static_cast<double>(data<int64_t>()[i]);
    case DType::kI32: return data<int32_t>()[i];
    case DType::kI16: return data<int16_t>()[i];
    case DType::kI8: return data<int8_t>()[i];
    case DType::kU8: return data<uint8_t>()[i];
    case DType::kU16: return data<uint16_t>()[i];
    case DType::kU32: return data<uint32_t>()[i];
    case DType::kU64: return static_cast<double>(data<uint64_t>()[i]);
    case DType::kBool: return data<bool>()[i] ? 1.0 : 0.0;
    case DType::kUndefined: return 0;
  }
  return 0;
}

int64_t Tensor::GetAsInt64(int64_t i) const {
  switch (dtype_) {
    case DType::kI64: return data<int64_t>()[i];
    case DType::kI32: return data<int32_t>()[i];
    case DType::kU64: return static_cast<int64_t>(data<uint64_t>()[i]);
    default: return static_cast<int64_t>(GetAsDouble(i));
  }
}

}  // namespace tensorpod::internal
