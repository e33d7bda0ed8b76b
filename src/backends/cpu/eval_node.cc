#include "backends/cpu/eval_node.h"

#include "backends/cpu/cpu_backend.h"
#include "ops/op_schema.h"

namespace tensorpod::internal {
StatusOr<std::vector<Tensor>> EvaluateNodeOnCpu(const EvalNodeArgs& args) {
  static const Attributes kNoAttrs;
  const Attributes& attrs = args.attrs ? *args.attrs : kNoAttrs;
  const OpSchema* schema = SchemaRegistry::Global().Find(args.op_type);
  if (schema == nullptr) return TP_ERROR(kUnimplemented, "op " << args.op_type << " is not supported");

  {
    std::vector<bool> present(args.inputs.size());
    for (size_t i = 0; i < args.inputs.size(); ++i) present[i] = args.inputs[i] != nullptr;
    TP_RETURN_IF_ERROR(CheckArity(*schema, present, args.num_outputs, args.name));
  }
  std::vector<InferInput> infer_inputs(args.inputs.size());
  NodeDef def;
  def.op_type = args.op_type;
  def.name = args.name;
  def.opset = args.opset;
  def.attrs = &attrs;
  def.num_outputs = args.num_outputs;
  for (size_t i = 0; i < args.inputs.size(); ++i) {
    const Tensor* t = args.inputs[i];
    def.input_dtypes.push_back(t ? t->dtype() : DType::kUndefined);
    def.constant_inputs.push_back(t);
    if (t == nullptr) continue;
    infer_inputs[i] = InferInput{true, t->dtype(), t->shape(), t};
  }
  InferContext ictx(attrs, args.opset, args.name, std::move(infer_inputs), args.num_outputs);
  TP_RETURN_IF_ERROR(schema->infer(ictx));

  size_t out_bytes = 0;
  for (int i = 0; i < args.num_outputs; ++i) {
    TP_ASSIGN_OR_RETURN(int64_t n, NumElements(ictx.output_shape(i)));
    const size_t elem = DTypeSize(ictx.output_dtype(i));
    if (elem != 0 && static_cast<uint64_t>(n) > (args.max_output_bytes - out_bytes) / elem) {
      return TP_ERROR(kResourceExhausted, "node \"" << args.name << "\" (" << args.op_type
                                                    << "): outputs exceed the limit of " << args.max_output_bytes
                                                    << " bytes");
    }
    out_bytes += static_cast<size_t>(n) * elem;
  }
  TP_ASSIGN_OR_RETURN(auto kernel, CpuBackend::Get().CreateKernel(def));
  std::vector<Tensor> outputs(args.num_outputs);
  KernelContext kctx;
  kctx.inputs = args.inputs;
  for (int i = 0; i < args.num_outputs; ++i) {
    TP_ASSIGN_OR_RETURN(outputs[i], Tensor::Empty(ictx.output_dtype(i), ictx.output_shape(i)));
  }
  for (auto& t : outputs) kctx.outputs.push_back(&t);
  HeapScratch scratch;
  kctx.scratch = &scratch;
  kctx.threads = args.threads;
  TP_RETURN_IF_ERROR(kernel->Compute(kctx));
  return outputs;
}

}  // namespace tensorpod::internal
