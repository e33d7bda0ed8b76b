// Op schemas: for each op type, its input/output arity and a shape-inference
// function over concrete shapes. The runtime plans memory per concrete input
// signature, so inference always sees real dimensions; inputs listed in
// `value_inputs` (a Reshape's target shape, a Slice's starts) also come with
// their values. Schemas live in one explicit table (RegisterAllSchemas);
// there are no static initialisers. Thread-safe after construction.
//
// Example (a schema for an op with one input and the same output):
//   r->Add({"Relu", 1, 1, 1, 1, {}, false, InferSameAsInput0});
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/tensor.h"
#include "ops/attributes.h"

namespace tensorpod::internal {

// What shape inference knows of one input.
struct InferInput {
  bool present = false;            // false for an omitted optional input
  DType dtype = DType::kUndefined;
  Shape shape;
  const Tensor* value = nullptr;   // set for value_inputs (and constants)
};

class InferContext {
 public:
  InferContext(const Attributes& attrs, int opset, std::string_view node_name,
               std::vector<InferInput> inputs, int num_outputs)
      : attrs_(attrs),
        opset_(opset),
        node_name_(node_name),
        inputs_(std::move(inputs)),
        out_dtypes_(num_outputs, DType::kUndefined),
        out_shapes_(num_outputs) {}

  const Attributes& attrs() const { return attrs_; }
  int opset() const { return opset_; }
  std::string_view node_name() const { return node_name_; }
  int num_inputs() const { return static_cast<int>(inputs_.size()); }
  bool has_input(int i) const { return i < num_inputs() && inputs_[i].present; }
  DType input_dtype(int i) const { return inputs_[i].dtype; }
  const Shape& input_shape(int i) const { return inputs_[i].shape; }
  // The input's value if shape inference may read it, else nullptr.
  const Tensor* input_value(int i) const { return has_input(i) ? inputs_[i].value : nullptr; }
  // INVALID_ARGUMENT if input i (a value input) is absent or its value unknown.
  StatusOr<const Tensor*> RequireValue(int i, const char* what) const;

  int num_outputs() const { return static_cast<int>(out_shapes_.size()); }
  void SetOutput(int i, DType dtype, Shape shape) {
    out_dtypes_[i] = dtype;
    out_shapes_[i] = std::move(shape);
  }
  DType output_dtype(int i) const { return out_dtypes_[i]; }
  const Shape& output_shape(int i) const { return out_shapes_[i]; }

 private:
  const Attributes& attrs_;
  int opset_;
  std::string_view node_name_;
  std::vector<InferInput> inputs_;
  std::vector<DType> out_dtypes_;
  std::vector<Shape> out_shapes_;
};

using InferFn = Status (*)(InferContext& ctx);

struct OpSchema {
  std::string op_type;
  int min_inputs = 1;
  int max_inputs = 1;   // -1: variadic
  int min_outputs = 1;
  int max_outputs = 1;
  std::vector<int> value_inputs;  // inputs whose values inference reads
  bool shape_only = false;        // output depends only on input shapes (Shape, Size)
  InferFn infer = nullptr;
};

class SchemaRegistry {
 public:
  // The process-wide registry holding every schema tensorpod knows.
  static const SchemaRegistry& Global();

  void Add(OpSchema schema);
  // nullptr if unknown. Op types of the default ONNX domain are plain
  // ("Conv"); tensorpod's fused ops are "tp.FusedConv" etc.
  const OpSchema* Find(std::string_view op_type) const;
  std::vector<std::string> OpTypes() const;

 private:
  std::map<std::string, OpSchema, std::less<>> schemas_;
};

// INVALID_ARGUMENT unless a node of this op with `present` telling which of
// its inputs are given (false for an omitted optional input) and
// `num_outputs` outputs fits the schema; the first min_inputs inputs are
// required.
Status CheckArity(const OpSchema& schema, const std::vector<bool>& present, int num_outputs,
                  std::string_view node_name);

// Shared inference helpers.
Status InferSameAsInput0(InferContext& ctx);
Status InferBroadcastAll(InferContext& ctx);  // numpy broadcast of all inputs, dtype of input 0

// One registration function per op family (src/ops/<family>.cc).
void RegisterElementwiseSchemas(SchemaRegistry* r);
void RegisterTensorSchemas(SchemaRegistry* r);
void RegisterNnSchemas(SchemaRegistry* r);
void RegisterReductionSchemas(SchemaRegistry* r);

}  // namespace tensorpod::internal
