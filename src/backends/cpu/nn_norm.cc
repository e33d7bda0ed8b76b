// Normalisation kernels: Softmax, LogSoftmax, LayerNormalization and
// inference-mode BatchNormalization. Float32 and float64; vectorised with
// Eigen arrays and split over the outer dimension with ParallelFor.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <memory>
#include <type_traits>
#include <vector>

#include "backends/cpu/nn_kernels.h"
#include "backends/cpu/parallel.h"
#include "backends/cpu/vec_math.h"

namespace tensorpod::internal {
namespace {

// Elements one parallel chunk should cover at least, so that small tensors
// do not pay for waking threads.
constexpr int64_t kParallelGrainElements = 16384;

template <typename T>
using ArrayX = Eigen::Array<T, Eigen::Dynamic, 1>;

int64_t GrainFor(int64_t unit_elements) {
  return std::max<int64_t>(1, kParallelGrainElements / std::max<int64_t>(unit_elements, 1));
}

Status UnsupportedDType(const char* op, DType t) {
  return TP_ERROR(kUnimplemented, op << " is not implemented for dtype " << DTypeName(t));
}

// Softmax and LogSoftmax over the middle axis of x viewed as [outer, len, inner].
class SoftmaxKernel : public Kernel {
 public:
  SoftmaxKernel(bool log, int64_t axis, bool flatten) : log_(log), axis_(axis), flatten_(flatten) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const Shape& s = x.shape();
    const int64_t rank = x.rank();
    const int64_t axis = axis_ < 0 ? axis_ + rank : axis_;
    const int64_t outer = NumElementsUnchecked(Shape(s.begin(), s.begin() + axis));
    int64_t len = 1, inner = 1;
    if (flatten_) {
      len = NumElementsUnchecked(Shape(s.begin() + axis, s.end()));
    } else {
      len = s[axis];
      inner = NumElementsUnchecked(Shape(s.begin() + axis + 1, s.end()));
    }
    switch (x.dtype()) {
      case DType::kF32:
        Run(x.data<float>(), ctx.output(0).data<float>(), outer, len, inner, ctx.threads);
        return Status::Ok();
      case DType::kF64:
        Run(x.data<double>(), ctx.output(0).data<double>(), outer, len, inner, ctx.threads);
        return Status::Ok();
      default:
        return UnsupportedDType(log_ ? "LogSoftmax" : "Softmax", x.dtype());
    }
  }

 private:
  // Columns handled per unit when inner > 1; bounds the stack temporaries.
  static constexpr int64_t kColumnBlock = 128;

  template <typename T>
  void Run(const T* x, T* y, int64_t outer, int64_t len, int64_t inner, int threads) const {
    if (outer * len * inner == 0) return;
    if constexpr (std::is_same_v<T, float>) {
      if (inner == 1 && !log_) {
        ParallelFor(outer, threads, GrainFor(len), [&](int64_t b, int64_t e) {
          for (int64_t r = b; r < e; ++r) vec::SoftmaxRow(x + r * len, y + r * len, len, 1.0f, nullptr, 0);
        });
        return;
      }
    }
    if (inner == 1) {
      ParallelFor(outer, threads, GrainFor(len), [&](int64_t b, int64_t e) {
        for (int64_t r = b; r < e; ++r) {
          Eigen::Map<const ArrayX<T>> xr(x + r * len, len);
          Eigen::Map<ArrayX<T>> yr(y + r * len, len);
          const T mx = xr.maxCoeff();
          yr = (xr - mx).exp();
          const T sum = yr.sum();
          if (log_) {
            yr = (xr - mx) - std::log(sum);
          } else {
            yr *= T(1) / sum;
          }
        }
      });
      return;
    }
    // Each unit is one outer slice restricted to a block of columns; the
    // reductions over `len` walk its contiguous rows with per-column
    // accumulators held on the stack, so every step is a vector operation.
    using Row = Eigen::Array<T, 1, Eigen::Dynamic, Eigen::RowMajor, 1, kColumnBlock>;
    using RowMap = Eigen::Map<const Eigen::Array<T, 1, Eigen::Dynamic>>;
    using OutRowMap = Eigen::Map<Eigen::Array<T, 1, Eigen::Dynamic>>;
    const int64_t blocks = (inner + kColumnBlock - 1) / kColumnBlock;
    const int64_t unit = len * std::min(inner, kColumnBlock);
    ParallelFor(outer * blocks, threads, GrainFor(unit), [&](int64_t b, int64_t e) {
      for (int64_t u = b; u < e; ++u) {
        const int64_t o = u / blocks;
        const int64_t c0 = (u % blocks) * kColumnBlock;
        const int64_t w = std::min(kColumnBlock, inner - c0);
        const T* xs = x + o * len * inner + c0;
        T* ys = y + o * len * inner + c0;
        Row mx = RowMap(xs, w);
        for (int64_t r = 1; r < len; ++r) mx = mx.max(RowMap(xs + r * inner, w));
        Row sum = Row::Zero(w);
        for (int64_t r = 0; r < len; ++r) {
          OutRowMap yr(ys + r * inner, w);
          yr = (RowMap(xs + r * inner, w) - mx).exp();
          sum += yr;
        }
        if (log_) {
          const Row shift = mx + sum.log();
          for (int64_t r = 0; r < len; ++r) {
            OutRowMap(ys + r * inner, w) = RowMap(xs + r * inner, w) - shift;
          }
        } else {
          const Row inv = sum.inverse();
          for (int64_t r = 0; r < len; ++r) OutRowMap(ys + r * inner, w) *= inv;
        }
      }
    });
  }

  bool log_;
  int64_t axis_;
  bool flatten_;  // opset < 13: normalise over everything from axis on
};

StatusOr<std::unique_ptr<Kernel>> MakeSoftmaxLike(const NodeDef& node, bool log) {
  const bool flatten = node.opset < 13;
  const int64_t axis = node.attrs->GetInt("axis", flatten ? 1 : -1);
  return std::unique_ptr<Kernel>(new SoftmaxKernel(log, axis, flatten));
}

// LayerNormalization over the trailing dimensions from `axis` on.
class LayerNormKernel : public Kernel {
 public:
  LayerNormKernel(int64_t axis, float epsilon) : axis_(axis), epsilon_(epsilon) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const int64_t axis = axis_ < 0 ? axis_ + x.rank() : axis_;
    const Shape& s = x.shape();
    const int64_t rows = NumElementsUnchecked(Shape(s.begin(), s.begin() + axis));
    const int64_t cols = NumElementsUnchecked(Shape(s.begin() + axis, s.end()));
    Stats stats;
    if (ctx.outputs.size() > 1 && ctx.outputs[1] != nullptr) stats.mean = ctx.outputs[1];
    if (ctx.outputs.size() > 2 && ctx.outputs[2] != nullptr) stats.inv_std = ctx.outputs[2];
    switch (x.dtype()) {
      case DType::kF32:
        Run<float>(ctx, rows, cols, stats);
        return Status::Ok();
      case DType::kF64:
        Run<double>(ctx, rows, cols, stats);
        return Status::Ok();
      default:
        return UnsupportedDType("LayerNormalization", x.dtype());
    }
  }

 private:
  // The optional Mean and InvStdDev outputs (float32 or float64 by stash_type).
  struct Stats {
    Tensor* mean = nullptr;
    Tensor* inv_std = nullptr;
  };

  static void Store(Tensor* t, int64_t i, double v) {
    if (t == nullptr) return;
    if (t->dtype() == DType::kF64) {
      t->data<double>()[i] = v;
    } else {
      t->data<float>()[i] = static_cast<float>(v);
    }
  }

  template <typename T>
  void Run(KernelContext& ctx, int64_t rows, int64_t cols, const Stats& stats) const {
    const T* x = ctx.input(0).data<T>();
    T* y = ctx.output(0).data<T>();
    Eigen::Map<const ArrayX<T>> scale(ctx.input(1).data<T>(), cols);
    const T* bias = ctx.has_input(2) ? ctx.input(2).data<T>() : nullptr;
    const T eps = static_cast<T>(epsilon_);
    ParallelFor(rows, ctx.threads, GrainFor(cols), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        Eigen::Map<const ArrayX<T>> xr(x + r * cols, cols);
        Eigen::Map<ArrayX<T>> yr(y + r * cols, cols);
        const T mean = xr.mean();
        const T var = (xr - mean).square().mean();
        const T inv_std = T(1) / std::sqrt(var + eps);
        if (bias != nullptr) {
          yr = (xr - mean) * inv_std * scale + Eigen::Map<const ArrayX<T>>(bias, cols);
        } else {
          yr = (xr - mean) * inv_std * scale;
        }
        Store(stats.mean, r, mean);
        Store(stats.inv_std, r, inv_std);
      }
    });
  }

  int64_t axis_;
  float epsilon_;
};

// Inference-mode BatchNormalization: y = x * a[f] + b[f], with
// a = scale / sqrt(var + epsilon) and b = bias - mean * a per feature.
class BatchNormKernel : public Kernel {
 public:
  explicit BatchNormKernel(float epsilon) : epsilon_(epsilon) {}

  Status Compute(KernelContext& ctx) const override {
    switch (ctx.input(0).dtype()) {
      case DType::kF32:
        return Run<float>(ctx);
      case DType::kF64:
        return Run<double>(ctx);
      default:
        return UnsupportedDType("BatchNormalization", ctx.input(0).dtype());
    }
  }

 private:
  template <typename T>
  Status Run(KernelContext& ctx) const {
    const Tensor& x = ctx.input(0);
    const int64_t n = x.dim(0);
    const int64_t features = ctx.input(1).num_elements();
    const int64_t inner = n * features == 0 ? 0 : x.num_elements() / (n * features);
    if (x.num_elements() == 0) return Status::Ok();
    T* ab = static_cast<T*>(ctx.scratch->Get(2 * features * sizeof(T)));
    if (ab == nullptr) {
      return TP_ERROR(kResourceExhausted, "BatchNormalization: no scratch memory for "
                                              << features << " coefficients");
    }
    // The parameters may each be any float dtype (opset 15), so read them
    // generically; there are only `features` of them.
    for (int64_t f = 0; f < features; ++f) {
      const double a = ctx.input(1).GetAsDouble(f) /
                       std::sqrt(ctx.input(4).GetAsDouble(f) + static_cast<double>(epsilon_));
      ab[f] = static_cast<T>(a);
      ab[features + f] = static_cast<T>(ctx.input(2).GetAsDouble(f) - ctx.input(3).GetAsDouble(f) * a);
    }
    const T* xd = x.data<T>();
    T* yd = ctx.output(0).data<T>();
    ParallelFor(n * features, ctx.threads, GrainFor(inner), [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) {
        const int64_t f = p % features;
        Eigen::Map<ArrayX<T>>(yd + p * inner, inner) =
            Eigen::Map<const ArrayX<T>>(xd + p * inner, inner) * ab[f] + ab[features + f];
      }
    });
    return Status::Ok();
  }

  float epsilon_;
};

}  // namespace

StatusOr<std::unique_ptr<Kernel>> MakeSoftmaxKernel(const NodeDef& node) {
  return MakeSoftmaxLike(node, /*log=*/false);
}

StatusOr<std::unique_ptr<Kernel>> MakeLogSoftmaxKernel(const NodeDef& node) {
  return MakeSoftmaxLike(node, /*log=*/true);
}

StatusOr<std::unique_ptr<Kernel>> MakeLayerNormKernel(const NodeDef& node) {
  return std::unique_ptr<Kernel>(new LayerNormKernel(node.attrs->GetInt("axis", -1),
                                                     node.attrs->GetFloat("epsilon", 1e-5f)));
}

StatusOr<std::unique_ptr<Kernel>> MakeBatchNormKernel(const NodeDef& node) {
  const bool training = node.attrs->GetInt("training_mode", 0) != 0 || node.num_outputs > 1;
  if (training) {
    return TP_ERROR(kUnimplemented,
                    "BatchNormalization in training mode (training_mode=1 or statistics "
                    "outputs) is not supported; tensorpod runs inference only");
  }
  // The feature count (per channel, or per channel and position when an old
  // opset's spatial=0) is read from the parameters' size at Compute.
  return std::unique_ptr<Kernel>(new BatchNormKernel(node.attrs->GetFloat("epsilon", 1e-5f)));
}

}  // namespace tensorpod::internal
