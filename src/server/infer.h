// Inference requests and responses of the Open Inference Protocol over
// HTTP: the JSON body, with or without the binary tensor data extension,
// checked against the model and turned into engine tensors; and the
// response, JSON data or binary outputs. Every problem is an
// INVALID_ARGUMENT naming the input and what is wrong.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "repository.h"

namespace tensorpod::server {

struct Limits {
  size_t max_body_bytes = size_t{64} << 20;
  int64_t max_tensor_elements = int64_t{1} << 28;
  int max_json_depth = 64;
};

struct InferInput {
  std::string name;
  DType dtype = DType::kUndefined;
  std::vector<int64_t> shape;
  const char* data = nullptr;  // into the request body, or into `owned`
  size_t bytes = 0;
  std::vector<char> owned;     // JSON data converted, or misaligned binary data copied
};

struct RequestedOutput {
  std::string name;
  int index = 0;  // in the model's outputs
  bool binary = false;
};

struct InferRequest {
  std::string id;
  bool has_id = false;
  std::vector<InferInput> inputs;  // in the model's input order
  std::vector<RequestedOutput> outputs;
  int priority = 0;
  int64_t timeout_us = 0;
  int64_t rows = 0;  // the batch dimension, for statistics
};

// Checks one input's datatype and shape against the model (and the element
// limit); sets its dtype and element count, and the request's batch `rows`
// (0 until the first input sets it). Shared by the HTTP and gRPC front ends.
Status CheckInput(const LoadedModel& model, const TensorInfo& info, const std::string& datatype,
                  const std::vector<int64_t>& shape, const Limits& limits, DType* dtype, int64_t* elements,
                  int64_t* rows);

// Parses `body` (kept alive by the caller while the request runs: binary
// inputs point into it). `header_length` is Inference-Header-Content-Length,
// -1 when absent.
Status ParseInferRequest(const std::string& body, int64_t header_length, const LoadedModel& model,
                         const Limits& limits, InferRequest* out);

// The response body; `json_length` is the JSON part's size (what
// Inference-Header-Content-Length says) when some output is binary,
// otherwise the whole body is JSON and it equals body->size().
void BuildInferResponse(const LoadedModel& model, const InferRequest& request, const std::vector<Tensor>& outputs,
                        std::string* body, size_t* json_length);

// GET /v2/models/{m}[/versions/{v}]: name, versions, platform, inputs, outputs.
std::string ModelMetadataJson(const LoadedModel& model, const std::vector<int64_t>& versions);

}  // namespace tensorpod::server
