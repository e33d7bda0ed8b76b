// tp.Attention on the CPU: per (batch, head), scores = Q K^T by one GEMM
// into a per-thread scratch block; then, while the block is in cache, one
// vectorised pass per row for the max and one for exp(scores * scale + mask
// - max) and its sum (vec::ExpRow); then exp(scores) V by a second GEMM,
// each output row divided by its sum. (batch, head) pairs spread over the
// threads. Float32. The scores never reach the arena, and the Div, Add and
// Softmax of the unfused graph become two passes over cached rows.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "backends/cpu/gemm.h"
#include "backends/cpu/nn_kernels.h"
#include "backends/cpu/parallel.h"
#include "backends/cpu/vec_math.h"
#include "ops/nn_shapes.h"

namespace tensorpod::internal {
namespace {

class AttentionKernel : public Kernel {
 public:
  AttentionKernel(float scale, bool bshd) : scale_(scale), bshd_(bshd) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& q = ctx.input(0);
    const Tensor& k = ctx.input(1);
    const Tensor& v = ctx.input(2);
    const Tensor* mask = ctx.has_input(3) ? ctx.inputs[3] : nullptr;
    Tensor& out = ctx.output(0);
    TP_ASSIGN_OR_RETURN(AttentionPlan p, (bshd_ ? PlanAttentionBshd : PlanAttention)(
                                             q.shape(), k.shape(), v.shape(), mask ? &mask->shape() : nullptr));
    if (out.num_elements() == 0) return Status::Ok();
    switch (q.dtype()) {
      case DType::kF32:
        return RunF32(ctx, p);
      case DType::kF64:
        RunReference<double>(ctx, p);
        return Status::Ok();
      default:
        return TP_ERROR(kUnimplemented, "tp.Attention on the cpu is implemented for float32 and float64, got "
                                            << DTypeName(q.dtype()));
    }
  }

 private:
  // Where the (b, h) block of an operand with `heads` heads, `rows` rows and
  // rows of `width` starts, and the distance between its rows: heads
  // outermost ([B, H, S, D]) or interleaved in every row ([B, S, H, D],
  // tp_bshd). K and V use their own batch and head counts (1 where they
  // broadcast), so b and h are clamped to them.
  struct Operand {
    int64_t batch, heads, rows, width;
    int64_t ld(bool bshd) const { return bshd ? heads * width : width; }
    int64_t offset(bool bshd, int64_t b, int64_t h) const {
      b = batch == 1 ? 0 : b;
      h = heads == 1 ? 0 : h;
      return bshd ? (b * rows * heads + h) * width : (b * heads + h) * rows * width;
    }
  };

  template <typename T>
  static const T* MaskRow(const AttentionPlan& p, const T* md, int64_t b, int64_t h, int64_t i) {
    return md != nullptr ? md + b * p.mask_stride[0] + h * p.mask_stride[1] + i * p.mask_stride[2] : nullptr;
  }

  Status RunF32(KernelContext& ctx, const AttentionPlan& p) const {
    const Operand oq{p.batch, p.heads, p.s, p.d}, ok{p.kv_batch, p.kv_heads, p.skv, p.d},
        ov{p.kv_batch, p.kv_heads, p.skv, p.dv}, oo{p.batch, p.heads, p.s, p.dv};
    const int64_t pairs = p.batch * p.heads;
    // Per thread: the scores of one pair, then the reciprocal row sums
    // (rounded up to whole cache lines).
    const size_t scores_per_pair = static_cast<size_t>(p.s * p.skv);
    const size_t per_thread = (scores_per_pair + static_cast<size_t>(p.s) + 15) / 16 * 16;
    const int threads = ThreadsForWork(ctx.threads, pairs, 1);
    float* scratch = static_cast<float*>(ctx.scratch->Get(per_thread * sizeof(float) * threads));
    if (scratch == nullptr && per_thread > 0) {
      return TP_ERROR(kResourceExhausted, "no memory for tp.Attention's " << p.s << "x" << p.skv << " scores");
    }
    const float* qd = ctx.input(0).data<float>();
    const float* kd = ctx.input(1).data<float>();
    const float* vd = ctx.input(2).data<float>();
    const float* md = ctx.has_input(3) ? ctx.input(3).data<float>() : nullptr;
    float* od = ctx.output(0).data<float>();
    const int64_t ld_o = oo.ld(bshd_);
    ParallelFor(pairs, threads, 1, [&](int64_t begin, int64_t end) {
      // One chunk per thread (grain 1, threads <= pairs): its own scores.
      const int64_t chunk = (pairs + threads - 1) / threads;
      float* scores = scratch + static_cast<size_t>(begin / std::max<int64_t>(chunk, 1)) * per_thread;
      float* inv_sum = scores + scores_per_pair;
      for (int64_t pair = begin; pair < end; ++pair) {
        const int64_t b = pair / p.heads, h = pair % p.heads;
        float* op = od + oo.offset(bshd_, b, h);
        if (p.skv == 0) {
          for (int64_t i = 0; i < p.s; ++i) std::fill(op + i * ld_o, op + i * ld_o + p.dv, 0.0f);
          continue;
        }
        Sgemm(false, true, p.s, p.skv, p.d, 1.0f, qd + oq.offset(bshd_, b, h), oq.ld(bshd_),
              kd + ok.offset(bshd_, b, h), ok.ld(bshd_), 0.0f, scores, p.skv, 1);
        for (int64_t i = 0; i < p.s; ++i) {
          inv_sum[i] =
              1.0f / vec::ExpRow(scores + i * p.skv, scores + i * p.skv, p.skv, scale_, MaskRow(p, md, b, h, i),
                                 p.mask_stride[3]);
        }
        // exp(scores) V, then each row divided by its softmax denominator:
        // Dv values a row instead of Skv.
        Sgemm(false, false, p.s, p.dv, p.skv, 1.0f, scores, p.skv, vd + ov.offset(bshd_, b, h), ov.ld(bshd_), 0.0f,
              op, ld_o, 1);
        for (int64_t i = 0; i < p.s; ++i) {
          float* orow = op + i * ld_o;
          for (int64_t j = 0; j < p.dv; ++j) orow[j] *= inv_sum[i];
        }
      }
    });
    return Status::Ok();
  }

  // Float64: plain loops, one (batch, head) pair and query row at a time.
  template <typename T>
  void RunReference(KernelContext& ctx, const AttentionPlan& p) const {
    const Operand oq{p.batch, p.heads, p.s, p.d}, ok{p.kv_batch, p.kv_heads, p.skv, p.d},
        ov{p.kv_batch, p.kv_heads, p.skv, p.dv}, oo{p.batch, p.heads, p.s, p.dv};
    const T* qd = ctx.input(0).data<T>();
    const T* kd = ctx.input(1).data<T>();
    const T* vd = ctx.input(2).data<T>();
    const T* md = ctx.has_input(3) ? ctx.input(3).data<T>() : nullptr;
    T* od = ctx.output(0).data<T>();
    ParallelFor(p.batch * p.heads, ctx.threads, 1, [&](int64_t begin, int64_t end) {
      std::vector<T> row(static_cast<size_t>(p.skv));
      for (int64_t pair = begin; pair < end; ++pair) {
        const int64_t b = pair / p.heads, h = pair % p.heads;
        const T* qp = qd + oq.offset(bshd_, b, h);
        const T* kp = kd + ok.offset(bshd_, b, h);
        const T* vp = vd + ov.offset(bshd_, b, h);
        T* op = od + oo.offset(bshd_, b, h);
        for (int64_t i = 0; i < p.s; ++i) {
          const T* mrow = MaskRow(p, md, b, h, i);
          T mx = -std::numeric_limits<T>::infinity();
          for (int64_t j = 0; j < p.skv; ++j) {
            T dot = 0;
            for (int64_t c = 0; c < p.d; ++c) dot += qp[i * oq.ld(bshd_) + c] * kp[j * ok.ld(bshd_) + c];
            row[j] = dot * static_cast<T>(scale_);
            if (mrow != nullptr) row[j] += mrow[j * p.mask_stride[3]];
            mx = std::max(mx, row[j]);
          }
          if (mx == -std::numeric_limits<T>::infinity()) mx = 0;
          T sum = 0;
          for (int64_t j = 0; j < p.skv; ++j) sum += (row[j] = std::exp(row[j] - mx));
          T* orow = op + i * oo.ld(bshd_);
          for (int64_t c = 0; c < p.dv; ++c) {
            T acc = 0;
            for (int64_t j = 0; j < p.skv; ++j) acc += row[j] * vp[j * ov.ld(bshd_) + c];
            orow[c] = p.skv == 0 ? T(0) : acc / sum;
          }
        }
      }
    });
  }

  float scale_;
  bool bshd_;  // operands and output in [B, S, H, D]
};

}  // namespace

StatusOr<std::unique_ptr<Kernel>> MakeAttentionKernel(const NodeDef& node) {
  TP_CHECK_ARG(node.attrs->Has("tp_scale"), "tp.Attention needs its tp_scale attribute");
  return std::unique_ptr<Kernel>(
      new AttentionKernel(node.attrs->GetFloat("tp_scale", 1.0f), node.attrs->GetInt("tp_bshd", 0) != 0));
}

}  // namespace tensorpod::internal
