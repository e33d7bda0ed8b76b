// libFuzzer target: arbitrary bytes as an ONNX model. Loading must either
// succeed or return a Status; when it succeeds, running with zero-filled
// inputs of the declared shapes (dynamic dims set to 1) must do the same.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "runtime/session.h"

namespace ti = tensorpod::internal;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ti::SessionOptions options;
  options.threads = 1;
  options.memory_limit_bytes = size_t{1} << 30;  // well under libFuzzer's RSS limit
  auto session = ti::Session::LoadFromBytes(data, size, options);
  if (!session.ok()) return 0;
  std::vector<std::string> names;
  std::vector<ti::Tensor> inputs;
  for (const ti::IoInfo& in : (*session)->inputs()) {
    ti::Shape shape = in.shape;
    int64_t elements = 1;
    for (int64_t& d : shape) {
      if (d < 0) d = 1;
      if (d > (1 << 20) || elements * std::max<int64_t>(d, 1) > (1 << 20)) return 0;  // keep each run small
      elements *= std::max<int64_t>(d, 1);
    }
    auto t = ti::Tensor::Empty(in.dtype, shape);
    if (!t.ok()) return 0;
    names.push_back(in.name);
    inputs.push_back(std::move(t).value());
  }
  (void)(*session)->Run(names, inputs, {});
  return 0;
}
