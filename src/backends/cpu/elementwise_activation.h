// Activations that other CPU kernels (Gemm, MatMul, Conv and their fused
// forms) apply in place to a float32 buffer they have just written, so a
// fused node needs no second pass through memory it does not own. The math
// is the same as the standalone Relu/LeakyRelu/Sigmoid/Tanh/Gelu/Clip
// kernels. Thread-safe: the functions keep no state.
//
// Example (inside a fused kernel's Compute):
//   Activation act;                        // parsed once in the factory
//   TP_RETURN_IF_ERROR(ParseActivation(*node.attrs, &act));
//   ...
//   ApplyActivationF32(act, out, n, ctx.threads);
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include "core/status.h"
#include "ops/attributes.h"

namespace tensorpod::internal {

enum class ActivationKind {
  kNone,
  kRelu,
  kLeakyRelu,  // uses alpha
  kSigmoid,
  kTanh,
  kGelu,  // exact erf form
  kClip,  // uses lo, hi
};

struct Activation {
  ActivationKind kind = ActivationKind::kNone;
  float alpha = 0.01f;
  float lo = -std::numeric_limits<float>::infinity();
  float hi = std::numeric_limits<float>::infinity();
};

// Maps "" (none), "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Gelu", "Clip" to
// its kind; INVALID_ARGUMENT naming the string for anything else.
StatusOr<ActivationKind> ParseActivationKind(const std::string& kind);

// Reads a fused node's internal attributes: "tp_activation" (string, absent
// = none), "tp_alpha" (float, default 0.01), "tp_clip_min" / "tp_clip_max"
// (floats, defaults -inf / +inf). INVALID_ARGUMENT for an unknown kind.
Status ParseActivation(const Attributes& attrs, Activation* out);

// Applies `act` to data[0, n) in place, split across up to `threads`.
void ApplyActivationF32(const Activation& act, float* data, int64_t n,
                        int threads);

// Same, with the activation given by name (see ParseActivationKind); alpha is
// LeakyRelu's slope, [lo, hi] Clip's range.
Status ApplyActivationF32(const std::string& kind, float alpha, float lo,
                          float hi, float* data, int64_t n, int threads);

}  // namespace tensorpod::internal
