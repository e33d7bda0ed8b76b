#include "backends/cpu/elementwise_broadcast.h"

namespace tensorpod::internal::elementwise {

Status MakeBroadcastPlan(const Shape& out,
                         std::initializer_list<const Shape*> inputs,
                         BroadcastPlan* plan) {
  TP_INTERNAL_CHECK(inputs.size() <= static_cast<size_t>(kMaxBroadcastInputs),
                    inputs.size() << " inputs to broadcast");
  BroadcastPlan& p = *plan;
  p = BroadcastPlan();
  p.num_inputs = static_cast<int>(inputs.size());
  p.total = NumElementsUnchecked(out);
  const size_t out_rank = out.size();
  // Bit k of masks[d] is set when input k is broadcast along merged dim d.
  uint32_t masks[kMaxBroadcastRank] = {};
  for (size_t d = 0; d < out_rank; ++d) {
    const int64_t od = out[d];
    uint32_t mask = 0;
    int k = 0;
    for (const Shape* s : inputs) {
      TP_INTERNAL_CHECK(s->size() <= out_rank,
                        "input " << k << " shape " << ShapeToString(*s)
                                 << " has a higher rank than output "
                                 << ShapeToString(out));
      const size_t lead = out_rank - s->size();
      const int64_t id = d < lead ? 1 : (*s)[d - lead];
      TP_INTERNAL_CHECK(id == od || id == 1,
                        "input " << k << " shape " << ShapeToString(*s)
                                 << " does not broadcast to output "
                                 << ShapeToString(out));
      if (id != od) mask |= 1u << k;
      ++k;
    }
    if (od == 1) continue;  // contributes nothing to any offset
    if (p.rank > 0 && masks[p.rank - 1] == mask) {
      p.dims[p.rank - 1] *= od;
      continue;
    }
    if (p.rank == kMaxBroadcastRank) {
      return TP_ERROR(kUnimplemented,
                      "broadcasting shapes that alternate in more than "
                          << kMaxBroadcastRank << " dimensions (output "
                          << ShapeToString(out) << ")");
    }
    masks[p.rank] = mask;
    p.dims[p.rank++] = od;
  }
  if (p.rank == 0) {  // a single element: every input is read at offset 0
    p.rank = 1;
    p.dims[0] = 1;
    return Status::Ok();
  }
  for (int k = 0; k < p.num_inputs; ++k) {
    int64_t stride = 1;
    for (int d = p.rank - 1; d >= 0; --d) {
      if (masks[d] & (1u << k)) {
        p.strides[k][d] = 0;
      } else {
        p.strides[k][d] = stride;
        stride *= p.dims[d];
      }
    }
  }
  return Status::Ok();
}

}  // namespace tensorpod::internal::elementwise
