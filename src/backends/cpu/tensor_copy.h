// Data movement shared by the CPU tensor kernels (Transpose, Slice, Expand,
// Tile, ...). Everything moves elements by their byte size (1, 2, 4 or 8),
// so one routine serves every dtype. Functions here allocate nothing and are
// safe to call concurrently on distinct outputs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/status.h"
#include "core/tensor.h"

namespace tensorpod::internal {

// The highest tensor rank the CPU tensor kernels handle: per-dimension state
// lives in fixed arrays so that Compute never allocates.
inline constexpr int kMaxTensorRank = 16;

// Below this many bytes per chunk, splitting a copy across threads costs more
// than it saves.
inline constexpr int64_t kCopyGrainBytes = int64_t{1} << 16;

// A strided view of a source buffer: element (i_0, ..., i_{rank-1}) lives at
// sum(i_k * strides[k]) elements from the view's origin. A stride may be 0
// (broadcast) or negative (walking backwards). Tile views a tensor with
// twice its rank, hence the capacity.
struct StridedView {
  int rank = 0;
  int64_t dims[2 * kMaxTensorRank];
  int64_t strides[2 * kMaxTensorRank];
};

// Copies the view whose origin is `src` into dense row-major `dst`. Rows
// read contiguously are memcpy'd; a view that reads its innermost output
// dimension with a stride but another one contiguously (a transpose) is
// copied in cache-sized tiles.
// REQUIRES: elem_size is 1, 2, 4 or 8; every dim >= 0; `dst` does not overlap
// what the view reads.
void CopyStrided(const void* src, const StridedView& view, size_t elem_size,
                 void* dst, int threads);

// memcpy split across threads for large buffers. Does nothing when src and
// dst are the same memory (a runtime that aliases a view op's output).
void CopyBytes(const void* src, void* dst, size_t bytes, int threads);

// Fills `count` elements of `elem_size` bytes at `dst` with the element at
// `value`. REQUIRES: elem_size is 1, 2, 4 or 8.
void FillElements(void* dst, int64_t count, const void* value, size_t elem_size,
                  int threads);

// UNIMPLEMENTED naming the node and dtype unless the tensor kernels can move
// elements of `dtype`.
Status CheckMovable(DType dtype, std::string_view where);

// UNIMPLEMENTED naming the node unless `rank` <= kMaxTensorRank.
Status CheckRank(int64_t rank, std::string_view where);

}  // namespace tensorpod::internal
