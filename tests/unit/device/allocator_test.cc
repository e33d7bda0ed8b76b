#include "device/allocator.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "unit/test_models.h"

namespace tensorpod::internal {
namespace {

TEST(CpuAllocatorTest, AlignedAndWritable) {
  CpuAllocator& a = CpuAllocator::Get();
  EXPECT_EQ(&a, &CpuAllocator::Get());
  for (size_t bytes : {1, 63, 64, 1000, 1 << 20}) {
    void* p = a.Allocate(bytes);
    ASSERT_NE(p, nullptr) << bytes;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u) << bytes;
    std::memset(p, 0xab, bytes);
    a.Deallocate(p, bytes);
  }
  EXPECT_EQ(a.device(), Device{});
}

TEST(CountingAllocatorTest, CountsAllocationsAndLiveBytes) {
  CountingAllocator c(&CpuAllocator::Get());
  EXPECT_EQ(c.allocations(), 0);
  void* p = c.Allocate(100);
  void* q = c.Allocate(28);
  EXPECT_EQ(c.allocations(), 2);
  EXPECT_EQ(c.live_bytes(), 128);
  c.Deallocate(p, 100);
  EXPECT_EQ(c.allocations(), 2);
  EXPECT_EQ(c.live_bytes(), 28);
  c.Deallocate(q, 28);
  EXPECT_EQ(c.live_bytes(), 0);
}

TEST(BufferTest, FreesThroughItsAllocator) {
  CountingAllocator c(&CpuAllocator::Get());
  {
    auto b = Buffer::Allocate(&c, 4096);
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_EQ((*b)->size(), 4096u);
    EXPECT_NE((*b)->data(), nullptr);
    EXPECT_EQ((*b)->device(), Device{});
    EXPECT_EQ(c.live_bytes(), 4096);
  }
  EXPECT_EQ(c.live_bytes(), 0);
  EXPECT_EQ(c.allocations(), 1);
}

class FailingAllocator : public Allocator {
 public:
  void* Allocate(size_t) override { return nullptr; }
  void Deallocate(void*, size_t) override {}
  Device device() const override { return Device{DeviceType::kCuda, 1}; }
};

TEST(BufferTest, OutOfMemoryIsResourceExhausted) {
  FailingAllocator f;
  auto b = Buffer::Allocate(&f, 12345);
  EXPECT_TRUE(StatusIs(b.status(), StatusCode::kResourceExhausted,
                       {"12345", "cuda:1"}));
}

TEST(DeviceTest, ParseAndPrint) {
  EXPECT_EQ(ParseDevice("cpu").value(), Device{});
  EXPECT_EQ(ParseDevice("auto").value(), Device{});
  EXPECT_EQ(ParseDevice("cuda").value(), (Device{DeviceType::kCuda, 0}));
  EXPECT_EQ(ParseDevice("cuda:2").value(), (Device{DeviceType::kCuda, 2}));
  EXPECT_EQ(ParseDevice("cuda:2")->ToString(), "cuda:2");
  EXPECT_EQ(Device{}.ToString(), "cpu");
  for (const char* bad : {"tpu", "cuda:", "cuda:1x", "cuda:99999", "gpu"}) {
    EXPECT_TRUE(StatusIs(ParseDevice(bad).status(),
                         StatusCode::kInvalidArgument,
                         {std::string("\"") + bad + "\""}))
        << bad;
  }
}

}  // namespace
}  // namespace tensorpod::internal
