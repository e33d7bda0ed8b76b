// libFuzzer target: the server's HTTP inference request parser (JSON, the
// binary tensor extension, raw bodies) against a two-input model of mixed
// dtypes. The first three bytes pick how Inference-Header-Content-Length is set
// (absent, 0, or a split point); the rest is the body. Every input must end
// in a Status, never a crash, leak or out-of-bounds read; parsed requests
// must describe tensors that lie inside the body or their own buffers.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "infer.h"

namespace ts = tensorpod::server;

namespace {

// Made once and kept for the process (LoadedModel holds atomics: no copies).
const ts::LoadedModel& Model() {
  static ts::LoadedModel* m = [] {
    auto* model = new ts::LoadedModel();
    model->name = "fuzz";
    model->version = 1;
    model->config.set_max_batch_size(8);
    model->inputs = {{"x", tensorpod::DType::kF32, {-1, 4}}, {"ids", tensorpod::DType::kI64, {-1, 2}}};
    model->outputs = {{"y", tensorpod::DType::kF32, {-1, 4}}, {"mask", tensorpod::DType::kBool, {-1, 2}}};
    return model;
  }();
  return *m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const ts::LoadedModel& model = Model();
  if (size < 3) return 0;
  const uint8_t mode = data[0];
  // Mode 2: bytes 1-2 give the JSON header's length (little-endian, folded
  // into the body's size); the other modes ignore them.
  const std::string body(reinterpret_cast<const char*>(data + 3), size - 3);
  int64_t header_length = -1;
  if (mode % 3 == 1) header_length = 0;
  if (mode % 3 == 2) header_length = static_cast<int64_t>((data[1] | (data[2] << 8)) % (body.size() + 1));
  ts::Limits limits;
  limits.max_tensor_elements = 1 << 16;
  ts::InferRequest r;
  const tensorpod::Status s = ts::ParseInferRequest(body, header_length, model, limits, &r);
  if (!s.ok()) return 0;
  // Touch every byte a parsed input claims: ASan reports any that is not there.
  volatile uint8_t sink = 0;
  for (const ts::InferInput& x : r.inputs) {
    const bool in_body = x.data >= body.data() && x.data + x.bytes <= body.data() + body.size();
    const bool in_own = !x.owned.empty() && x.data >= x.owned.data() && x.data + x.bytes <= x.owned.data() + x.owned.size();
    if (x.bytes > 0 && !in_body && !in_own) __builtin_trap();
    for (size_t i = 0; i < x.bytes; ++i) sink = sink + static_cast<uint8_t>(x.data[i]);
  }
  return 0;
}
