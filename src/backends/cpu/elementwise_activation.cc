#include "backends/cpu/elementwise_activation.h"

#include "backends/cpu/elementwise_ops.h"

namespace tensorpod::internal {

StatusOr<ActivationKind> ParseActivationKind(const std::string& kind) {
  if (kind.empty()) return ActivationKind::kNone;
  if (kind == "Relu") return ActivationKind::kRelu;
  if (kind == "LeakyRelu") return ActivationKind::kLeakyRelu;
  if (kind == "Sigmoid") return ActivationKind::kSigmoid;
  if (kind == "Tanh") return ActivationKind::kTanh;
  if (kind == "Gelu") return ActivationKind::kGelu;
  if (kind == "Clip") return ActivationKind::kClip;
  return TP_ERROR(kInvalidArgument,
                  "unknown fused activation \""
                      << kind
                      << "\" (expected one of Relu, LeakyRelu, Sigmoid, "
                         "Tanh, Gelu, Clip)");
}

Status ParseActivation(const Attributes& attrs, Activation* out) {
  Activation act;
  TP_ASSIGN_OR_RETURN(
      act.kind, ParseActivationKind(attrs.GetString("tp_activation", "")));
  act.alpha = attrs.GetFloat("tp_alpha", act.alpha);
  act.lo = attrs.GetFloat("tp_clip_min", act.lo);
  act.hi = attrs.GetFloat("tp_clip_max", act.hi);
  *out = act;
  return Status::Ok();
}

void ApplyActivationF32(const Activation& act, float* data, int64_t n,
                        int threads) {
  using namespace elementwise;  // NOLINT(build/namespaces)
  switch (act.kind) {
    case ActivationKind::kNone:
      return;
    case ActivationKind::kRelu:
      return RunUnaryTyped<float>(ReluOp{}, data, data, n, threads);
    case ActivationKind::kLeakyRelu:
      return RunUnaryTyped<float>(LeakyReluOp{act.alpha}, data, data, n,
                                  threads);
    case ActivationKind::kSigmoid:
      return RunUnaryTyped<float>(SigmoidOp{}, data, data, n, threads);
    case ActivationKind::kTanh:
      return RunUnaryTyped<float>(TanhOp{}, data, data, n, threads);
    case ActivationKind::kGelu:
      return RunUnaryTyped<float>(GeluOp{}, data, data, n, threads);
    case ActivationKind::kClip:
      return RunUnaryTyped<float>(ClipOp<float>{act.lo, act.hi}, data, data, n,
                                  threads);
  }
}

Status ApplyActivationF32(const std::string& kind, float alpha, float lo,
                          float hi, float* data, int64_t n, int threads) {
  Activation act;
  TP_ASSIGN_OR_RETURN(act.kind, ParseActivationKind(kind));
  act.alpha = alpha;
  act.lo = lo;
  act.hi = hi;
  ApplyActivationF32(act, data, n, threads);
  return Status::Ok();
}

}  // namespace tensorpod::internal
