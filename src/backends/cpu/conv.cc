// Conv on the CPU: float32 through oneDNN's direct convolution, with the
// node's fused activation as a oneDNN post-op.
//
// Note [Conv primitive cache]
// A oneDNN primitive is specific to the input shape (and the thread count
// it was tuned for), so the kernel builds one per (X shape, W shape, bias,
// threads) on first use and keeps it in a mutex-guarded map; concurrent
// Computes share the immutable entries. Weights are reordered to the
// primitive's preferred layout: once per entry when W is a constant of the
// node, otherwise into scratch memory on every call. oneDNN's own scratchpad
// also comes from the execution context's scratch (scratchpad_mode::user),
// so a warmed-up Compute allocates no large buffers. Activations stay in
// plain NC[D]HW layout between ops.
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "backends/cpu/elementwise_activation.h"
#include "backends/cpu/nn_kernels.h"
#include "ops/nn_shapes.h"

namespace tensorpod::internal {
namespace {

using dnnl::memory;

dnnl::engine& CpuEngine() {
  static dnnl::engine* engine = new dnnl::engine(dnnl::engine::kind::cpu, 0);
  return *engine;
}

void SetOmpThreads(int threads) {
#ifdef _OPENMP
  // oneDNN sizes its parallel regions from the calling thread's OpenMP ICV.
  omp_set_num_threads(std::max(threads, 1));
#endif
}

size_t AlignUp(size_t bytes) { return (bytes + kTensorAlignment - 1) / kTensorAlignment * kTensorAlignment; }

// The oneDNN post-op equivalent of a fused activation.
void AppendActivation(const Activation& act, dnnl::post_ops* ops) {
  switch (act.kind) {
    case ActivationKind::kNone:
      return;
    case ActivationKind::kRelu:
      ops->append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
      return;
    case ActivationKind::kLeakyRelu:
      ops->append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, act.alpha, 0.0f);
      return;
    case ActivationKind::kSigmoid:
      ops->append_eltwise(1.0f, dnnl::algorithm::eltwise_logistic, 0.0f, 0.0f);
      return;
    case ActivationKind::kTanh:
      ops->append_eltwise(1.0f, dnnl::algorithm::eltwise_tanh, 0.0f, 0.0f);
      return;
    case ActivationKind::kGelu:
      ops->append_eltwise(1.0f, dnnl::algorithm::eltwise_gelu_erf, 0.0f, 0.0f);
      return;
    case ActivationKind::kClip:
      ops->append_eltwise(1.0f, dnnl::algorithm::eltwise_clip, act.lo, act.hi);
      return;
  }
}

// One cached primitive; immutable once built. See Note [Conv primitive cache].
struct ConvPrimitive {
  dnnl::convolution_forward conv;
  memory::desc src_md, dst_md, bias_md, user_weights_md, weights_md, scratchpad_md;
  bool reorder_weights = false;  // the primitive wants another weights layout
  dnnl::reorder weights_reorder; // user layout -> weights_md, for non-constant W
  memory packed_weights;         // constant W already in weights_md
  size_t scratchpad_bytes = 0;   // oneDNN's scratchpad, at offset 0 of scratch
  size_t weights_bytes = 0;      // per-call reordered W, after the scratchpad
};

memory::format_tag DataTag(size_t spatial) {
  switch (spatial) {
    case 1: return memory::format_tag::ncw;
    case 2: return memory::format_tag::nchw;
    default: return memory::format_tag::ncdhw;
  }
}

memory::format_tag WeightsTag(size_t spatial, bool grouped) {
  switch (spatial) {
    case 1: return grouped ? memory::format_tag::goiw : memory::format_tag::oiw;
    case 2: return grouped ? memory::format_tag::goihw : memory::format_tag::oihw;
    default: return grouped ? memory::format_tag::goidhw : memory::format_tag::oidhw;
  }
}

class ConvKernel : public Kernel {
 public:
  // `attrs` must outlive the kernel (NodeDef::attrs does).
  ConvKernel(const Attributes* attrs, int64_t group, Activation act, bool constant_weights)
      : attrs_(attrs), group_(group), act_(act), constant_weights_(constant_weights) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DType::kF32) {
      return TP_ERROR(kUnimplemented, "Conv is not implemented for dtype " << DTypeName(x.dtype()));
    }
    const size_t spatial = static_cast<size_t>(x.rank()) - 2;
    if (spatial < 1 || spatial > 3) {
      return TP_ERROR(kUnimplemented, "Conv supports 1 to 3 spatial dimensions, got input "
                                          << ShapeToString(x.shape()));
    }
    if (ctx.output(0).num_elements() == 0) return Status::Ok();
    try {
      TP_ASSIGN_OR_RETURN(std::shared_ptr<const ConvPrimitive> p, GetPrimitive(ctx));
      return Execute(*p, ctx);
    } catch (const dnnl::error& e) {
      return TP_ERROR(kInternal, "Conv: oneDNN failed: " << e.what());
    }
  }

 private:
  StatusOr<std::shared_ptr<const ConvPrimitive>> GetPrimitive(KernelContext& ctx) const {
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    const bool has_bias = ctx.has_input(2);
    std::vector<int64_t> key = x.shape();
    key.insert(key.end(), w.shape().begin(), w.shape().end());
    key.push_back(has_bias);
    key.push_back(ctx.threads);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
    TP_ASSIGN_OR_RETURN(std::shared_ptr<const ConvPrimitive> p, Build(ctx));
    cache_.emplace(std::move(key), p);
    return p;
  }

  // REQUIRES: mu_ held (W's one-time reorder runs here).
  StatusOr<std::shared_ptr<const ConvPrimitive>> Build(KernelContext& ctx) const {
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    const Shape& xs = x.shape();
    const Shape& ws = w.shape();
    const size_t spatial = xs.size() - 2;
    TP_ASSIGN_OR_RETURN(const WindowAttrs wa,
                        ParseWindowAttrs(*attrs_, std::vector<int64_t>(ws.begin() + 2, ws.end())));
    TP_ASSIGN_OR_RETURN(const WindowGeometry g,
                        ComputeWindowGeometry(wa, Shape(xs.begin() + 2, xs.end())));
    memory::dims src_dims(xs.begin(), xs.end());
    memory::dims dst_dims = {xs[0], ws[0]};
    dst_dims.insert(dst_dims.end(), g.out.begin(), g.out.end());
    const bool grouped = group_ > 1;
    memory::dims w_dims;
    if (grouped) w_dims.push_back(group_);
    w_dims.push_back(ws[0] / group_);
    w_dims.insert(w_dims.end(), ws.begin() + 1, ws.end());
    memory::dims strides(wa.strides.begin(), wa.strides.end());
    memory::dims dilates;
    for (int64_t d : wa.dilations) dilates.push_back(d - 1);  // oneDNN counts gaps
    memory::dims pad_l(g.pad_begin.begin(), g.pad_begin.end());
    memory::dims pad_r(g.pad_end.begin(), g.pad_end.end());

    auto p = std::make_shared<ConvPrimitive>();
    const auto f32 = memory::data_type::f32;
    p->src_md = memory::desc(src_dims, f32, DataTag(spatial));
    p->dst_md = memory::desc(dst_dims, f32, DataTag(spatial));
    p->user_weights_md = memory::desc(w_dims, f32, WeightsTag(spatial, grouped));
    if (ctx.has_input(2)) p->bias_md = memory::desc({ws[0]}, f32, memory::format_tag::x);
    const memory::desc weights_any(w_dims, f32, memory::format_tag::any);
    dnnl::convolution_forward::desc desc(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, p->src_md,
        weights_any, p->bias_md, p->dst_md, strides, dilates, pad_l, pad_r);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::post_ops ops;
    AppendActivation(act_, &ops);
    attr.set_post_ops(ops);
    dnnl::engine& engine = CpuEngine();
    SetOmpThreads(ctx.threads);
    dnnl::convolution_forward::primitive_desc pd(desc, attr, engine);
    p->conv = dnnl::convolution_forward(pd);
    p->weights_md = pd.weights_desc();
    p->scratchpad_md = pd.scratchpad_desc();
    p->scratchpad_bytes = p->scratchpad_md.get_size();
    p->reorder_weights = p->weights_md != p->user_weights_md;
    if (p->reorder_weights) {
      memory user(p->user_weights_md, engine, const_cast<void*>(w.raw_data()));
      if (constant_weights_) {
        p->packed_weights = memory(p->weights_md, engine);
        dnnl::stream stream(engine);
        dnnl::reorder(user, p->packed_weights).execute(stream, user, p->packed_weights);
        stream.wait();
      } else {
        p->weights_reorder = dnnl::reorder(dnnl::reorder::primitive_desc(
            engine, p->user_weights_md, engine, p->weights_md));
        p->weights_bytes = p->weights_md.get_size();
      }
    }
    return std::shared_ptr<const ConvPrimitive>(std::move(p));
  }

  Status Execute(const ConvPrimitive& p, KernelContext& ctx) const {
    dnnl::engine& engine = CpuEngine();
    const size_t weights_offset = AlignUp(p.scratchpad_bytes);
    const size_t total = weights_offset + p.weights_bytes;
    char* scratch = nullptr;
    if (total > 0) {
      scratch = static_cast<char*>(ctx.scratch->Get(total));
      if (scratch == nullptr) {
        return TP_ERROR(kResourceExhausted, "Conv: no scratch memory for " << total << " bytes");
      }
    }
    SetOmpThreads(ctx.threads);
    dnnl::stream stream(engine);
    memory src(p.src_md, engine, const_cast<void*>(ctx.input(0).raw_data()));
    memory dst(p.dst_md, engine, ctx.output(0).raw_data());
    memory user_weights(p.user_weights_md, engine, const_cast<void*>(ctx.input(1).raw_data()));
    memory weights = user_weights;
    if (p.reorder_weights) {
      if (constant_weights_) {
        weights = p.packed_weights;
      } else {
        weights = memory(p.weights_md, engine, scratch + weights_offset);
        p.weights_reorder.execute(stream, user_weights, weights);
      }
    }
    std::unordered_map<int, memory> args = {
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}};
    if (ctx.has_input(2)) {
      args.emplace(DNNL_ARG_BIAS,
                   memory(p.bias_md, engine, const_cast<void*>(ctx.input(2).raw_data())));
    }
    if (p.scratchpad_bytes > 0) {
      args.emplace(DNNL_ARG_SCRATCHPAD, memory(p.scratchpad_md, engine, scratch));
    }
    p.conv.execute(stream, args);
    stream.wait();
    return Status::Ok();
  }

  const Attributes* attrs_;  // window attributes, parsed per primitive with W's kernel size
  int64_t group_;
  Activation act_;
  bool constant_weights_;  // W is a constant of the node: reorder it once per primitive
  mutable std::mutex mu_;
  mutable std::map<std::vector<int64_t>, std::shared_ptr<const ConvPrimitive>> cache_;
};

}  // namespace

StatusOr<std::unique_ptr<Kernel>> MakeConvKernel(const NodeDef& node) {
  Activation act;
  TP_RETURN_IF_ERROR(ParseActivation(*node.attrs, &act));
  const Attributes& attrs = *node.attrs;
  const int64_t group = attrs.GetInt("group", 1);
  TP_CHECK_ARG(group >= 1, "attribute \"group\" must be >= 1, got " << group);
  const bool constant_weights =
      node.constant_inputs.size() > 1 && node.constant_inputs[1] != nullptr;
  // Window attributes are checked here when the kernel size is already
  // known, so a bad model fails at load rather than on its first run.
  std::vector<int64_t> kernel = attrs.GetInts("kernel_shape");
  if (kernel.empty() && constant_weights && node.constant_inputs[1]->rank() >= 3) {
    const Shape& ws = node.constant_inputs[1]->shape();
    kernel.assign(ws.begin() + 2, ws.end());
  }
  if (!kernel.empty()) TP_RETURN_IF_ERROR(ParseWindowAttrs(attrs, kernel).status());
  return std::unique_ptr<Kernel>(new ConvKernel(node.attrs, group, act, constant_weights));
}

}  // namespace tensorpod::internal
