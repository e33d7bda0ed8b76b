#include "backends/cpu/nn_dnnl.h"

#include <algorithm>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/tensor.h"

namespace tensorpod::internal {

dnnl::engine& DnnlEngine() {
  static dnnl::engine* engine = new dnnl::engine(dnnl::engine::kind::cpu, 0);
  return *engine;
}

dnnl::stream& DnnlThreadStream() {
  thread_local dnnl::stream stream(DnnlEngine());
  return stream;
}

void SetDnnlThreads(int threads) {
#ifdef _OPENMP
  omp_set_num_threads(std::max(threads, 1));
#endif
}

size_t AlignScratch(size_t bytes) {
  return (bytes + kTensorAlignment - 1) / kTensorAlignment * kTensorAlignment;
}

}  // namespace tensorpod::internal
