// tensorpod's fused attention, tp.Attention, on CUDA: softmax(Q K^T *
// tp_scale + mask) V in one kernel (kernels/attention.cu, see Note
// [Attention tiling] there). Host code: tp_scale read at creation, shapes
// checked per call by PlanAttention (the same checks as shape inference and
// the CPU kernel, src/backends/cpu/nn_attention.cc, whose semantics this
// mirrors: an empty key sequence gives zeros).
#include "kernels/attention.cuh"

#include <memory>
#include <string>
#include <utility>

#include "cuda_common.h"
#include "cuda_kernels.h"
#include "ops/nn_shapes.h"

namespace tensorpod::internal {
namespace {

namespace ca = cuda_attention;

constexpr const char* kOp = "tp.Attention";

// The launcher's element type for `t`; false when it has none.
bool ToElem(DType t, ca::Elem* e) {
  switch (t) {
    case DType::kF32:
      *e = ca::Elem::kF32;
      return true;
    case DType::kF16:
      *e = ca::Elem::kF16;
      return true;
    case DType::kBF16:
      *e = ca::Elem::kBF16;
      return true;
    default:
      return false;
  }
}

// Every input float32, float16 or bfloat16, or not known yet (Compute then
// reports what it cannot run).
bool SupportsAttention(const NodeDef& node) {
  for (DType t : node.input_dtypes) {
    ca::Elem e;
    if (t != DType::kUndefined && !ToElem(t, &e)) return false;
  }
  return true;
}

class AttentionKernel : public Kernel {
 public:
  AttentionKernel(std::string name, float scale)
      : name_(std::move(name)), scale_(scale) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& q = ctx.input(0);
    const Tensor& k = ctx.input(1);
    const Tensor& v = ctx.input(2);
    const Tensor* mask = ctx.has_input(3) ? ctx.inputs[3] : nullptr;
    Tensor& out = ctx.output(0);
    ca::Elem elem;
    if (!ToElem(q.dtype(), &elem)) {
      return TP_ERROR(kUnimplemented,
                      Where() << " is not implemented on cuda for dtype "
                              << DTypeName(q.dtype()));
    }
    const bool same_dtype = k.dtype() == q.dtype() && v.dtype() == q.dtype() &&
                            (mask == nullptr || mask->dtype() == q.dtype()) &&
                            out.dtype() == q.dtype();
    TP_CHECK_ARG(
        same_dtype,
        Where() << ": Q, K, V, mask and output must share a dtype, got Q "
                << DTypeName(q.dtype()) << ", K " << DTypeName(k.dtype())
                << ", V " << DTypeName(v.dtype()) << ", mask "
                << (mask ? DTypeName(mask->dtype()) : "none") << ", output "
                << DTypeName(out.dtype()));
    StatusOr<AttentionPlan> planned = PlanAttention(
        q.shape(), k.shape(), v.shape(), mask ? &mask->shape() : nullptr);
    if (!planned.ok()) return planned.status().WithContext(Where());
    const AttentionPlan& p = planned.value();
    if (p.kv_broadcast()) {
      return TP_ERROR(kUnimplemented,
                      Where() << ": K and V broadcast over Q's batch or heads (" << ShapeToString(k.shape())
                              << " against Q " << ShapeToString(q.shape())
                              << "), which the cuda kernel does not implement");
    }
    TP_INTERNAL_CHECK(out.shape() == p.out_shape,
                      Where() << ": output allocated as "
                              << ShapeToString(out.shape()) << ", expected "
                              << ShapeToString(p.out_shape));
    if (out.num_elements() == 0) return Status::Ok();
    TP_ASSIGN_OR_RETURN(CudaStream * stream, StreamOf(ctx));
    if (p.skv == 0) {
      // Softmax over no keys: zeros, like the CPU kernel (the unfused graph
      // would give NaN).
      TP_CUDA_CHECK(
          cudaMemsetAsync(out.raw_data(), 0, out.nbytes(), stream->get()));
      return Status::Ok();
    }
    ca::AttentionShape s;
    s.batch = p.batch;
    s.heads = p.heads;
    s.s = p.s;
    s.skv = p.skv;
    s.d = p.d;
    s.dv = p.dv;
    for (int i = 0; i < 4; ++i) s.mask_stride[i] = p.mask_stride[i];
    s.scale = scale_;
    TP_CUDA_CHECK(ca::LaunchAttention(
        elem, q.raw_data(), k.raw_data(), v.raw_data(),
        mask ? mask->raw_data() : nullptr, out.raw_data(), s, stream->get()));
    return Status::Ok();
  }

 private:
  // Error messages' prefix, built only when there is an error.
  std::string Where() const {
    return std::string(kOp) + " (node \"" + name_ + "\")";
  }

  std::string name_;
  float scale_;
};

StatusOr<std::unique_ptr<Kernel>> CreateAttentionKernel(const NodeDef& node) {
  TP_CHECK_ARG(
      node.attrs != nullptr && node.attrs->Has("tp_scale"),
      kOp << " (node \"" << node.name << "\") needs its tp_scale attribute");
  return std::unique_ptr<Kernel>(
      new AttentionKernel(node.name, node.attrs->GetFloat("tp_scale", 1.0f)));
}

}  // namespace

void RegisterCudaAttentionKernels(KernelRegistry* r) {
  r->Add("tp.Attention", &CreateAttentionKernel, &SupportsAttention);
}

}  // namespace tensorpod::internal
