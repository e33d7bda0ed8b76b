#include "ops/op_schema.h"

namespace tensorpod::internal {

StatusOr<const Tensor*> InferContext::RequireValue(int i, const char* what) const {
  TP_CHECK_ARG(has_input(i), "node \"" << node_name_ << "\": input " << what << " is required");
  TP_CHECK_ARG(inputs_[i].value != nullptr,
               "node \"" << node_name_ << "\": the value of input " << what
                         << " must be known before the node runs (a constant or computed from "
                            "shapes)");
  return inputs_[i].value;
}

const SchemaRegistry& SchemaRegistry::Global() {
  static const SchemaRegistry* registry = [] {
    auto* r = new SchemaRegistry();
    RegisterElementwiseSchemas(r);
    RegisterTensorSchemas(r);
    RegisterNnSchemas(r);
    RegisterReductionSchemas(r);
    return r;
  }();
  return *registry;
}

void SchemaRegistry::Add(OpSchema schema) {
  std::string key = schema.op_type;
  schemas_[key] = std::move(schema);
}

const OpSchema* SchemaRegistry::Find(std::string_view op_type) const {
  auto it = schemas_.find(op_type);
  return it == schemas_.end() ? nullptr : &it->second;
}

std::vector<std::string> SchemaRegistry::OpTypes() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : schemas_) out.push_back(k);
  return out;
}

Status CheckArity(const OpSchema& schema, const std::vector<bool>& present, int num_outputs,
                  std::string_view node_name) {
  const int nin = static_cast<int>(present.size());
  if (nin < schema.min_inputs || (schema.max_inputs >= 0 && nin > schema.max_inputs) ||
      num_outputs < schema.min_outputs || (schema.max_outputs >= 0 && num_outputs > schema.max_outputs)) {
    auto range = [](int lo, int hi) {
      return std::to_string(lo) + (hi < 0 ? " or more" : hi == lo ? "" : ".." + std::to_string(hi));
    };
    return TP_ERROR(kInvalidArgument, "node \"" << node_name << "\" (" << schema.op_type << ") has " << nin
                                                << " inputs and " << num_outputs << " outputs; the op takes "
                                                << range(schema.min_inputs, schema.max_inputs) << " inputs and "
                                                << range(schema.min_outputs, schema.max_outputs) << " outputs");
  }
  for (int i = 0; i < schema.min_inputs; ++i) {
    TP_CHECK_ARG(present[i], "node \"" << node_name << "\" (" << schema.op_type << "): input " << i
                                       << " is required but empty");
  }
  return Status::Ok();
}

Status InferSameAsInput0(InferContext& ctx) {
  for (int i = 0; i < ctx.num_outputs(); ++i) {
    ctx.SetOutput(i, ctx.input_dtype(0), ctx.input_shape(0));
  }
  return Status::Ok();
}

Status InferBroadcastAll(InferContext& ctx) {
  Shape out = ctx.input_shape(0);
  for (int i = 1; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) continue;
    auto s = BroadcastShapes(out, ctx.input_shape(i));
    if (!s.ok()) return s.status().WithContext("node \"" + std::string(ctx.node_name()) + "\"");
    out = std::move(s).value();
  }
  ctx.SetOutput(0, ctx.input_dtype(0), std::move(out));
  return Status::Ok();
}

}  // namespace tensorpod::internal
