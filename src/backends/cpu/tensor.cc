// CPU kernels of the data-movement ops. Each moves elements by byte size, so
// every dtype works; float32 and int64 (shape subgraphs) are the common ones.
// Output shapes come from the schemas in src/ops/tensor.cc; kernels reread
// only what shapes cannot tell (Slice starts and steps, pads, perm, ...).
#include "ops/tensor.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/parallel.h"
#include "backends/cpu/tensor_copy.h"
#include "backends/cpu/tensor_pad.h"

namespace tensorpod::internal {
namespace {

// Reshape, Flatten, Squeeze and Unsqueeze: the output holds the input's
// bytes unchanged (a runtime may alias the two, which CopyBytes allows).
class ViewCopyKernel : public Kernel {
 public:
  Status Compute(KernelContext& ctx) const override {
    CopyBytes(ctx.input(0).raw_data(), ctx.output(0).raw_data(),
              ctx.output(0).nbytes(), ctx.threads);
    return Status::Ok();
  }
};

StatusOr<std::unique_ptr<Kernel>> CreateViewCopy(const NodeDef&) {
  return MakeKernel<ViewCopyKernel>();
}

class TransposeKernel : public Kernel {
 public:
  TransposeKernel(std::string where, std::vector<int64_t> perm)
      : where_(std::move(where)), perm_(std::move(perm)) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& in = ctx.input(0);
    TP_RETURN_IF_ERROR(CheckMovable(in.dtype(), where_));
    TP_RETURN_IF_ERROR(CheckRank(in.rank(), where_));
    const int r = static_cast<int>(in.rank());
    int64_t in_strides[kMaxTensorRank];
    DenseStrides(in.shape(), in_strides);
    StridedView view;
    view.rank = r;
    for (int i = 0; i < r; ++i) {
      // No perm attribute reverses the dimensions.
      const int64_t p = perm_.empty() ? r - 1 - i : perm_[i];
      view.dims[i] = in.dim(p);
      view.strides[i] = in_strides[p];
    }
    CopyStrided(in.raw_data(), view, DTypeSize(in.dtype()),
                ctx.output(0).raw_data(), ctx.threads);
    return Status::Ok();
  }

 private:
  std::string where_;
  std::vector<int64_t> perm_;
};

StatusOr<std::unique_ptr<Kernel>> CreateTranspose(const NodeDef& node) {
  return MakeKernel<TransposeKernel>(KernelWhere(node), node.attrs->GetInts("perm"));
}

// Concat and Split view each tensor as [outer, axis * inner] rows and move
// one row piece per input/output.
class ConcatKernel : public Kernel {
 public:
  ConcatKernel(std::string where, int64_t axis)
      : where_(std::move(where)), axis_(axis) {}

  Status Compute(KernelContext& ctx) const override {
    Tensor& out = ctx.output(0);
    TP_RETURN_IF_ERROR(CheckMovable(out.dtype(), where_));
    if (out.num_elements() == 0) return Status::Ok();
    const int64_t axis = axis_ < 0 ? axis_ + out.rank() : axis_;
    const int64_t outer = DimProduct(out.shape(), 0, axis);
    const int64_t inner_bytes = DimProduct(out.shape(), axis + 1, out.rank()) *
                                static_cast<int64_t>(DTypeSize(out.dtype()));
    const int64_t out_row = out.dim(axis) * inner_bytes;
    char* dst = static_cast<char*>(out.raw_data());
    const auto& inputs = ctx.inputs;
    ParallelFor(
        outer, ctx.threads, std::max<int64_t>(1, kCopyGrainBytes / out_row),
        [&](int64_t begin, int64_t end) {
          for (int64_t o = begin; o < end; ++o) {
            char* d = dst + o * out_row;
            for (const Tensor* in : inputs) {
              const int64_t bytes = in->dim(axis) * inner_bytes;
              std::memcpy(d,
                          static_cast<const char*>(in->raw_data()) + o * bytes,
                          bytes);
              d += bytes;
            }
          }
        });
    return Status::Ok();
  }

 private:
  std::string where_;
  int64_t axis_;
};

StatusOr<std::unique_ptr<Kernel>> CreateConcat(const NodeDef& node) {
  TP_ASSIGN_OR_RETURN(int64_t axis, node.attrs->RequireInt("axis"));
  return MakeKernel<ConcatKernel>(KernelWhere(node), axis);
}

class SplitKernel : public Kernel {
 public:
  SplitKernel(std::string where, int64_t axis)
      : where_(std::move(where)), axis_(axis) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& in = ctx.input(0);
    TP_RETURN_IF_ERROR(CheckMovable(in.dtype(), where_));
    for (const Tensor* out : ctx.outputs) {
      // Each output's size along the axis places the next one.
      TP_CHECK_ARG(out != nullptr,
                   where_ << ": every output of a Split must be named");
    }
    if (in.num_elements() == 0) return Status::Ok();
    const int64_t axis = axis_ < 0 ? axis_ + in.rank() : axis_;
    const int64_t outer = DimProduct(in.shape(), 0, axis);
    const int64_t inner_bytes = DimProduct(in.shape(), axis + 1, in.rank()) *
                                static_cast<int64_t>(DTypeSize(in.dtype()));
    const int64_t in_row = in.dim(axis) * inner_bytes;
    const char* src = static_cast<const char*>(in.raw_data());
    const auto& outputs = ctx.outputs;
    ParallelFor(
        outer, ctx.threads, std::max<int64_t>(1, kCopyGrainBytes / in_row),
        [&](int64_t begin, int64_t end) {
          for (int64_t o = begin; o < end; ++o) {
            const char* s = src + o * in_row;
            for (Tensor* out : outputs) {
              const int64_t bytes = out->dim(axis) * inner_bytes;
              std::memcpy(static_cast<char*>(out->raw_data()) + o * bytes, s,
                          bytes);
              s += bytes;
            }
          }
        });
    return Status::Ok();
  }

 private:
  std::string where_;
  int64_t axis_;
};

StatusOr<std::unique_ptr<Kernel>> CreateSplit(const NodeDef& node) {
  return MakeKernel<SplitKernel>(KernelWhere(node), node.attrs->GetInt("axis", 0));
}

class SliceKernel : public Kernel {
 public:
  SliceKernel(std::string where, int opset, const Attributes& attrs)
      : where_(std::move(where)), opset_(opset), attrs_(attrs) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& in = ctx.input(0);
    Tensor& out = ctx.output(0);
    TP_RETURN_IF_ERROR(CheckMovable(in.dtype(), where_));
    TP_RETURN_IF_ERROR(CheckRank(in.rank(), where_));
    if (out.num_elements() == 0) return Status::Ok();
    IntList lists[4];  // starts, ends, axes, steps
    if (opset_ < 10) {
      const char* names[3] = {"starts", "ends", "axes"};
      for (int i = 0; i < 3; ++i) {
        TP_ASSIGN_OR_RETURN(lists[i], AttrIntList(attrs_, names[i], where_));
      }
    } else {
      const char* names[4] = {"\"starts\"", "\"ends\"", "\"axes\"",
                              "\"steps\""};
      for (int i = 0; i < 4; ++i) {
        if (!ctx.has_input(i + 1)) continue;
        TP_RETURN_IF_ERROR(CheckIntTensor(ctx.input(i + 1), where_, names[i]));
        lists[i] = IntList(&ctx.input(i + 1));
      }
    }
    SliceAxis axes[kMaxTensorRank];
    TP_RETURN_IF_ERROR(ResolveSlice(where_, in.shape(), lists[0], lists[1],
                                    lists[2], lists[3], axes));
    int64_t in_strides[kMaxTensorRank];
    DenseStrides(in.shape(), in_strides);
    const size_t elem = DTypeSize(in.dtype());
    StridedView view;
    view.rank = static_cast<int>(in.rank());
    int64_t origin = 0;
    for (int d = 0; d < view.rank; ++d) {
      origin += axes[d].start * in_strides[d];
      view.dims[d] = axes[d].count;
      view.strides[d] = axes[d].step * in_strides[d];
    }
    CopyStrided(static_cast<const char*>(in.raw_data()) +
                    origin * static_cast<int64_t>(elem),
                view, elem, out.raw_data(), ctx.threads);
    return Status::Ok();
  }

 private:
  std::string where_;
  int opset_;
  const Attributes& attrs_;
};

StatusOr<std::unique_ptr<Kernel>> CreateSlice(const NodeDef& node) {
  return MakeKernel<SliceKernel>(KernelWhere(node), node.opset, *node.attrs);
}

class GatherKernel : public Kernel {
 public:
  GatherKernel(std::string where, int64_t axis)
      : where_(std::move(where)), axis_(axis) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& data = ctx.input(0);
    const Tensor& indices = ctx.input(1);
    TP_RETURN_IF_ERROR(CheckMovable(data.dtype(), where_));
    switch (indices.dtype()) {
      case DType::kI64:
        return Run<int64_t>(data, indices, &ctx.output(0), ctx.threads);
      case DType::kI32:
        return Run<int32_t>(data, indices, &ctx.output(0), ctx.threads);
      default:
        return TP_ERROR(kUnimplemented, where_ << ": indices of dtype "
                                               << DTypeName(indices.dtype())
                                               << " are not supported");
    }
  }

 private:
  template <typename I>
  Status Run(const Tensor& data, const Tensor& indices, Tensor* out,
             int threads) const {
    const int64_t axis = axis_ < 0 ? axis_ + data.rank() : axis_;
    const int64_t dim = data.dim(axis);
    const I* idx = indices.data<I>();
    const int64_t n = indices.num_elements();
    for (int64_t k = 0; k < n; ++k) {
      TP_CHECK_ARG(idx[k] >= -dim && idx[k] < dim,
                   where_ << ": index " << static_cast<int64_t>(idx[k])
                          << " at position " << k
                          << " of input \"indices\" is out of range for axis "
                          << axis << " of size " << dim);
    }
    if (out->num_elements() == 0) return Status::Ok();
    const int64_t outer = DimProduct(data.shape(), 0, axis);
    const int64_t block = DimProduct(data.shape(), axis + 1, data.rank()) *
                          static_cast<int64_t>(DTypeSize(data.dtype()));
    const char* src = static_cast<const char*>(data.raw_data());
    char* dst = static_cast<char*>(out->raw_data());
    ParallelFor(
        outer * n, threads, std::max<int64_t>(1, kCopyGrainBytes / block),
        [&](int64_t begin, int64_t end) {
          for (int64_t u = begin; u < end; ++u) {
            const int64_t o = u / n;
            int64_t i = idx[u - o * n];
            if (i < 0) i += dim;
            std::memcpy(dst + u * block, src + (o * dim + i) * block, block);
          }
        });
    return Status::Ok();
  }

  std::string where_;
  int64_t axis_;
};

StatusOr<std::unique_ptr<Kernel>> CreateGather(const NodeDef& node) {
  return MakeKernel<GatherKernel>(KernelWhere(node), node.attrs->GetInt("axis", 0));
}

class ShapeKernel : public Kernel {
 public:
  ShapeKernel(int opset, const Attributes& attrs)
      : opset_(opset), attrs_(attrs) {}

  Status Compute(KernelContext& ctx) const override {
    const Shape& shape = ctx.input(0).shape();
    int64_t start = 0;
    int64_t count = 0;
    ShapeOpRange(static_cast<int64_t>(shape.size()), attrs_, opset_, &start,
                 &count);
    std::copy_n(shape.begin() + start, count, ctx.output(0).data<int64_t>());
    return Status::Ok();
  }

 private:
  int opset_;
  const Attributes& attrs_;
};

StatusOr<std::unique_ptr<Kernel>> CreateShape(const NodeDef& node) {
  return MakeKernel<ShapeKernel>(node.opset, *node.attrs);
}

class SizeKernel : public Kernel {
 public:
  Status Compute(KernelContext& ctx) const override {
    *ctx.output(0).data<int64_t>() = ctx.input(0).num_elements();
    return Status::Ok();
  }
};

StatusOr<std::unique_ptr<Kernel>> CreateSize(const NodeDef&) {
  return MakeKernel<SizeKernel>();
}

// Expand reads the input with stride 0 along broadcast dimensions.
class ExpandKernel : public Kernel {
 public:
  explicit ExpandKernel(std::string where) : where_(std::move(where)) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& in = ctx.input(0);
    Tensor& out = ctx.output(0);
    TP_RETURN_IF_ERROR(CheckMovable(in.dtype(), where_));
    TP_RETURN_IF_ERROR(CheckRank(out.rank(), where_));
    int64_t in_strides[kMaxTensorRank];
    DenseStrides(in.shape(), in_strides);
    StridedView view;
    view.rank = static_cast<int>(out.rank());
    const int64_t lead = out.rank() - in.rank();
    for (int d = 0; d < view.rank; ++d) {
      view.dims[d] = out.dim(d);
      const bool broadcast = d < lead || in.dim(d - lead) != out.dim(d);
      view.strides[d] = broadcast ? 0 : in_strides[d - lead];
    }
    CopyStrided(in.raw_data(), view, DTypeSize(in.dtype()), out.raw_data(),
                ctx.threads);
    return Status::Ok();
  }

 private:
  std::string where_;
};

StatusOr<std::unique_ptr<Kernel>> CreateExpand(const NodeDef& node) {
  return MakeKernel<ExpandKernel>(KernelWhere(node));
}

// Tile views the output [r0*d0, r1*d1, ...] as [r0, d0, r1, d1, ...] reading
// the input with stride 0 along each repeat.
class TileKernel : public Kernel {
 public:
  explicit TileKernel(std::string where) : where_(std::move(where)) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& in = ctx.input(0);
    Tensor& out = ctx.output(0);
    TP_RETURN_IF_ERROR(CheckMovable(in.dtype(), where_));
    TP_RETURN_IF_ERROR(CheckRank(in.rank(), where_));
    if (out.num_elements() == 0) return Status::Ok();
    int64_t in_strides[kMaxTensorRank];
    DenseStrides(in.shape(), in_strides);
    StridedView view;
    view.rank = static_cast<int>(2 * in.rank());
    for (int d = 0; d < in.rank(); ++d) {
      view.dims[2 * d] = out.dim(d) / in.dim(d);
      view.strides[2 * d] = 0;
      view.dims[2 * d + 1] = in.dim(d);
      view.strides[2 * d + 1] = in_strides[d];
    }
    CopyStrided(in.raw_data(), view, DTypeSize(in.dtype()), out.raw_data(),
                ctx.threads);
    return Status::Ok();
  }

 private:
  std::string where_;
};

StatusOr<std::unique_ptr<Kernel>> CreateTile(const NodeDef& node) {
  return MakeKernel<TileKernel>(KernelWhere(node));
}

class FillKernel : public Kernel {
 public:
  FillKernel(uint64_t value_bits, size_t elem_size)
      : value_bits_(value_bits), elem_size_(elem_size) {}

  Status Compute(KernelContext& ctx) const override {
    Tensor& out = ctx.output(0);
    FillElements(out.raw_data(), out.num_elements(), &value_bits_, elem_size_,
                 ctx.threads);
    return Status::Ok();
  }

 private:
  uint64_t value_bits_;  // the element's bytes, little end first
  size_t elem_size_;
};

StatusOr<std::unique_ptr<Kernel>> CreateConstantOfShape(const NodeDef& node) {
  const std::string where = KernelWhere(node);
  uint64_t bits = 0;
  const Tensor* value = node.attrs->GetTensor("value");
  if (value == nullptr) return MakeKernel<FillKernel>(bits, sizeof(float));
  TP_RETURN_IF_ERROR(CheckMovable(value->dtype(), where));
  TP_CHECK_ARG(value->num_elements() == 1,
               where << ": attribute \"value\" must hold one element");
  std::memcpy(&bits, value->raw_data(), DTypeSize(value->dtype()));
  return MakeKernel<FillKernel>(bits, DTypeSize(value->dtype()));
}

class ConstantKernel : public Kernel {
 public:
  explicit ConstantKernel(Tensor value) : value_(std::move(value)) {}

  Status Compute(KernelContext& ctx) const override {
    CopyBytes(value_.raw_data(), ctx.output(0).raw_data(), value_.nbytes(),
              ctx.threads);
    return Status::Ok();
  }

 private:
  Tensor value_;  // shares the attribute's buffer or owns a built one
};

StatusOr<std::unique_ptr<Kernel>> CreateConstant(const NodeDef& node) {
  TP_ASSIGN_OR_RETURN(Tensor value, ConstantOpValue(*node.attrs, KernelWhere(node)));
  return MakeKernel<ConstantKernel>(std::move(value));
}

class RangeKernel : public Kernel {
 public:
  explicit RangeKernel(std::string where) : where_(std::move(where)) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& start = ctx.input(0);
    const Tensor& delta = ctx.input(2);
    Tensor& out = ctx.output(0);
    switch (out.dtype()) {
      case DType::kF32:
        return Run<float>(start, delta, &out);
      case DType::kF64:
        return Run<double>(start, delta, &out);
      case DType::kI16:
        return Run<int16_t>(start, delta, &out);
      case DType::kI32:
        return Run<int32_t>(start, delta, &out);
      case DType::kI64:
        return Run<int64_t>(start, delta, &out);
      default:
        return TP_ERROR(kUnimplemented, where_ << ": dtype "
                                               << DTypeName(out.dtype())
                                               << " is not supported");
    }
  }

 private:
  template <typename T>
  static Status Run(const Tensor& start_t, const Tensor& delta_t, Tensor* out) {
    const T start = start_t.data<T>()[0];
    const T delta = delta_t.data<T>()[0];
    T* dst = out->data<T>();
    for (int64_t i = 0; i < out->num_elements(); ++i) {
      dst[i] = static_cast<T>(start + static_cast<T>(i) * delta);
    }
    return Status::Ok();
  }

  std::string where_;
};

StatusOr<std::unique_ptr<Kernel>> CreateRange(const NodeDef& node) {
  return MakeKernel<RangeKernel>(KernelWhere(node));
}

}  // namespace

void RegisterTensorKernels(KernelRegistry* r) {
  for (const char* op : {"Reshape", "Flatten", "Squeeze", "Unsqueeze"})
    r->Add(op, CreateViewCopy);
  r->Add("Transpose", CreateTranspose);
  r->Add("Concat", CreateConcat);
  r->Add("Split", CreateSplit);
  r->Add("Slice", CreateSlice);
  r->Add("Gather", CreateGather);
  r->Add("Shape", CreateShape);
  r->Add("Size", CreateSize);
  r->Add("Expand", CreateExpand);
  r->Add("Tile", CreateTile);
  r->Add("ConstantOfShape", CreateConstantOfShape);
  r->Add("Constant", CreateConstant);
  r->Add("Range", CreateRange);
  r->Add("Pad", CreatePadKernel);
}

}  // namespace tensorpod::internal
