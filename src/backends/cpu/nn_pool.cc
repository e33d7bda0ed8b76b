// Pooling kernels: MaxPool (with the optional Indices output), AveragePool,
// GlobalAveragePool and GlobalMaxPool over 1 to 3 spatial dimensions.
// Windowed pools run one output row per work unit. The range of kernel taps
// that land inside the input is tabulated once per call for every output
// position of each dimension, so the inner loops carry neither bounds checks
// nor divisions.
#include <Eigen/Core>
#include <algorithm>
#include <atomic>
#include <limits>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "backends/cpu/nn_dnnl.h"
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

// For one output position along one dimension: the kernel taps [lo, hi)
// that fall inside the input, the input position of tap 0, and how many taps
// fall inside the explicitly padded input (count_include_pad; taps that
// ceil_mode adds beyond the end padding are not counted).
struct Taps {
  int64_t start, lo, hi, padded;
};

Taps ComputeTaps(const Window3& w, int d, int64_t o) {
  const int64_t start = o * w.stride[d] - w.pad_begin[d];
  const int64_t dil = w.dilation[d];
  const int64_t lo = start < 0 ? (-start + dil - 1) / dil : 0;
  const int64_t last = w.in[d] - 1 - start;  // largest offset still inside
  const int64_t hi = last < 0 ? 0 : std::min(w.kernel[d], last / dil + 1);
  const int64_t padded_last = w.in[d] + w.pad_end[d] - 1 - start;
  const int64_t padded = padded_last < 0 ? 0 : std::min(w.kernel[d], padded_last / dil + 1);
  return {start, lo, std::max(lo, hi), padded};
}

// Taps of every output position of the three dimensions, in scratch memory.
struct TapTables {
  const Taps* dim[kDims];
};

StatusOr<TapTables> MakeTapTables(const Window3& w, Scratch* scratch, const char* op) {
  const int64_t total = w.out[0] + w.out[1] + w.out[2];
  Taps* t = static_cast<Taps*>(scratch->Get(total * sizeof(Taps)));
  if (t == nullptr) return TP_ERROR(kResourceExhausted, op << ": no scratch memory");
  TapTables tables;
  for (int d = 0; d < kDims; ++d) {
    tables.dim[d] = t;
    for (int64_t o = 0; o < w.out[d]; ++o) *t++ = ComputeTaps(w, d, o);
  }
  return tables;
}

// REQUIRES: x has 1 to 3 spatial dimensions; g is its geometry under attrs.
Window3 MakeWindow3(const WindowAttrs& attrs, const WindowGeometry& g, const Shape& x) {
  const int64_t spatial = static_cast<int64_t>(x.size()) - 2;
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

// Calls fn(plane, o0, o1, y_row_offset) for each output row of out[2]
// positions, in parallel.
template <typename Fn>
void ForEachOutputRow(const Window3& w, int threads, Fn&& fn) {
  const int64_t rows = w.planes * w.out[0] * w.out[1];
  ParallelFor(rows, threads, RowGrain(w), [&](int64_t b, int64_t e) {
    int64_t o1 = b % w.out[1];
    int64_t o0 = (b / w.out[1]) % w.out[0];
    int64_t p = b / (w.out[1] * w.out[0]);
    for (int64_t r = b; r < e; ++r) {
      fn(p, o0, o1, r * w.out[2]);
      if (++o1 == w.out[1]) {
        o1 = 0;
        if (++o0 == w.out[0]) {
          o0 = 0;
          ++p;
        }
      }
    }
  });
}

// MaxPool with its Indices output: one position at a time, tracking where
// the maximum came from. Indices are flat over the whole input, row-major or
// (storage_order=1) column-major within each plane.
template <typename T>
void MaxPoolWithIndices(const Window3& w, const TapTables& taps, const T* x, T* y,
                        int64_t* indices, bool column_major, int threads) {
  ForEachOutputRow(w, threads, [&](int64_t p, int64_t o0, int64_t o1, int64_t y_off) {
    const T* xp = x + p * w.in_size();
    const Taps& t0 = taps.dim[0][o0];
    const Taps& t1 = taps.dim[1][o1];
    for (int64_t o2 = 0; o2 < w.out[2]; ++o2) {
      const Taps& t2 = taps.dim[2][o2];
      T best = std::numeric_limits<T>::lowest();
      int64_t best_at = 0;  // row-major offset in the plane
      for (int64_t k0 = t0.lo; k0 < t0.hi; ++k0) {
        const int64_t i0 = t0.start + k0 * w.dilation[0];
        for (int64_t k1 = t1.lo; k1 < t1.hi; ++k1) {
          const int64_t row = (i0 * w.in[1] + t1.start + k1 * w.dilation[1]) * w.in[2];
          for (int64_t k2 = t2.lo; k2 < t2.hi; ++k2) {
            const int64_t at = row + t2.start + k2 * w.dilation[2];
            if (xp[at] > best) {
              best = xp[at];
              best_at = at;
            }
          }
        }
      }
      y[y_off + o2] = best;
      int64_t flat = best_at;
      if (column_major) {
        const int64_t i2 = best_at % w.in[2];
        const int64_t i1 = (best_at / w.in[2]) % w.in[1];
        const int64_t i0 = best_at / (w.in[2] * w.in[1]);
        flat = i0 + i1 * w.in[0] + i2 * w.in[0] * w.in[1];
      }
      indices[y_off + o2] = p * w.in_size() + flat;
    }
  });
}

template <typename T, bool kMax>
T Combine(T acc, T v) {
  if constexpr (kMax) {
    return v > acc ? v : acc;
  } else {
    return acc + v;
  }
}

// Interior outputs are computed two SIMD packets at a time.
template <typename T>
using Packet = typename Eigen::internal::packet_traits<T>::type;
template <typename T>
constexpr int64_t kLanes = Eigen::internal::unpacket_traits<Packet<T>>::size;
template <typename T>
constexpr int64_t kBlock = 2 * kLanes<T>;

// kBlock<T> consecutive interior outputs of one row starting at column o2:
// every tap along dimension 2 is inside the input, so the loops carry no
// checks. The accumulators are explicit SIMD packets (Eigen's packet layer)
// so they stay in registers across all kernel taps (an Eigen array or a
// plain local array was kept in memory by the compiler: about 2x slower).
template <typename T, bool kMax>
void InteriorBlock(const Window3& w, const T* xp, const Taps& t0, const Taps& t1, int64_t o2,
                   int64_t count, T* yr) {
  namespace ei = Eigen::internal;
  using P = Packet<T>;
  constexpr int64_t kL = kLanes<T>;
  const int64_t s2 = w.stride[2], d2 = w.dilation[2];
  P acc0 = ei::pset1<P>(kMax ? std::numeric_limits<T>::lowest() : T(0));
  P acc1 = acc0;
  for (int64_t k0 = t0.lo; k0 < t0.hi; ++k0) {
    const int64_t i0 = t0.start + k0 * w.dilation[0];
    for (int64_t k1 = t1.lo; k1 < t1.hi; ++k1) {
      const T* row = xp + (i0 * w.in[1] + t1.start + k1 * w.dilation[1]) * w.in[2] +
                     o2 * s2 - w.pad_begin[2];
      for (int64_t k2 = 0; k2 < w.kernel[2]; ++k2) {
        const T* src = row + k2 * d2;
        P v0, v1;
        if (s2 == 1) {
          v0 = ei::ploadu<P>(src);
          v1 = ei::ploadu<P>(src + kL);
        } else {
          v0 = ei::pgather<T, P>(src, s2);
          v1 = ei::pgather<T, P>(src + kL * s2, s2);
        }
        if constexpr (kMax) {
          acc0 = ei::pmax(acc0, v0);
          acc1 = ei::pmax(acc1, v1);
        } else {
          acc0 = ei::padd(acc0, v0);
          acc1 = ei::padd(acc1, v1);
        }
      }
    }
  }
  if constexpr (!kMax) {
    const P scale = ei::pset1<P>(count > 0 ? T(1) / static_cast<T>(count) : T(0));
    acc0 = ei::pmul(acc0, scale);
    acc1 = ei::pmul(acc1, scale);
  }
  ei::pstoreu(yr + o2, acc0);
  ei::pstoreu(yr + o2 + kL, acc1);
}

// MaxPool (kMax) or AveragePool over output rows. Columns whose whole window
// lies inside the input take the fast path (InteriorBlock); border columns
// are computed one by one with clipped tap ranges.
template <typename T, bool kMax>
void PoolRows(const Window3& w, const TapTables& taps, const T* x, T* y, bool count_include_pad,
              int threads) {
  const int64_t s2 = w.stride[2], d2 = w.dilation[2], k2n = w.kernel[2], pb2 = w.pad_begin[2];
  const int64_t out2 = w.out[2];
  // Interior columns: o2 * s2 - pb2 >= 0 and o2 * s2 - pb2 + (k2n - 1) * d2 < in[2].
  const int64_t lo = std::min(out2, (pb2 + s2 - 1) / s2);
  const int64_t last_start = w.in[2] - 1 - (k2n - 1) * d2 + pb2;
  const int64_t hi = std::max(lo, last_start < 0 ? 0 : std::min(out2, last_start / s2 + 1));
  const T init = kMax ? std::numeric_limits<T>::lowest() : T(0);
  ForEachOutputRow(w, threads, [&](int64_t p, int64_t o0, int64_t o1, int64_t y_off) {
    const T* xp = x + p * w.in_size();
    T* yr = y + y_off;
    const Taps& t0 = taps.dim[0][o0];
    const Taps& t1 = taps.dim[1][o1];
    const int64_t rows = (t0.hi - t0.lo) * (t1.hi - t1.lo);
    const int64_t padded_rows = t0.padded * t1.padded;
    auto finish = [&](T acc, int64_t valid_taps, int64_t padded_taps) {
      if constexpr (kMax) {
        return acc;
      } else {
        const int64_t count = count_include_pad ? padded_taps : valid_taps;
        return count > 0 ? acc / static_cast<T>(count) : T(0);
      }
    };
    auto border = [&](int64_t o2) {
      const Taps& t2 = taps.dim[2][o2];
      T acc = init;
      for (int64_t k0 = t0.lo; k0 < t0.hi; ++k0) {
        const int64_t i0 = t0.start + k0 * w.dilation[0];
        for (int64_t k1 = t1.lo; k1 < t1.hi; ++k1) {
          const T* row = xp + (i0 * w.in[1] + t1.start + k1 * w.dilation[1]) * w.in[2] + t2.start;
          for (int64_t k2 = t2.lo; k2 < t2.hi; ++k2) acc = Combine<T, kMax>(acc, row[k2 * d2]);
        }
      }
      yr[o2] = finish(acc, rows * (t2.hi - t2.lo), padded_rows * t2.padded);
    };
    for (int64_t o2 = 0; o2 < lo; ++o2) border(o2);
    for (int64_t o2 = hi; o2 < out2; ++o2) border(o2);
    // Interior columns in blocks of kBlock<T>; a last partial block is
    // recomputed overlapping the previous one, and rows narrower than a
    // block go one column at a time.
    if (hi - lo < kBlock<T>) {
      for (int64_t o2 = lo; o2 < hi; ++o2) border(o2);
      return;
    }
    const int64_t interior_count = (count_include_pad ? padded_rows : rows) * k2n;
    for (int64_t j0 = lo; j0 < hi; j0 += kBlock<T>) {
      InteriorBlock<T, kMax>(w, xp, t0, t1, std::min(j0, hi - kBlock<T>), interior_count, yr);
    }
  });
}

// A oneDNN pooling primitive for one input shape; immutable once built.
struct PoolPrimitive {
  uint64_t id = 0;  // unique in the process: keys the per-thread memory objects
  dnnl::pooling_v2_forward pool;
  dnnl::memory::desc src_md, dst_md, scratchpad_md;
};

// MaxPool and AveragePool.
//
// Note [Pooling paths]
// Float32 pools run oneDNN's JIT pooling on the plain NC[D]HW tensors (3-4x
// faster than the loops here, measured on ResNet/Inception shapes), one
// primitive per input shape cached like Conv's (see Note [Conv primitive
// cache]). The loops below serve the other dtypes, MaxPool's Indices output,
// and the one case oneDNN counts differently: count_include_pad with
// ceil_mode windows running past the end padding, whose extra taps ONNX
// does not count.
class WindowPoolKernel : public Kernel {
 public:
  WindowPoolKernel(bool max, WindowAttrs attrs, bool count_include_pad, bool column_major, bool blocked)
      : max_(max),
        attrs_(std::move(attrs)),
        count_include_pad_(count_include_pad),
        column_major_(column_major),
        blocked_(blocked) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const char* op = max_ ? "MaxPool" : "AveragePool";
    if (x.rank() < 3 || x.rank() > 2 + kDims) {
      return TP_ERROR(kUnimplemented, op << " supports 1 to 3 spatial dimensions, got input "
                                         << ShapeToString(x.shape()));
    }
    TP_ASSIGN_OR_RETURN(const WindowGeometry g,
                        ComputeWindowGeometry(attrs_, Shape(x.shape().begin() + 2, x.shape().end())));
    int64_t* indices = nullptr;
    if (ctx.outputs.size() > 1 && ctx.outputs[1] != nullptr) indices = ctx.output(1).data<int64_t>();
    if (x.dtype() == DType::kF32 && indices == nullptr) {
      // Built for the threads it will run on: a primitive made for more
      // threads than it gets ran 2.5x slower (batch-1 MaxPool, 2 threads).
      int64_t window = 1;
      for (int64_t k : attrs_.kernel) window *= k;
      int64_t out_elements = x.dim(0) * x.dim(1);
      for (int64_t o : g.out) out_elements *= o;
      const int threads = ThreadsForWork(ctx.threads, out_elements * window, int64_t{1} << 17);
      std::vector<int64_t> key = x.shape();
      key.push_back(threads);
      TP_ASSIGN_OR_RETURN(std::shared_ptr<const PoolPrimitive> p,
                          cache_.GetOrBuild(key, [&] { return Build(x.shape(), g, threads); }));
      if (p != nullptr) return Execute(*p, ctx, threads);
    }
    if (blocked_) {
      // AssignBlockedLayouts only blocks pools oneDNN runs; see nn_pool's Build.
      return TP_ERROR(kInternal, op << " in the blocked layout has no oneDNN primitive for input "
                                    << ShapeToString(x.shape()));
    }
    const Window3 w = MakeWindow3(attrs_, g, x.shape());
    TP_ASSIGN_OR_RETURN(const TapTables taps, MakeTapTables(w, ctx.scratch, op));
    switch (x.dtype()) {
      case DType::kF32:
        return Run<float>(ctx, w, taps, indices);
      case DType::kF64:
        return Run<double>(ctx, w, taps, indices);
      case DType::kI8:
        if (max_) return Run<int8_t>(ctx, w, taps, indices);
        break;
      case DType::kU8:
        if (max_) return Run<uint8_t>(ctx, w, taps, indices);
        break;
      default:
        break;
    }
    return UnsupportedDType(op, x.dtype());
  }

 private:
  template <typename T>
  Status Run(KernelContext& ctx, const Window3& w, const TapTables& taps, int64_t* indices) const {
    const T* x = ctx.input(0).data<T>();
    T* y = ctx.output(0).data<T>();
    if (indices != nullptr) {
      MaxPoolWithIndices(w, taps, x, y, indices, column_major_, ctx.threads);
    } else if (max_) {
      PoolRows<T, /*kMax=*/true>(w, taps, x, y, /*count_include_pad=*/false, ctx.threads);
    } else {
      PoolRows<T, /*kMax=*/false>(w, taps, x, y, count_include_pad_, ctx.threads);
    }
    return Status::Ok();
  }

  // nullptr when oneDNN cannot pool this case the ONNX way (see Note
  // [Pooling paths]) or only has its reference implementation for it.
  StatusOr<std::shared_ptr<const PoolPrimitive>> Build(const Shape& x, const WindowGeometry& g,
                                                       int threads) const {
    using dnnl::memory;
    const size_t spatial = x.size() - 2;
    memory::dims kernel(attrs_.kernel.begin(), attrs_.kernel.end());
    memory::dims strides(attrs_.strides.begin(), attrs_.strides.end());
    memory::dims dilates, pad_l(g.pad_begin.begin(), g.pad_begin.end()), pad_r;
    memory::dims dst_dims = {x[0], x[1]};
    for (size_t i = 0; i < spatial; ++i) {
      dilates.push_back(attrs_.dilations[i] - 1);  // oneDNN counts gaps
      dst_dims.push_back(g.out[i]);
      // oneDNN derives the output size by flooring, so ceil_mode's extra
      // window becomes extra end padding.
      const int64_t extent = (attrs_.kernel[i] - 1) * attrs_.dilations[i] + 1;
      const int64_t end_pad = (g.out[i] - 1) * attrs_.strides[i] + extent - x[2 + i] - g.pad_begin[i];
      if (!max_ && count_include_pad_ && end_pad > g.pad_end[i]) return std::shared_ptr<const PoolPrimitive>();
      pad_r.push_back(end_pad);
    }
    const auto tag = spatial == 1   ? memory::format_tag::ncw
                     : spatial == 2 ? (blocked_ && x[1] % 16 == 0 ? memory::format_tag::nChw16c
                                                                  : memory::format_tag::nchw)
                                    : memory::format_tag::ncdhw;
    const auto alg = max_ ? dnnl::algorithm::pooling_max
                     : count_include_pad_ ? dnnl::algorithm::pooling_avg_include_padding
                                          : dnnl::algorithm::pooling_avg_exclude_padding;
    static std::atomic<uint64_t> next_id{1};
    auto p = std::make_shared<PoolPrimitive>();
    p->id = next_id.fetch_add(1);
    p->src_md = memory::desc(memory::dims(x.begin(), x.end()), memory::data_type::f32, tag);
    p->dst_md = memory::desc(dst_dims, memory::data_type::f32, tag);
    try {
      dnnl::pooling_v2_forward::desc desc(dnnl::prop_kind::forward_inference, alg, p->src_md,
                                          p->dst_md, strides, kernel, dilates, pad_l, pad_r);
      dnnl::primitive_attr attr;
      attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
      SetDnnlThreads(threads);
      dnnl::pooling_v2_forward::primitive_desc pd(desc, attr, DnnlEngine());
      if (std::string(pd.impl_info_str()).rfind("ref", 0) == 0) {
        return std::shared_ptr<const PoolPrimitive>();
      }
      p->pool = dnnl::pooling_v2_forward(pd);
      p->scratchpad_md = pd.scratchpad_desc();
    } catch (const dnnl::error&) {
      // oneDNN rejects some geometries (e.g. padding as large as the
      // kernel); the loops handle every case.
      return std::shared_ptr<const PoolPrimitive>();
    }
    return std::shared_ptr<const PoolPrimitive>(std::move(p));
  }

  Status Execute(const PoolPrimitive& p, KernelContext& ctx, int threads) const {
    using dnnl::memory;
    try {
      dnnl::engine& engine = DnnlEngine();
      const size_t scratch_bytes = p.scratchpad_md.get_size();
      void* scratch = nullptr;
      if (scratch_bytes > 0) {
        scratch = ctx.scratch->Get(scratch_bytes);
        if (scratch == nullptr) {
          return TP_ERROR(kResourceExhausted, "pooling: no scratch memory for " << scratch_bytes
                                                                                << " bytes");
        }
      }
      // See ThreadBundle.
      struct Bundle {
        memory src, dst, scratchpad;
        std::unordered_map<int, memory> args;
      };
      Bundle& b = ThreadBundle<Bundle>(p.id, [&] {
        Bundle b;
        b.src = memory(p.src_md, engine, const_cast<void*>(ctx.input(0).raw_data()));
        b.dst = memory(p.dst_md, engine, ctx.output(0).raw_data());
        b.args = {{DNNL_ARG_SRC, b.src}, {DNNL_ARG_DST, b.dst}};
        if (scratch_bytes > 0) {
          b.scratchpad = memory(p.scratchpad_md, engine, scratch);
          b.args.emplace(DNNL_ARG_SCRATCHPAD, b.scratchpad);
        }
        return b;
      });
      b.src.set_data_handle(const_cast<void*>(ctx.input(0).raw_data()));
      b.dst.set_data_handle(ctx.output(0).raw_data());
      if (scratch_bytes > 0) b.scratchpad.set_data_handle(scratch);
      SetDnnlThreads(threads);
      dnnl::stream& stream = DnnlThreadStream();
      p.pool.execute(stream, b.args);
      stream.wait();
    } catch (const dnnl::error& e) {
      return TP_ERROR(kInternal, (max_ ? "MaxPool" : "AveragePool") << ": oneDNN failed: "
                                                                     << e.what());
    }
    return Status::Ok();
  }

  bool max_;
  WindowAttrs attrs_;
  bool count_include_pad_;
  bool column_major_;  // storage_order=1: Indices count column-major
  bool blocked_;       // X and Y in nChw16c (tp_blocked; see Note [Blocked conv chains])
  PrimitiveCache<PoolPrimitive> cache_;
};

// GlobalAveragePool / GlobalMaxPool: one reduction per (n, c) plane.
class GlobalPoolKernel : public Kernel {
 public:
  GlobalPoolKernel(bool max, bool src_blocked) : max_(max), src_blocked_(src_blocked) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    if (src_blocked_) {
      // X in nChw16c (see Note [Blocked conv chains]); [N, C, 1, 1] is the
      // same bytes in either layout, so Y is plain.
      if (x.dtype() != DType::kF32 || x.rank() != 4 || x.dim(1) % 16 != 0) {
        return TP_ERROR(kInternal, "blocked GlobalAveragePool expects a 4-D float32 tensor with channels a "
                                   "multiple of 16, got " << DTypeName(x.dtype()) << " " << ShapeToString(x.shape()));
      }
      RunBlocked(x, ctx.output(0).data<float>(), ctx.threads);
      return Status::Ok();
    }
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

  // Average over H x W of each 16-channel block: 16 running sums (in double,
  // so large H x W lose nothing), one per lane of the block's contiguous
  // [H, W, 16] slab.
  void RunBlocked(const Tensor& x, float* y, int threads) const {
    const int64_t blocks = x.dim(0) * (x.dim(1) / 16);
    const int64_t size = x.dim(2) * x.dim(3);
    const float* xd = x.data<float>();
    const double inv = size == 0 ? 0.0 : 1.0 / static_cast<double>(size);
    const int64_t grain = std::max<int64_t>(1, kParallelGrainElements / std::max<int64_t>(16 * size, 1));
    ParallelFor(blocks, threads, grain, [&](int64_t b, int64_t e) {
      for (int64_t blk = b; blk < e; ++blk) {
        double sum[16] = {};
        const float* slab = xd + blk * size * 16;
        for (int64_t i = 0; i < size; ++i) {
          for (int c = 0; c < 16; ++c) sum[c] += slab[i * 16 + c];
        }
        for (int c = 0; c < 16; ++c) y[blk * 16 + c] = static_cast<float>(sum[c] * inv);
      }
    });
  }

  bool max_;
  bool src_blocked_;  // tp_src_blocked: X in nChw16c (GlobalAveragePool only)
};

StatusOr<WindowAttrs> ParsePoolAttrs(const NodeDef& node) {
  TP_ASSIGN_OR_RETURN(std::vector<int64_t> kernel, node.attrs->RequireInts("kernel_shape"));
  return ParseWindowAttrs(*node.attrs, std::move(kernel));
}

}  // namespace

StatusOr<std::unique_ptr<Kernel>> MakeMaxPoolKernel(const NodeDef& node) {
  TP_ASSIGN_OR_RETURN(WindowAttrs attrs, ParsePoolAttrs(node));
  const bool column_major = node.attrs->GetInt("storage_order", 0) != 0;
  return std::unique_ptr<Kernel>(new WindowPoolKernel(/*max=*/true, std::move(attrs),
                                                      /*count_include_pad=*/false, column_major,
                                                      node.attrs->GetInt("tp_blocked", 0) != 0));
}

StatusOr<std::unique_ptr<Kernel>> MakeAveragePoolKernel(const NodeDef& node) {
  TP_ASSIGN_OR_RETURN(WindowAttrs attrs, ParsePoolAttrs(node));
  const bool count_include_pad = node.attrs->GetInt("count_include_pad", 0) != 0;
  return std::unique_ptr<Kernel>(new WindowPoolKernel(/*max=*/false, std::move(attrs),
                                                      count_include_pad,
                                                      /*column_major=*/false, /*blocked=*/false));
}

StatusOr<std::unique_ptr<Kernel>> MakeGlobalAveragePoolKernel(const NodeDef& node) {
  return std::unique_ptr<Kernel>(
      new GlobalPoolKernel(/*max=*/false, node.attrs->GetInt("tp_src_blocked", 0) != 0));
}

StatusOr<std::unique_ptr<Kernel>> MakeGlobalMaxPoolKernel(const NodeDef& node) {
  return std::unique_ptr<Kernel>(new GlobalPoolKernel(/*max=*/true, /*src_blocked=*/false));
}

}  // namespace tensorpod::internal
