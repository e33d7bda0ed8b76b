// CPU kernel of Resize (opsets 10-13+) and Upsample (opsets 7-9).
//
// Interpolation is separable, so each axis gets a table: for every output
// coordinate, the input indices it reads ("taps": 1 nearest, 2 linear, 4
// cubic), their weights, and whether the coordinate falls outside the crop
// (tf_crop_and_resize). An output row (all coordinates but the last) then
// blends the input rows selected by the product of the outer axes' taps and
// interpolates the blend along the last axis. Axes that a resize leaves
// alone collapse to one tap of weight 1, so a 4-D NCHW bilinear resize
// blends 2 input rows per output row.
//
// Coordinates follow the ONNX reference implementation exactly (double
// precision, "output_width" = scale * input width even when fractional),
// including its edge clamping and its preference for the left neighbour at
// integral source coordinates. Resize-10 and Upsample map coordinates
// asymmetrically and round nearest down, as Resize-11's converter from
// Resize-10 and PyTorch's exporter do.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "backends/cpu/parallel.h"
#include "backends/cpu/reduction_kernels.h"
#include "ops/resize_attrs.h"

namespace tensorpod::internal {
namespace {

using InterpMode = ResizeMode;
using CoordMode = ResizeCoordMode;
using NearestMode = ResizeNearestMode;
using ResizeParams = ResizeAttrs;

// Output elements a parallel chunk should produce at least.
constexpr int64_t kGrainOutputs = 16384;

// One axis's lookup table (see the file comment). Arrays live in scratch.
template <typename W>
struct AxisTable {
  int64_t taps = 1;
  int64_t* idx = nullptr;      // [out][taps], clamped into [0, in)
  W* w = nullptr;              // [out][taps]; unused for nearest
  uint8_t* outside = nullptr;  // [out]
  bool any_outside = false;
};

// The reference's x_original for output coordinate y.
double SourceCoord(CoordMode m, int64_t y, double scale, int64_t in,
                   double roi_start, double roi_end) {
  const double out_width = scale * static_cast<double>(in);
  const double yd = static_cast<double>(y);
  const double last = static_cast<double>(in - 1);
  switch (m) {
    case CoordMode::kAlignCorners:
      return out_width == 1 ? 0.0 : yd * last / (out_width - 1);
    case CoordMode::kAsymmetric:
      return yd / scale;
    case CoordMode::kTfCropAndResize: {
      const double x =
          out_width == 1 ? (roi_end - roi_start) * last / 2
                         : yd * (roi_end - roi_start) * last / (out_width - 1);
      return x + roi_start * last;
    }
    case CoordMode::kPytorchHalfPixel:
      return out_width == 1 ? -0.5 : (yd + 0.5) / scale - 0.5;
    case CoordMode::kTfHalfPixelForNn:
      return (yd + 0.5) / scale;
    case CoordMode::kHalfPixel:
      break;
  }
  return (yd + 0.5) / scale - 0.5;
}

void CubicCoeffs(double ratio, double a, double c[4]) {
  const double r1 = ratio + 1;
  const double q = 1 - ratio;
  const double q1 = q + 1;
  c[0] = ((a * r1 - 5 * a) * r1 + 8 * a) * r1 - 4 * a;
  c[1] = ((a + 2) * ratio - (a + 3)) * ratio * ratio + 1;
  c[2] = ((a + 2) * q - (a + 3)) * q * q + 1;
  c[3] = ((a * q1 - 5 * a) * q1 + 8 * a) * q1 - 4 * a;
}

// Fills `t` for one axis (t.idx/w/outside already point at scratch sized
// for `out` coordinates of the mode's tap count).
template <typename W>
void BuildAxisTable(const ResizeParams& p, int64_t in, int64_t out,
                    double scale, double roi_start, double roi_end,
                    AxisTable<W>& t) {
  t.taps = p.mode == InterpMode::kNearest  ? 1
           : p.mode == InterpMode::kLinear ? 2
                                           : 4;
  t.any_outside = false;
  for (int64_t y = 0; y < out; ++y) {
    double x = SourceCoord(p.coord, y, scale, in, roi_start, roi_end);
    t.outside[y] = p.coord == CoordMode::kTfCropAndResize &&
                   !(x >= 0 && x <= static_cast<double>(in - 1));
    t.any_outside = t.any_outside || t.outside[y];
    // Beyond two pixels out every tap clamps to the edge anyway; bounding x
    // keeps a wild (or NaN) roi from overflowing the integer conversion.
    if (!(x >= -2)) x = -2;
    if (!(x <= static_cast<double>(in + 1))) x = static_cast<double>(in + 1);
    // base + ratio == x with ratio in (0, 1]: the left neighbour wins ties.
    double base = std::floor(x);
    double ratio = x - base;
    if (ratio == 0) {
      base -= 1;
      ratio = 1;
    }
    const int64_t b = static_cast<int64_t>(base);
    int64_t* idx = t.idx + y * t.taps;
    double c[4] = {1, 0, 0, 0};
    int64_t first = b;
    switch (p.mode) {
      case InterpMode::kNearest: {
        bool up = ratio == 1;
        if (!up) {
          switch (p.nearest) {
            case NearestMode::kRoundPreferFloor:
              up = ratio > 0.5;
              break;
            case NearestMode::kRoundPreferCeil:
              up = ratio >= 0.5;
              break;
            case NearestMode::kFloor:
              up = false;
              break;
            case NearestMode::kCeil:
              up = true;
              break;
          }
        }
        first = up ? b + 1 : b;
        break;
      }
      case InterpMode::kLinear:
        c[0] = 1 - ratio;
        c[1] = ratio;
        break;
      case InterpMode::kCubic:
        CubicCoeffs(ratio, p.cubic_a, c);
        first = b - 1;
        break;
    }
    if (p.exclude_outside && t.taps > 1) {
      double sum = 0;
      for (int64_t k = 0; k < t.taps; ++k) {
        if (first + k < 0 || first + k >= in) c[k] = 0;
        sum += c[k];
      }
      if (sum != 0) {
        for (int64_t k = 0; k < t.taps; ++k) c[k] /= sum;
      }
    }
    for (int64_t k = 0; k < t.taps; ++k) {
      idx[k] = std::clamp<int64_t>(first + k, 0, in - 1);
      if (t.w != nullptr) t.w[y * t.taps + k] = static_cast<W>(c[k]);
    }
  }
  // Collapse to one tap when every coordinate reads a single input with
  // weight 1 (axes the resize leaves unchanged, integral coordinates).
  if (t.taps == 1) return;
  for (int64_t y = 0; y < out; ++y) {
    int64_t ones = 0;
    int64_t zeros = 0;
    for (int64_t k = 0; k < t.taps; ++k) {
      ones += t.w[y * t.taps + k] == W(1);
      zeros += t.w[y * t.taps + k] == W(0);
    }
    if (ones != 1 || zeros != t.taps - 1) return;
  }
  for (int64_t y = 0; y < out; ++y) {
    int64_t k = 0;
    while (t.w[y * t.taps + k] != W(1)) ++k;
    t.idx[y] = t.idx[y * t.taps + k];
    t.w[y] = W(1);
  }
  t.taps = 1;
}

// Row-major strides of `shape`.
DimArray Strides(const Shape& shape) {
  DimArray s{};
  int64_t stride = 1;
  for (int i = static_cast<int>(shape.size()) - 1; i >= 0; --i) {
    s[i] = stride;
    stride *= shape[i];
  }
  return s;
}

// Visits output rows [b, e) (rows index all output coordinates but the
// last): fn(row, coords) with coords[0, rank - 1) of that row.
template <typename Fn>
void ForEachRow(const Shape& out_shape, int64_t b, int64_t e, Fn&& fn) {
  const int last = static_cast<int>(out_shape.size()) - 1;
  DimArray c{};
  int64_t rest = b;
  for (int a = last - 1; a >= 0; --a) {
    c[a] = rest % out_shape[a];
    rest /= out_shape[a];
  }
  for (int64_t row = b; row < e; ++row) {
    fn(row, c);
    for (int a = last - 1; a >= 0; --a) {
      if (++c[a] < out_shape[a]) break;
      c[a] = 0;
    }
  }
}

template <typename T>
void ResizeNearest(const T* in, T* out, const Shape& in_shape,
                   const Shape& out_shape, const AxisTable<float>* t,
                   T extrapolation, int threads) {
  const int last = static_cast<int>(out_shape.size()) - 1;
  const DimArray strides = Strides(in_shape);
  const int64_t width = out_shape[last];
  const int64_t rows = NumElementsUnchecked(out_shape) / width;
  const AxisTable<float>& lt = t[last];
  ParallelFor(
      rows, threads, std::max<int64_t>(1, kGrainOutputs / width),
      [&](int64_t b, int64_t e) {
        ForEachRow(out_shape, b, e, [&](int64_t row, const DimArray& c) {
          T* dst = out + row * width;
          int64_t off = 0;
          bool outside = false;
          for (int a = 0; a < last; ++a) {
            off += t[a].idx[c[a]] * strides[a];
            outside = outside || t[a].outside[c[a]];
          }
          if (outside) {
            std::fill(dst, dst + width, extrapolation);
          } else if (lt.any_outside) {
            for (int64_t x = 0; x < width; ++x)
              dst[x] = lt.outside[x] ? extrapolation : in[off + lt.idx[x]];
          } else {
            for (int64_t x = 0; x < width; ++x) dst[x] = in[off + lt.idx[x]];
          }
        });
      });
}

// dst[x] = the interpolation of src along the last axis at x.
template <typename T, int kTaps>
void InterpolateRow(const T* src, const AxisTable<T>& lt, int64_t width,
                    T* dst) {
  for (int64_t x = 0; x < width; ++x) {
    const int64_t* idx = lt.idx + x * kTaps;
    const T* w = lt.w + x * kTaps;
    T s = 0;
    for (int k = 0; k < kTaps; ++k) s += w[k] * src[idx[k]];
    dst[x] = s;
  }
}

// Each output row first blends the input rows its outer taps select into
// one input-width row (contiguous, vectorised), then interpolates that row
// along the last axis. `rows_buf` holds one input-width row per chunk.
template <typename T>
void ResizeInterpolate(const T* in, T* out, const Shape& in_shape,
                       const Shape& out_shape, const AxisTable<T>* t,
                       T extrapolation, int64_t chunks, T* rows_buf,
                       int threads) {
  using Row = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
  using ConstRow = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;
  const int last = static_cast<int>(out_shape.size()) - 1;
  const DimArray strides = Strides(in_shape);
  const int64_t in_width = in_shape[last];
  const int64_t width = out_shape[last];
  const int64_t rows = NumElementsUnchecked(out_shape) / width;
  const AxisTable<T>& lt = t[last];
  bool single_row = true;
  for (int a = 0; a < last; ++a) single_row = single_row && t[a].taps == 1;

  // Output row `row` at outer coordinates c, with `blend` as its buffer.
  auto resize_row = [&](T* blend, int64_t row, const DimArray& c) {
    T* dst = out + row * width;
    bool outside = false;
    for (int a = 0; a < last; ++a) outside = outside || t[a].outside[c[a]];
    if (outside) {
      std::fill(dst, dst + width, extrapolation);
      return;
    }
    const T* src = blend;
    if (single_row) {
      // Collapsed outer axes: one input row with weight 1, read in place.
      int64_t off = 0;
      for (int a = 0; a < last; ++a) off += t[a].idx[c[a]] * strides[a];
      src = in + off;
    } else {
      Row acc(blend, in_width);
      acc.setZero();
      // An odometer over the taps of the outer axes.
      DimArray tap{};
      int a = 0;
      do {
        T w = 1;
        int64_t off = 0;
        for (int i = 0; i < last; ++i) {
          const int64_t k = c[i] * t[i].taps + tap[i];
          w *= t[i].w[k];
          off += t[i].idx[k] * strides[i];
        }
        if (w != T(0)) acc += w * ConstRow(in + off, in_width);
        for (a = last - 1; a >= 0; --a) {
          if (++tap[a] < t[a].taps) break;
          tap[a] = 0;
        }
      } while (a >= 0);
    }
    switch (lt.taps) {
      case 1:
        InterpolateRow<T, 1>(src, lt, width, dst);
        break;
      case 2:
        InterpolateRow<T, 2>(src, lt, width, dst);
        break;
      default:
        InterpolateRow<T, 4>(src, lt, width, dst);
        break;
    }
    if (lt.any_outside) {
      for (int64_t x = 0; x < width; ++x) {
        if (lt.outside[x]) dst[x] = extrapolation;
      }
    }
  };
  ParallelFor(chunks, threads, 1, [&](int64_t cb, int64_t ce) {
    for (int64_t chunk = cb; chunk < ce; ++chunk) {
      T* blend = rows_buf + chunk * in_width;
      ForEachRow(
          out_shape, chunk * rows / chunks, (chunk + 1) * rows / chunks,
          [&](int64_t row, const DimArray& c) { resize_row(blend, row, c); });
    }
  });
}

class ResizeKernel : public Kernel {
 public:
  ResizeKernel(std::string op_type, ResizeParams p)
      : op_type_(std::move(op_type)), p_(std::move(p)) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    const int rank = static_cast<int>(x.rank());
    if (y.num_elements() == 0) return Status::Ok();
    if (rank > kMaxReduceRank) {
      return TP_ERROR(kUnimplemented, op_type_ << " of rank " << rank
                                               << " (at most " << kMaxReduceRank
                                               << " is supported)");
    }
    if (p_.mode == InterpMode::kNearest) {
      switch (x.dtype()) {
        case DType::kF32:
          return Run<float, float>(ctx);
        case DType::kF64:
          return Run<double, float>(ctx);
        case DType::kI64:
          return Run<int64_t, float>(ctx);
        case DType::kI32:
          return Run<int32_t, float>(ctx);
        case DType::kI16:
          return Run<int16_t, float>(ctx);
        case DType::kI8:
          return Run<int8_t, float>(ctx);
        case DType::kU8:
          return Run<uint8_t, float>(ctx);
        case DType::kU16:
          return Run<uint16_t, float>(ctx);
        default:
          break;
      }
    } else {
      switch (x.dtype()) {
        case DType::kF32:
          return Run<float, float>(ctx);
        case DType::kF64:
          return Run<double, double>(ctx);
        default:
          break;
      }
    }
    return TP_ERROR(kUnimplemented,
                    op_type_ << " in mode "
                             << (p_.mode == InterpMode::kNearest  ? "nearest"
                                 : p_.mode == InterpMode::kLinear ? "linear"
                                                                  : "cubic")
                             << " is not implemented for dtype "
                             << DTypeName(x.dtype()));
  }

 private:
  // T: the element type; W: the weight type of the tables (float for
  // nearest, which reads no weights).
  template <typename T, typename W>
  Status Run(KernelContext& ctx) const {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    const int rank = static_cast<int>(x.rank());
    const Shape& in_shape = x.shape();
    const Shape& out_shape = y.shape();
    TP_INTERNAL_CHECK(
        static_cast<int>(out_shape.size()) == rank,
        "output rank " << out_shape.size() << " != input rank " << rank);

    std::array<double, kMaxReduceRank> scale{};
    std::array<double, kMaxReduceRank> roi_start{};
    std::array<double, kMaxReduceRank> roi_end{};
    const Tensor* scales =
        p_.scales_input >= 0 && ctx.has_input(p_.scales_input)
            ? ctx.inputs[p_.scales_input]
            : nullptr;
    if (scales != nullptr && scales->num_elements() == 0) scales = nullptr;
    const int64_t num_scales = scales ? scales->num_elements()
                               : p_.scales_input < 0
                                   ? static_cast<int64_t>(p_.attr_scales.size())
                                   : rank;
    TP_CHECK_ARG(num_scales == rank,
                 "input scales has " << num_scales
                                     << " values, input X has rank " << rank);
    for (int a = 0; a < rank; ++a) {
      if (scales != nullptr) {
        scale[a] = scales->GetAsDouble(a);
      } else if (p_.scales_input < 0) {
        scale[a] = p_.attr_scales[a];
      } else {
        scale[a] = static_cast<double>(out_shape[a]) /
                   static_cast<double>(in_shape[a]);
      }
      roi_start[a] = 0;
      roi_end[a] = 1;
    }
    if (p_.coord == CoordMode::kTfCropAndResize) {
      const Tensor* roi =
          ctx.has_input(p_.roi_input) ? ctx.inputs[p_.roi_input] : nullptr;
      TP_CHECK_ARG(roi != nullptr && roi->num_elements() == 2 * rank,
                   "tf_crop_and_resize needs input roi with "
                       << 2 * rank << " values (starts, then ends), got "
                       << (roi ? roi->num_elements() : 0));
      for (int a = 0; a < rank; ++a) {
        roi_start[a] = roi->GetAsDouble(a);
        roi_end[a] = roi->GetAsDouble(a + rank);
      }
    }

    const int64_t taps = p_.mode == InterpMode::kNearest  ? 1
                         : p_.mode == InterpMode::kLinear ? 2
                                                          : 4;
    int64_t entries = 0;
    int64_t coords = 0;
    for (int a = 0; a < rank; ++a) {
      entries += out_shape[a] * taps;
      coords += out_shape[a];
    }
    const bool weighted = p_.mode != InterpMode::kNearest;
    const int64_t rows = y.num_elements() / out_shape[rank - 1];
    const int64_t chunks = std::max<int64_t>(
        1, std::min<int64_t>(
               {ctx.threads, rows, y.num_elements() / kGrainOutputs}));
    const int64_t blend_elements = weighted ? chunks * in_shape[rank - 1] : 0;
    const size_t bytes = entries * sizeof(int64_t) +
                         (weighted ? entries * sizeof(W) : 0) +
                         blend_elements * sizeof(W) + coords;
    void* scratch = ctx.scratch->Get(bytes);
    if (scratch == nullptr) {
      return TP_ERROR(kResourceExhausted,
                      op_type_ << " scratch of " << bytes << " bytes");
    }
    // Layout: index tables, weight tables, blend rows, flags.
    int64_t* idx = static_cast<int64_t*>(scratch);
    W* w = reinterpret_cast<W*>(idx + entries);
    W* blend = w + (weighted ? entries : 0);
    uint8_t* flags = reinterpret_cast<uint8_t*>(blend + blend_elements);
    std::array<AxisTable<W>, kMaxReduceRank> tables;
    for (int a = 0; a < rank; ++a) {
      AxisTable<W>& t = tables[a];
      t.idx = idx;
      t.w = weighted ? w : nullptr;
      t.outside = flags;
      BuildAxisTable(p_, in_shape[a], out_shape[a], scale[a], roi_start[a],
                     roi_end[a], t);
      idx += out_shape[a] * taps;
      if (weighted) w += out_shape[a] * taps;
      flags += out_shape[a];
    }
    const T extrapolation = static_cast<T>(p_.extrapolation);
    if constexpr (std::is_floating_point_v<T> && std::is_same_v<T, W>) {
      if (weighted) {
        ResizeInterpolate(x.data<T>(), y.data<T>(), in_shape, out_shape,
                          tables.data(), extrapolation, chunks, blend,
                          ctx.threads);
        return Status::Ok();
      }
    }
    if constexpr (std::is_same_v<W, float>) {
      ResizeNearest(x.data<T>(), y.data<T>(), in_shape, out_shape,
                    tables.data(), extrapolation, ctx.threads);
    }
    return Status::Ok();
  }

  std::string op_type_;
  ResizeParams p_;
};

}  // namespace

StatusOr<std::unique_ptr<Kernel>> CreateResizeKernel(const NodeDef& node) {
  TP_ASSIGN_OR_RETURN(ResizeParams p, ParseResizeAttrs(node.op_type, node.opset, *node.attrs));
  return std::unique_ptr<Kernel>(new ResizeKernel(node.op_type, std::move(p)));
}

}  // namespace tensorpod::internal
