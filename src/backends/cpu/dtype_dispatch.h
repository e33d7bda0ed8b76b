// Dtype dispatch at the edge of a templated kernel: picks the C++ element
// type for a tensor's DType from a list the kernel supports.
//
// Example:
//   return VisitDType<float, double, int64_t>(x.dtype(), "ArgMax", [&](auto tag) {
//     using T = decltype(tag);
//     return RunArgMax<T>(x.data<T>(), ...);  // returns Status
//   });
#pragma once

#include <string_view>

#include "core/dtype.h"
#include "core/status.h"

namespace tensorpod::internal {

// Calls fn(T{}) for the T among Ts whose DType is `dtype` and returns its
// Status; UNIMPLEMENTED naming `op` and the dtype when none matches.
template <typename... Ts, typename Fn>
Status VisitDType(DType dtype, std::string_view op, Fn&& fn) {
  Status result;
  const bool matched = ((dtype == DTypeOf<Ts>::value ? (result = fn(Ts{}), true) : false) || ...);
  if (!matched) return TP_ERROR(kUnimplemented, op << " is not implemented for dtype " << DTypeName(dtype));
  return result;
}

}  // namespace tensorpod::internal
