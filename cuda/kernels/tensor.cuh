// Launchers of the CUDA layout and indexing kernels (Transpose, Slice,
// Expand, Tile, Gather, Concat, Split, Pad, Resize), called by the host code
// in cuda/tensor.cc. Plain types only, so the host compiler reads this file.
//
// Every launcher enqueues its work on `stream` and returns the launch's
// cudaError_t; none allocates, synchronises or copies from the host, so all
// are safe inside CUDA graph capture. Launchers that only move data take the
// element size in bytes (1, 2, 4 or 8) instead of a dtype: one kernel per
// size serves every dtype of that size. Sources and destinations never
// overlap. Thread-safe (no state).
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace tensorpod::internal::cuda_tensor {

// Most dimensions a strided view may have: tensors up to rank 8 for Tile,
// whose view has twice the input's rank, and up to rank 16 otherwise.
inline constexpr int kMaxViewRank = 16;

// A strided view of a source buffer: output element (i_0, ..., i_{rank-1}),
// stored dense and row-major, reads the source element at
// sum(i_k * strides[k]) elements from the view's origin. Strides may be 0
// (broadcast) or negative (walking backwards). Rank 0 is one element.
struct StridedView {
  int rank = 0;
  int64_t dims[kMaxViewRank] = {};
  int64_t strides[kMaxViewRank] = {};
};

// Copies the view whose origin is `src` into dense `dst`. Contiguous runs
// move as 16-byte vectors where alignment allows; a view that reads its last
// output dimension with a stride but another dimension contiguously (a
// transpose) goes through shared-memory tiles.
// REQUIRES: elem_size is 1, 2, 4 or 8; every dim >= 0.
cudaError_t CopyStrided(const void* src, const StridedView& view, int elem_size,
                        void* dst, cudaStream_t stream);

// Gather along one axis, with data viewed as [outer, axis_dim, inner] and
// `indices` (int32 when index_size is 4, int64 when 8) as a flat list of
// num_indices: out[o, j, k] = data[o, indices[j], k]. A negative index
// counts from the end; an index outside [-axis_dim, axis_dim) yields zeros
// (a kernel cannot report the error ONNX asks for).
cudaError_t Gather(const void* data, int64_t outer, int64_t axis_dim,
                   int64_t inner, int elem_size, const void* indices,
                   int index_size, int64_t num_indices, void* out,
                   cudaStream_t stream);

// Concat and Split view every tensor as `rows` rows; a part's row is
// part_row_bytes[i] bytes long and the joined tensor's row is their
// concatenation (sum of part_row_bytes). Parts may be empty (0 bytes).
// REQUIRES: num_parts >= 1.
cudaError_t ConcatRows(const void* const* parts, const int64_t* part_row_bytes,
                       int num_parts, int64_t rows, void* joined,
                       cudaStream_t stream);
cudaError_t SplitRows(const void* joined, int64_t rows, void* const* parts,
                      const int64_t* part_row_bytes, int num_parts,
                      cudaStream_t stream);

enum class PadFill { kConstant, kReflect, kEdge };

// Where output coordinates along one dimension read: the input dimension is
// first cropped to [lo, lo + len), then padded by `pad` in front.
struct PadAxis {
  int64_t lo = 0;
  int64_t len = 0;
  int64_t pad = 0;
};

struct PadParams {
  int rank = 0;
  PadFill fill = PadFill::kConstant;
  int64_t out_dims[kMaxViewRank] = {};
  int64_t in_strides[kMaxViewRank] = {};
  PadAxis axes[kMaxViewRank];
};

// Pads `src` into `dst` (shape out_dims). The constant fill is read from
// device memory at `value` when it is not null (one element), else it is
// the element whose bytes are `value_bits` (little end first).
// REQUIRES: rank >= 1; reflect pads are shorter than the kept length and
// edge pads have a kept element (see ResolvePads).
cudaError_t Pad(const void* src, const PadParams& p, int elem_size,
                const void* value, uint64_t value_bits, void* dst,
                cudaStream_t stream);

// Resize follows src/backends/cpu/resize.cc (the ONNX reference) exactly.
enum class ResizeInterp { kNearest, kLinear, kCubic };
enum class ResizeCoord {
  kHalfPixel,
  kAsymmetric,
  kAlignCorners,
  kPytorchHalfPixel,
  kTfCropAndResize,
  kTfHalfPixelForNn
};
enum class ResizeRound { kRoundPreferFloor, kRoundPreferCeil, kFloor, kCeil };
// Element types the interpolating modes compute (in float; double for
// kF64).
enum class ResizeElem { kF32, kF16, kBF16, kF64 };

inline constexpr int kMaxResizeRank = 8;

struct ResizeParams {
  ResizeInterp interp = ResizeInterp::kNearest;
  ResizeCoord coord = ResizeCoord::kHalfPixel;
  ResizeRound round = ResizeRound::kRoundPreferFloor;
  double cubic_a = -0.75;
  bool exclude_outside = false;
  int rank = 0;
  int64_t in_dims[kMaxResizeRank] = {};
  int64_t out_dims[kMaxResizeRank] = {};
  double scales[kMaxResizeRank] = {};
  double roi_start[kMaxResizeRank] = {};
  double roi_end[kMaxResizeRank] = {};
};

// Device scratch a Resize launch needs (its per-axis coordinate tables).
size_t ResizeScratchBytes(const ResizeParams& p);

// interp == kNearest: moves elements of elem_size bytes; coordinates
// outside a tf_crop_and_resize box get the element `extrapolation_bits`.
// REQUIRES: 1 <= rank <= kMaxResizeRank, no input dim is 0, `scratch` holds
// ResizeScratchBytes(p) bytes.
cudaError_t ResizeNearest(const void* src, const ResizeParams& p, int elem_size,
                          uint64_t extrapolation_bits, void* scratch, void* dst,
                          cudaStream_t stream);
// interp == kLinear or kCubic; same requirements.
cudaError_t ResizeInterpolate(const void* src, const ResizeParams& p,
                              ResizeElem elem, double extrapolation,
                              void* scratch, void* dst, cudaStream_t stream);

}  // namespace tensorpod::internal::cuda_tensor
