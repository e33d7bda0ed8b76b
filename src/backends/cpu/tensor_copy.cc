#include "backends/cpu/tensor_copy.h"

#include <algorithm>
#include <cstring>

#ifdef __AVX2__
#include <immintrin.h>
#endif

#include "backends/cpu/parallel.h"

namespace tensorpod::internal {
namespace {

// Side of the square tiles a transposing copy moves at once: 32x32 elements
// of up to 8 bytes read and write within L1.
constexpr int64_t kTile = 32;

// Drops size-1 dimensions and merges neighbours the view walks as one, so
// the copy loops run over as few and as long dimensions as possible.
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

// Copies row by row: the last dimension is a row, read with its stride
// (memcpy when 1, a fill when 0).
template <typename T>
void CopyRows(const T* src, const StridedView& v, T* dst, int threads) {
  const int r = v.rank;
  const int64_t row_len = v.dims[r - 1];
  const int64_t inner = v.strides[r - 1];
  int64_t rows = 1;
  for (int k = 0; k < r - 1; ++k) rows *= v.dims[k];
  const int64_t row_bytes = row_len * static_cast<int64_t>(sizeof(T));
  const int64_t grain = std::max<int64_t>(1, kCopyGrainBytes / row_bytes);
  ParallelFor(rows, threads, grain, [&](int64_t begin, int64_t end) {
    int64_t coord[2 * kMaxTensorRank];
    int64_t offset = 0;
    int64_t rem = begin;
    for (int k = r - 2; k >= 0; --k) {
      coord[k] = rem % v.dims[k];
      rem /= v.dims[k];
      offset += coord[k] * v.strides[k];
    }
    T* out = dst + begin * row_len;
    for (int64_t row = begin; row < end; ++row, out += row_len) {
      const T* in = src + offset;
      if (inner == 1) {
        std::memcpy(out, in, row_bytes);
      } else if (inner == 0) {
        std::fill_n(out, row_len, *in);
      } else {
        for (int64_t j = 0; j < row_len; ++j) out[j] = in[j * inner];
      }
      for (int k = r - 2; k >= 0; --k) {
        if (++coord[k] < v.dims[k]) {
          offset += v.strides[k];
          break;
        }
        offset -= (v.dims[k] - 1) * v.strides[k];
        coord[k] = 0;
      }
    }
  });
}

#ifdef __AVX2__
// dst[i * ld_dst + j] = src[j * ld_src + i] for an 8x8 block of 32-bit
// elements, in registers.
inline void Transpose8x8(const uint32_t* src, int64_t ld_src, uint32_t* dst,
                         int64_t ld_dst) {
  auto load = [&](int j) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(src + j * ld_src));
  };
  const __m256 r0 = load(0), r1 = load(1), r2 = load(2), r3 = load(3);
  const __m256 r4 = load(4), r5 = load(5), r6 = load(6), r7 = load(7);
  const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
  const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
  const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
  const __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  auto store = [&](int i, __m256 v) {
    _mm256_storeu_ps(reinterpret_cast<float*>(dst + i * ld_dst), v);
  };
  store(0, _mm256_permute2f128_ps(s0, s4, 0x20));
  store(1, _mm256_permute2f128_ps(s1, s5, 0x20));
  store(2, _mm256_permute2f128_ps(s2, s6, 0x20));
  store(3, _mm256_permute2f128_ps(s3, s7, 0x20));
  store(4, _mm256_permute2f128_ps(s0, s4, 0x31));
  store(5, _mm256_permute2f128_ps(s1, s5, 0x31));
  store(6, _mm256_permute2f128_ps(s2, s6, 0x31));
  store(7, _mm256_permute2f128_ps(s3, s7, 0x31));
}
#endif

// dst[i * ld_dst + j] = src[j * ld_src + i] for i < ni, j < nj: one tile.
template <typename T>
void TransposeTile(const T* src, int64_t ld_src, T* dst, int64_t ld_dst,
                   int64_t ni, int64_t nj) {
  int64_t i_done = 0;
  int64_t j_done = 0;
#ifdef __AVX2__
  // float32 is the hot dtype: full 8x8 blocks go through registers.
  if constexpr (sizeof(T) == 4) {
    i_done = ni / 8 * 8;
    j_done = nj / 8 * 8;
    for (int64_t i = 0; i < i_done; i += 8) {
      for (int64_t j = 0; j < j_done; j += 8) {
        Transpose8x8(src + i + j * ld_src, ld_src, dst + i * ld_dst + j,
                     ld_dst);
      }
    }
  }
#endif
  // What the blocks left: the ragged columns of every row, then the ragged
  // rows.
  for (int64_t i = 0; i < i_done; ++i) {
    for (int64_t j = j_done; j < nj; ++j)
      dst[i * ld_dst + j] = src[j * ld_src + i];
  }
  for (int64_t i = i_done; i < ni; ++i) {
    for (int64_t j = 0; j < nj; ++j) dst[i * ld_dst + j] = src[j * ld_src + i];
  }
}

// A transposing copy: output dimension `a` reads the source contiguously
// while the last output dimension (written contiguously) reads it with a
// stride. Both are walked in kTile x kTile tiles so each tile's source and
// destination lines stay in cache; other dimensions form a batch.
template <typename T>
void CopyTransposed(const T* src, const StridedView& v, int a, T* dst,
                    int threads) {
  const int r = v.rank;
  int64_t dst_strides[2 * kMaxTensorRank];
  dst_strides[r - 1] = 1;
  for (int k = r - 2; k >= 0; --k)
    dst_strides[k] = dst_strides[k + 1] * v.dims[k + 1];
  const int64_t na = v.dims[a];
  const int64_t nb = v.dims[r - 1];
  const int64_t sb = v.strides[r - 1];
  const int64_t dsa = dst_strides[a];
  int64_t batches = 1;
  for (int k = 0; k < r - 1; ++k) {
    if (k != a) batches *= v.dims[k];
  }
  const int64_t a_tiles = (na + kTile - 1) / kTile;
  const int64_t unit_bytes = kTile * nb * static_cast<int64_t>(sizeof(T));
  const int64_t grain = std::max<int64_t>(1, kCopyGrainBytes / unit_bytes);
  ParallelFor(batches * a_tiles, threads, grain,
              [&](int64_t begin, int64_t end) {
                for (int64_t u = begin; u < end; ++u) {
                  int64_t rem = u / a_tiles;
                  int64_t src_off = 0;
                  int64_t dst_off = 0;
                  for (int k = r - 2; k >= 0; --k) {
                    if (k == a) continue;
                    const int64_t c = rem % v.dims[k];
                    rem /= v.dims[k];
                    src_off += c * v.strides[k];
                    dst_off += c * dst_strides[k];
                  }
                  const int64_t a0 = (u % a_tiles) * kTile;
                  const int64_t a1 = std::min(na, a0 + kTile);
                  for (int64_t b0 = 0; b0 < nb; b0 += kTile) {
                    TransposeTile(src + src_off + a0 + b0 * sb, sb,
                                  dst + dst_off + a0 * dsa + b0, dsa, a1 - a0,
                                  std::min(nb, b0 + kTile) - b0);
                  }
                }
              });
}

template <typename T>
void CopyStridedTyped(const T* src, const StridedView& view, T* dst,
                      int threads) {
  for (int k = 0; k < view.rank; ++k) {
    if (view.dims[k] == 0) return;
  }
  const StridedView v = Simplify(view);
  if (v.rank == 0) {
    *dst = *src;
    return;
  }
  const int64_t inner = v.strides[v.rank - 1];
  if (inner != 0 && inner != 1) {
    for (int k = v.rank - 2; k >= 0; --k) {
      if (v.strides[k] == 1) return CopyTransposed(src, v, k, dst, threads);
    }
  }
  CopyRows(src, v, dst, threads);
}

}  // namespace

void CopyStrided(const void* src, const StridedView& view, size_t elem_size,
                 void* dst, int threads) {
  switch (elem_size) {
    case 1:
      return CopyStridedTyped(static_cast<const uint8_t*>(src), view,
                              static_cast<uint8_t*>(dst), threads);
    case 2:
      return CopyStridedTyped(static_cast<const uint16_t*>(src), view,
                              static_cast<uint16_t*>(dst), threads);
    case 4:
      return CopyStridedTyped(static_cast<const uint32_t*>(src), view,
                              static_cast<uint32_t*>(dst), threads);
    case 8:
      return CopyStridedTyped(static_cast<const uint64_t*>(src), view,
                              static_cast<uint64_t*>(dst), threads);
  }
}

void CopyBytes(const void* src, void* dst, size_t bytes, int threads) {
  if (bytes == 0 || src == dst) return;
  const auto* in = static_cast<const char*>(src);
  auto* out = static_cast<char*>(dst);
  // Splitting only pays off for copies much larger than a chunk.
  ParallelFor(
      static_cast<int64_t>(bytes), threads, 16 * kCopyGrainBytes,
      [&](int64_t b, int64_t e) { std::memcpy(out + b, in + b, e - b); });
}

namespace {

template <typename T>
void FillTyped(T* dst, int64_t count, T value, int threads) {
  const int64_t grain =
      std::max<int64_t>(1, kCopyGrainBytes / static_cast<int64_t>(sizeof(T)));
  ParallelFor(count, threads, grain, [&](int64_t b, int64_t e) {
    std::fill(dst + b, dst + e, value);
  });
}

template <typename T>
void FillAs(void* dst, int64_t count, const void* value, int threads) {
  T v;
  std::memcpy(&v, value, sizeof(T));
  FillTyped(static_cast<T*>(dst), count, v, threads);
}

}  // namespace

void FillElements(void* dst, int64_t count, const void* value, size_t elem_size,
                  int threads) {
  switch (elem_size) {
    case 1:
      return FillAs<uint8_t>(dst, count, value, threads);
    case 2:
      return FillAs<uint16_t>(dst, count, value, threads);
    case 4:
      return FillAs<uint32_t>(dst, count, value, threads);
    case 8:
      return FillAs<uint64_t>(dst, count, value, threads);
  }
}

Status CheckMovable(DType dtype, std::string_view where) {
  const size_t size = DTypeSize(dtype);
  if (size == 1 || size == 2 || size == 4 || size == 8) return Status::Ok();
  return TP_ERROR(kUnimplemented, where << ": dtype " << DTypeName(dtype)
                                        << " is not supported");
}

Status CheckRank(int64_t rank, std::string_view where) {
  if (rank <= kMaxTensorRank) return Status::Ok();
  return TP_ERROR(kUnimplemented, where << ": rank " << rank
                                        << " exceeds the CPU backend's "
                                        << kMaxTensorRank);
}

}  // namespace tensorpod::internal
