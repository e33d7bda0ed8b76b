// Pooling kernels: MaxPool (with the optional Indices output), AveragePool,
// GlobalAveragePool and GlobalMaxPool over 1 to 3 spatial dimensions.
// Windowed pools run one output row per work unit; the range of kernel taps
// that land inside the input is computed per output position, so the inner
// loops carry no bounds checks.
#include <Eigen/Core>
#include <algorithm>
#include <limits>
#include <memory>
#include <string>

#include "backends/cpu/nn_kernels.h"
#include "backends/cpu/parallel.h"
#include "ops/nn_shapes.h"

namespace tensorpod::internal {
namespace {

constexpr int64_t kParallelGrainElements = 16384;
constexpr int kDims = 3;

Status UnsupportedDType(const char* op, DType t) {
  return TP_ERROR(kUnimplemented, op << " is not implemented for dtype " << DTypeName(t));
}

// A pooling window over exactly three spatial dimensions; lower-rank pools
// get size-1 dimensions in front, which changes neither the result nor the
// flat indices MaxPool reports.
struct Window3 {
  int64_t in[kDims], out[kDims], kernel[kDims], stride[kDims], dilation[kDims],
      pad_begin[kDims], pad_end[kDims];
  int64_t planes = 0;  // N * C

  int64_t in_size() const { return in[0] * in[1] * in[2]; }
  int64_t out_size() const { return out[0] * out[1] * out[2]; }
};

// The kernel taps [lo, hi) of dimension d at output position o that fall
// inside the input, and the first input position they cover.
struct Taps {
  int64_t start, lo, hi;
};

Taps InputTaps(const Window3& w, int d, int64_t o) {
  const int64_t start = o * w.stride[d] - w.pad_begin[d];
  const int64_t dil = w.dilation[d];
  const int64_t lo = start < 0 ? (-start + dil - 1) / dil : 0;
  const int64_t last = w.in[d] - 1 - start;  // largest offset still inside
  const int64_t hi = last < 0 ? 0 : std::min(w.kernel[d], last / dil + 1);
  return {start, lo, std::max(lo, hi)};
}

// Taps inside the explicitly padded input (count_include_pad); taps that
// ceil_mode adds beyond the end padding are not counted.
int64_t PaddedTapCount(const Window3& w, int d, int64_t o) {
  const int64_t start = o * w.stride[d] - w.pad_begin[d];
  const int64_t last = w.in[d] + w.pad_end[d] - 1 - start;
  return last < 0 ? 0 : std::min(w.kernel[d], last / w.dilation[d] + 1);
}

StatusOr<Window3> MakeWindow3(const WindowAttrs& attrs, const Shape& x, const char* op) {
  const int64_t spatial = static_cast<int64_t>(x.size()) - 2;
  if (spatial < 1 || spatial > kDims) {
    return TP_ERROR(kUnimplemented, op << " supports 1 to 3 spatial dimensions, got input "
                                       << ShapeToString(x));
  }
  TP_ASSIGN_OR_RETURN(WindowGeometry g, ComputeWindowGeometry(attrs, Shape(x.begin() + 2, x.end())));
  Window3 w;
  const int64_t front = kDims - spatial;
  for (int d = 0; d < kDims; ++d) {
    const int64_t i = d - front;
    const bool real = i >= 0;
    w.in[d] = real ? x[2 + i] : 1;
    w.out[d] = real ? g.out[i] : 1;
    w.kernel[d] = real ? attrs.kernel[i] : 1;
    w.stride[d] = real ? attrs.strides[i] : 1;
    w.dilation[d] = real ? attrs.dilations[i] : 1;
    w.pad_begin[d] = real ? g.pad_begin[i] : 0;
    w.pad_end[d] = real ? g.pad_end[i] : 0;
  }
  w.planes = x[0] * x[1];
  return w;
}

int64_t RowGrain(const Window3& w) {
  const int64_t per_row = w.out[2] * w.kernel[0] * w.kernel[1] * w.kernel[2];
  return std::max<int64_t>(1, kParallelGrainElements / std::max<int64_t>(per_row, 1));
}

// Calls fn(plane, o0, o1, x_plane_offset, y_row_offset) for each output row
// of out[2] positions, in parallel.
template <typename Fn>
void ForEachOutputRow(const Window3& w, int threads, Fn&& fn) {
  const int64_t rows = w.planes * w.out[0] * w.out[1];
  ParallelFor(rows, threads, RowGrain(w), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const int64_t o1 = r % w.out[1];
      const int64_t o0 = (r / w.out[1]) % w.out[0];
      const int64_t p = r / (w.out[1] * w.out[0]);
      fn(p, o0, o1, r * w.out[2]);
    }
  });
}

template <typename T, bool kWithIndices>
void MaxPoolRun(const Window3& w, const T* x, T* y, int64_t* indices, bool column_major,
                int threads) {
  ForEachOutputRow(w, threads, [&](int64_t p, int64_t o0, int64_t o1, int64_t y_off) {
    const T* xp = x + p * w.in_size();
    const Taps t0 = InputTaps(w, 0, o0);
    const Taps t1 = InputTaps(w, 1, o1);
    for (int64_t o2 = 0; o2 < w.out[2]; ++o2) {
      const Taps t2 = InputTaps(w, 2, o2);
      T best = std::numeric_limits<T>::lowest();
      int64_t best_at = 0;  // row-major offset in the plane
      for (int64_t k0 = t0.lo; k0 < t0.hi; ++k0) {
        const int64_t i0 = t0.start + k0 * w.dilation[0];
        for (int64_t k1 = t1.lo; k1 < t1.hi; ++k1) {
          const int64_t row = (i0 * w.in[1] + t1.start + k1 * w.dilation[1]) * w.in[2];
          for (int64_t k2 = t2.lo; k2 < t2.hi; ++k2) {
            const int64_t at = row + t2.start + k2 * w.dilation[2];
            if constexpr (kWithIndices) {
              if (xp[at] > best) {
                best = xp[at];
                best_at = at;
              }
            } else {
              best = std::max(best, xp[at]);
            }
          }
        }
      }
      y[y_off + o2] = best;
      if constexpr (kWithIndices) {
        int64_t flat = best_at;
        if (column_major) {
          const int64_t i2 = best_at % w.in[2];
          const int64_t i1 = (best_at / w.in[2]) % w.in[1];
          const int64_t i0 = best_at / (w.in[2] * w.in[1]);
          flat = i0 + i1 * w.in[0] + i2 * w.in[0] * w.in[1];
        }
        indices[y_off + o2] = p * w.in_size() + flat;
      }
    }
  });
}

template <typename T>
void AveragePoolRun(const Window3& w, const T* x, T* y, bool count_include_pad, int threads) {
  ForEachOutputRow(w, threads, [&](int64_t p, int64_t o0, int64_t o1, int64_t y_off) {
    const T* xp = x + p * w.in_size();
    const Taps t0 = InputTaps(w, 0, o0);
    const Taps t1 = InputTaps(w, 1, o1);
    const int64_t padded01 = PaddedTapCount(w, 0, o0) * PaddedTapCount(w, 1, o1);
    for (int64_t o2 = 0; o2 < w.out[2]; ++o2) {
      const Taps t2 = InputTaps(w, 2, o2);
      T sum = 0;
      for (int64_t k0 = t0.lo; k0 < t0.hi; ++k0) {
        const int64_t i0 = t0.start + k0 * w.dilation[0];
        for (int64_t k1 = t1.lo; k1 < t1.hi; ++k1) {
          const T* row = xp + (i0 * w.in[1] + t1.start + k1 * w.dilation[1]) * w.in[2] + t2.start;
          for (int64_t k2 = t2.lo; k2 < t2.hi; ++k2) sum += row[k2 * w.dilation[2]];
        }
      }
      const int64_t count = count_include_pad
                                ? padded01 * PaddedTapCount(w, 2, o2)
                                : (t0.hi - t0.lo) * (t1.hi - t1.lo) * (t2.hi - t2.lo);
      y[y_off + o2] = count > 0 ? sum / static_cast<T>(count) : T(0);
    }
  });
}

class MaxPoolKernel : public Kernel {
 public:
  MaxPoolKernel(WindowAttrs attrs, bool column_major)
      : attrs_(std::move(attrs)), column_major_(column_major) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    TP_ASSIGN_OR_RETURN(const Window3 w, MakeWindow3(attrs_, x.shape(), "MaxPool"));
    int64_t* indices = nullptr;
    if (ctx.outputs.size() > 1 && ctx.outputs[1] != nullptr) indices = ctx.output(1).data<int64_t>();
    switch (x.dtype()) {
      case DType::kF32:
        return Run<float>(ctx, w, indices);
      case DType::kF64:
        return Run<double>(ctx, w, indices);
      case DType::kI8:
        return Run<int8_t>(ctx, w, indices);
      case DType::kU8:
        return Run<uint8_t>(ctx, w, indices);
      default:
        return UnsupportedDType("MaxPool", x.dtype());
    }
  }

 private:
  template <typename T>
  Status Run(KernelContext& ctx, const Window3& w, int64_t* indices) const {
    const T* x = ctx.input(0).data<T>();
    T* y = ctx.output(0).data<T>();
    if (indices != nullptr) {
      MaxPoolRun<T, true>(w, x, y, indices, column_major_, ctx.threads);
    } else {
      MaxPoolRun<T, false>(w, x, y, nullptr, column_major_, ctx.threads);
    }
    return Status::Ok();
  }

  WindowAttrs attrs_;
  bool column_major_;  // storage_order=1: Indices count column-major
};

class AveragePoolKernel : public Kernel {
 public:
  AveragePoolKernel(WindowAttrs attrs, bool count_include_pad)
      : attrs_(std::move(attrs)), count_include_pad_(count_include_pad) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    TP_ASSIGN_OR_RETURN(const Window3 w, MakeWindow3(attrs_, x.shape(), "AveragePool"));
    switch (x.dtype()) {
      case DType::kF32:
        AveragePoolRun(w, x.data<float>(), ctx.output(0).data<float>(), count_include_pad_,
                       ctx.threads);
        return Status::Ok();
      case DType::kF64:
        AveragePoolRun(w, x.data<double>(), ctx.output(0).data<double>(), count_include_pad_,
                       ctx.threads);
        return Status::Ok();
      default:
        return UnsupportedDType("AveragePool", x.dtype());
    }
  }

 private:
  WindowAttrs attrs_;
  bool count_include_pad_;
};

// GlobalAveragePool / GlobalMaxPool: one reduction per (n, c) plane.
class GlobalPoolKernel : public Kernel {
 public:
  explicit GlobalPoolKernel(bool max) : max_(max) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    switch (x.dtype()) {
      case DType::kF32:
        Run(x, ctx.output(0).data<float>(), ctx.threads);
        return Status::Ok();
      case DType::kF64:
        Run(x, ctx.output(0).data<double>(), ctx.threads);
        return Status::Ok();
      default:
        return UnsupportedDType(max_ ? "GlobalMaxPool" : "GlobalAveragePool", x.dtype());
    }
  }

 private:
  template <typename T>
  void Run(const Tensor& x, T* y, int threads) const {
    const int64_t planes = x.dim(0) * x.dim(1);
    const int64_t size = planes == 0 ? 0 : x.num_elements() / planes;
    const T* xd = x.data<T>();
    const int64_t grain = std::max<int64_t>(1, kParallelGrainElements / std::max<int64_t>(size, 1));
    ParallelFor(planes, threads, grain, [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) {
        Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>> plane(xd + p * size, size);
        if (size == 0) {
          y[p] = max_ ? std::numeric_limits<T>::lowest() : T(0);
        } else {
          y[p] = max_ ? plane.maxCoeff() : plane.mean();
        }
      }
    });
  }

  bool max_;
};

StatusOr<WindowAttrs> ParsePoolAttrs(const NodeDef& node) {
  TP_ASSIGN_OR_RETURN(std::vector<int64_t> kernel, node.attrs->RequireInts("kernel_shape"));
  return ParseWindowAttrs(*node.attrs, std::move(kernel));
}

}  // namespace

StatusOr<std::unique_ptr<Kernel>> MakeMaxPoolKernel(const NodeDef& node) {
  TP_ASSIGN_OR_RETURN(WindowAttrs attrs, ParsePoolAttrs(node));
  const bool column_major = node.attrs->GetInt("storage_order", 0) != 0;
  return std::unique_ptr<Kernel>(new MaxPoolKernel(std::move(attrs), column_major));
}

StatusOr<std::unique_ptr<Kernel>> MakeAveragePoolKernel(const NodeDef& node) {
  TP_ASSIGN_OR_RETURN(WindowAttrs attrs, ParsePoolAttrs(node));
  const bool count_include_pad = node.attrs->GetInt("count_include_pad", 0) != 0;
  return std::unique_ptr<Kernel>(new AveragePoolKernel(std::move(attrs), count_include_pad));
}

StatusOr<std::unique_ptr<Kernel>> MakeGlobalAveragePoolKernel(const NodeDef& node) {
  return std::unique_ptr<Kernel>(new GlobalPoolKernel(/*max=*/false));
}

StatusOr<std::unique_ptr<Kernel>> MakeGlobalMaxPoolKernel(const NodeDef& node) {
  return std::unique_ptr<Kernel>(new GlobalPoolKernel(/*max=*/true));
}

}  // namespace tensorpod::internal
