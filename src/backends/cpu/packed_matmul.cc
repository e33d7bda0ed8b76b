#include "backends/cpu/packed_matmul.h"

#include <atomic>
#include <unordered_map>

namespace tensorpod::internal {

using dnnl::memory;

struct PackedMatMul::Entry {
  uint64_t id = 0;  // unique in the process: keys the per-thread memory objects
  dnnl::matmul matmul;
  memory::desc src_md, dst_md, bias_md, scratchpad_md;
  memory packed_weights;
};

StatusOr<std::shared_ptr<const PackedMatMul::Entry>> PackedMatMul::Build(const float* w, int64_t m, int64_t k,
                                                                        int64_t n, bool bias, bool relu,
                                                                        int threads) const {
  static std::atomic<uint64_t> next_id{1};
  auto e = std::make_shared<Entry>();
  e->id = next_id.fetch_add(1);
  const auto f32 = memory::data_type::f32;
  e->src_md = memory::desc({m, k}, f32, memory::format_tag::ab);
  e->dst_md = memory::desc({m, n}, f32, memory::format_tag::ab);
  if (bias) e->bias_md = memory::desc({1, n}, f32, memory::format_tag::ab);
  const memory::desc user_weights({k, n}, f32, memory::format_tag::ab);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (relu) {
    dnnl::post_ops ops;
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    attr.set_post_ops(ops);
  }
  dnnl::engine& engine = DnnlEngine();
  SetDnnlThreads(threads);
  dnnl::matmul::primitive_desc pd(
      dnnl::matmul::desc(e->src_md, memory::desc({k, n}, f32, memory::format_tag::any), e->bias_md, e->dst_md), attr,
      engine);
  e->matmul = dnnl::matmul(pd);
  e->scratchpad_md = pd.scratchpad_desc();
  for (const auto& [md, packed] : packed_) {
    if (md == pd.weights_desc()) e->packed_weights = packed;
  }
  if (!e->packed_weights) {
    e->packed_weights = memory(pd.weights_desc(), engine);
    memory user(user_weights, engine, const_cast<float*>(w));
    dnnl::stream& stream = DnnlThreadStream();
    dnnl::reorder(user, e->packed_weights).execute(stream, user, e->packed_weights);
    stream.wait();
    packed_.emplace_back(pd.weights_desc(), e->packed_weights);
  }
  return std::shared_ptr<const Entry>(std::move(e));
}

Status PackedMatMul::Run(KernelContext& ctx, const float* a, const float* w, const float* bias, float* y, int64_t m,
                         int64_t k, int64_t n, bool relu) const {
  const int threads = ctx.threads;
  try {
    TP_ASSIGN_OR_RETURN(std::shared_ptr<const Entry> e,
                        cache_.GetOrBuild({m, k, n, threads, bias != nullptr, relu},
                                          [&] { return Build(w, m, k, n, bias != nullptr, relu, threads); }));
    const size_t scratch_bytes = e->scratchpad_md.get_size();
    void* scratch = nullptr;
    if (scratch_bytes > 0) {
      scratch = ctx.scratch->Get(scratch_bytes);
      if (scratch == nullptr) {
        return TP_ERROR(kResourceExhausted, "tp.FusedMatMul: no scratch memory for " << scratch_bytes << " bytes");
      }
    }
    // Memory objects per thread and primitive (ThreadBundle). The packed
    // weights are bound per call so a bundle never keeps them alive.
    struct Bundle {
      memory src, dst, bias, scratchpad;
      std::unordered_map<int, memory> args;
    };
    dnnl::engine& engine = DnnlEngine();
    Bundle& b = ThreadBundle<Bundle>(e->id, [&] {
      Bundle b;
      b.src = memory(e->src_md, engine, const_cast<float*>(a));
      b.dst = memory(e->dst_md, engine, y);
      b.args = {{DNNL_ARG_SRC, b.src}, {DNNL_ARG_DST, b.dst}};
      if (bias != nullptr) {
        b.bias = memory(e->bias_md, engine, const_cast<float*>(bias));
        b.args.emplace(DNNL_ARG_BIAS, b.bias);
      }
      if (scratch_bytes > 0) {
        b.scratchpad = memory(e->scratchpad_md, engine, scratch);
        b.args.emplace(DNNL_ARG_SCRATCHPAD, b.scratchpad);
      }
      return b;
    });
    b.src.set_data_handle(const_cast<float*>(a));
    b.dst.set_data_handle(y);
    if (bias != nullptr) b.bias.set_data_handle(const_cast<float*>(bias));
    if (scratch_bytes > 0) b.scratchpad.set_data_handle(scratch);
    SetDnnlThreads(threads);
    dnnl::stream& stream = DnnlThreadStream();
    {
      ScopedArg weights(b.args, DNNL_ARG_WEIGHTS, e->packed_weights);
      e->matmul.execute(stream, b.args);
    }
    stream.wait();
  } catch (const dnnl::error& err) {
    return TP_ERROR(kInternal, "tp.FusedMatMul: oneDNN failed: " << err.what());
  }
  return Status::Ok();
}

}  // namespace tensorpod::internal
