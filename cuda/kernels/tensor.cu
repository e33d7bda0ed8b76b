// CUDA kernels of the layout and indexing ops; see tensor.cuh.
//
// Every kernel is a grid-stride loop over the output, one thread per output
// element, so writes are coalesced. Kernels that only move data run on raw
// unsigned elements of the dtype's size; where a contiguous run allows it
// they run on wider elements instead (up to 16 bytes, see Note [Widening]).
// Index arithmetic is 32-bit with precomputed divisors when the output has
// fewer than 2^31 elements and 64-bit otherwise.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/tensor.cuh"

namespace tensorpod::internal::cuda_tensor {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 65535 * 8;
constexpr int64_t kSmallIndexLimit = int64_t{1} << 31;

unsigned BlocksFor(int64_t n) {
  const int64_t blocks = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(std::clamp<int64_t>(blocks, 1, kMaxBlocks));
}

template <typename T>
struct Tag {
  using type = T;
};

// Calls fn(Tag<the raw element type of `bytes`>{}).
template <typename Fn>
cudaError_t ByElemSize(int bytes, Fn&& fn) {
  switch (bytes) {
    case 1:
      return fn(Tag<uint8_t>{});
    case 2:
      return fn(Tag<uint16_t>{});
    case 4:
      return fn(Tag<uint32_t>{});
    case 8:
      return fn(Tag<uint64_t>{});
    case 16:
      return fn(Tag<uint4>{});
  }
  return cudaErrorInvalidValue;
}

// Calls fn(Tag<index type>{}): uint32_t when `n` elements are indexed with
// 32 bits, int64_t otherwise.
template <typename Fn>
cudaError_t ByIndexType(int64_t n, Fn&& fn) {
  if (n < kSmallIndexLimit) return fn(Tag<uint32_t>{});
  return fn(Tag<int64_t>{});
}

// Division of dividends below 2^31 by a runtime constant below 2^31 as a
// multiply-high and a shift (Granlund and Montgomery): with
// s = ceil(log2(d)) and m = floor(2^32 * (2^s - d) / d) + 1,
// n / d == (umulhi(n, m) + n) >> s.
struct Divmod32 {
  uint32_t multiplier = 1;
  uint32_t shift = 0;

  Divmod32() = default;
  // d outside [1, 2^31) leaves the identity divisor: such a dimension only
  // occurs with 64-bit indexing, which divides directly.
  explicit Divmod32(int64_t d) {
    if (d < 1 || d >= kSmallIndexLimit) return;
    while ((int64_t{1} << shift) < d) ++shift;
    const uint64_t ud = static_cast<uint64_t>(d);
    multiplier = static_cast<uint32_t>(
        ((uint64_t{1} << 32) * ((uint64_t{1} << shift) - ud)) / ud + 1);
  }
};

__device__ __forceinline__ uint32_t DivBy(const Divmod32& d, int64_t,
                                          uint32_t n) {
  return (__umulhi(n, d.multiplier) + n) >> d.shift;
}
__device__ __forceinline__ int64_t DivBy(const Divmod32&, int64_t divisor,
                                         int64_t n) {
  return n / divisor;
}

template <typename Index>
__device__ __forceinline__ Index FirstIndex() {
  return static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x;
}
template <typename Index>
__device__ __forceinline__ Index GridStride() {
  return static_cast<Index>(gridDim.x) * blockDim.x;
}

// ------------------------------------------------------------ strided copy

// A simplified view with its divisors.
struct StridedArgs {
  int rank = 0;
  int64_t dims[kMaxViewRank] = {};
  int64_t strides[kMaxViewRank] = {};
  Divmod32 div[kMaxViewRank];
};

template <typename T, typename Index>
__global__ void __launch_bounds__(kThreads)
    StridedCopyKernel(const T* __restrict__ src, T* __restrict__ dst,
                      const __grid_constant__ StridedArgs a, Index n) {
  for (Index i = FirstIndex<Index>(); i < n; i += GridStride<Index>()) {
    Index rem = i;
    int64_t off = 0;
    for (int k = a.rank - 1; k > 0; --k) {
      const Index q = DivBy(a.div[k], a.dims[k], rem);
      off += static_cast<int64_t>(rem - q * static_cast<Index>(a.dims[k])) *
             a.strides[k];
      rem = q;
    }
    off += static_cast<int64_t>(rem) * a.strides[0];
    dst[i] = src[off];
  }
}

// Side of the square tiles of the transposing copy, and the rows of a tile
// one pass of a 32 x 8 block moves.
constexpr int kTile = 32;
constexpr int kTileRows = 8;
constexpr int kTileThreads = kTile * kTileRows;

// A transposing copy: output dimension a reads the source contiguously, the
// output's last dimension b reads it with stride src_b; other dimensions
// form a batch.
struct TileArgs {
  int64_t na = 0;
  int64_t nb = 0;
  int64_t src_b = 0;
  int64_t dst_a = 0;
  int64_t a_tiles = 0;
  int64_t b_tiles = 0;
  int64_t tiles = 0;
  int batch_rank = 0;
  int64_t batch_dims[kMaxViewRank] = {};
  int64_t batch_src[kMaxViewRank] = {};
  int64_t batch_dst[kMaxViewRank] = {};
};

// Each block moves whole tiles: reads along a (coalesced in the source)
// into shared memory, writes along b (coalesced in the output).
template <typename T>
__global__ void __launch_bounds__(kTileThreads)
    TransposeTiledKernel(const T* __restrict__ src, T* __restrict__ dst,
                         const __grid_constant__ TileArgs p) {
  // +1 column: reading a tile column touches 32 different banks.
  __shared__ T tile[kTile][kTile + 1];
  for (int64_t t = blockIdx.x; t < p.tiles; t += gridDim.x) {
    const int64_t bt = t % p.b_tiles;
    const int64_t rest = t / p.b_tiles;
    const int64_t at = rest % p.a_tiles;
    int64_t batch = rest / p.a_tiles;
    int64_t src_off = 0;
    int64_t dst_off = 0;
    for (int k = p.batch_rank - 1; k >= 0; --k) {
      const int64_t c = batch % p.batch_dims[k];
      batch /= p.batch_dims[k];
      src_off += c * p.batch_src[k];
      dst_off += c * p.batch_dst[k];
    }
    const int64_t a0 = at * kTile;
    const int64_t b0 = bt * kTile;
    const int64_t a_read = a0 + threadIdx.x;
    for (int i = threadIdx.y; i < kTile; i += kTileRows) {
      const int64_t b = b0 + i;
      if (a_read < p.na && b < p.nb) {
        tile[i][threadIdx.x] = src[src_off + a_read + b * p.src_b];
      }
    }
    __syncthreads();
    const int64_t b_write = b0 + threadIdx.x;
    for (int i = threadIdx.y; i < kTile; i += kTileRows) {
      const int64_t a = a0 + i;
      if (a < p.na && b_write < p.nb) {
        dst[dst_off + a * p.dst_a + b_write] = tile[threadIdx.x][i];
      }
    }
    __syncthreads();
  }
}

// Drops size-1 dimensions and merges neighbours the view walks as one.
// REQUIRES: no dimension is 0.
StridedView Simplify(const StridedView& v) {
  StridedView s;
  for (int k = 0; k < v.rank; ++k) {
    if (v.dims[k] == 1) continue;
    if (s.rank > 0 && s.strides[s.rank - 1] == v.strides[k] * v.dims[k]) {
      s.dims[s.rank - 1] *= v.dims[k];
      s.strides[s.rank - 1] = v.strides[k];
      continue;
    }
    s.dims[s.rank] = v.dims[k];
    s.strides[s.rank] = v.strides[k];
    ++s.rank;
  }
  return s;
}

// Note [Widening]
// When a view reads its last dimension contiguously (stride 1), k
// consecutive elements of that dimension are one element k times wider,
// provided the dimension's length and every other stride are multiples of
// k and both buffers are aligned to the wider size. Copies then move up to
// 16 bytes per thread (vector loads and stores) instead of 1 to 8.
void Widen(StridedView* v, int* elem_size, const void* src, const void* dst) {
  const int r = v->rank;
  if (r == 0 || v->strides[r - 1] != 1) return;
  const auto src_addr = reinterpret_cast<uintptr_t>(src);
  const auto dst_addr = reinterpret_cast<uintptr_t>(dst);
  for (int unit = 16; unit > *elem_size; unit /= 2) {
    const int64_t k = unit / *elem_size;
    bool ok =
        src_addr % unit == 0 && dst_addr % unit == 0 && v->dims[r - 1] % k == 0;
    for (int j = 0; ok && j < r - 1; ++j) ok = v->strides[j] % k == 0;
    if (!ok) continue;
    v->dims[r - 1] /= k;
    for (int j = 0; j < r - 1; ++j) v->strides[j] /= k;
    *elem_size = unit;
    return;
  }
}

// Below this many elements on either side, a transpose's tiles would be
// mostly idle threads; the plain gather handles it.
constexpr int64_t kMinTileSide = 16;

cudaError_t TransposeTiled(const void* src, const StridedView& v, int a,
                           int elem_size, void* dst, cudaStream_t stream) {
  const int r = v.rank;
  int64_t dst_strides[kMaxViewRank];
  dst_strides[r - 1] = 1;
  for (int k = r - 2; k >= 0; --k) {
    dst_strides[k] = dst_strides[k + 1] * v.dims[k + 1];
  }
  TileArgs p;
  p.na = v.dims[a];
  p.nb = v.dims[r - 1];
  p.src_b = v.strides[r - 1];
  p.dst_a = dst_strides[a];
  int64_t batches = 1;
  for (int k = 0; k < r - 1; ++k) {
    if (k == a) continue;
    p.batch_dims[p.batch_rank] = v.dims[k];
    p.batch_src[p.batch_rank] = v.strides[k];
    p.batch_dst[p.batch_rank] = dst_strides[k];
    ++p.batch_rank;
    batches *= v.dims[k];
  }
  p.a_tiles = (p.na + kTile - 1) / kTile;
  p.b_tiles = (p.nb + kTile - 1) / kTile;
  p.tiles = batches * p.a_tiles * p.b_tiles;
  const unsigned blocks =
      static_cast<unsigned>(std::min<int64_t>(p.tiles, kMaxBlocks));
  return ByElemSize(elem_size, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (sizeof(T) > sizeof(uint64_t)) {
      return cudaErrorInvalidValue;  // dtypes are at most 8 bytes
    } else {
      TransposeTiledKernel<T><<<blocks, dim3(kTile, kTileRows), 0, stream>>>(
          static_cast<const T*>(src), static_cast<T*>(dst), p);
      return cudaGetLastError();
    }
  });
}

}  // namespace

cudaError_t CopyStrided(const void* src, const StridedView& view, int elem_size,
                        void* dst, cudaStream_t stream) {
  for (int k = 0; k < view.rank; ++k) {
    if (view.dims[k] == 0) return cudaSuccess;
  }
  StridedView v = Simplify(view);
  if (v.rank == 0 || (v.rank == 1 && v.strides[0] == 1)) {
    const int64_t n = v.rank == 0 ? 1 : v.dims[0];
    return cudaMemcpyAsync(dst, src, static_cast<size_t>(n) * elem_size,
                           cudaMemcpyDeviceToDevice, stream);
  }
  const int r = v.rank;
  const int64_t inner = v.strides[r - 1];
  if (inner != 0 && inner != 1 && v.dims[r - 1] >= kMinTileSide) {
    for (int k = r - 2; k >= 0; --k) {
      if (v.strides[k] == 1 && v.dims[k] >= kMinTileSide) {
        return TransposeTiled(src, v, k, elem_size, dst, stream);
      }
    }
  }
  Widen(&v, &elem_size, src, dst);
  v = Simplify(v);
  if (v.rank == 0) {
    v.rank = 1;
    v.dims[0] = 1;
    v.strides[0] = 0;
  }
  StridedArgs a;
  a.rank = v.rank;
  int64_t n = 1;
  for (int k = 0; k < v.rank; ++k) {
    a.dims[k] = v.dims[k];
    a.strides[k] = v.strides[k];
    a.div[k] = Divmod32(v.dims[k]);
    n *= v.dims[k];
  }
  return ByElemSize(elem_size, [&](auto elem_tag) {
    using T = typename decltype(elem_tag)::type;
    return ByIndexType(n, [&](auto index_tag) {
      using Index = typename decltype(index_tag)::type;
      StridedCopyKernel<T, Index><<<BlocksFor(n), kThreads, 0, stream>>>(
          static_cast<const T*>(src), static_cast<T*>(dst), a,
          static_cast<Index>(n));
      return cudaGetLastError();
    });
  });
}

// ------------------------------------------------------------------ gather

namespace {

template <typename T, typename I, typename Index>
__global__ void __launch_bounds__(kThreads)
    GatherKernel(const T* __restrict__ data, const I* __restrict__ indices,
                 T* __restrict__ out, Index n, int64_t inner,
                 Divmod32 inner_div, int64_t num_indices, Divmod32 indices_div,
                 int64_t axis_dim) {
  for (Index i = FirstIndex<Index>(); i < n; i += GridStride<Index>()) {
    const Index row = DivBy(inner_div, inner, i);
    const Index k = i - row * static_cast<Index>(inner);
    const Index o = DivBy(indices_div, num_indices, row);
    const Index j = row - o * static_cast<Index>(num_indices);
    int64_t x = static_cast<int64_t>(indices[j]);
    if (x < 0) x += axis_dim;
    T v{};
    if (x >= 0 && x < axis_dim) {
      v = data[(static_cast<int64_t>(o) * axis_dim + x) * inner + k];
    }
    out[i] = v;
  }
}

// The widest element, up to 16 bytes and at least elem_size, that divides
// every value (byte counts and addresses).
int UnitFor(int elem_size, std::initializer_list<uint64_t> values) {
  int unit = 16;
  for (uint64_t v : values) {
    while (unit > elem_size && v % unit != 0) unit /= 2;
  }
  return unit;
}

}  // namespace

cudaError_t Gather(const void* data, int64_t outer, int64_t axis_dim,
                   int64_t inner, int elem_size, const void* indices,
                   int index_size, int64_t num_indices, void* out,
                   cudaStream_t stream) {
  if (outer == 0 || inner == 0 || num_indices == 0) return cudaSuccess;
  // Rows of `inner` elements move as wider units (See Note [Widening]).
  const int64_t row_bytes = inner * elem_size;
  const int unit = UnitFor(elem_size, {static_cast<uint64_t>(row_bytes),
                                       reinterpret_cast<uintptr_t>(data),
                                       reinterpret_cast<uintptr_t>(out)});
  const int64_t inner_units = row_bytes / unit;
  const int64_t n = outer * num_indices * inner_units;
  const Divmod32 inner_div(inner_units);
  const Divmod32 indices_div(num_indices);
  return ByElemSize(unit, [&](auto elem_tag) {
    using T = typename decltype(elem_tag)::type;
    return ByIndexType(n, [&](auto index_tag) {
      using Index = typename decltype(index_tag)::type;
      const auto* src = static_cast<const T*>(data);
      auto* dst = static_cast<T*>(out);
      if (index_size == 4) {
        GatherKernel<T, int32_t, Index><<<BlocksFor(n), kThreads, 0, stream>>>(
            src, static_cast<const int32_t*>(indices), dst,
            static_cast<Index>(n), inner_units, inner_div, num_indices,
            indices_div, axis_dim);
      } else {
        GatherKernel<T, int64_t, Index><<<BlocksFor(n), kThreads, 0, stream>>>(
            src, static_cast<const int64_t*>(indices), dst,
            static_cast<Index>(n), inner_units, inner_div, num_indices,
            indices_div, axis_dim);
      }
      return cudaGetLastError();
    });
  });
}

// ----------------------------------------------------------- concat, split

namespace {

// Parts one launch handles; more parts take more launches.
constexpr int kMaxParts = 32;

// A span of the joined row covered by up to kMaxParts non-empty parts. All
// lengths are in units of the launch's element.
struct JoinArgs {
  int count = 0;
  void* parts[kMaxParts] = {};
  int64_t widths[kMaxParts] = {};  // a part's row
  int64_t starts[kMaxParts] = {};  // a part's first column within the span
  int64_t span = 0;                // columns of the span
  int64_t joined_width = 0;        // the joined row
  int64_t joined_offset = 0;       // the span's first column in the joined row
};

template <typename T, typename Index, bool kSplit>
__global__ void __launch_bounds__(kThreads)
    JoinKernel(T* __restrict__ joined, const __grid_constant__ JoinArgs a,
               Divmod32 span_div, Index n) {
  for (Index i = FirstIndex<Index>(); i < n; i += GridStride<Index>()) {
    const Index row = DivBy(span_div, a.span, i);
    const int64_t col =
        static_cast<int64_t>(i - row * static_cast<Index>(a.span));
    // The last part starting at or before col (starts ascend strictly).
    int lo = 0;
    int hi = a.count - 1;
    while (lo < hi) {
      const int mid = (lo + hi + 1) >> 1;
      if (a.starts[mid] <= col) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    T* part = static_cast<T*>(a.parts[lo]);
    const int64_t r = static_cast<int64_t>(row);
    const int64_t part_i = r * a.widths[lo] + (col - a.starts[lo]);
    const int64_t joined_i = r * a.joined_width + a.joined_offset + col;
    if constexpr (kSplit) {
      part[part_i] = joined[joined_i];
    } else {
      joined[joined_i] = part[part_i];
    }
  }
}

cudaError_t JoinRows(void* joined, int64_t rows, void* const* parts,
                     const int64_t* row_bytes, int num_parts, bool split,
                     cudaStream_t stream) {
  int64_t joined_bytes = 0;
  for (int p = 0; p < num_parts; ++p) joined_bytes += row_bytes[p];
  if (rows == 0 || joined_bytes == 0) return cudaSuccess;
  // One unit for every part (See Note [Widening]): it divides every row
  // length, every part's offset in the joined row and every address.
  int unit = UnitFor(1, {static_cast<uint64_t>(joined_bytes),
                         reinterpret_cast<uintptr_t>(joined)});
  int64_t offset = 0;
  for (int p = 0; p < num_parts; ++p) {
    if (row_bytes[p] == 0) continue;
    unit = std::min(unit, UnitFor(1, {static_cast<uint64_t>(row_bytes[p]),
                                      static_cast<uint64_t>(offset),
                                      reinterpret_cast<uintptr_t>(parts[p])}));
    offset += row_bytes[p];
  }
  int p = 0;
  offset = 0;
  while (p < num_parts) {
    JoinArgs a;
    a.joined_width = joined_bytes / unit;
    a.joined_offset = offset / unit;
    for (; p < num_parts && a.count < kMaxParts; ++p) {
      if (row_bytes[p] == 0) continue;
      a.parts[a.count] = parts[p];
      a.widths[a.count] = row_bytes[p] / unit;
      a.starts[a.count] = a.span;
      a.span += a.widths[a.count];
      ++a.count;
    }
    if (a.count == 0) break;
    offset += a.span * unit;
    const int64_t n = rows * a.span;
    const Divmod32 span_div(a.span);
    const cudaError_t e = ByElemSize(unit, [&](auto elem_tag) {
      using T = typename decltype(elem_tag)::type;
      return ByIndexType(n, [&](auto index_tag) {
        using Index = typename decltype(index_tag)::type;
        if (split) {
          JoinKernel<T, Index, true><<<BlocksFor(n), kThreads, 0, stream>>>(
              static_cast<T*>(joined), a, span_div, static_cast<Index>(n));
        } else {
          JoinKernel<T, Index, false><<<BlocksFor(n), kThreads, 0, stream>>>(
              static_cast<T*>(joined), a, span_div, static_cast<Index>(n));
        }
        return cudaGetLastError();
      });
    });
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

}  // namespace

cudaError_t ConcatRows(const void* const* parts, const int64_t* part_row_bytes,
                       int num_parts, int64_t rows, void* joined,
                       cudaStream_t stream) {
  // JoinRows only reads through the part pointers when concatenating.
  return JoinRows(joined, rows, const_cast<void* const*>(parts), part_row_bytes,
                  num_parts, /*split=*/false, stream);
}

cudaError_t SplitRows(const void* joined, int64_t rows, void* const* parts,
                      const int64_t* part_row_bytes, int num_parts,
                      cudaStream_t stream) {
  // JoinRows only reads through `joined` when splitting.
  return JoinRows(const_cast<void*>(joined), rows, parts, part_row_bytes,
                  num_parts, /*split=*/true, stream);
}

// --------------------------------------------------------------------- pad

namespace {

struct PadArgs {
  PadParams p;
  Divmod32 div[kMaxViewRank];
};

template <typename T, typename Index>
__global__ void __launch_bounds__(kThreads)
    PadKernel(const T* __restrict__ src, T* __restrict__ dst,
              const __grid_constant__ PadArgs a, const T* value, T value_bits,
              Index n) {
  const T fill = value != nullptr ? *value : value_bits;
  const PadParams& p = a.p;
  for (Index i = FirstIndex<Index>(); i < n; i += GridStride<Index>()) {
    Index rem = i;
    int64_t off = 0;
    bool constant = false;
    for (int k = p.rank - 1; k >= 0 && !constant; --k) {
      Index c = rem;
      if (k > 0) {
        const Index q = DivBy(a.div[k], p.out_dims[k], rem);
        c = rem - q * static_cast<Index>(p.out_dims[k]);
        rem = q;
      }
      const PadAxis& axis = p.axes[k];
      int64_t j = static_cast<int64_t>(c) - axis.pad;
      if (j < 0 || j >= axis.len) {
        if (p.fill == PadFill::kConstant) {
          constant = true;
        } else if (p.fill == PadFill::kEdge) {
          j = j < 0 ? 0 : axis.len - 1;
        } else {
          // ResolvePads guarantees one reflection suffices.
          j = j < 0 ? -j : 2 * (axis.len - 1) - j;
        }
      }
      off += (axis.lo + j) * p.in_strides[k];
    }
    dst[i] = constant ? fill : src[off];
  }
}

}  // namespace

cudaError_t Pad(const void* src, const PadParams& p, int elem_size,
                const void* value, uint64_t value_bits, void* dst,
                cudaStream_t stream) {
  int64_t n = 1;
  PadArgs a;
  a.p = p;
  for (int k = 0; k < p.rank; ++k) {
    n *= p.out_dims[k];
    a.div[k] = Divmod32(p.out_dims[k]);
  }
  if (n == 0) return cudaSuccess;
  return ByElemSize(elem_size, [&](auto elem_tag) {
    using T = typename decltype(elem_tag)::type;
    if constexpr (sizeof(T) > sizeof(uint64_t)) {
      return cudaErrorInvalidValue;  // dtypes are at most 8 bytes
    } else {
      T bits;
      std::memcpy(&bits, &value_bits, sizeof(T));
      return ByIndexType(n, [&](auto index_tag) {
        using Index = typename decltype(index_tag)::type;
        PadKernel<T, Index><<<BlocksFor(n), kThreads, 0, stream>>>(
            static_cast<const T*>(src), static_cast<T*>(dst), a,
            static_cast<const T*>(value), bits, static_cast<Index>(n));
        return cudaGetLastError();
      });
    }
  });
}

// ------------------------------------------------------------------ resize

namespace {

// The input coordinates one output coordinate along one axis reads: up to
// 4 taps (1 nearest, 2 linear, 4 cubic), each an index clamped into the
// input and a weight, and whether the coordinate falls outside a
// tf_crop_and_resize box.
struct ResizeTap {
  int64_t idx[4];
  double w[4];
  int32_t outside;
};

// Scratch layout: one flag per axis (padded to keep the tables aligned),
// then the tables of every axis, one ResizeTap per output coordinate.
constexpr size_t kResizeFlagBytes = 64;
static_assert(kMaxResizeRank * sizeof(int) <= kResizeFlagBytes);

ResizeTap* ResizeTables(void* scratch) {
  return reinterpret_cast<ResizeTap*>(static_cast<char*>(scratch) +
                                      kResizeFlagBytes);
}

__device__ int TapsOf(ResizeInterp m) {
  return m == ResizeInterp::kNearest ? 1 : m == ResizeInterp::kLinear ? 2 : 4;
}

// The reference's x_original for output coordinate y along axis a.
__device__ double SourceCoord(const ResizeParams& p, int a, int64_t y) {
  const double scale = p.scales[a];
  const double out_width = scale * static_cast<double>(p.in_dims[a]);
  const double yd = static_cast<double>(y);
  const double last = static_cast<double>(p.in_dims[a] - 1);
  switch (p.coord) {
    case ResizeCoord::kAlignCorners:
      return out_width == 1 ? 0.0 : yd * last / (out_width - 1);
    case ResizeCoord::kAsymmetric:
      return yd / scale;
    case ResizeCoord::kTfCropAndResize: {
      const double roi_start = p.roi_start[a];
      const double roi_end = p.roi_end[a];
      const double x =
          out_width == 1 ? (roi_end - roi_start) * last / 2
                         : yd * (roi_end - roi_start) * last / (out_width - 1);
      return x + roi_start * last;
    }
    case ResizeCoord::kPytorchHalfPixel:
      return out_width == 1 ? -0.5 : (yd + 0.5) / scale - 0.5;
    case ResizeCoord::kTfHalfPixelForNn:
      return (yd + 0.5) / scale;
    case ResizeCoord::kHalfPixel:
      break;
  }
  return (yd + 0.5) / scale - 0.5;
}

// The taps of output coordinate y along axis a, as the CPU kernel's
// BuildAxisTable computes them (in double precision).
__device__ void TapsAt(const ResizeParams& p, int a, int64_t y, ResizeTap* t) {
  const int64_t in = p.in_dims[a];
  double x = SourceCoord(p, a, y);
  t->outside = p.coord == ResizeCoord::kTfCropAndResize &&
               !(x >= 0 && x <= static_cast<double>(in - 1));
  // Beyond two pixels out every tap clamps to the edge anyway; bounding x
  // keeps a wild (or NaN) roi from overflowing the integer conversion.
  if (!(x >= -2)) x = -2;
  if (!(x <= static_cast<double>(in + 1))) x = static_cast<double>(in + 1);
  // base + ratio == x with ratio in (0, 1]: the left neighbour wins ties.
  double base = floor(x);
  double ratio = x - base;
  if (ratio == 0) {
    base -= 1;
    ratio = 1;
  }
  const int64_t b = static_cast<int64_t>(base);
  double c[4] = {1, 0, 0, 0};
  int64_t first = b;
  switch (p.interp) {
    case ResizeInterp::kNearest: {
      bool up = ratio == 1;
      if (!up) {
        switch (p.round) {
          case ResizeRound::kRoundPreferFloor:
            up = ratio > 0.5;
            break;
          case ResizeRound::kRoundPreferCeil:
            up = ratio >= 0.5;
            break;
          case ResizeRound::kFloor:
            up = false;
            break;
          case ResizeRound::kCeil:
            up = true;
            break;
        }
      }
      first = up ? b + 1 : b;
      break;
    }
    case ResizeInterp::kLinear:
      c[0] = 1 - ratio;
      c[1] = ratio;
      break;
    case ResizeInterp::kCubic: {
      const double ca = p.cubic_a;
      const double r1 = ratio + 1;
      const double q = 1 - ratio;
      const double q1 = q + 1;
      c[0] = ((ca * r1 - 5 * ca) * r1 + 8 * ca) * r1 - 4 * ca;
      c[1] = ((ca + 2) * ratio - (ca + 3)) * ratio * ratio + 1;
      c[2] = ((ca + 2) * q - (ca + 3)) * q * q + 1;
      c[3] = ((ca * q1 - 5 * ca) * q1 + 8 * ca) * q1 - 4 * ca;
      first = b - 1;
      break;
    }
  }
  const int taps = TapsOf(p.interp);
  if (p.exclude_outside && taps > 1) {
    double sum = 0;
    for (int k = 0; k < taps; ++k) {
      if (first + k < 0 || first + k >= in) c[k] = 0;
      sum += c[k];
    }
    if (sum != 0) {
      for (int k = 0; k < taps; ++k) c[k] /= sum;
    }
  }
  for (int k = 0; k < 4; ++k) {
    const int64_t i = first + k;
    t->idx[k] = i < 0 ? 0 : i >= in ? in - 1 : i;
    t->w[k] = k < taps ? c[k] : 0;
  }
}

// The tap of weight exactly 1 when every other tap weighs exactly 0 (in the
// precision the resize kernel computes in), else -1.
__device__ int HotTap(const ResizeTap& t, int taps, bool f32) {
  int hot = -1;
  for (int k = 0; k < taps; ++k) {
    const double w =
        f32 ? static_cast<double>(static_cast<float>(t.w[k])) : t.w[k];
    if (w == 1.0 && hot < 0) {
      hot = k;
    } else if (w != 0.0) {
      return -1;
    }
  }
  return hot;
}

struct ResizeTableArgs {
  ResizeParams p;
  int64_t offsets[kMaxResizeRank + 1] = {};  // first table entry per axis
  bool f32 = true;
};

// Fills the tables of every axis, one thread per output coordinate, and
// marks in `spread` (zeroed before) the axes where some coordinate reads
// more than one input. A coordinate that reads one input with weight 1
// holds it as tap 0 with the other weights 0, so an axis left unmarked is
// read through tap 0 alone: the CPU kernel's collapse of such axes.
__global__ void __launch_bounds__(kThreads)
    BuildResizeTables(ResizeTap* __restrict__ table, int* __restrict__ spread,
                      const __grid_constant__ ResizeTableArgs a) {
  const int64_t total = a.offsets[a.p.rank];
  const int taps = TapsOf(a.p.interp);
  for (int64_t j = FirstIndex<int64_t>(); j < total;
       j += GridStride<int64_t>()) {
    int axis = 0;
    while (j >= a.offsets[axis + 1]) ++axis;
    ResizeTap t;
    TapsAt(a.p, axis, j - a.offsets[axis], &t);
    if (taps > 1) {
      const int hot = HotTap(t, taps, a.f32);
      if (hot < 0) {
        atomicOr(&spread[axis], 1);
      } else {
        t.idx[0] = t.idx[hot];
        for (int k = 0; k < 4; ++k) t.w[k] = k == 0 ? 1 : 0;
      }
    }
    table[j] = t;
  }
}

struct ResizeRunArgs {
  int rank = 0;
  int64_t out_dims[kMaxResizeRank] = {};
  int64_t in_strides[kMaxResizeRank] = {};
  int64_t offsets[kMaxResizeRank] = {};
  Divmod32 div[kMaxResizeRank];
};

__device__ __forceinline__ float ToAcc(float v) { return v; }
__device__ __forceinline__ double ToAcc(double v) { return v; }
__device__ __forceinline__ float ToAcc(__half v) { return __half2float(v); }
__device__ __forceinline__ float ToAcc(__nv_bfloat16 v) {
  return __bfloat162float(v);
}
__device__ __forceinline__ void StoreAcc(float v, float* out) { *out = v; }
__device__ __forceinline__ void StoreAcc(double v, double* out) { *out = v; }
__device__ __forceinline__ void StoreAcc(float v, __half* out) {
  *out = __float2half_rn(v);
}
__device__ __forceinline__ void StoreAcc(float v, __nv_bfloat16* out) {
  *out = __float2bfloat16_rn(v);
}

// Decomposes output element i into its per-axis table entries; returns
// whether any coordinate lies outside a tf_crop_and_resize box.
template <typename Index>
__device__ __forceinline__ bool ResizeTapsOf(
    Index i, const ResizeRunArgs& a, const ResizeTap* __restrict__ table,
    const ResizeTap* (&t)[kMaxResizeRank]) {
  Index rem = i;
  bool outside = false;
#pragma unroll
  for (int k = kMaxResizeRank - 1; k >= 0; --k) {
    if (k < a.rank) {
      Index c = rem;
      if (k > 0) {
        const Index q = DivBy(a.div[k], a.out_dims[k], rem);
        c = rem - q * static_cast<Index>(a.out_dims[k]);
        rem = q;
      }
      t[k] = table + a.offsets[k] + static_cast<int64_t>(c);
      outside = outside || t[k]->outside != 0;
    }
  }
  return outside;
}

template <typename T, typename Index>
__global__ void __launch_bounds__(kThreads)
    ResizeNearestKernel(const T* __restrict__ src, T* __restrict__ dst,
                        const ResizeTap* __restrict__ table,
                        const __grid_constant__ ResizeRunArgs a,
                        T extrapolation, Index n) {
  for (Index i = FirstIndex<Index>(); i < n; i += GridStride<Index>()) {
    const ResizeTap* t[kMaxResizeRank];
    if (ResizeTapsOf(i, a, table, t)) {
      dst[i] = extrapolation;
      continue;
    }
    int64_t off = 0;
#pragma unroll
    for (int k = 0; k < kMaxResizeRank; ++k) {
      if (k < a.rank) off += t[k]->idx[0] * a.in_strides[k];
    }
    dst[i] = src[off];
  }
}

// Sums weight * input over every combination of the taps of the axes that
// `spread` marks (the other axes read their tap 0 with weight 1).
// Combinations of weight 0 are skipped, as the CPU kernel skips them along
// all axes but the last.
template <typename T, typename Acc, int kTaps, typename Index>
__global__ void __launch_bounds__(kThreads)
    ResizeInterpKernel(const T* __restrict__ src, T* __restrict__ dst,
                       const ResizeTap* __restrict__ table,
                       const int* __restrict__ spread,
                       const __grid_constant__ ResizeRunArgs a,
                       Acc extrapolation, Index n) {
  bool multi[kMaxResizeRank];
  int combos = 1;
#pragma unroll
  for (int k = 0; k < kMaxResizeRank; ++k) {
    multi[k] = k < a.rank && spread[k] != 0;
    if (multi[k]) combos *= kTaps;
  }
  for (Index i = FirstIndex<Index>(); i < n; i += GridStride<Index>()) {
    const ResizeTap* t[kMaxResizeRank];
    if (ResizeTapsOf(i, a, table, t)) {
      StoreAcc(extrapolation, dst + i);
      continue;
    }
    Acc acc = 0;
    for (int m = 0; m < combos; ++m) {
      int rest = m;
      Acc w = 1;
      int64_t off = 0;
#pragma unroll
      for (int k = 0; k < kMaxResizeRank; ++k) {
        if (k < a.rank) {
          int tap = 0;
          if (multi[k]) {
            tap = rest % kTaps;
            rest /= kTaps;
            w *= static_cast<Acc>(t[k]->w[tap]);
          }
          off += t[k]->idx[tap] * a.in_strides[k];
        }
      }
      if (w != Acc(0)) acc += w * ToAcc(src[off]);
    }
    StoreAcc(acc, dst + i);
  }
}

// Builds the tables in `scratch` and the resize kernel's arguments; n: the
// output's element count.
cudaError_t PrepareResize(const ResizeParams& p, bool f32, void* scratch,
                          cudaStream_t stream, ResizeRunArgs* run, int64_t* n) {
  if (p.rank < 1 || p.rank > kMaxResizeRank) return cudaErrorInvalidValue;
  ResizeTableArgs ta;
  ta.p = p;
  ta.f32 = f32;
  run->rank = p.rank;
  *n = 1;
  int64_t stride = 1;
  for (int a = p.rank - 1; a >= 0; --a) {
    run->in_strides[a] = stride;
    stride *= p.in_dims[a];
  }
  for (int a = 0; a < p.rank; ++a) {
    ta.offsets[a + 1] = ta.offsets[a] + p.out_dims[a];
    run->offsets[a] = ta.offsets[a];
    run->out_dims[a] = p.out_dims[a];
    run->div[a] = Divmod32(p.out_dims[a]);
    *n *= p.out_dims[a];
  }
  if (*n == 0) return cudaSuccess;
  auto* spread = static_cast<int*>(scratch);
  const cudaError_t e = cudaMemsetAsync(spread, 0, kResizeFlagBytes, stream);
  if (e != cudaSuccess) return e;
  const int64_t entries = ta.offsets[p.rank];
  BuildResizeTables<<<BlocksFor(entries), kThreads, 0, stream>>>(
      ResizeTables(scratch), spread, ta);
  return cudaGetLastError();
}

}  // namespace

size_t ResizeScratchBytes(const ResizeParams& p) {
  int64_t entries = 0;
  for (int a = 0; a < p.rank && a < kMaxResizeRank; ++a) {
    entries += p.out_dims[a];
  }
  return kResizeFlagBytes + static_cast<size_t>(entries) * sizeof(ResizeTap);
}

cudaError_t ResizeNearest(const void* src, const ResizeParams& p, int elem_size,
                          uint64_t extrapolation_bits, void* scratch, void* dst,
                          cudaStream_t stream) {
  if (p.interp != ResizeInterp::kNearest) return cudaErrorInvalidValue;
  ResizeRunArgs a;
  int64_t n = 0;
  const cudaError_t e = PrepareResize(p, true, scratch, stream, &a, &n);
  if (e != cudaSuccess || n == 0) return e;
  const ResizeTap* table = ResizeTables(scratch);
  return ByElemSize(elem_size, [&](auto elem_tag) {
    using T = typename decltype(elem_tag)::type;
    if constexpr (sizeof(T) > sizeof(uint64_t)) {
      return cudaErrorInvalidValue;  // dtypes are at most 8 bytes
    } else {
      T extrapolation;
      std::memcpy(&extrapolation, &extrapolation_bits, sizeof(T));
      return ByIndexType(n, [&](auto index_tag) {
        using Index = typename decltype(index_tag)::type;
        ResizeNearestKernel<T, Index><<<BlocksFor(n), kThreads, 0, stream>>>(
            static_cast<const T*>(src), static_cast<T*>(dst), table, a,
            extrapolation, static_cast<Index>(n));
        return cudaGetLastError();
      });
    }
  });
}

namespace {

template <typename T, typename Acc>
cudaError_t LaunchInterpolate(const void* src, const ResizeParams& p,
                              const ResizeRunArgs& a, int64_t n,
                              double extrapolation, void* scratch, void* dst,
                              cudaStream_t stream) {
  const ResizeTap* table = ResizeTables(scratch);
  const int* spread = static_cast<const int*>(scratch);
  return ByIndexType(n, [&](auto index_tag) {
    using Index = typename decltype(index_tag)::type;
    if (p.interp == ResizeInterp::kLinear) {
      ResizeInterpKernel<T, Acc, 2, Index>
          <<<BlocksFor(n), kThreads, 0, stream>>>(
              static_cast<const T*>(src), static_cast<T*>(dst), table, spread,
              a, static_cast<Acc>(extrapolation), static_cast<Index>(n));
    } else {
      ResizeInterpKernel<T, Acc, 4, Index>
          <<<BlocksFor(n), kThreads, 0, stream>>>(
              static_cast<const T*>(src), static_cast<T*>(dst), table, spread,
              a, static_cast<Acc>(extrapolation), static_cast<Index>(n));
    }
    return cudaGetLastError();
  });
}

}  // namespace

cudaError_t ResizeInterpolate(const void* src, const ResizeParams& p,
                              ResizeElem elem, double extrapolation,
                              void* scratch, void* dst, cudaStream_t stream) {
  if (p.interp == ResizeInterp::kNearest) return cudaErrorInvalidValue;
  ResizeRunArgs a;
  int64_t n = 0;
  const cudaError_t e =
      PrepareResize(p, elem != ResizeElem::kF64, scratch, stream, &a, &n);
  if (e != cudaSuccess || n == 0) return e;
  switch (elem) {
    case ResizeElem::kF32:
      return LaunchInterpolate<float, float>(src, p, a, n, extrapolation,
                                             scratch, dst, stream);
    case ResizeElem::kF16:
      return LaunchInterpolate<__half, float>(src, p, a, n, extrapolation,
                                              scratch, dst, stream);
    case ResizeElem::kBF16:
      return LaunchInterpolate<__nv_bfloat16, float>(
          src, p, a, n, extrapolation, scratch, dst, stream);
    case ResizeElem::kF64:
      return LaunchInterpolate<double, double>(src, p, a, n, extrapolation,
                                               scratch, dst, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace tensorpod::internal::cuda_tensor
