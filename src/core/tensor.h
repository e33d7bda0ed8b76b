// Tensor: a typed, dense, row-major view of memory. A Tensor does not own
// memory by itself; `holder` keeps the underlying buffer alive when the
// tensor owns a share of it, and is empty for borrowed views (the caller
// keeps the memory alive for as long as the view is used). Copying a Tensor
// copies the view, not the data. Not thread-safe to mutate.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "core/dtype.h"
#include "core/shape.h"

namespace tensorpod::internal {

class Tensor {
 public:
  Tensor() = default;
  // REQUIRES: `shape` is concrete and its element count fits int64.
  Tensor(DType dtype, Shape shape, void* data, std::shared_ptr<void> holder = nullptr)
      : dtype_(dtype),
        shape_(std::move(shape)),
        data_(data),
        holder_(std::move(holder)),
        num_elements_(NumElementsUnchecked(shape_)) {}

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t dim(int64_t i) const { return shape_[i]; }
  int64_t num_elements() const { return num_elements_; }
  size_t nbytes() const { return static_cast<size_t>(num_elements_) * DTypeSize(dtype_); }
  bool defined() const { return dtype_ != DType::kUndefined; }

  void* raw_data() { return data_; }
  const void* raw_data() const { return data_; }
  template <typename T> T* data() { return static_cast<T*>(data_); }
  template <typename T> const T* data() const { return static_cast<const T*>(data_); }

  const std::shared_ptr<void>& holder() const { return holder_; }

  // A view of the same memory with another shape of equal element count.
  Tensor Reshaped(Shape shape) const { return Tensor(dtype_, std::move(shape), data_, holder_); }

  // Allocates a zero-initialised, 64-byte aligned tensor on the CPU heap.
  static StatusOr<Tensor> Empty(DType dtype, const Shape& shape);
  // Same, without zeroing: for tensors about to be overwritten.
  static StatusOr<Tensor> Uninitialized(DType dtype, const Shape& shape);
  // A deep copy into fresh CPU memory.
  StatusOr<Tensor> Clone() const;

  // Reads element i as double / int64 (for small shape and index tensors).
  double GetAsDouble(int64_t i) const;
  int64_t GetAsInt64(int64_t i) const;

 private:
  DType dtype_ = DType::kUndefined;
  Shape shape_;
  void* data_ = nullptr;
  std::shared_ptr<void> holder_;
  int64_t num_elements_ = 0;
};

// 64-byte aligned heap memory for CPU tensors.
void* AlignedAlloc(size_t bytes);
void AlignedFree(void* p);
inline constexpr size_t kTensorAlignment = 64;

}  // namespace tensorpod::internal
