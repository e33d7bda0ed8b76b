#include "core/dtype.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/tensor.h"

namespace tensorpod::internal {
namespace {

TEST(DTypeTest, SizesAndNames) {
  EXPECT_EQ(DTypeSize(DType::kF32), 4u);
  EXPECT_EQ(DTypeSize(DType::kBF16), 2u);
  EXPECT_EQ(DTypeSize(DType::kBool), 1u);
  EXPECT_STREQ(DTypeName(DType::kI64), "int64");
  EXPECT_FALSE(IsValidDType(0));
  EXPECT_FALSE(IsValidDType(14));
}

TEST(DTypeTest, HalfRoundTrip) {
  for (float f : {0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f}) {
    EXPECT_EQ(HalfToFloat(FloatToHalf(f)), f) << f;
  }
  EXPECT_TRUE(std::isinf(HalfToFloat(FloatToHalf(1e6f))));
  EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(NAN))));
  EXPECT_EQ(FloatToHalf(1.0f + 1.0f / 4096), FloatToHalf(1.0f));  // ties to even
}

TEST(DTypeTest, BFloat16RoundTrip) {
  EXPECT_EQ(BFloat16ToFloat(FloatToBFloat16(1.5f)), 1.5f);
  EXPECT_NEAR(BFloat16ToFloat(FloatToBFloat16(3.14159f)), 3.14159f, 0.01f);
}

TEST(TensorTest, EmptyIsAlignedAndZeroed) {
  auto t = Tensor::Empty(DType::kF32, {3, 5});
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t->raw_data()) % kTensorAlignment, 0u);
  EXPECT_EQ(t->nbytes(), 60u);
  for (int i = 0; i < 15; ++i) EXPECT_EQ(t->data<float>()[i], 0.0f);
  EXPECT_FALSE(Tensor::Empty(DType::kF32, {int64_t{1} << 40, int64_t{1} << 30}).ok());
}

}  // namespace
}  // namespace tensorpod::internal

namespace tensorpod::internal {
namespace {

TEST(DTypeTest, OnnxTypeNumbersRoundTrip) {
  EXPECT_EQ(DTypeFromOnnxType(1), DType::kF32);
  EXPECT_EQ(DTypeFromOnnxType(10), DType::kF16);
  EXPECT_EQ(DTypeFromOnnxType(16), DType::kBF16);
  EXPECT_EQ(DTypeFromOnnxType(7), DType::kI64);
  EXPECT_EQ(DTypeFromOnnxType(9), DType::kBool);
  for (int64_t unsupported : {0, 8, 14, 15, 17, 99, -1}) {
    EXPECT_EQ(DTypeFromOnnxType(unsupported), DType::kUndefined) << unsupported;
  }
  for (int32_t v = 1; v <= 13; ++v) {
    const DType t = static_cast<DType>(v);
    EXPECT_EQ(DTypeFromOnnxType(OnnxTypeOf(t)), t) << DTypeName(t);
  }
  EXPECT_EQ(OnnxTypeOf(DType::kUndefined), 0);
}

}  // namespace
}  // namespace tensorpod::internal
