// CPU kernel of TopK. Each slice along the axis is copied into a per-chunk
// buffer and partially sorted by index; equal values keep the lower index
// first (the ONNX reference's stable order) and NaN counts as the largest
// value. The output is always sorted, which "sorted = 0" permits.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <type_traits>

#include "backends/cpu/dtype_dispatch.h"
#include "backends/cpu/parallel.h"
#include "backends/cpu/reduction_kernels.h"

namespace tensorpod::internal {
namespace {

// a > b with NaN above every number, a strict weak order for std::sort.
template <typename T>
bool Greater(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(a)) return !std::isnan(b);
    if (std::isnan(b)) return false;
  }
  return a > b;
}

template <typename T>
Status RunTopK(const Tensor& x, int64_t axis, int64_t k, bool largest,
               KernelContext& ctx) {
  const AxisSplit s = SplitAtAxis(x.shape(), axis);
  const int64_t slices = s.outer * s.inner;
  if (k == 0 || slices == 0) return Status::Ok();
  const int64_t chunks =
      std::max<int64_t>(1, std::min<int64_t>(ctx.threads, slices));
  const size_t bytes = (sizeof(int64_t) + sizeof(T)) * s.axis * chunks;
  void* scratch = ctx.scratch->Get(bytes);
  if (scratch == nullptr)
    return TP_ERROR(kResourceExhausted,
                    "TopK scratch of " << bytes << " bytes");
  int64_t* all_order = static_cast<int64_t*>(scratch);
  T* all_values = reinterpret_cast<T*>(all_order + s.axis * chunks);

  const T* in = x.data<T>();
  T* values_out = ctx.output(0).data<T>();
  int64_t* indices_out = ctx.outputs.size() > 1 && ctx.outputs[1] != nullptr
                             ? ctx.output(1).data<int64_t>()
                             : nullptr;
  ParallelFor(chunks, ctx.threads, 1, [&](int64_t cb, int64_t ce) {
    for (int64_t c = cb; c < ce; ++c) {
      int64_t* order = all_order + c * s.axis;
      T* v = all_values + c * s.axis;
      auto before = [&](int64_t a, int64_t b) {
        const bool a_first =
            largest ? Greater(v[a], v[b]) : Greater(v[b], v[a]);
        const bool b_first =
            largest ? Greater(v[b], v[a]) : Greater(v[a], v[b]);
        return a_first || (!b_first && a < b);
      };
      for (int64_t slice = c * slices / chunks;
           slice < (c + 1) * slices / chunks; ++slice) {
        const int64_t o = slice / s.inner;
        const int64_t i = slice % s.inner;
        const T* src = in + o * s.axis * s.inner + i;
        for (int64_t r = 0; r < s.axis; ++r) v[r] = src[r * s.inner];
        std::iota(order, order + s.axis, int64_t{0});
        std::partial_sort(order, order + k, order + s.axis, before);
        const int64_t dst = o * k * s.inner + i;
        for (int64_t j = 0; j < k; ++j) {
          values_out[dst + j * s.inner] = v[order[j]];
          if (indices_out != nullptr) indices_out[dst + j * s.inner] = order[j];
        }
      }
    }
  });
  return Status::Ok();
}

class TopKKernel : public Kernel {
 public:
  TopKKernel(int64_t axis, bool largest) : axis_(axis), largest_(largest) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    TP_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(axis_, x.rank(), "axis"));
    // The inferred output holds K along the axis, whichever way K came.
    const int64_t k = ctx.output(0).dim(axis);
    return VisitDType<float, double, int32_t, int64_t, uint8_t, int8_t>(
        x.dtype(), "TopK", [&](auto tag) { return RunTopK<decltype(tag)>(x, axis, k, largest_, ctx); });
  }

 private:
  int64_t axis_;
  bool largest_;
};

}  // namespace

StatusOr<std::unique_ptr<Kernel>> CreateTopKKernel(const NodeDef& node) {
  return std::unique_ptr<Kernel>(new TopKKernel(
      node.attrs->GetInt("axis", -1), node.attrs->GetInt("largest", 1) != 0));
}

}  // namespace tensorpod::internal
