// Helpers shared by the op tests in tests/unit/ops: tensors from a shape and
// values, values read back, one node run through EvaluateNodeOnCpu, and float
// comparisons with a tolerance.
//
// Example:
//   Tensor x = Make<float>({2}, {1, 2});
//   OpNode n{"Relu", {&x}};
//   EXPECT_EQ(Values<float>(n.Out()), (std::vector<float>{1, 2}));
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "backends/cpu/eval_node.h"
#include "core/dtype.h"
#include "core/status.h"
#include "core/tensor.h"
#include "ops/attributes.h"

namespace tensorpod::internal {

// A tensor of `shape` holding `values` (as many as the shape has elements).
template <typename T>
Tensor Make(const Shape& shape, const std::vector<T>& values) {
  auto made = Tensor::Empty(DTypeOf<T>::value, shape);
  EXPECT_TRUE(made.ok()) << made.status();
  if (!made.ok()) return Tensor();
  Tensor t = std::move(made).value();
  EXPECT_EQ(static_cast<int64_t>(values.size()), t.num_elements());
  const size_t n =
      std::min(values.size(), static_cast<size_t>(t.num_elements()));
  std::copy(values.begin(), values.begin() + n, t.data<T>());
  return t;
}

// A 1-D int64 tensor: shapes, axes, indices.
inline Tensor I64(const std::vector<int64_t>& v) {
  return Make<int64_t>({static_cast<int64_t>(v.size())}, v);
}

// The elements of `t`, which must be of type T.
template <typename T>
std::vector<T> Values(const Tensor& t) {
  EXPECT_EQ(t.dtype(), DTypeOf<T>::value);
  return std::vector<T>(t.data<T>(), t.data<T>() + t.num_elements());
}

// One node for EvaluateNodeOnCpu, built as an aggregate:
//   OpNode{"Clip", {&x, nullptr, &hi}, attrs, /*opset=*/11}.Out()
struct OpNode {
  std::string op;
  std::vector<const Tensor*> inputs;  // nullptr for an omitted optional input
  Attributes attrs;
  int opset = 17;
  int num_outputs = 1;
  int threads = 1;
  std::string name = "n1";  // appears in error messages

  StatusOr<std::vector<Tensor>> Run() const {
    EvalNodeArgs args;
    args.op_type = op;
    args.name = name;
    args.opset = opset;
    args.attrs = &attrs;
    args.inputs = inputs;
    args.num_outputs = num_outputs;
    args.threads = threads;
    return EvaluateNodeOnCpu(args);
  }
  // The first output; fails the test (and returns an empty Tensor) on error.
  Tensor Out() const {
    auto r = Run();
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? (*r)[0] : Tensor();
  }
  // The status code of Run(), for the error cases.
  StatusCode Code() const { return Run().status().code(); }
};

namespace op_test_internal {

// `want[i]` NaN: `got[i]` must be NaN; infinite: equal; otherwise within
// `tol`, scaled by max(1, |want[i]|) when `relative`.
inline void ExpectNear(const std::vector<float>& got,
                       const std::vector<float>& want, double tol,
                       bool relative) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i])) {
      EXPECT_TRUE(std::isnan(got[i])) << "at " << i;
    } else if (std::isinf(want[i])) {
      EXPECT_EQ(got[i], want[i]) << "at " << i;
    } else {
      EXPECT_NEAR(got[i], want[i],
                  relative ? static_cast<float>(tol) *
                                 std::max(1.0f, std::fabs(want[i]))
                           : tol)
          << "at " << i;
    }
  }
}

}  // namespace op_test_internal

// Expects `got` to match `want` element by element within `tol` relative to
// max(1, |want[i]|); a NaN in `want` wants NaN, an infinity wants itself.
inline void ExpectNear(const std::vector<float>& got,
                       const std::vector<float>& want, float tol = 1e-5f) {
  op_test_internal::ExpectNear(got, want, tol, /*relative=*/true);
}

// The same with an absolute tolerance: within `tol` whatever the magnitude.
inline void ExpectNearAbsolute(const std::vector<float>& got,
                               const std::vector<float>& want,
                               double tol = 1e-5) {
  op_test_internal::ExpectNear(got, want, tol, /*relative=*/false);
}

}  // namespace tensorpod::internal
