// CPU kernels of the Reduce* ops and ArgMax/ArgMin, and the family's
// registration (TopK and Resize live in their own files).
//
// A reduction first drops unit axes and merges neighbouring axes that are
// both reduced or both kept. Most reductions then read as [outer, reduced,
// inner]: inner == 1 reduces contiguous rows, inner > 1 accumulates whole
// rows of the inner block; both run on Eigen arrays. Reduced axes that stay
// apart after merging (axes {0, 2} of a 3-D tensor) gather each output's
// elements into a contiguous buffer first.
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/dtype_dispatch.h"
#include "backends/cpu/parallel.h"
#include "backends/cpu/reduction_kernels.h"

namespace tensorpod::internal {
namespace {

enum class ReduceKind {
  kSum,
  kMean,
  kMax,
  kMin,
  kProd,
  kL1,
  kL2,
  kSumSquare,
  kLogSum,
  kLogSumExp
};

// Input elements one parallel chunk should read at least.
constexpr int64_t kGrainElements = 32768;
// Inner columns accumulated at once: the accumulator stays in L1.
constexpr int64_t kColumnBlock = 256;

// Kinds whose result needs sqrt/log/exp, implemented for floating types only.
bool IsFloatOnly(ReduceKind kind) {
  return kind == ReduceKind::kL2 || kind == ReduceKind::kLogSum ||
         kind == ReduceKind::kLogSumExp;
}

// The result of reducing no elements (ONNX opset 18 semantics).
template <typename T>
T EmptyReduction(ReduceKind kind) {
  using L = std::numeric_limits<T>;
  switch (kind) {
    case ReduceKind::kMax:
    case ReduceKind::kLogSum:
    case ReduceKind::kLogSumExp:
      return L::has_infinity ? -L::infinity() : L::lowest();
    case ReduceKind::kMin:
      return L::has_infinity ? L::infinity() : L::max();
    case ReduceKind::kProd:
      return T(1);
    case ReduceKind::kMean:
      return L::has_quiet_NaN ? L::quiet_NaN() : T(0);
    default:
      return T(0);
  }
}

template <typename T>
using ArrayMap = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
template <typename T>
using ConstArrayMap = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;

// Reduces p[0, n), n > 0; max and min propagate NaN like numpy. REQUIRES: T
// is floating point if IsFloatOnly(kind).
template <typename T>
T ReduceContiguous(ReduceKind kind, const T* p, int64_t n) {
  ConstArrayMap<T> v(p, n);
  if constexpr (std::is_floating_point_v<T>) {
    switch (kind) {
      case ReduceKind::kL2:
        return std::sqrt(v.square().sum());
      case ReduceKind::kLogSum:
        return std::log(v.sum());
      case ReduceKind::kLogSumExp: {
        // Shifted by the maximum so exp cannot overflow; an infinite or NaN
        // maximum is already the answer.
        const T m = v.template maxCoeff<Eigen::PropagateNaN>();
        return std::isfinite(m) ? std::log((v - m).exp().sum()) + m : m;
      }
      default:
        break;
    }
  }
  switch (kind) {
    case ReduceKind::kMean:
      return v.sum() / static_cast<T>(n);
    case ReduceKind::kMax:
      return v.template maxCoeff<Eigen::PropagateNaN>();
    case ReduceKind::kMin:
      return v.template minCoeff<Eigen::PropagateNaN>();
    case ReduceKind::kProd:
      return v.prod();
    case ReduceKind::kL1:
      return v.abs().sum();
    case ReduceKind::kSumSquare:
      return v.square().sum();
    default:
      return v.sum();
  }
}

// Coefficient-wise max/min that propagate NaN (ArrayBase::max does not).
template <typename T>
using NanMax = Eigen::internal::scalar_max_op<T, T, Eigen::PropagateNaN>;
template <typename T>
using NanMin = Eigen::internal::scalar_min_op<T, T, Eigen::PropagateNaN>;

// out[j] = the reduction over k < rows of p[k * stride + j], for j < n.
// REQUIRES: rows > 0, n <= kColumnBlock, and T is floating point if
// IsFloatOnly(kind).
template <typename T>
void ReduceColumns(ReduceKind kind, const T* p, int64_t rows, int64_t stride,
                   int64_t n, T* out) {
  ArrayMap<T> acc(out, n);
  auto row = [&](int64_t k) { return ConstArrayMap<T>(p + k * stride, n); };
  switch (kind) {
    case ReduceKind::kMax:
    case ReduceKind::kLogSumExp:
      acc = row(0);
      for (int64_t k = 1; k < rows; ++k)
        acc = acc.binaryExpr(row(k), NanMax<T>());
      break;
    case ReduceKind::kMin:
      acc = row(0);
      for (int64_t k = 1; k < rows; ++k)
        acc = acc.binaryExpr(row(k), NanMin<T>());
      break;
    case ReduceKind::kProd:
      acc = row(0);
      for (int64_t k = 1; k < rows; ++k) acc *= row(k);
      break;
    case ReduceKind::kL1:
      acc = row(0).abs();
      for (int64_t k = 1; k < rows; ++k) acc += row(k).abs();
      break;
    case ReduceKind::kL2:
    case ReduceKind::kSumSquare:
      acc = row(0).square();
      for (int64_t k = 1; k < rows; ++k) acc += row(k).square();
      break;
    default:
      acc = row(0);
      for (int64_t k = 1; k < rows; ++k) acc += row(k);
      break;
  }
  if (kind == ReduceKind::kMean) acc /= static_cast<T>(rows);
  if constexpr (std::is_floating_point_v<T>) {
    if (kind == ReduceKind::kL2) acc = acc.sqrt();
    if (kind == ReduceKind::kLogSum) acc = acc.log();
    if (kind == ReduceKind::kLogSumExp) {
      T sum_buf[kColumnBlock];
      ArrayMap<T> sum(sum_buf, n);
      sum = (row(0) - acc).exp();
      for (int64_t k = 1; k < rows; ++k) sum += (row(k) - acc).exp();
      acc = acc.isFinite().select(sum.log() + acc, acc);
    }
  }
}

// The input's axes after dropping unit axes and merging runs of axes that
// are all reduced or all kept.
struct MergedAxes {
  int rank = 0;
  DimArray dims{};
  std::array<bool, kMaxReduceRank> reduced{};
};

MergedAxes MergeAxes(const Shape& shape,
                     const std::array<bool, kMaxReduceRank>& reduced) {
  MergedAxes m;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 1) continue;
    if (m.rank > 0 && m.reduced[m.rank - 1] == reduced[i]) {
      m.dims[m.rank - 1] *= shape[i];
    } else {
      m.dims[m.rank] = shape[i];
      m.reduced[m.rank] = reduced[i];
      ++m.rank;
    }
  }
  return m;
}

// Reduced axes that stay apart after merging: each output's elements are
// gathered (through a precomputed offset table) into a per-chunk buffer and
// reduced contiguously.
template <typename T>
Status ReduceGathered(ReduceKind kind, const MergedAxes& m, const T* in, T* out,
                      int64_t outputs, KernelContext& ctx) {
  DimArray strides{};
  int64_t stride = 1;
  for (int i = m.rank - 1; i >= 0; --i) {
    strides[i] = stride;
    stride *= m.dims[i];
  }
  int64_t reduced_count = 1;
  for (int i = 0; i < m.rank; ++i) {
    if (m.reduced[i]) reduced_count *= m.dims[i];
  }
  const int64_t chunks =
      std::max<int64_t>(1, std::min<int64_t>(ctx.threads, outputs));
  const size_t bytes =
      sizeof(int64_t) * reduced_count + sizeof(T) * reduced_count * chunks;
  void* scratch = ctx.scratch->Get(bytes);
  if (scratch == nullptr) {
    return TP_ERROR(kResourceExhausted,
                    "reduction scratch of " << bytes << " bytes");
  }
  int64_t* offsets = static_cast<int64_t*>(scratch);
  T* buffers = reinterpret_cast<T*>(offsets + reduced_count);

  // Offsets of one output's elements: an odometer over the reduced axes.
  DimArray idx{};
  for (int64_t j = 0; j < reduced_count; ++j) {
    int64_t off = 0;
    for (int i = 0; i < m.rank; ++i) off += idx[i] * strides[i];
    offsets[j] = off;
    for (int i = m.rank - 1; i >= 0; --i) {
      if (!m.reduced[i]) continue;
      if (++idx[i] < m.dims[i]) break;
      idx[i] = 0;
    }
  }
  ParallelFor(chunks, ctx.threads, 1, [&](int64_t cb, int64_t ce) {
    for (int64_t c = cb; c < ce; ++c) {
      T* buf = buffers + c * reduced_count;
      for (int64_t o = c * outputs / chunks; o < (c + 1) * outputs / chunks;
           ++o) {
        int64_t base = 0;
        int64_t rest = o;
        for (int i = m.rank - 1; i >= 0; --i) {
          if (m.reduced[i]) continue;
          base += (rest % m.dims[i]) * strides[i];
          rest /= m.dims[i];
        }
        for (int64_t j = 0; j < reduced_count; ++j)
          buf[j] = in[base + offsets[j]];
        out[o] = ReduceContiguous(kind, buf, reduced_count);
      }
    }
  });
  return Status::Ok();
}

template <typename T>
Status RunReduce(ReduceKind kind,
                 const std::array<bool, kMaxReduceRank>& reduced_axes,
                 KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor& y = ctx.output(0);
  const T* in = x.data<T>();
  T* out = y.data<T>();
  const int64_t outputs = y.num_elements();
  if (outputs == 0) return Status::Ok();
  if (x.num_elements() == 0) {
    std::fill(out, out + outputs, EmptyReduction<T>(kind));
    return Status::Ok();
  }
  const MergedAxes m = MergeAxes(x.shape(), reduced_axes);
  int reduced_runs = 0;
  int first_reduced = m.rank;
  for (int i = 0; i < m.rank; ++i) {
    if (!m.reduced[i]) continue;
    ++reduced_runs;
    first_reduced = std::min(first_reduced, i);
  }
  if (reduced_runs > 1) return ReduceGathered(kind, m, in, out, outputs, ctx);

  // [outer, rows, inner]; no reduced run means every output reduces one
  // element.
  int64_t outer = 1;
  int64_t rows = 1;
  int64_t inner = 1;
  for (int i = 0; i < m.rank; ++i) {
    if (i < first_reduced) {
      outer *= m.dims[i];
    } else if (i == first_reduced) {
      rows = m.dims[i];
    } else {
      inner *= m.dims[i];
    }
  }
  if (inner == 1) {
    ParallelFor(outer, ctx.threads, std::max<int64_t>(1, kGrainElements / rows),
                [&](int64_t b, int64_t e) {
                  for (int64_t o = b; o < e; ++o)
                    out[o] = ReduceContiguous(kind, in + o * rows, rows);
                });
    return Status::Ok();
  }
  const int64_t blocks = (inner + kColumnBlock - 1) / kColumnBlock;
  const int64_t grain = std::max<int64_t>(
      1, kGrainElements / (rows * std::min(inner, kColumnBlock)));
  ParallelFor(outer * blocks, ctx.threads, grain, [&](int64_t b, int64_t e) {
    for (int64_t u = b; u < e; ++u) {
      const int64_t o = u / blocks;
      const int64_t j = (u % blocks) * kColumnBlock;
      ReduceColumns(kind, in + o * rows * inner + j, rows, inner,
                    std::min(kColumnBlock, inner - j), out + o * inner + j);
    }
  });
  return Status::Ok();
}

class ReduceKernel : public Kernel {
 public:
  ReduceKernel(std::string op_type, ReduceKind kind, bool axes_from_input,
               std::vector<int64_t> attr_axes, bool noop_with_empty_axes)
      : op_type_(std::move(op_type)),
        kind_(kind),
        axes_from_input_(axes_from_input),
        attr_axes_(std::move(attr_axes)),
        noop_with_empty_axes_(noop_with_empty_axes) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const int64_t rank = x.rank();
    if (rank > kMaxReduceRank) {
      return TP_ERROR(kUnimplemented, op_type_ << " of rank " << rank
                                               << " (at most " << kMaxReduceRank
                                               << " is supported)");
    }
    const Tensor* axes =
        axes_from_input_ && ctx.has_input(1) ? ctx.inputs[1] : nullptr;
    const int64_t num_axes =
        axes ? axes->num_elements() : static_cast<int64_t>(attr_axes_.size());
    if (num_axes == 0 && noop_with_empty_axes_) {
      if (x.nbytes() > 0)
        std::memcpy(ctx.output(0).raw_data(), x.raw_data(), x.nbytes());
      return Status::Ok();
    }
    std::array<bool, kMaxReduceRank> reduced{};
    for (int64_t i = 0; i < rank; ++i) reduced[i] = num_axes == 0;
    for (int64_t j = 0; j < num_axes; ++j) {
      TP_ASSIGN_OR_RETURN(
          int64_t a, NormalizeAxis(axes ? axes->GetAsInt64(j) : attr_axes_[j],
                                   rank, "axes"));
      reduced[a] = true;
    }
    if (IsFloatOnly(kind_) && !IsFloatingPoint(x.dtype())) {
      return TP_ERROR(kUnimplemented, op_type_
                                          << " is not implemented for dtype "
                                          << DTypeName(x.dtype()));
    }
    return VisitDType<float, double, int32_t, int64_t>(x.dtype(), op_type_, [&](auto tag) {
      return RunReduce<decltype(tag)>(kind_, reduced, ctx);
    });
  }

 private:
  std::string op_type_;
  ReduceKind kind_;
  bool axes_from_input_;
  std::vector<int64_t> attr_axes_;
  bool noop_with_empty_axes_;
};

StatusOr<std::unique_ptr<Kernel>> CreateReduceKernel(const NodeDef& node) {
  static const std::pair<const char*, ReduceKind> kKinds[] = {
      {"ReduceSum", ReduceKind::kSum},
      {"ReduceMean", ReduceKind::kMean},
      {"ReduceMax", ReduceKind::kMax},
      {"ReduceMin", ReduceKind::kMin},
      {"ReduceProd", ReduceKind::kProd},
      {"ReduceL1", ReduceKind::kL1},
      {"ReduceL2", ReduceKind::kL2},
      {"ReduceSumSquare", ReduceKind::kSumSquare},
      {"ReduceLogSum", ReduceKind::kLogSum},
      {"ReduceLogSumExp", ReduceKind::kLogSumExp}};
  const auto* it =
      std::find_if(std::begin(kKinds), std::end(kKinds),
                   [&](const auto& k) { return node.op_type == k.first; });
  TP_INTERNAL_CHECK(it != std::end(kKinds),
                    "no reduction named " << node.op_type);
  // See InferReduce in src/ops/reduction.cc: ReduceSum takes axes as an
  // input from opset 13, the others from opset 18.
  const bool axes_from_input =
      node.opset >= (it->second == ReduceKind::kSum ? 13 : 18);
  return std::unique_ptr<Kernel>(new ReduceKernel(
      node.op_type, it->second, axes_from_input,
      axes_from_input ? std::vector<int64_t>{} : node.attrs->GetInts("axes"),
      node.attrs->GetInt("noop_with_empty_axes", 0) != 0));
}

template <typename T>
bool IsNan(T v) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::isnan(v);
  } else {
    return false;
  }
}

// ArgMax/ArgMin over the middle axis of [outer, axis, inner]: the first
// extreme index, or the last one with select_last_index. NaN is extreme
// both ways, as in numpy (the ONNX reference).
template <typename T>
void ArgReduce(const T* in, const AxisSplit& s, bool is_max, bool select_last,
               int64_t* out, int threads) {
  auto better = [&](T v, T best) {
    if (IsNan(best)) return select_last && IsNan(v);
    if (IsNan(v)) return true;
    return is_max ? (select_last ? v >= best : v > best)
                  : (select_last ? v <= best : v < best);
  };
  const int64_t grain =
      std::max<int64_t>(1, kGrainElements / (s.axis * s.inner));
  ParallelFor(s.outer, threads, grain, [&](int64_t b, int64_t e) {
    for (int64_t o = b; o < e; ++o) {
      const T* base = in + o * s.axis * s.inner;
      if (s.inner == 1) {
        // The extreme value through Eigen's vectorised reduction, then its
        // first (last) position.
        ConstArrayMap<T> v(base, s.axis);
        const T extreme = is_max ? v.template maxCoeff<Eigen::PropagateNaN>()
                                 : v.template minCoeff<Eigen::PropagateNaN>();
        const bool nan = IsNan(extreme);
        int64_t r = select_last ? s.axis - 1 : 0;
        const int64_t step = select_last ? -1 : 1;
        while (nan ? !IsNan(base[r]) : !(base[r] == extreme)) r += step;
        out[o] = r;
        continue;
      }
      for (int64_t j = 0; j < s.inner; j += kColumnBlock) {
        const int64_t n = std::min(kColumnBlock, s.inner - j);
        T best[kColumnBlock];
        int64_t* best_index = out + o * s.inner + j;
        std::copy(base + j, base + j + n, best);
        std::fill(best_index, best_index + n, 0);
        for (int64_t r = 1; r < s.axis; ++r) {
          const T* row = base + r * s.inner + j;
          for (int64_t i = 0; i < n; ++i) {
            const bool take = better(row[i], best[i]);
            best[i] = take ? row[i] : best[i];
            best_index[i] = take ? r : best_index[i];
          }
        }
      }
    }
  });
}

class ArgReduceKernel : public Kernel {
 public:
  ArgReduceKernel(std::string op_type, int64_t axis, bool select_last)
      : op_type_(std::move(op_type)), axis_(axis), select_last_(select_last) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    TP_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(axis_, x.rank(), "axis"));
    const AxisSplit s = SplitAtAxis(x.shape(), axis);
    int64_t* out = ctx.output(0).data<int64_t>();
    if (ctx.output(0).num_elements() == 0) return Status::Ok();
    const bool is_max = op_type_ == "ArgMax";
    return VisitDType<float, double, int32_t, int64_t, uint8_t, int8_t>(x.dtype(), op_type_, [&](auto tag) {
      using T = decltype(tag);
      ArgReduce(x.data<T>(), s, is_max, select_last_, out, ctx.threads);
      return Status::Ok();
    });
  }

 private:
  std::string op_type_;
  int64_t axis_;
  bool select_last_;
};

StatusOr<std::unique_ptr<Kernel>> CreateArgReduceKernel(const NodeDef& node) {
  return std::unique_ptr<Kernel>(
      new ArgReduceKernel(node.op_type, node.attrs->GetInt("axis", 0),
                          node.attrs->GetInt("select_last_index", 0) != 0));
}

}  // namespace

void RegisterReductionKernels(KernelRegistry* r) {
  for (const char* op :
       {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd",
        "ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSum",
        "ReduceLogSumExp"}) {
    r->Add(op, CreateReduceKernel);
  }
  r->Add("ArgMax", CreateArgReduceKernel);
  r->Add("ArgMin", CreateArgReduceKernel);
  r->Add("TopK", CreateTopKKernel);
  r->Add("Resize", CreateResizeKernel);
  r->Add("Upsample", CreateResizeKernel);
}

}  // namespace tensorpod::internal
