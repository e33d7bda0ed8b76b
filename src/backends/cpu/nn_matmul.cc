// Matrix-product kernels: MatMul, Gemm and tensorpod's tp.FusedMatMul
// (MatMul + bias + activation). Float32 goes through the Sgemm seam
// (gemm.h); other dtypes through Eigen's products, unfused.
#include <Eigen/Core>
#include <algorithm>
#include <cstring>
#include <memory>

#include "backends/cpu/elementwise_activation.h"
#include "backends/cpu/gemm.h"
#include "backends/cpu/nn_kernels.h"
#include "backends/cpu/packed_matmul.h"
#include "backends/cpu/parallel.h"
#include "backends/cpu/vec_math.h"
#include "ops/nn_shapes.h"

namespace tensorpod::internal {
namespace {

constexpr int64_t kParallelGrainElements = 16384;

template <typename T>
using RowMajorMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

Status UnsupportedDType(const char* op, DType t) {
  return TP_ERROR(kUnimplemented, op << " is not implemented for dtype " << DTypeName(t));
}

// What runs over the float32 output after the product: an optional per-
// column bias, then the fused activation.
struct Epilogue {
  const float* bias = nullptr;  // [n], or nullptr
  Activation act;

  bool empty() const { return bias == nullptr && act.kind == ActivationKind::kNone; }
};

// Applies `e` to `rows` rows of `n` floats, one cache-friendly chunk of rows
// per thread so the data is touched once.
void ApplyEpilogue(const Epilogue& e, float* c, int64_t rows, int64_t n, int threads) {
  if (e.empty() || rows * n == 0) return;
  const int64_t grain = std::max<int64_t>(1, kParallelGrainElements / n);
  ParallelFor(rows, threads, grain, [&](int64_t b, int64_t end) {
    if (e.act.kind == ActivationKind::kGelu) {
      // Bias and GELU row by row while the row is in L1.
      for (int64_t r = b; r < end; ++r) {
        float* row = c + r * n;
        if (e.bias != nullptr) {
          Eigen::Map<Eigen::Array<float, 1, Eigen::Dynamic>>(row, n) +=
              Eigen::Map<const Eigen::Array<float, 1, Eigen::Dynamic>>(e.bias, n);
        }
        vec::GeluErf(row, row, n);
      }
      return;
    }
    if (e.bias != nullptr) {
      Eigen::Map<const Eigen::Array<float, 1, Eigen::Dynamic>> bias(e.bias, n);
      for (int64_t r = b; r < end; ++r) {
        Eigen::Map<Eigen::Array<float, 1, Eigen::Dynamic>>(c + r * n, n) += bias;
      }
    }
    ApplyActivationF32(e.act, c + b * n, (end - b) * n, 1);
  });
}

// Number of distinct matrices an operand holds along the plan's batch.
int64_t OperandMatrices(const MatMulPlan& p, const std::vector<int64_t>& strides) {
  int64_t count = 1;
  for (size_t d = 0; d < p.batch.size(); ++d) {
    if (strides[d] != 0) count *= p.batch[d];
  }
  return count;
}

void MatMulF32(const MatMulPlan& p, const float* a, const float* b, float* c, int threads) {
  const int64_t batches = p.batch_count();
  if (batches == 0 || p.m == 0 || p.n == 0) return;
  const int64_t a_size = p.m * p.k, b_size = p.k * p.n, c_size = p.m * p.n;
  // One B shared by a dense batch of A: a single product with the batch
  // folded into M, which the GEMM library parallelises best.
  if (OperandMatrices(p, p.b_batch_stride) == 1 &&
      OperandMatrices(p, p.a_batch_stride) == batches) {
    Sgemm(false, false, batches * p.m, p.n, p.k, 1.0f, a, p.k, b, p.n, 0.0f, c, p.n, threads);
    return;
  }
  auto one = [&](int64_t i, int gemm_threads) {
    int64_t oa = 0, ob = 0;
    p.BatchOffsets(i, &oa, &ob);
    Sgemm(false, false, p.m, p.n, p.k, 1.0f, a + oa * a_size, p.k, b + ob * b_size, p.n, 0.0f,
          c + i * c_size, p.n, gemm_threads);
  };
  // Many independent products balance better one per thread than each
  // split across all threads.
  const bool per_thread = threads > 1 && batches >= threads &&
                          (batches % threads == 0 || batches >= 4 * threads);
  if (per_thread) {
    ParallelFor(batches, threads, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) one(i, 1);
    });
  } else {
    for (int64_t i = 0; i < batches; ++i) one(i, threads);
  }
}

template <typename T>
void MatMulEigen(const MatMulPlan& p, const T* a, const T* b, T* c) {
  const int64_t a_size = p.m * p.k, b_size = p.k * p.n, c_size = p.m * p.n;
  for (int64_t i = 0; i < p.batch_count(); ++i) {
    int64_t oa = 0, ob = 0;
    p.BatchOffsets(i, &oa, &ob);
    Eigen::Map<RowMajorMatrix<T>> out(c + i * c_size, p.m, p.n);
    out.noalias() = Eigen::Map<const RowMajorMatrix<T>>(a + oa * a_size, p.m, p.k) *
                    Eigen::Map<const RowMajorMatrix<T>>(b + ob * b_size, p.k, p.n);
  }
}

// MatMul, and tp.FusedMatMul when `fused`: the same product followed by the
// optional bias input and the node's activation (float32 only).
class MatMulKernel : public Kernel {
 public:
  // `packed`: tp.FusedMatMul over constant 2-D weights; see Note [Prepacked MatMul].
  MatMulKernel(bool fused, Activation act, bool packed)
      : fused_(fused), act_(act), packed_(packed ? std::make_unique<PackedMatMul>() : nullptr) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    TP_ASSIGN_OR_RETURN(const MatMulPlan plan, PlanMatMul(a.shape(), b.shape()));
    Tensor& y = ctx.output(0);
    const char* op = fused_ ? "tp.FusedMatMul" : "MatMul";
    if (a.dtype() != b.dtype()) {
      return TP_ERROR(kInvalidArgument, op << ": A is " << DTypeName(a.dtype()) << " but B is "
                                           << DTypeName(b.dtype()));
    }
    if (fused_ && a.dtype() != DType::kF32) return UnsupportedDType(op, a.dtype());
    switch (a.dtype()) {
      case DType::kF32: {
        Epilogue e;
        e.bias = ctx.has_input(2) ? ctx.input(2).data<float>() : nullptr;
        e.act = act_;
        const int64_t rows = plan.batch_count() * plan.m;
        if (packed_ != nullptr && b.rank() == 2 && rows >= PackedMatMul::kPackedMinRows && plan.k > 0 && plan.n > 0 &&
            OperandMatrices(plan, plan.a_batch_stride) == plan.batch_count()) {
          const bool relu = act_.kind == ActivationKind::kRelu;
          TP_RETURN_IF_ERROR(packed_->Run(ctx, a.data<float>(), b.data<float>(), e.bias, y.data<float>(), rows, plan.k,
                                          plan.n, relu));
          e.bias = nullptr;  // added by the kernel, like a ReLU
          if (relu) e.act = Activation{};
          ApplyEpilogue(e, y.data<float>(), rows, plan.n, ctx.threads);
          return Status::Ok();
        }
        MatMulF32(plan, a.data<float>(), b.data<float>(), y.data<float>(), ctx.threads);
        ApplyEpilogue(e, y.data<float>(), rows, plan.n, ctx.threads);
        return Status::Ok();
      }
      case DType::kF64:
        MatMulEigen(plan, a.data<double>(), b.data<double>(), y.data<double>());
        return Status::Ok();
      case DType::kI32:
        MatMulEigen(plan, a.data<int32_t>(), b.data<int32_t>(), y.data<int32_t>());
        return Status::Ok();
      case DType::kI64:
        MatMulEigen(plan, a.data<int64_t>(), b.data<int64_t>(), y.data<int64_t>());
        return Status::Ok();
      case DType::kU32:
        MatMulEigen(plan, a.data<uint32_t>(), b.data<uint32_t>(), y.data<uint32_t>());
        return Status::Ok();
      case DType::kU64:
        MatMulEigen(plan, a.data<uint64_t>(), b.data<uint64_t>(), y.data<uint64_t>());
        return Status::Ok();
      default:
        return UnsupportedDType(op, a.dtype());
    }
  }

 private:
  bool fused_;
  Activation act_;
  std::unique_ptr<PackedMatMul> packed_;
};

// Writes beta * C broadcast to [m, n] into y; C is a scalar, [n], [1|m, 1|n].
template <typename T>
void FillBroadcastC(const Tensor& c, T beta, int64_t m, int64_t n, T* y) {
  const Shape& s = c.shape();
  const int64_t c_cols = s.empty() ? 1 : s.back();
  const int64_t c_rows = s.size() < 2 ? 1 : s[0];
  const T* cd = c.data<T>();
  for (int64_t i = 0; i < m; ++i) {
    const T* crow = cd + (c_rows == 1 ? 0 : i * c_cols);
    T* yrow = y + i * n;
    if (c_cols == 1) {
      std::fill(yrow, yrow + n, beta * crow[0]);
    } else {
      for (int64_t j = 0; j < n; ++j) yrow[j] = beta * crow[j];
    }
  }
}

template <typename T>
void GemmEigen(const Tensor& a, const Tensor& b, bool ta, bool tb, T alpha, T* y, int64_t m,
               int64_t n) {
  Eigen::Map<const RowMajorMatrix<T>> ma(a.data<T>(), a.dim(0), a.dim(1));
  Eigen::Map<const RowMajorMatrix<T>> mb(b.data<T>(), b.dim(0), b.dim(1));
  Eigen::Map<RowMajorMatrix<T>> out(y, m, n);
  if (ta && tb) {
    out.noalias() += alpha * (ma.transpose() * mb.transpose());
  } else if (ta) {
    out.noalias() += alpha * (ma.transpose() * mb);
  } else if (tb) {
    out.noalias() += alpha * (ma * mb.transpose());
  } else {
    out.noalias() += alpha * (ma * mb);
  }
}

class GemmKernel : public Kernel {
 public:
  GemmKernel(bool trans_a, bool trans_b, float alpha, float beta, Activation act)
      : trans_a_(trans_a), trans_b_(trans_b), alpha_(alpha), beta_(beta), act_(act) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    Tensor& y = ctx.output(0);
    const int64_t m = y.dim(0), n = y.dim(1);
    const int64_t k = trans_a_ ? a.dim(0) : a.dim(1);
    const bool use_c = ctx.has_input(2) && beta_ != 0.0f;
    if (act_.kind != ActivationKind::kNone && a.dtype() != DType::kF32) {
      return UnsupportedDType("Gemm with a fused activation", a.dtype());
    }
    switch (a.dtype()) {
      case DType::kF32: {
        float* yd = y.data<float>();
        if (use_c) FillBroadcastC<float>(ctx.input(2), 1.0f, m, n, yd);
        Sgemm(trans_a_, trans_b_, m, n, k, alpha_, a.data<float>(), a.dim(1), b.data<float>(),
              b.dim(1), use_c ? beta_ : 0.0f, yd, n, ctx.threads);
        Epilogue e;
        e.act = act_;
        ApplyEpilogue(e, yd, m, n, ctx.threads);
        return Status::Ok();
      }
      case DType::kF64:
        return RunEigen<double>(ctx, use_c);
      case DType::kI32:
        return RunEigen<int32_t>(ctx, use_c);
      case DType::kI64:
        return RunEigen<int64_t>(ctx, use_c);
      case DType::kU32:
        return RunEigen<uint32_t>(ctx, use_c);
      case DType::kU64:
        return RunEigen<uint64_t>(ctx, use_c);
      default:
        return UnsupportedDType("Gemm", a.dtype());
    }
  }

 private:
  template <typename T>
  Status RunEigen(KernelContext& ctx, bool use_c) const {
    Tensor& y = ctx.output(0);
    const int64_t m = y.dim(0), n = y.dim(1);
    T* yd = y.data<T>();
    if (use_c) {
      FillBroadcastC<T>(ctx.input(2), static_cast<T>(beta_), m, n, yd);
    } else {
      std::fill(yd, yd + m * n, T(0));
    }
    GemmEigen<T>(ctx.input(0), ctx.input(1), trans_a_, trans_b_, static_cast<T>(alpha_), yd, m, n);
    return Status::Ok();
  }

  bool trans_a_, trans_b_;
  float alpha_, beta_;
  Activation act_;
};

}  // namespace

StatusOr<std::unique_ptr<Kernel>> MakeMatMulKernel(const NodeDef& node) {
  return std::unique_ptr<Kernel>(new MatMulKernel(/*fused=*/false, Activation{}, /*packed=*/false));
}

StatusOr<std::unique_ptr<Kernel>> MakeFusedMatMulKernel(const NodeDef& node) {
  Activation act;
  TP_RETURN_IF_ERROR(ParseActivation(*node.attrs, &act));
  const bool constant_weights = node.constant_inputs.size() > 1 && node.constant_inputs[1] != nullptr &&
                                node.constant_inputs[1]->rank() == 2;
  return std::unique_ptr<Kernel>(new MatMulKernel(/*fused=*/true, act, /*packed=*/constant_weights));
}

StatusOr<std::unique_ptr<Kernel>> MakeGemmKernel(const NodeDef& node) {
  Activation act;
  TP_RETURN_IF_ERROR(ParseActivation(*node.attrs, &act));
  const Attributes& attrs = *node.attrs;
  return std::unique_ptr<Kernel>(new GemmKernel(attrs.GetInt("transA", 0) != 0,
                                                attrs.GetInt("transB", 0) != 0,
                                                attrs.GetFloat("alpha", 1.0f),
                                                attrs.GetFloat("beta", 1.0f), act));
}

}  // namespace tensorpod::internal
