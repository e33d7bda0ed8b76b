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
    if (q.dtype() != DType::kF32) {
      return TP_ERROR(kUnimplemented, "tp.Attention on the cpu is implemented for float32, got "
                                          << DTypeName(q.dtype()));
    }
    TP_ASSIGN_OR_RETURN(AttentionPlan p, (bshd_ ? PlanAttentionBshd : PlanAttention)(
                                             q.shape(), k.shape(), v.shape(), mask ? &mask->shape() : nullptr));
    // Where (batch, head) pair `pair` starts in each operand, and the
    // distance between its rows: heads outermost ([B, H, S, D]) or
    // interleaved in every row ([B, S, H, D], tp_bshd).
    const int64_t ld_q = bshd_ ? p.heads * p.d : p.d, ld_v = bshd_ ? p.heads * p.dv : p.dv;
    auto offset = [&](int64_t b, int64_t h, int64_t rows, int64_t width) {
      return bshd_ ? (b * rows * p.heads + h) * width : (b * p.heads + h) * rows * width;
    };
    if (out.num_elements() == 0) return Status::Ok();
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
    const float* qd = q.data<float>();
    const float* kd = k.data<float>();
    const float* vd = v.data<float>();
    const float* md = mask ? mask->data<float>() : nullptr;
    float* od = out.data<float>();
    ParallelFor(pairs, threads, 1, [&](int64_t begin, int64_t end) {
      // One chunk per thread (grain 1, threads <= pairs): its own scores.
      const int64_t chunk = (pairs + threads - 1) / threads;
      float* scores = scratch + static_cast<size_t>(begin / std::max<int64_t>(chunk, 1)) * per_thread;
      float* inv_sum = scores + scores_per_pair;
      for (int64_t pair = begin; pair < end; ++pair) {
        const int64_t b = pair / p.heads, h = pair % p.heads;
        const float* qp = qd + offset(b, h, p.s, p.d);
        const float* kp = kd + offset(b, h, p.skv, p.d);
        const float* vp = vd + offset(b, h, p.skv, p.dv);
        float* op = od + offset(b, h, p.s, p.dv);
        if (p.skv == 0) {
          for (int64_t i = 0; i < p.s; ++i) std::fill(op + i * ld_v, op + i * ld_v + p.dv, 0.0f);
          continue;
        }
        Sgemm(false, true, p.s, p.skv, p.d, 1.0f, qp, ld_q, kp, ld_q, 0.0f, scores, p.skv, 1);
        for (int64_t i = 0; i < p.s; ++i) {
          float* row = scores + i * p.skv;
          const float* mrow =
              md != nullptr ? md + b * p.mask_stride[0] + h * p.mask_stride[1] + i * p.mask_stride[2] : nullptr;
          inv_sum[i] = 1.0f / vec::ExpRow(row, row, p.skv, scale_, mrow, p.mask_stride[3]);
        }
        // exp(scores) V, then each row divided by its softmax denominator:
        // Dv values a row instead of Skv.
        Sgemm(false, false, p.s, p.dv, p.skv, 1.0f, scores, p.skv, vp, ld_v, 0.0f, op, ld_v, 1);
        for (int64_t i = 0; i < p.s; ++i) {
          float* orow = op + i * ld_v;
          for (int64_t j = 0; j < p.dv; ++j) orow[j] *= inv_sum[i];
        }
      }
    });
    return Status::Ok();
  }

 private:
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
