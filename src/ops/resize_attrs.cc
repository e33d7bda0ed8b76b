#include "ops/resize_attrs.h"

#include <initializer_list>
#include <utility>

namespace tensorpod::internal {
namespace {

template <typename E>
StatusOr<E> ParseEnum(const Attributes& attrs, const char* name, const char* def,
                      std::initializer_list<std::pair<const char*, E>> values) {
  const std::string s = attrs.GetString(name, def);
  std::string expected;
  for (const auto& [n, v] : values) {
    if (s == n) return v;
    expected += expected.empty() ? n : std::string(", ") + n;
  }
  return TP_ERROR(kInvalidArgument,
                  "attribute " << name << ": unsupported value \"" << s << "\" (expected one of " << expected << ")");
}

}  // namespace

StatusOr<ResizeAttrs> ParseResizeAttrs(const std::string& op_type, int opset, const Attributes& attrs) {
  ResizeAttrs p;
  if (op_type == "Resize" && opset >= 11) {
    TP_ASSIGN_OR_RETURN(p.mode, ParseEnum<ResizeMode>(attrs, "mode", "nearest",
                                                      {{"nearest", ResizeMode::kNearest},
                                                       {"linear", ResizeMode::kLinear},
                                                       {"cubic", ResizeMode::kCubic}}));
    TP_ASSIGN_OR_RETURN(p.coord, ParseEnum<ResizeCoordMode>(
                                     attrs, "coordinate_transformation_mode", "half_pixel",
                                     {{"half_pixel", ResizeCoordMode::kHalfPixel},
                                      {"asymmetric", ResizeCoordMode::kAsymmetric},
                                      {"align_corners", ResizeCoordMode::kAlignCorners},
                                      {"pytorch_half_pixel", ResizeCoordMode::kPytorchHalfPixel},
                                      {"tf_crop_and_resize", ResizeCoordMode::kTfCropAndResize},
                                      {"tf_half_pixel_for_nn", ResizeCoordMode::kTfHalfPixelForNn}}));
    TP_ASSIGN_OR_RETURN(p.nearest, ParseEnum<ResizeNearestMode>(
                                       attrs, "nearest_mode", "round_prefer_floor",
                                       {{"round_prefer_floor", ResizeNearestMode::kRoundPreferFloor},
                                        {"round_prefer_ceil", ResizeNearestMode::kRoundPreferCeil},
                                        {"floor", ResizeNearestMode::kFloor},
                                        {"ceil", ResizeNearestMode::kCeil}}));
    p.cubic_a = attrs.GetFloat("cubic_coeff_a", -0.75f);
    p.exclude_outside = attrs.GetInt("exclude_outside", 0) != 0;
    p.extrapolation = attrs.GetFloat("extrapolation_value", 0.0f);
    p.roi_input = 1;
    p.scales_input = 2;
    return p;
  }
  TP_ASSIGN_OR_RETURN(p.mode, ParseEnum<ResizeMode>(attrs, "mode", "nearest",
                                                    {{"nearest", ResizeMode::kNearest},
                                                     {"linear", ResizeMode::kLinear}}));
  p.coord = ResizeCoordMode::kAsymmetric;
  p.nearest = ResizeNearestMode::kFloor;
  if (op_type == "Upsample" && opset < 9) {
    p.attr_scales = attrs.GetFloats("scales");
  } else {
    p.scales_input = 1;
  }
  return p;
}

}  // namespace tensorpod::internal
