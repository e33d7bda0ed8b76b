// Multidirectional (numpy) broadcasting for the CPU elementwise kernels.
//
// A BroadcastPlan walks an output together with up to kMaxBroadcastInputs
// inputs, each broadcast to the output's shape. Building it drops size-1
// output dimensions and merges neighbouring dimensions in which every input
// either varies or is broadcast alike, so the common cases collapse to one
// contiguous row: equal shapes (every input varies), a scalar operand (its
// stride is 0), and a trailing-dimension operand such as a bias ([N,C] + [C]
// becomes rows of C with the bias restarting each row). The plan lives on the
// stack: building and walking it allocates nothing.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>

#include "backends/cpu/parallel.h"
#include "core/shape.h"
#include "core/status.h"

namespace tensorpod::internal::elementwise {

inline constexpr int kMaxBroadcastRank = 16;
inline constexpr int kMaxBroadcastInputs = 3;

struct BroadcastPlan {
  int rank = 0;  // merged rank, >= 1
  int num_inputs = 0;
  int64_t total = 0;  // output elements
  int64_t dims[kMaxBroadcastRank] = {};
  // Element strides of each input over the merged dims; 0 where broadcast.
  int64_t strides[kMaxBroadcastInputs][kMaxBroadcastRank] = {};

  int64_t inner() const { return dims[rank - 1]; }
  // 1 if input k varies along the innermost dim, 0 if it is repeated.
  int64_t inner_stride(int k) const { return strides[k][rank - 1]; }
};

// Plans the walk of `out` with `inputs` broadcast to it. Each input's rank
// must not exceed the output's and each of its dims must be 1 or the
// output's; a violation is a bug in shape inference (INTERNAL). UNIMPLEMENTED
// when the merged rank exceeds kMaxBroadcastRank.
Status MakeBroadcastPlan(const Shape& out,
                         std::initializer_list<const Shape*> inputs,
                         BroadcastPlan* plan);

// Calls row(in_offsets, out_offset, n) for runs of n consecutive output
// elements that lie in one innermost row: input k's elements for the run
// start at in_offsets[k] and advance by inner_stride(k). Runs are spread over
// up to `threads` threads, at least `grain` elements each; each element is
// visited exactly once.
template <typename RowFn>
void ForEachBroadcastRow(const BroadcastPlan& p, int threads, int64_t grain,
                         RowFn&& row) {
  if (p.total == 0) return;
  const int64_t inner = p.inner();
  const int outer_rank = p.rank - 1;
  ParallelFor(p.total, threads, grain, [&](int64_t begin, int64_t end) {
    int64_t idx[kMaxBroadcastRank];
    int64_t base[kMaxBroadcastInputs] = {};
    int64_t off[kMaxBroadcastInputs];
    // One division per chunk to find where it starts; the walk below only
    // adds strides.
    int64_t r = begin / inner;
    int64_t col = begin - r * inner;
    for (int d = outer_rank - 1; d >= 0; --d) {
      idx[d] = r % p.dims[d];
      r /= p.dims[d];
      for (int k = 0; k < p.num_inputs; ++k)
        base[k] += idx[d] * p.strides[k][d];
    }
    int64_t pos = begin;
    while (true) {
      const int64_t n = std::min(inner - col, end - pos);
      for (int k = 0; k < p.num_inputs; ++k)
        off[k] = base[k] + col * p.strides[k][outer_rank];
      row(static_cast<const int64_t*>(off), pos, n);
      pos += n;
      if (pos >= end) break;
      col = 0;
      for (int d = outer_rank - 1; d >= 0; --d) {
        for (int k = 0; k < p.num_inputs; ++k) base[k] += p.strides[k][d];
        if (++idx[d] < p.dims[d]) break;
        for (int k = 0; k < p.num_inputs; ++k)
          base[k] -= p.strides[k][d] * p.dims[d];
        idx[d] = 0;
      }
    }
  });
}

}  // namespace tensorpod::internal::elementwise
