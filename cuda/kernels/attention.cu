// The fused attention kernel (tp.Attention); see attention.cuh for the
// contract.
//
// Note [Attention tiling]
// One pass over the keys with an online softmax (flash-attention style), so
// the [s, skv] scores never reach memory:
// - A block serves one (batch, head) and `warps` consecutive query rows, a
//   warp per row. The block streams the keys in tiles of kTileKeys = 32
//   through shared memory, K and V converted to float on the way in, so a
//   tile is read from global memory once for all the block's rows.
// - Scores: lane j of a warp computes the score of the tile's key j, a dot
//   product of the query row (in shared memory, read as a broadcast) with
//   K's row j (rows padded to an odd stride, so the 32 lanes hit 32
//   different banks).
// - Softmax: the warp keeps its row's running maximum m and running sum l;
//   a tile with maximum above m rescales l and the accumulator by
//   exp(m_old - m_new). While every score so far is -inf the exponent is
//   taken against 0 instead of m (exp(-inf - -inf) would be NaN and poison
//   rows that later see finite scores); a row that is -inf to the end keeps
//   l = 0 and ends as 0 / 0 = NaN, like the unfused Softmax.
// - Output: lane t owns output dimensions t, t + 32, ... of up to
//   kChunk = 128 (4 registers); wider V is split into 128-wide chunks served
//   by separate blocks, each recomputing the scores. Likewise the dot
//   product walks K and Q in 128-wide chunks when d > 128 (the query row is
//   then reloaded for each chunk instead of staying in shared memory).
// Blocks take (batch*head, row block, V chunk) tasks in a grid-stride loop,
// neighbouring blocks sharing a (batch, head) so its K and V stay in L2.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>

#include "kernels/attention.cuh"

namespace tensorpod::internal::cuda_attention {
namespace {

constexpr int kWarpSize = 32;
constexpr unsigned kFullMask = 0xffffffffu;
constexpr int kTileKeys = 32;  // one key per lane
constexpr int kChunk = 128;    // widest slice of d or dv a block holds at once
constexpr int kMaxWarps = 8;
constexpr int kMaxValueRegs = kChunk / kWarpSize;
// A few blocks per SM on the largest supported GPUs (132 SMs): below this
// many tasks, blocks get fewer warps so more SMs have work.
constexpr int64_t kTargetBlocks = 264;
constexpr int64_t kMaxGrid = int64_t{1} << 24;

__host__ __device__ constexpr int64_t CeilDiv(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}
__host__ __device__ constexpr int64_t Min64(int64_t a, int64_t b) {
  return a < b ? a : b;
}

__device__ __forceinline__ float Load(float v) { return v; }
__device__ __forceinline__ float Load(__half v) { return __half2float(v); }
__device__ __forceinline__ float Load(__nv_bfloat16 v) {
  return __bfloat162float(v);
}
template <typename T>
__device__ __forceinline__ T Store(float v);
template <>
__device__ __forceinline__ float Store<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __half Store<__half>(float v) {
  return __float2half_rn(v);
}
template <>
__device__ __forceinline__ __nv_bfloat16 Store<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

__device__ __forceinline__ float WarpMax(float v) {
  for (int o = kWarpSize / 2; o > 0; o /= 2)
    v = fmaxf(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
}
__device__ __forceinline__ float WarpSum(float v) {
  for (int o = kWarpSize / 2; o > 0; o /= 2)
    v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}

// Sizes every thread derives the same way from the shape and the block.
struct Geometry {
  int warps;     // query rows per block
  int k_width;   // widest K/Q chunk: min(d, kChunk)
  int k_stride;  // K tile row stride in shared memory, odd
  int d_chunks;  // K/Q chunks per tile, >= 1 (d == 0 still loads V)
  int v_stride;  // V tile row stride: the value registers' width
  int64_t row_blocks;
  int64_t v_chunks;
  int64_t tasks;
};

// Floats of shared memory: the K tile, the V tile, a query row per warp.
__host__ __device__ int64_t SharedFloats(const Geometry& g) {
  return int64_t{kTileKeys} * g.k_stride + int64_t{kTileKeys} * g.v_stride +
         int64_t{g.warps} * g.k_width;
}

// VALUE_REGS: output dimensions per lane, the value chunk's width / 32
// rounded up. See Note [Attention tiling].
template <typename T, int VALUE_REGS>
__global__ void __launch_bounds__(kMaxWarps* kWarpSize)
    AttentionKernel(const T* __restrict__ q, const T* __restrict__ k,
                    const T* __restrict__ v, const T* __restrict__ mask,
                    T* __restrict__ out, AttentionShape sh, Geometry g) {
  extern __shared__ float smem[];
  float* k_tile = smem;                             // [kTileKeys][k_stride]
  float* v_tile = k_tile + kTileKeys * g.k_stride;  // [kTileKeys][v_stride]
  const int warp = static_cast<int>(threadIdx.x) / kWarpSize;
  const int lane = static_cast<int>(threadIdx.x) % kWarpSize;
  float* q_row = v_tile + kTileKeys * g.v_stride + warp * g.k_width;
  const int threads = static_cast<int>(blockDim.x);
  const int64_t d = sh.d;
  const int64_t dv = sh.dv;
  const int64_t skv = sh.skv;
  const float neg_inf = -INFINITY;

  for (int64_t task = blockIdx.x; task < g.tasks; task += gridDim.x) {
    const int64_t v_chunk = task % g.v_chunks;
    const int64_t row_block = (task / g.v_chunks) % g.row_blocks;
    const int64_t bh = task / (g.v_chunks * g.row_blocks);
    const int64_t b = bh / sh.heads;
    const int64_t h = bh % sh.heads;
    const int64_t i = row_block * g.warps + warp;
    const bool active = i < sh.s;  // warp-uniform
    const int64_t v0 = v_chunk * kChunk;
    const int v_width = static_cast<int>(Min64(kChunk, dv - v0));
    const T* q_src = q + (bh * sh.s + i) * d;
    const T* k_src = k + bh * skv * d;
    const T* v_src = v + bh * skv * dv + v0;
    const T* mask_row = mask == nullptr
                            ? nullptr
                            : mask + b * sh.mask_stride[0] +
                                  h * sh.mask_stride[1] + i * sh.mask_stride[2];

    // The previous task's readers of the query rows and tiles are done.
    __syncthreads();
    if (g.d_chunks == 1 && active) {
      for (int c = lane; c < d; c += kWarpSize) q_row[c] = Load(q_src[c]);
    }

    float m = neg_inf;  // running maximum of the scores
    float l = 0.0f;     // running sum of exp(score - m)
    float acc[VALUE_REGS];
#pragma unroll
    for (int r = 0; r < VALUE_REGS; ++r) acc[r] = 0.0f;

    for (int64_t j0 = 0; j0 < skv; j0 += kTileKeys) {
      const int keys = static_cast<int>(Min64(kTileKeys, skv - j0));
      float dot = 0.0f;
      for (int dc = 0; dc < g.d_chunks; ++dc) {
        const int64_t d0 = int64_t{dc} * kChunk;
        const int width = static_cast<int>(Min64(kChunk, d - d0));
        // Everyone is done reading the tiles being replaced.
        __syncthreads();
        const T* k_tile_src = k_src + j0 * d + d0;
        for (int e = threadIdx.x; e < keys * width; e += threads) {
          const int key = e / width;
          const int c = e - key * width;
          k_tile[key * g.k_stride + c] = Load(k_tile_src[key * d + c]);
        }
        if (g.d_chunks > 1 && active) {
          for (int c = lane; c < width; c += kWarpSize)
            q_row[c] = Load(q_src[d0 + c]);
        }
        if (dc == g.d_chunks - 1) {
          const T* v_tile_src = v_src + j0 * dv;
          for (int e = threadIdx.x; e < keys * v_width; e += threads) {
            const int key = e / v_width;
            const int c = e - key * v_width;
            v_tile[key * g.v_stride + c] = Load(v_tile_src[key * dv + c]);
          }
        }
        __syncthreads();
        if (active && lane < keys) {
          const float* k_row = k_tile + lane * g.k_stride;
#pragma unroll 8
          for (int c = 0; c < width; ++c) dot = fmaf(q_row[c], k_row[c], dot);
        }
      }
      if (!active) continue;  // warp-uniform; the barriers above are shared

      float score = neg_inf;  // keys past the end weigh exp(-inf) = 0
      if (lane < keys) {
        score = sh.scale * dot;
        if (mask_row != nullptr)
          score += Load(mask_row[(j0 + lane) * sh.mask_stride[3]]);
      }
      const float m_new = fmaxf(m, WarpMax(score));
      // See Note [Attention tiling]: exponents against 0 while all is -inf.
      const float base = m_new == neg_inf ? 0.0f : m_new;
      const float rescale = expf(m - base);
      const float p = expf(score - base);
      l = l * rescale + WarpSum(p);
#pragma unroll
      for (int r = 0; r < VALUE_REGS; ++r) acc[r] *= rescale;
      // Lanes past v_width accumulate stale tile entries they never store.
      for (int key = 0; key < keys; ++key) {
        const float pk = __shfl_sync(kFullMask, p, key);
        const float* v_row = v_tile + key * g.v_stride + lane;
#pragma unroll
        for (int r = 0; r < VALUE_REGS; ++r)
          acc[r] = fmaf(pk, v_row[r * kWarpSize], acc[r]);
      }
      m = m_new;
    }

    if (active) {
      T* out_row = out + (bh * sh.s + i) * dv + v0;
#pragma unroll
      for (int r = 0; r < VALUE_REGS; ++r) {
        const int c = r * kWarpSize + lane;
        if (c < v_width) out_row[c] = Store<T>(acc[r] / l);
      }
    }
  }
}

Geometry MakeGeometry(const AttentionShape& sh) {
  Geometry g{};
  g.k_width = static_cast<int>(Min64(sh.d, kChunk));
  g.k_stride = g.k_width | 1;
  g.d_chunks = sh.d > 0 ? static_cast<int>(CeilDiv(sh.d, kChunk)) : 1;
  g.v_chunks = CeilDiv(sh.dv, kChunk);
  g.v_stride =
      static_cast<int>(CeilDiv(Min64(sh.dv, kChunk), kWarpSize) * kWarpSize);
  const int64_t pairs = sh.batch * sh.heads;
  // No more warps than rows; fewer while that leaves SMs idle.
  int warps = kMaxWarps;
  while (warps > 1 && warps / 2 >= sh.s) warps /= 2;
  while (warps > 2 && pairs * CeilDiv(sh.s, warps) * g.v_chunks < kTargetBlocks)
    warps /= 2;
  g.warps = warps;
  g.row_blocks = CeilDiv(sh.s, warps);
  g.tasks = pairs * g.row_blocks * g.v_chunks;
  return g;
}

template <typename T, int VALUE_REGS>
cudaError_t Launch(const void* q, const void* k, const void* v,
                   const void* mask, void* out, const AttentionShape& sh,
                   const Geometry& g, cudaStream_t stream) {
  const size_t smem = static_cast<size_t>(SharedFloats(g)) * sizeof(float);
  const unsigned grid = static_cast<unsigned>(Min64(g.tasks, kMaxGrid));
  AttentionKernel<T, VALUE_REGS><<<grid, g.warps * kWarpSize, smem, stream>>>(
      static_cast<const T*>(q), static_cast<const T*>(k),
      static_cast<const T*>(v), static_cast<const T*>(mask),
      static_cast<T*>(out), sh, g);
  return cudaGetLastError();
}

template <typename T>
cudaError_t LaunchTyped(const void* q, const void* k, const void* v,
                        const void* mask, void* out, const AttentionShape& sh,
                        const Geometry& g, cudaStream_t stream) {
  switch (g.v_stride / kWarpSize) {
    case 1:
      return Launch<T, 1>(q, k, v, mask, out, sh, g, stream);
    case 2:
      return Launch<T, 2>(q, k, v, mask, out, sh, g, stream);
    case 3:
      return Launch<T, 3>(q, k, v, mask, out, sh, g, stream);
    default:
      return Launch<T, kMaxValueRegs>(q, k, v, mask, out, sh, g, stream);
  }
}

}  // namespace

cudaError_t LaunchAttention(Elem elem, const void* q, const void* k,
                            const void* v, const void* mask, void* out,
                            const AttentionShape& shape, cudaStream_t stream) {
  if (shape.batch <= 0 || shape.heads <= 0 || shape.s <= 0 || shape.dv <= 0)
    return cudaSuccess;
  if (shape.skv <= 0) return cudaErrorInvalidValue;
  const Geometry g = MakeGeometry(shape);
  switch (elem) {
    case Elem::kF32:
      return LaunchTyped<float>(q, k, v, mask, out, shape, g, stream);
    case Elem::kF16:
      return LaunchTyped<__half>(q, k, v, mask, out, shape, g, stream);
    case Elem::kBF16:
      return LaunchTyped<__nv_bfloat16>(q, k, v, mask, out, shape, g, stream);
  }
  return cudaErrorInvalidValue;
}

}  // namespace tensorpod::internal::cuda_attention
