// ONNX -> graph IR. The only code in tensorpod that sees protobuf: parses a
// ModelProto (Debian's libonnx), runs the ONNX checker and shape inference
// when the model's versions are ones the library knows, reads initializers
// (inline or in external data files next to the model), and builds a Graph.
// Every node whose op tensorpod does not support is reported at once, in a
// single UNIMPLEMENTED status naming each op and node. Thread-safe.
//
// Example:
//   TP_ASSIGN_OR_RETURN(Graph g, ImportOnnxFile("model.onnx"));
#pragma once

#include <cstddef>
#include <string>

#include "core/status.h"
#include "core/tensor.h"
#include "graph/graph.h"

namespace tensorpod::internal {

struct ImportOptions {
  // Folder that external data locations are relative to; empty: external
  // data is an error.
  std::string model_dir;
};

StatusOr<Graph> ImportOnnxModel(const void* data, size_t size, const ImportOptions& options);
StatusOr<Graph> ImportOnnxFile(const std::string& path);

// Decodes a serialized onnx.TensorProto (as in the ONNX test data's .pb
// files). `model_dir` as above for external data.
StatusOr<Tensor> ImportOnnxTensor(const void* data, size_t size, const std::string& model_dir = "");

// Reads a whole file; NOT_FOUND / INVALID_ARGUMENT naming the path.
StatusOr<std::string> ReadFile(const std::string& path);

// Highest default-domain opset this importer validates with the ONNX checker.
int MaxCheckedOpset();

}  // namespace tensorpod::internal
