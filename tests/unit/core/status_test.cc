#include "core/status.h"

#include <gtest/gtest.h>

#include "core/shape.h"

namespace tensorpod::internal {
namespace {

StatusOr<int> Half(int x) {
  TP_CHECK_ARG(x % 2 == 0, "x=" << x << " is odd");
  return x / 2;
}

Status Quarter(int x, int* out) {
  TP_ASSIGN_OR_RETURN(int h, Half(x));
  TP_ASSIGN_OR_RETURN(*out, Half(h));
  return Status::Ok();
}

TEST(StatusTest, OkAndErrors) {
  EXPECT_TRUE(Status::Ok().ok());
  Status s = TP_ERROR(kNotFound, "model \"m\" v" << 3);
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_EQ(s.ToString(), "NOT_FOUND: model \"m\" v3");
  EXPECT_EQ(s.WithContext("load").message(), "load: model \"m\" v3");
}

TEST(StatusTest, MacrosPropagate) {
  int out = 0;
  EXPECT_TRUE(Quarter(8, &out).ok());
  EXPECT_EQ(out, 2);
  Status s = Quarter(6, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "x=3 is odd");
}

TEST(ShapeTest, NumElementsDetectsOverflow) {
  EXPECT_EQ(NumElements({2, 3, 4}).value(), 24);
  EXPECT_EQ(NumElements({}).value(), 1);
  EXPECT_EQ(NumElements({0, 5}).value(), 0);
  auto big = NumElements({int64_t{1} << 40, int64_t{1} << 40});
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.status().message().find("more elements than int64"), std::string::npos);
  EXPECT_FALSE(NumElements({2, -1}).ok());
}

TEST(ShapeTest, Broadcast) {
  EXPECT_EQ(BroadcastShapes({2, 1, 4}, {3, 1}).value(), (Shape{2, 3, 4}));
  EXPECT_FALSE(BroadcastShapes({2, 3}, {4}).ok());
  EXPECT_EQ(NormalizeAxis(-1, 3, "axis").value(), 2);
  EXPECT_FALSE(NormalizeAxis(3, 3, "axis").ok());
}

}  // namespace
}  // namespace tensorpod::internal
