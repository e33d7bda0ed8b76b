// Resize (opsets 10-13+) and Upsample (opsets 7-9) attributes, parsed once
// for every backend's kernel.
//
// Example:
//   TP_ASSIGN_OR_RETURN(ResizeAttrs a, ParseResizeAttrs(node.op_type, node.opset, *node.attrs));
//   if (a.mode == ResizeMode::kLinear) ...
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "ops/attributes.h"

namespace tensorpod::internal {

enum class ResizeMode { kNearest, kLinear, kCubic };
enum class ResizeCoordMode {
  kHalfPixel,
  kAsymmetric,
  kAlignCorners,
  kPytorchHalfPixel,
  kTfCropAndResize,
  kTfHalfPixelForNn
};
enum class ResizeNearestMode { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil };

struct ResizeAttrs {
  ResizeMode mode = ResizeMode::kNearest;
  ResizeCoordMode coord = ResizeCoordMode::kHalfPixel;
  ResizeNearestMode nearest = ResizeNearestMode::kRoundPreferFloor;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  double extrapolation = 0.0;
  int roi_input = -1;     // -1: no roi
  int scales_input = -1;  // -1: scales come from attr_scales; without
                          // scales, scale = output size / input size
  std::vector<float> attr_scales;
};

// Resize-11+ reads every attribute; Resize-10 and Upsample map coordinates
// asymmetrically and round nearest down. INVALID_ARGUMENT names an
// attribute with an unknown value.
StatusOr<ResizeAttrs> ParseResizeAttrs(const std::string& op_type, int opset, const Attributes& attrs);

}  // namespace tensorpod::internal
