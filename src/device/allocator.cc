#include "device/allocator.h"

#include "core/tensor.h"

namespace tensorpod::internal {

std::string Device::ToString() const {
  if (type == DeviceType::kCpu) return "cpu";
  return "cuda:" + std::to_string(index);
}

StatusOr<Device> ParseDevice(const std::string& s) {
  if (s == "cpu" || s == "auto" || s.empty()) return Device{};
  if (s == "cuda") return Device{DeviceType::kCuda, 0};
  if (s.rfind("cuda:", 0) == 0) {
    const std::string idx = s.substr(5);
    if (!idx.empty() && idx.size() < 4 && idx.find_first_not_of("0123456789") == std::string::npos) {
      return Device{DeviceType::kCuda, std::stoi(idx)};
    }
  }
  return TP_ERROR(kInvalidArgument,
                  "device \"" << s << "\" is not one of cpu, auto, cuda, cuda:N");
}

CpuAllocator& CpuAllocator::Get() {
  static CpuAllocator a;
  return a;
}

void* CpuAllocator::Allocate(size_t bytes) { return AlignedAlloc(bytes); }
void CpuAllocator::Deallocate(void* p, size_t) { AlignedFree(p); }

void* CountingAllocator::Allocate(size_t bytes) {
  allocations_.fetch_add(1);
  live_bytes_.fetch_add(static_cast<int64_t>(bytes));
  return base_->Allocate(bytes);
}

void CountingAllocator::Deallocate(void* p, size_t bytes) {
  live_bytes_.fetch_sub(static_cast<int64_t>(bytes));
  base_->Deallocate(p, bytes);
}

StatusOr<std::shared_ptr<Buffer>> Buffer::Allocate(Allocator* allocator, size_t bytes) {
  void* p = allocator->Allocate(bytes);
  if (p == nullptr) {
    return TP_ERROR(kResourceExhausted, "out of memory allocating " << bytes << " bytes on "
                                                                    << allocator->device().ToString());
  }
  return std::shared_ptr<Buffer>(new Buffer(allocator, p, bytes));
}

Buffer::~Buffer() { allocator_->Deallocate(data_, size_); }

}  // namespace tensorpod::internal
