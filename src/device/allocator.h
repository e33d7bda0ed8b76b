// Allocator: the interface through which backends and the runtime obtain
// device memory, and Buffer, an owned allocation (pointer + size + the
// allocator that frees it + device), in the style of a DataPtr.
//
// Example:
//   CpuAllocator& a = CpuAllocator::Get();
//   TP_ASSIGN_OR_RETURN(auto buf, Buffer::Allocate(&a, 1 << 20));
//   float* p = static_cast<float*>(buf->data());
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>

#include "core/status.h"
#include "device/device.h"

namespace tensorpod::internal {

class Allocator {
 public:
  virtual ~Allocator() = default;
  // Returns nullptr when out of memory. Thread-safe.
  virtual void* Allocate(size_t bytes) = 0;
  virtual void Deallocate(void* p, size_t bytes) = 0;
  virtual Device device() const = 0;
};

// 64-byte aligned host memory. Thread-safe; a process-wide instance.
class CpuAllocator : public Allocator {
 public:
  static CpuAllocator& Get();
  void* Allocate(size_t bytes) override;
  void Deallocate(void* p, size_t bytes) override;
  Device device() const override { return Device{}; }
};

// Forwards to another allocator and counts calls; used by tests to prove that
// a warmed-up Run allocates nothing. Thread-safe.
class CountingAllocator : public Allocator {
 public:
  explicit CountingAllocator(Allocator* base) : base_(base) {}
  void* Allocate(size_t bytes) override;
  void Deallocate(void* p, size_t bytes) override;
  Device device() const override { return base_->device(); }
  int64_t allocations() const { return allocations_.load(); }
  int64_t live_bytes() const { return live_bytes_.load(); }

 private:
  Allocator* base_;  // not owned; outlives this
  std::atomic<int64_t> allocations_{0};
  std::atomic<int64_t> live_bytes_{0};
};

// An owned allocation. Frees through its allocator on destruction.
class Buffer {
 public:
  // RESOURCE_EXHAUSTED when the allocator has no memory.
  // `allocator` must outlive the buffer.
  static StatusOr<std::shared_ptr<Buffer>> Allocate(Allocator* allocator, size_t bytes);
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  void* data() const { return data_; }
  size_t size() const { return size_; }
  Device device() const { return allocator_->device(); }

 private:
  Buffer(Allocator* allocator, void* data, size_t size)
      : allocator_(allocator), data_(data), size_(size) {}
  Allocator* allocator_;
  void* data_;
  size_t size_;
};

}  // namespace tensorpod::internal
