// Helpers shared by the unit tests: a builder for small ONNX models made in
// C++ (onnx::ModelProto, saved as IR 8 / opset 17 so the ONNX checker runs),
// tensors with owned data, a temporary folder, and a Status assertion.
//
// Example:
//   ModelBuilder b;
//   b.Input("x", {-1, 4}).Output("y", {-1, 4});
//   b.Node("Relu", {"x"}, {"y"});
//   auto session = LoadForTest(b);  // or ImportForTest(b) for the raw Graph
#pragma once

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "graph/graph.h"
#include "runtime/session.h"

namespace tensorpod::internal {

class ModelBuilder {
 public:
  explicit ModelBuilder(int opset = 17);

  // Declares a graph input/output. A kDynamicDim (-1) becomes a symbolic
  // dimension: "batch" for dim 0, "d<i>" for the others.
  ModelBuilder& Input(const std::string& name, const Shape& dims,
                      int32_t elem_type = onnx::TensorProto::FLOAT);
  ModelBuilder& Output(const std::string& name, const Shape& dims,
                       int32_t elem_type = onnx::TensorProto::FLOAT);
  // A float / int64 initializer stored inline as raw data.
  ModelBuilder& Initializer(const std::string& name, const Shape& dims,
                            const std::vector<float>& values);
  ModelBuilder& InitializerI64(const std::string& name, const Shape& dims,
                               const std::vector<int64_t>& values);
  // Adds a node; the reference stays valid until the next Node call.
  onnx::NodeProto& Node(const std::string& op_type,
                        const std::vector<std::string>& inputs,
                        const std::vector<std::string>& outputs,
                        const std::string& name = "");

  onnx::ModelProto& proto() { return model_; }
  std::string Bytes() const;

 private:
  onnx::ModelProto model_;
};

void SetIntAttr(onnx::NodeProto& node, const std::string& name, int64_t v);
void SetFloatAttr(onnx::NodeProto& node, const std::string& name, float v);
void SetIntsAttr(onnx::NodeProto& node, const std::string& name,
                 const std::vector<int64_t>& v);
void SetStringAttr(onnx::NodeProto& node, const std::string& name,
                   const std::string& v);

// Imports the builder's model without running any pass.
StatusOr<Graph> ImportForTest(const ModelBuilder& b);
StatusOr<std::unique_ptr<Session>> LoadForTest(
    const ModelBuilder& b, const SessionOptions& options = {});

// A float tensor owning a copy of `values`.
Tensor MakeF32(const Shape& shape, const std::vector<float>& values);
std::vector<float> F32Values(const Tensor& t);
// Deterministic values in [lo, hi).
std::vector<float> RandomFloats(size_t n, uint32_t seed, float lo = -1.0f,
                                float hi = 1.0f);

// Number of nodes of `op_type` in `g`.
int CountOps(const Graph& g, const std::string& op_type);

// A fresh folder under the test temp dir, removed with its contents.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // Writes `bytes` to path()/name and returns the full path.
  std::string Write(const std::string& name, const std::string& bytes) const;

 private:
  std::string path_;
};

// Succeeds when `s` has `code` and its message contains every phrase.
::testing::AssertionResult StatusIs(
    const Status& s, StatusCode code,
    std::initializer_list<std::string> phrases = {});

// A small MLP: x [batch,4] -> MatMul+Add -> "h" = Relu -> MatMul+Add -> "y"
// [batch,3]. Outputs "y" then "h". Weights from a fixed seed; ReferenceMlp
// computes the same outputs with plain loops.
ModelBuilder SmallMlp();
struct MlpOutputs {
  std::vector<float> y, h;
};
MlpOutputs ReferenceMlp(const std::vector<float>& x, int64_t batch);

}  // namespace tensorpod::internal
