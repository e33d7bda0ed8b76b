// Note [Prepacked MatMul]
// tp.FusedMatMul with constant weights and at least kPackedMinRows rows
// runs as a oneDNN matmul primitive whose weights were reordered once, on
// the first call of each shape, into the blocked layout its kernel reads,
// with the bias (and a ReLU) applied by the kernel as it stores each tile.
// The general path (dnnl_sgemm) repacks W on every call and adds the bias
// in a second pass over the output. On the 6-layer encoder at batch 8 (1024
// rows) that made whole runs 1-3% faster (1 and 2 threads, alternating
// runs of `tensorpod bench`); at batch 1 (128 rows) it made them 4% slower,
// and alone, 1x512x256 took 4.1 us as a primitive against 2.6 us as sgemm,
// so smaller products keep sgemm.
#pragma once

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "backends/cpu/nn_dnnl.h"
#include "backend/kernel.h"

namespace tensorpod::internal {

class PackedMatMul {
 public:
  static constexpr int64_t kPackedMinRows = 512;

  // y[m, n] = a[m, k] w[k, n] (+ bias[n]) (then max(., 0) when relu). `w`
  // must be the same constant on every call (it is packed once per shape).
  Status Run(KernelContext& ctx, const float* a, const float* w, const float* bias, float* y, int64_t m, int64_t k,
             int64_t n, bool relu) const;

 private:
  struct Entry;
  StatusOr<std::shared_ptr<const Entry>> Build(const float* w, int64_t m, int64_t k, int64_t n, bool bias, bool relu,
                                               int threads) const;
  PrimitiveCache<Entry> cache_;
  // W packed into each layout a primitive asked for, shared by the
  // primitives of every row count (the layout rarely depends on it), so a
  // model served at many batch sizes keeps one packed copy, not one per
  // size. Only touched by Build, which runs under cache_'s lock.
  mutable std::vector<std::pair<dnnl::memory::desc, dnnl::memory>> packed_;
};

}  // namespace tensorpod::internal
