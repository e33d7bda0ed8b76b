// Conv on the CPU: float32 through oneDNN's direct convolution over 1 to 3
// spatial dimensions, with the node's fused activation (tp_activation) as a
// oneDNN post-op or, for pointwise convs, a pass right after.
//
// Note [Conv primitive cache]
// A oneDNN primitive is specific to the input shape (and the thread count
// it was tuned for), so the kernel builds one per (X shape, W shape, bias,
// threads) on first use and keeps it in a mutex-guarded map; concurrent
// Computes share the immutable entries. Weights are reordered to the
// primitive's preferred layout: once per entry when W is a constant of the
// node, otherwise into scratch memory on every call. oneDNN's own scratchpad
// also comes from the execution context's scratch (scratchpad_mode::user),
// so a warmed-up Compute allocates no large buffers.
//
// Note [Conv layouts]
// Between ops activations stay in plain NC[D]HW. Inside, a convolution lets
// oneDNN pick its layouts and reorders X in and Y out through scratch: the
// blocked direct kernels beat the plain-layout (im2col + GEMM) ones by far
// more than the two reorders cost (measured 1.4-4x on ResNet/MobileNet
// shapes). The exception is a pointwise conv (1x1, stride 1, no padding),
// which on plain layout is a GEMM with no im2col: it stays plain, and its
// activation runs afterwards in tensorpod's vectorised loop, because
// oneDNN's GEMM-based conv applies eltwise post-ops several times slower.
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "backends/cpu/elementwise_activation.h"
#include "backends/cpu/nn_dnnl.h"
#include "backends/cpu/parallel.h"
#include "core/logging.h"
#include "backends/cpu/nn_kernels.h"
#include "ops/nn_shapes.h"

namespace tensorpod::internal {
namespace {

using dnnl::memory;

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

// Note [Blocked conv chains]
// The graph pass AssignBlockedLayouts lets float32 4-D tensors whose
// channels are a multiple of 16 flow between Convs, Relus and Adds in
// oneDNN's nChw16c layout, the one its AVX-512 convolutions use, so a
// ResNet block runs without a single reorder; tp.ToPlain converts where a
// plain reader follows. A Conv learns its layouts from tp_src_blocked and
// tp_dst_blocked. nChw16c has the plain layout's size at those channel
// counts, so the planner's buffers fit either way.

// Note [Conv memory bundles]
// Wrapping buffers in oneDNN memory objects and building the argument map
// costs about a microsecond per call, as much as a batch-1 convolution of a
// small CNN. Each thread keeps them per primitive (keyed by a process-unique
// id, so a primitive freed with its kernel is never confused with a new one)
// and only swaps the data pointers on later calls: ThreadBundle in
// nn_dnnl.h, which pooling and the packed MatMul use too.

// Note [Conv batch slices]
// With several threads and a batch of at least that many images, each
// thread runs the convolution (and its layout reorders) on its own slice of
// the batch with a single-threaded primitive. Reorders and small
// convolutions barely speed up when oneDNN splits one call; slices scale
// almost perfectly and keep each thread's data in its own cache.

// One cached primitive; immutable once built. See Note [Conv primitive cache].
// Scratch memory of a call holds, in order: oneDNN's scratchpad, W reordered
// for this call, X reordered to the primitive's layout, and Y in that layout.
struct ConvPrimitive {
  uint64_t id = 0;  // unique in the process, for Note [Conv memory bundles]
  dnnl::convolution_forward conv;
  memory::desc user_src_md, user_dst_md, user_weights_md;  // plain ONNX layouts
  memory::desc src_md, dst_md, weights_md, bias_md, scratchpad_md;  // the primitive's
  dnnl::reorder src_reorder, dst_reorder, weights_reorder;  // empty where layouts agree
  memory packed_weights;  // constant W already in weights_md
  bool activation_after = false;  // the activation runs after oneDNN, not as a post-op
  size_t weights_offset = 0, src_offset = 0, dst_offset = 0, scratch_bytes = 0;
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

// Note [Conv implementation choice]
// oneDNN lists several implementations for a convolution and takes the
// first by default, which is not always the fastest for small shapes (the
// 1x1 and batch-1 layers of small CNNs). When a primitive is built for a new
// input shape, each candidate (reference code excepted) runs a few times on
// zero data, with the reorders into and out of its layouts, and the fastest
// is kept. This stays cheap on big networks (ResNet-18 at batch 32 spent 12 s
// of its first run here before): the winner is remembered per problem
// (shapes, strides, padding, groups, layouts, post-op, threads) for the whole
// process (up to 65536 problems), so the many identical layers of a network
// and every session of the same model time it once; after an untimed run (page
// faults on its fresh buffers), a candidate whose first timed run takes over
// twice the best so far is dropped without more runs (on AVX-512 machines
// the SSE4.1 and AVX2 kernels are 2-5x slower); and runs of over a
// millisecond are timed twice, not four times. Dense 3x3 stride-1 Convs
// also time oneDNN's Winograd kernels where it has them for the CPU: they
// won on most ResNet-18 layers (batch 1, 1 thread: 16.0 -> 14.0 ms), and
// their results differ from direct convolution's by float32 rounding only
// (the model tests against onnxruntime hold, max |diff| 6e-5 on logits ~70). Timing on fewer images than
// the batch and keeping that winner was tried: MobileNetV2 at batch 32 on 2
// threads ran 10% slower with the kernels chosen on 4 images.

// The fastest implementation per problem key, for the process.
std::mutex& ChoiceMutex() {
  static std::mutex mu;
  return mu;
}
// The winner's position in oneDNN's candidate list, which is the same for
// the same problem (names are not unique: one implementation may be listed
// once per layout it supports).
std::unordered_map<std::string, size_t>& ChoiceCache() {
  static auto* cache = new std::unordered_map<std::string, size_t>();
  return *cache;
}

// Times each implementation oneDNN offers for `first` on zero data and
// returns the fastest, or the one remembered for `problem`. See Note [Conv
// implementation choice].
dnnl::convolution_forward::primitive_desc FastestImplementation(dnnl::convolution_forward::primitive_desc first,
                                                               const memory::desc& user_src,
                                                               const memory::desc& user_dst,
                                                               const std::string& problem,
                                                               const std::vector<dnnl::convolution_forward::primitive_desc>& extra) {
  dnnl::engine& engine = DnnlEngine();
  dnnl::stream& stream = DnnlThreadStream();
  std::vector<dnnl::convolution_forward::primitive_desc> candidates;
  dnnl::convolution_forward::primitive_desc it = first;
  do {
    // The reference implementations are never the fastest and are slow to time.
    if (std::strncmp(it.impl_info_str(), "ref", 3) != 0) candidates.push_back(it);
  } while (it.next_impl() && candidates.size() < 8);
  for (const auto& pd : extra) candidates.push_back(pd);
  if (candidates.size() <= 1) return first;
  {
    std::lock_guard<std::mutex> lock(ChoiceMutex());
    auto known = ChoiceCache().find(problem);
    if (known != ChoiceCache().end() && known->second < candidates.size()) return candidates[known->second];
  }
  double best_time = 1e30;
  size_t best = 0;
  for (size_t c = 0; c < candidates.size(); ++c) {
    const auto& pd = candidates[c];
    memory src(pd.src_desc(), engine), dst(pd.dst_desc(), engine), wei(pd.weights_desc(), engine);
    memory usrc(user_src, engine), udst(user_dst, engine);
    memory scratchpad(pd.scratchpad_desc(), engine);
    std::memset(src.get_data_handle(), 0, pd.src_desc().get_size());
    std::memset(usrc.get_data_handle(), 0, user_src.get_size());
    std::memset(wei.get_data_handle(), 0, pd.weights_desc().get_size());
    dnnl::convolution_forward conv(pd);
    const bool rs = pd.src_desc() != user_src, rd = pd.dst_desc() != user_dst;
    dnnl::reorder in = rs ? dnnl::reorder(usrc, src) : dnnl::reorder();
    dnnl::reorder out = rd ? dnnl::reorder(dst, udst) : dnnl::reorder();
    std::unordered_map<int, memory> args = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst},
                                            {DNNL_ARG_SCRATCHPAD, scratchpad}};
    if (pd.bias_desc().get_size() > 0) args.emplace(DNNL_ARG_BIAS, memory(pd.bias_desc(), engine));
    auto run = [&] {
      if (rs) in.execute(stream, usrc, src);
      conv.execute(stream, args);
      if (rd) out.execute(stream, dst, udst);
      stream.wait();
    };
    run();  // untimed: page faults on the fresh buffers, cold caches
    double t_min = 1e30;
    for (int r = 0; r < 4; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      run();
      t_min = std::min(t_min, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      // A candidate far behind the best is dropped after one warm run; long
      // runs are steady enough after two.
      if (t_min > 2 * best_time || (r >= 1 && t_min > 1e-3)) break;
    }
    TP_LOG_DEBUG("Conv implementation {}: {:.1f} us", pd.impl_info_str(), t_min * 1e6);
    if (t_min < best_time) {
      best_time = t_min;
      best = c;
    }
  }
  std::lock_guard<std::mutex> lock(ChoiceMutex());
  // A server that loads models of many shapes over months must not grow it
  // without end; forgetting only costs a new timing.
  if (ChoiceCache().size() >= 65536) ChoiceCache().clear();
  ChoiceCache()[problem] = best;
  return candidates[best];
}

// The problem key of Note [Conv implementation choice].
std::string ConvProblemKey(const memory::dims& src, const memory::dims& w, const memory::dims& strides,
                           const memory::dims& dilates, const memory::dims& pad_l, const memory::dims& pad_r,
                           bool bias, bool src_blocked, bool dst_blocked, bool pointwise, const Activation& act,
                           int threads) {
  std::string key;
  for (const memory::dims* d : {&src, &w, &strides, &dilates, &pad_l, &pad_r}) {
    for (int64_t v : *d) key += std::to_string(v) + ",";
    key += ";";
  }
  key += std::to_string(bias) + std::to_string(src_blocked) + std::to_string(dst_blocked) +
         std::to_string(pointwise) + ";" + std::to_string(static_cast<int>(act.kind)) + "," +
         std::to_string(act.alpha) + "," + std::to_string(act.lo) + "," + std::to_string(act.hi) + ";" +
         std::to_string(threads);
  return key;
}

class ConvKernel : public Kernel {
 public:
  // `attrs` must outlive the kernel (NodeDef::attrs does).
  ConvKernel(const Attributes* attrs, int64_t group, Activation act, bool constant_weights)
      : attrs_(attrs),
        group_(group),
        act_(act),
        constant_weights_(constant_weights),
        src_blocked_(attrs->GetInt("tp_src_blocked", 0) != 0),
        dst_blocked_(attrs->GetInt("tp_dst_blocked", 0) != 0) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DType::kF32) {
      return TP_ERROR(kUnimplemented, "Conv is not implemented for dtype " << DTypeName(x.dtype()));
    }
    if (x.rank() < 3 || x.rank() > 5) {
      return TP_ERROR(kUnimplemented, "Conv supports 1 to 3 spatial dimensions, got input "
                                          << ShapeToString(x.shape()));
    }
    if (ctx.output(0).num_elements() == 0) return Status::Ok();
    // Multiply-adds of this call. Below 64K per thread a convolution runs
    // on one thread. Above it, a batch smaller than the thread count is
    // split by oneDNN inside the call: on the batch-1 layers of small CNNs
    // (65K-1M multiply-adds) that beat one thread in the whole model
    // (resnet_cnn at batch 1, 2 threads: 37 -> 33 us), although timing each
    // layer alone said otherwise: the next layer reads the data from both
    // cores' caches.
    const Tensor& w = ctx.input(1);
    const int64_t macs = ctx.output(0).num_elements() * (w.num_elements() / w.dim(0));
    const int threads = ThreadsForWork(ctx.threads, macs, int64_t{1} << 16);
    const int64_t batch = x.dim(0);
    try {
      if (threads <= 1 || batch < threads) return RunSlices(ctx, batch, 1, threads);
      return RunSlices(ctx, batch, threads, 1);
    } catch (const dnnl::error& e) {
      return TP_ERROR(kInternal, "Conv: oneDNN failed: " << e.what());
    }
  }

 private:
  // See Note [Conv batch slices]: `slices` threads each run the primitive on
  // their share of the batch with `slice_threads` threads of their own.
  Status RunSlices(KernelContext& ctx, int64_t batch, int slices, int slice_threads) const {
    const int64_t base = batch / slices, extra = batch % slices;
    std::shared_ptr<const ConvPrimitive> big, small;
    TP_ASSIGN_OR_RETURN(big, GetPrimitive(ctx, base + (extra ? 1 : 0), slice_threads));
    if (extra && base > 0) {
      TP_ASSIGN_OR_RETURN(small, GetPrimitive(ctx, base, slice_threads));
    }
    const size_t per_slice = AlignScratch(std::max(big->scratch_bytes, small ? small->scratch_bytes : size_t{0}));
    char* scratch = nullptr;
    if (per_slice > 0) {
      scratch = static_cast<char*>(ctx.scratch->Get(per_slice * slices));
      if (scratch == nullptr) {
        return TP_ERROR(kResourceExhausted, "Conv: no scratch memory for " << per_slice * slices << " bytes");
      }
    }
    if (slices == 1) return Execute(*big, ctx, 0, scratch, slice_threads);
    std::vector<Status> status(slices);
#pragma omp parallel num_threads(slices)
    {
#ifdef _OPENMP
      const int id = omp_get_thread_num();
#else
      const int id = 0;
#endif
      const int64_t first = id * base + std::min<int64_t>(id, extra);
      const ConvPrimitive& p = id < extra || small == nullptr ? *big : *small;
      try {
        status[id] = Execute(p, ctx, first, scratch + per_slice * id, slice_threads);
      } catch (const dnnl::error& e) {
        status[id] = TP_ERROR(kInternal, "Conv: oneDNN failed: " << e.what());
      }
    }
    for (const Status& st : status) TP_RETURN_IF_ERROR(st);
    return Status::Ok();
  }

  StatusOr<std::shared_ptr<const ConvPrimitive>> GetPrimitive(KernelContext& ctx, int64_t batch,
                                                               int threads) const {
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    std::vector<int64_t> key = x.shape();
    key[0] = batch;
    key.insert(key.end(), w.shape().begin(), w.shape().end());
    key.push_back(ctx.has_input(2));
    key.push_back(threads);
    return cache_.GetOrBuild(key, [&] { return Build(ctx, batch, threads); });
  }

  // Runs under the cache's lock, at most once per key.
  StatusOr<std::shared_ptr<const ConvPrimitive>> Build(KernelContext& ctx, int64_t batch,
                                                        int threads) const {
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    Shape xs = x.shape();
    xs[0] = batch;
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

    static std::atomic<uint64_t> next_id{1};
    auto p = std::make_shared<ConvPrimitive>();
    p->id = next_id.fetch_add(1);
    const auto f32 = memory::data_type::f32;
    // See Note [Blocked conv chains]; the layout only applies where it has
    // the plain layout's size (2-D, channels a multiple of 16).
    const bool src_blocked = src_blocked_ && spatial == 2 && xs[1] % 16 == 0;
    const bool dst_blocked = dst_blocked_ && spatial == 2 && ws[0] % 16 == 0;
    p->user_src_md = memory::desc(src_dims, f32, src_blocked ? memory::format_tag::nChw16c : DataTag(spatial));
    p->user_dst_md = memory::desc(dst_dims, f32, dst_blocked ? memory::format_tag::nChw16c : DataTag(spatial));
    p->user_weights_md = memory::desc(w_dims, f32, WeightsTag(spatial, grouped));
    if (ctx.has_input(2)) p->bias_md = memory::desc({ws[0]}, f32, memory::format_tag::x);
    // See Note [Conv layouts].
    bool pointwise = group_ == 1;
    for (size_t i = 0; i < spatial; ++i) {
      pointwise = pointwise && ws[2 + i] == 1 && wa.strides[i] == 1 && g.pad_begin[i] == 0 &&
                  g.pad_end[i] == 0;
    }
    pointwise = pointwise && !src_blocked && !dst_blocked;
    p->activation_after = pointwise;
    // A grouped (depthwise) Conv in a chain already in nChw16c keeps it (Note
    // [Blocked conv chains]): given `any`, oneDNN's depthwise kernels ask for
    // nhwc, and the reorders into and out of it cost more than the kernel
    // saves (MobileNetV2 at batch 1: 4.1 -> 3.4 ms). Dense Convs keep `any`:
    // forcing nChw16c on them made ResNet-18 5-15% slower.
    const auto data_tag = pointwise                                ? DataTag(spatial)
                          : grouped && src_blocked && dst_blocked  ? memory::format_tag::nChw16c
                                                                   : memory::format_tag::any;
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    dnnl::post_ops ops;
    // With a shortcut (tp.FusedConv, Note [Residual fusion]) Execute adds it
    // and applies the activation after the convolution (and its reorder
    // to the blocked output). oneDNN's sum post-op instead needs the output
    // in the shortcut's layout from the kernel itself, which rules out the
    // Winograd and nhwc kernels: ResNet-18 ran 5% slower that way.
    const bool residual = ctx.has_input(3);
    if (residual && !dst_blocked) {
      return TP_ERROR(kInternal, "tp.FusedConv: the output must be in the shortcut's blocked layout");
    }
    p->activation_after = p->activation_after || residual;
    if (!p->activation_after) AppendActivation(act_, &ops);
    attr.set_post_ops(ops);
    dnnl::engine& engine = DnnlEngine();
    SetDnnlThreads(threads);
    dnnl::convolution_forward::desc desc(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
        memory::desc(src_dims, f32, data_tag), memory::desc(w_dims, f32, memory::format_tag::any),
        p->bias_md, memory::desc(dst_dims, f32, data_tag), strides, dilates, pad_l, pad_r);
    // Winograd F(4x4, 3x3) for dense 3x3 stride-1 Convs, where oneDNN has it
    // for this CPU: a candidate like the others.
    std::vector<dnnl::convolution_forward::primitive_desc> extra;
    if (spatial == 2 && !grouped && ws[2] == 3 && ws[3] == 3 && strides[0] == 1 && strides[1] == 1 &&
        dilates[0] == 0 && dilates[1] == 0) {
      try {
        dnnl::convolution_forward::desc wdesc(
            dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_winograd,
            memory::desc(src_dims, f32, data_tag), memory::desc(w_dims, f32, memory::format_tag::any),
            p->bias_md, memory::desc(dst_dims, f32, data_tag), strides, dilates, pad_l, pad_r);
        extra.emplace_back(wdesc, attr, engine);
      } catch (const dnnl::error&) {
        // No Winograd kernel for this shape or ISA.
      }
    }
    // Where an end is blocked, the kernels for exactly the user layouts
    // (no reorder) are candidates too: given `any`, oneDNN may prefer a
    // layout whose reorders cost more than its kernel saves (MobileNetV2's
    // expansion Convs picked nhwc and reordered 1x144x56x56 to nChw16c on
    // every run). The timing includes the reorders, so it weighs both.
    if (data_tag == memory::format_tag::any && (src_blocked || dst_blocked)) {
      try {
        dnnl::convolution_forward::desc udesc(
            dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, p->user_src_md,
            memory::desc(w_dims, f32, memory::format_tag::any), p->bias_md, p->user_dst_md, strides, dilates,
            pad_l, pad_r);
        dnnl::convolution_forward::primitive_desc it(udesc, attr, engine);
        int added = 0;
        do {
          if (std::strncmp(it.impl_info_str(), "ref", 3) != 0) {
            extra.push_back(it);
            ++added;
          }
        } while (added < 4 && it.next_impl());
      } catch (const dnnl::error&) {
        // No kernel for these exact layouts.
      }
    }
    const dnnl::convolution_forward::primitive_desc pd = FastestImplementation(
        dnnl::convolution_forward::primitive_desc(desc, attr, engine), p->user_src_md, p->user_dst_md,
        ConvProblemKey(src_dims, w_dims, strides, dilates, pad_l, pad_r, ctx.has_input(2), src_blocked,
                       dst_blocked, pointwise, p->activation_after ? Activation{} : act_, threads),
        extra);
    p->conv = dnnl::convolution_forward(pd);
    p->src_md = pd.src_desc();
    p->dst_md = pd.dst_desc();
    p->weights_md = pd.weights_desc();
    p->scratchpad_md = pd.scratchpad_desc();
    size_t offset = AlignScratch(p->scratchpad_md.get_size());
    if (p->weights_md != p->user_weights_md) {
      memory user(p->user_weights_md, engine, const_cast<void*>(w.raw_data()));
      if (constant_weights_) {
        p->packed_weights = memory(p->weights_md, engine);
        dnnl::stream& stream = DnnlThreadStream();
        dnnl::reorder(user, p->packed_weights).execute(stream, user, p->packed_weights);
        stream.wait();
      } else {
        p->weights_reorder = dnnl::reorder(
            dnnl::reorder::primitive_desc(engine, p->user_weights_md, engine, p->weights_md));
        p->weights_offset = offset;
        offset += AlignScratch(p->weights_md.get_size());
      }
    }
    if (p->src_md != p->user_src_md) {
      p->src_reorder = dnnl::reorder(
          dnnl::reorder::primitive_desc(engine, p->user_src_md, engine, p->src_md));
      p->src_offset = offset;
      offset += AlignScratch(p->src_md.get_size());
    }
    if (p->dst_md != p->user_dst_md) {
      p->dst_reorder = dnnl::reorder(
          dnnl::reorder::primitive_desc(engine, p->dst_md, engine, p->user_dst_md));
      p->dst_offset = offset;
      offset += AlignScratch(p->dst_md.get_size());
    }
    p->scratch_bytes = offset;
    return std::shared_ptr<const ConvPrimitive>(std::move(p));
  }

  // Runs `p` on the batch slice starting at image `first`, whose size `p`
  // was built for; `scratch` holds p.scratch_bytes.
  Status Execute(const ConvPrimitive& p, KernelContext& ctx, int64_t first, char* scratch,
                 int threads) const {
    dnnl::engine& engine = DnnlEngine();
    SetDnnlThreads(threads);
    dnnl::stream& stream = DnnlThreadStream();
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    float* src_data = const_cast<float*>(x.data<float>()) + first * (x.num_elements() / x.dim(0));
    float* dst_data = y.data<float>() + first * (y.num_elements() / y.dim(0));
    const int64_t dst_count = static_cast<int64_t>(p.user_dst_md.get_size() / sizeof(float));
    // See Note [Conv memory bundles].
    struct Bundle {
      memory user_src, user_dst, user_weights, src, dst, weights, bias, scratchpad;
      std::unordered_map<int, memory> args;
    };
    Bundle& b = ThreadBundle<Bundle>(p.id, [&] {
      Bundle b;
      b.user_src = memory(p.user_src_md, engine, src_data);
      b.user_dst = memory(p.user_dst_md, engine, dst_data);
      b.user_weights = memory(p.user_weights_md, engine, const_cast<void*>(ctx.input(1).raw_data()));
      b.src = p.src_reorder ? memory(p.src_md, engine, scratch + p.src_offset) : b.user_src;
      b.dst = p.dst_reorder ? memory(p.dst_md, engine, scratch + p.dst_offset) : b.user_dst;
      // Packed weights are bound per call (below), so a bundle never keeps
      // an unloaded model's weights alive.
      b.weights = p.weights_reorder ? memory(p.weights_md, engine, scratch + p.weights_offset) : b.user_weights;
      b.args = {{DNNL_ARG_SRC, b.src}, {DNNL_ARG_WEIGHTS, b.weights}, {DNNL_ARG_DST, b.dst}};
      if (ctx.has_input(2)) {
        b.bias = memory(p.bias_md, engine, const_cast<void*>(ctx.input(2).raw_data()));
        b.args.emplace(DNNL_ARG_BIAS, b.bias);
      }
      if (p.scratchpad_md.get_size() > 0) {
        b.scratchpad = memory(p.scratchpad_md, engine, scratch);
        b.args.emplace(DNNL_ARG_SCRATCHPAD, b.scratchpad);
      }
      return b;
    });
    b.user_src.set_data_handle(src_data);
    b.user_dst.set_data_handle(dst_data);
    b.user_weights.set_data_handle(const_cast<void*>(ctx.input(1).raw_data()));
    if (p.src_reorder) b.src.set_data_handle(scratch + p.src_offset);
    if (p.dst_reorder) b.dst.set_data_handle(scratch + p.dst_offset);
    if (p.weights_reorder) b.weights.set_data_handle(scratch + p.weights_offset);
    if (ctx.has_input(2)) b.bias.set_data_handle(const_cast<void*>(ctx.input(2).raw_data()));
    if (p.scratchpad_md.get_size() > 0) b.scratchpad.set_data_handle(scratch);
    if (p.weights_reorder && !p.packed_weights) p.weights_reorder.execute(stream, b.user_weights, b.weights);
    if (p.src_reorder) p.src_reorder.execute(stream, b.user_src, b.src);
    {
      std::optional<ScopedArg> packed;
      if (p.packed_weights) packed.emplace(b.args, DNNL_ARG_WEIGHTS, p.packed_weights);
      p.conv.execute(stream, b.args);
    }
    if (p.dst_reorder) p.dst_reorder.execute(stream, b.dst, b.user_dst);
    stream.wait();
    if (ctx.has_input(3)) {
      // tp.FusedConv: Y = act(Y + shortcut), element by element (both in
      // the blocked layout), a cache-sized chunk at a time.
      const Tensor& r = ctx.input(3);
      const float* shortcut = r.data<float>() + first * (r.num_elements() / r.dim(0));
      constexpr int64_t kChunk = 4096;
      ParallelFor((dst_count + kChunk - 1) / kChunk, threads, 16, [&](int64_t b, int64_t e) {
        for (int64_t c = b; c < e; ++c) {
          const int64_t lo = c * kChunk, n = std::min(kChunk, dst_count - lo);
          float* yc = dst_data + lo;
          const float* rc = shortcut + lo;
          if (act_.kind == ActivationKind::kRelu) {
            for (int64_t i = 0; i < n; ++i) yc[i] = std::max(yc[i] + rc[i], 0.0f);
          } else {
            for (int64_t i = 0; i < n; ++i) yc[i] += rc[i];
            ApplyActivationF32(act_, yc, n, 1);
          }
        }
      });
    } else if (p.activation_after && act_.kind != ActivationKind::kNone) {
      ApplyActivationF32(act_, dst_data, dst_count, threads);
    }
    return Status::Ok();
  }

  const Attributes* attrs_;  // window attributes, parsed per primitive with W's kernel size
  int64_t group_;
  Activation act_;
  bool constant_weights_;  // W is a constant of the node: reorder it once per primitive
  bool src_blocked_;       // X arrives in nChw16c from a preceding Conv
  bool dst_blocked_;       // Y goes to the next Conv in nChw16c
  PrimitiveCache<ConvPrimitive> cache_;
};

}  // namespace

namespace {

// tp.ToPlain: nChw16c -> nchw for float32 (see Note [Blocked conv chains]).
class ToPlainKernel : public Kernel {
 public:
  Status Compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    if (x.dtype() != DType::kF32 || x.rank() != 4 || x.dim(1) % 16 != 0) {
      return TP_ERROR(kInternal, "tp.ToPlain expects a 4-D float32 tensor with channels a multiple of 16, got "
                                     << DTypeName(x.dtype()) << " " << ShapeToString(x.shape()));
    }
    if (x.num_elements() == 0) return Status::Ok();
    try {
      TP_ASSIGN_OR_RETURN(std::shared_ptr<const dnnl::reorder> r,
                          cache_.GetOrBuild(x.shape(), [&]() -> StatusOr<std::shared_ptr<const dnnl::reorder>> {
                            memory::dims dims(x.shape().begin(), x.shape().end());
                            const auto f32 = memory::data_type::f32;
                            return std::make_shared<const dnnl::reorder>(dnnl::reorder::primitive_desc(
                                DnnlEngine(), memory::desc(dims, f32, memory::format_tag::nChw16c), DnnlEngine(),
                                memory::desc(dims, f32, memory::format_tag::nchw)));
                          }));
      memory::dims dims(x.shape().begin(), x.shape().end());
      const auto f32 = memory::data_type::f32;
      memory src(memory::desc(dims, f32, memory::format_tag::nChw16c), DnnlEngine(),
                 const_cast<void*>(x.raw_data()));
      memory dst(memory::desc(dims, f32, memory::format_tag::nchw), DnnlEngine(), ctx.output(0).raw_data());
      SetDnnlThreads(ThreadsForWork(ctx.threads, x.num_elements(), int64_t{1} << 16));
      dnnl::stream& stream = DnnlThreadStream();
      r->execute(stream, src, dst);
      stream.wait();
    } catch (const dnnl::error& e) {
      return TP_ERROR(kInternal, "tp.ToPlain: oneDNN failed: " << e.what());
    }
    return Status::Ok();
  }

 private:
  PrimitiveCache<dnnl::reorder> cache_;
};

}  // namespace

StatusOr<std::unique_ptr<Kernel>> MakeToPlainKernel(const NodeDef& node) {
  return std::unique_ptr<Kernel>(new ToPlainKernel());
}

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
