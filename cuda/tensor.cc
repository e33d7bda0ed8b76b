// CUDA kernels of the layout and indexing ops: host code (validation,
// attribute parsing, dispatch); launchers in kernels/tensor.cu.
//
// They mirror the CPU kernels (src/backends/cpu/tensor.cc, tensor_pad.cc,
// resize.cc): each moves elements by byte size, so every dtype of 1, 2, 4
// or 8 bytes works; output shapes come from the schemas, and kernels reread
// only what shapes cannot tell (perm, Slice starts and steps, pads, Resize
// scales) from attributes and host value inputs. Shape, Size,
// ConstantOfShape and Range are evaluated on the host when planning and
// have no kernel here.
#include "kernels/tensor.cuh"

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "cuda_common.h"
#include "cuda_kernels.h"
#include "ops/resize_attrs.h"
#include "ops/tensor.h"

namespace tensorpod::internal {
namespace {

namespace ct = cuda_tensor;

// The highest tensor rank these kernels handle (Tile: half of it).
constexpr int64_t kMaxRank = ct::kMaxViewRank;

bool IsMovable(DType dtype) {
  if (dtype == DType::kUndefined) return true;  // unknown at load
  const size_t size = DTypeSize(dtype);
  return size == 1 || size == 2 || size == 4 || size == 8;
}

DType InputDType(const NodeDef& node, size_t i) {
  return i < node.input_dtypes.size() ? node.input_dtypes[i]
                                      : DType::kUndefined;
}

bool SupportsMovableData(const NodeDef& node) {
  return IsMovable(InputDType(node, 0));
}

bool SupportsConcat(const NodeDef& node) {
  for (DType t : node.input_dtypes) {
    if (!IsMovable(t)) return false;
  }
  return true;
}

Status CheckMovable(DType dtype, std::string_view where) {
  if (dtype != DType::kUndefined && IsMovable(dtype)) return Status::Ok();
  return TP_ERROR(kUnimplemented, where << ": dtype " << DTypeName(dtype)
                                        << " is not supported on CUDA");
}

Status CheckRank(int64_t rank, int64_t max_rank, std::string_view where) {
  if (rank <= max_rank) return Status::Ok();
  return TP_ERROR(kUnimplemented, where << ": rank " << rank
                                        << " exceeds the CUDA backend's "
                                        << max_rank);
}

Status CopyView(KernelContext& ctx, const void* src, const ct::StridedView& v,
                DType dtype, void* dst) {
  TP_ASSIGN_OR_RETURN(CudaStream * stream, StreamOf(ctx));
  TP_CUDA_CHECK(ct::CopyStrided(src, v, static_cast<int>(DTypeSize(dtype)), dst,
                                stream->get()));
  return Status::Ok();
}

// The bytes of `v` as one element of `dtype`, little end first (Pad's
// opset < 11 "value" and Resize's extrapolation_value are floats whatever
// the data's type), converted as the CPU kernels convert them.
uint64_t ScalarBits(double v, DType dtype) {
  uint64_t bits = 0;
  auto put = [&bits](auto x) { std::memcpy(&bits, &x, sizeof(x)); };
  switch (dtype) {
    case DType::kF32:
      put(static_cast<float>(v));
      break;
    case DType::kF64:
      put(v);
      break;
    case DType::kF16:
      put(FloatToHalf(static_cast<float>(v)));
      break;
    case DType::kBF16:
      put(FloatToBFloat16(static_cast<float>(v)));
      break;
    case DType::kI64:
      put(static_cast<int64_t>(v));
      break;
    case DType::kI32:
      put(static_cast<int32_t>(v));
      break;
    case DType::kI16:
      put(static_cast<int16_t>(v));
      break;
    case DType::kI8:
      put(static_cast<int8_t>(v));
      break;
    case DType::kU8:
      put(static_cast<uint8_t>(v));
      break;
    case DType::kU16:
      put(static_cast<uint16_t>(v));
      break;
    case DType::kU32:
      put(static_cast<uint32_t>(v));
      break;
    case DType::kU64:
      put(static_cast<uint64_t>(v));
      break;
    case DType::kBool:
      put(static_cast<uint8_t>(v != 0.0));
      break;
    case DType::kUndefined:
      break;
  }
  return bits;
}

// Reshape, Flatten, Squeeze and Unsqueeze: the output holds the input's
// bytes unchanged (nothing to do when a runtime aliases the two).
class ViewCopyKernel : public Kernel {
 public:
  explicit ViewCopyKernel(std::string where) : where_(std::move(where)) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& in = ctx.input(0);
    Tensor& out = ctx.output(0);
    TP_INTERNAL_CHECK(in.nbytes() == out.nbytes(),
                      where_ << ": input of " << in.nbytes()
                             << " bytes, output of " << out.nbytes());
    if (out.nbytes() == 0 || in.raw_data() == out.raw_data()) {
      return Status::Ok();
    }
    TP_ASSIGN_OR_RETURN(CudaStream * stream, StreamOf(ctx));
    TP_CUDA_CHECK(cudaMemcpyAsync(out.raw_data(), in.raw_data(), out.nbytes(),
                                  cudaMemcpyDeviceToDevice, stream->get()));
    return Status::Ok();
  }

 private:
  std::string where_;
};

StatusOr<std::unique_ptr<Kernel>> CreateViewCopy(const NodeDef& node) {
  return MakeKernel<ViewCopyKernel>(KernelWhere(node));
}

class TransposeKernel : public Kernel {
 public:
  TransposeKernel(std::string where, std::vector<int64_t> perm)
      : where_(std::move(where)), perm_(std::move(perm)) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& in = ctx.input(0);
    Tensor& out = ctx.output(0);
    TP_RETURN_IF_ERROR(CheckMovable(in.dtype(), where_));
    TP_RETURN_IF_ERROR(CheckRank(in.rank(), kMaxRank, where_));
    if (out.num_elements() == 0) return Status::Ok();
    const int r = static_cast<int>(in.rank());
    int64_t in_strides[kMaxRank];
    DenseStrides(in.shape(), in_strides);
    ct::StridedView view;
    view.rank = r;
    for (int i = 0; i < r; ++i) {
      // No perm attribute reverses the dimensions.
      const int64_t p = perm_.empty() ? r - 1 - i : perm_[i];
      view.dims[i] = in.dim(p);
      view.strides[i] = in_strides[p];
    }
    return CopyView(ctx, in.raw_data(), view, in.dtype(), out.raw_data());
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
    std::vector<const void*> parts;
    std::vector<int64_t> row_bytes;
    parts.reserve(ctx.inputs.size());
    row_bytes.reserve(ctx.inputs.size());
    for (const Tensor* in : ctx.inputs) {
      parts.push_back(in->raw_data());
      row_bytes.push_back(in->dim(axis) * inner_bytes);
    }
    TP_ASSIGN_OR_RETURN(CudaStream * stream, StreamOf(ctx));
    TP_CUDA_CHECK(ct::ConcatRows(parts.data(), row_bytes.data(),
                                 static_cast<int>(parts.size()), outer,
                                 out.raw_data(), stream->get()));
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

// The split sizes are the outputs' sizes along the axis, which the schema
// inferred from the "split" input or attribute, num_outputs or an equal
// split.
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
    std::vector<void*> parts;
    std::vector<int64_t> row_bytes;
    parts.reserve(ctx.outputs.size());
    row_bytes.reserve(ctx.outputs.size());
    for (Tensor* out : ctx.outputs) {
      parts.push_back(out->raw_data());
      row_bytes.push_back(out->dim(axis) * inner_bytes);
    }
    TP_ASSIGN_OR_RETURN(CudaStream * stream, StreamOf(ctx));
    TP_CUDA_CHECK(ct::SplitRows(in.raw_data(), outer, parts.data(),
                                row_bytes.data(),
                                static_cast<int>(parts.size()), stream->get()));
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
    TP_RETURN_IF_ERROR(CheckRank(in.rank(), kMaxRank, where_));
    if (out.num_elements() == 0) return Status::Ok();
    IntList lists[4];  // starts, ends, axes, steps
    if (opset_ < 10) {
      const char* names[3] = {"starts", "ends", "axes"};
      for (int i = 0; i < 3; ++i) {
        TP_ASSIGN_OR_RETURN(lists[i], AttrIntList(attrs_, names[i], where_));
      }
    } else {
      // Host value inputs (see the schema's value_inputs).
      const char* names[4] = {"\"starts\"", "\"ends\"", "\"axes\"",
                              "\"steps\""};
      for (int i = 0; i < 4; ++i) {
        if (!ctx.has_input(i + 1)) continue;
        TP_RETURN_IF_ERROR(CheckIntTensor(ctx.input(i + 1), where_, names[i]));
        lists[i] = IntList(&ctx.input(i + 1));
      }
    }
    SliceAxis axes[kMaxRank];
    TP_RETURN_IF_ERROR(ResolveSlice(where_, in.shape(), lists[0], lists[1],
                                    lists[2], lists[3], axes));
    int64_t in_strides[kMaxRank];
    DenseStrides(in.shape(), in_strides);
    const int64_t elem = static_cast<int64_t>(DTypeSize(in.dtype()));
    ct::StridedView view;
    view.rank = static_cast<int>(in.rank());
    int64_t origin = 0;
    for (int d = 0; d < view.rank; ++d) {
      origin += axes[d].start * in_strides[d];
      view.dims[d] = axes[d].count;
      view.strides[d] = axes[d].step * in_strides[d];
    }
    return CopyView(ctx,
                    static_cast<const char*>(in.raw_data()) + origin * elem,
                    view, in.dtype(), out.raw_data());
  }

 private:
  std::string where_;
  int opset_;
  const Attributes& attrs_;
};

StatusOr<std::unique_ptr<Kernel>> CreateSlice(const NodeDef& node) {
  return MakeKernel<SliceKernel>(KernelWhere(node), node.opset, *node.attrs);
}

// Out-of-range indices cannot be reported from the device: their output
// slices are zeros (the CPU kernel returns INVALID_ARGUMENT).
class GatherKernel : public Kernel {
 public:
  GatherKernel(std::string where, int64_t axis)
      : where_(std::move(where)), axis_(axis) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& data = ctx.input(0);
    const Tensor& indices = ctx.input(1);
    Tensor& out = ctx.output(0);
    TP_RETURN_IF_ERROR(CheckMovable(data.dtype(), where_));
    if (indices.dtype() != DType::kI64 && indices.dtype() != DType::kI32) {
      return TP_ERROR(kUnimplemented, where_ << ": indices of dtype "
                                             << DTypeName(indices.dtype())
                                             << " are not supported");
    }
    if (out.num_elements() == 0) return Status::Ok();
    const int64_t axis = axis_ < 0 ? axis_ + data.rank() : axis_;
    TP_ASSIGN_OR_RETURN(CudaStream * stream, StreamOf(ctx));
    TP_CUDA_CHECK(ct::Gather(
        data.raw_data(), DimProduct(data.shape(), 0, axis), data.dim(axis),
        DimProduct(data.shape(), axis + 1, data.rank()),
        static_cast<int>(DTypeSize(data.dtype())), indices.raw_data(),
        static_cast<int>(DTypeSize(indices.dtype())), indices.num_elements(),
        out.raw_data(), stream->get()));
    return Status::Ok();
  }

 private:
  std::string where_;
  int64_t axis_;
};

StatusOr<std::unique_ptr<Kernel>> CreateGather(const NodeDef& node) {
  return MakeKernel<GatherKernel>(KernelWhere(node), node.attrs->GetInt("axis", 0));
}

bool SupportsGather(const NodeDef& node) {
  const DType idx = InputDType(node, 1);
  return IsMovable(InputDType(node, 0)) &&
         (idx == DType::kUndefined || idx == DType::kI64 || idx == DType::kI32);
}

// Expand reads the input with stride 0 along broadcast dimensions.
class ExpandKernel : public Kernel {
 public:
  explicit ExpandKernel(std::string where) : where_(std::move(where)) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& in = ctx.input(0);
    Tensor& out = ctx.output(0);
    TP_RETURN_IF_ERROR(CheckMovable(in.dtype(), where_));
    TP_RETURN_IF_ERROR(CheckRank(out.rank(), kMaxRank, where_));
    if (out.num_elements() == 0) return Status::Ok();
    int64_t in_strides[kMaxRank];
    DenseStrides(in.shape(), in_strides);
    ct::StridedView view;
    view.rank = static_cast<int>(out.rank());
    const int64_t lead = out.rank() - in.rank();
    for (int d = 0; d < view.rank; ++d) {
      view.dims[d] = out.dim(d);
      const bool broadcast = d < lead || in.dim(d - lead) != out.dim(d);
      view.strides[d] = broadcast ? 0 : in_strides[d - lead];
    }
    return CopyView(ctx, in.raw_data(), view, in.dtype(), out.raw_data());
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
    TP_RETURN_IF_ERROR(CheckRank(in.rank(), kMaxRank / 2, where_));
    if (out.num_elements() == 0) return Status::Ok();
    int64_t in_strides[kMaxRank];
    DenseStrides(in.shape(), in_strides);
    ct::StridedView view;
    view.rank = static_cast<int>(2 * in.rank());
    for (int d = 0; d < in.rank(); ++d) {
      view.dims[2 * d] = out.dim(d) / in.dim(d);
      view.strides[2 * d] = 0;
      view.dims[2 * d + 1] = in.dim(d);
      view.strides[2 * d + 1] = in_strides[d];
    }
    return CopyView(ctx, in.raw_data(), view, in.dtype(), out.raw_data());
  }

 private:
  std::string where_;
};

StatusOr<std::unique_ptr<Kernel>> CreateTile(const NodeDef& node) {
  return MakeKernel<TileKernel>(KernelWhere(node));
}

class PadKernel : public Kernel {
 public:
  PadKernel(std::string where, PadMode mode, int opset, const Attributes& attrs)
      : where_(std::move(where)), mode_(mode), opset_(opset), attrs_(attrs) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& in = ctx.input(0);
    Tensor& out = ctx.output(0);
    TP_RETURN_IF_ERROR(CheckMovable(in.dtype(), where_));
    TP_RETURN_IF_ERROR(CheckRank(in.rank(), kMaxRank, where_));
    if (out.num_elements() == 0) return Status::Ok();
    IntList pads;
    uint64_t value_bits = 0;
    // The constant_value input (opset >= 11) is a device scalar the kernel
    // reads in place.
    const void* value = nullptr;
    if (opset_ < 11) {
      TP_ASSIGN_OR_RETURN(pads, AttrIntList(attrs_, "pads", where_));
      value_bits = ScalarBits(attrs_.GetFloat("value", 0.0f), in.dtype());
    } else {
      TP_RETURN_IF_ERROR(CheckIntTensor(ctx.input(1), where_, "\"pads\""));
      pads = IntList(&ctx.input(1));
      if (ctx.has_input(2) && ctx.input(2).num_elements() > 0) {
        TP_CHECK_ARG(ctx.input(2).dtype() == in.dtype(),
                     where_ << ": input \"constant_value\" is "
                            << DTypeName(ctx.input(2).dtype())
                            << " but input \"data\" is "
                            << DTypeName(in.dtype()));
        value = ctx.input(2).raw_data();
      }
    }
    int64_t begin[kMaxRank];
    int64_t end[kMaxRank];
    TP_RETURN_IF_ERROR(
        ResolvePads(where_, in.shape(), pads, mode_, begin, end));
    TP_ASSIGN_OR_RETURN(CudaStream * stream, StreamOf(ctx));
    if (in.rank() == 0) {
      TP_CUDA_CHECK(cudaMemcpyAsync(out.raw_data(), in.raw_data(), in.nbytes(),
                                    cudaMemcpyDeviceToDevice, stream->get()));
      return Status::Ok();
    }
    ct::PadParams p;
    p.rank = static_cast<int>(in.rank());
    p.fill = mode_ == PadMode::kConstant ? ct::PadFill::kConstant
             : mode_ == PadMode::kEdge   ? ct::PadFill::kEdge
                                         : ct::PadFill::kReflect;
    DenseStrides(in.shape(), p.in_strides);
    for (int d = 0; d < p.rank; ++d) {
      const int64_t lo = begin[d] < 0 ? -begin[d] : 0;
      const int64_t cut_end = end[d] < 0 ? -end[d] : 0;
      p.axes[d] = ct::PadAxis{lo, in.dim(d) - lo - cut_end,
                              begin[d] > 0 ? begin[d] : 0};
      p.out_dims[d] = out.dim(d);
    }
    TP_CUDA_CHECK(ct::Pad(in.raw_data(), p,
                          static_cast<int>(DTypeSize(in.dtype())), value,
                          value_bits, out.raw_data(), stream->get()));
    return Status::Ok();
  }

 private:
  std::string where_;
  PadMode mode_;
  int opset_;
  const Attributes& attrs_;
};

StatusOr<std::unique_ptr<Kernel>> CreatePad(const NodeDef& node) {
  std::string where = KernelWhere(node);
  TP_ASSIGN_OR_RETURN(PadMode mode, ParsePadMode(*node.attrs, where));
  return MakeKernel<PadKernel>(std::move(where), mode, node.opset, *node.attrs);
}

bool SupportsPad(const NodeDef& node) {
  return SupportsMovableData(node) && ParsePadMode(*node.attrs, "").ok();
}

// Resize and Upsample attributes come from the parser the CPU kernel uses
// (ops/resize_attrs.h); the launchers take their own plain enums.
ct::ResizeInterp ToLauncher(ResizeMode m) {
  switch (m) {
    case ResizeMode::kLinear: return ct::ResizeInterp::kLinear;
    case ResizeMode::kCubic: return ct::ResizeInterp::kCubic;
    default: return ct::ResizeInterp::kNearest;
  }
}

ct::ResizeCoord ToLauncher(ResizeCoordMode m) {
  switch (m) {
    case ResizeCoordMode::kAsymmetric: return ct::ResizeCoord::kAsymmetric;
    case ResizeCoordMode::kAlignCorners: return ct::ResizeCoord::kAlignCorners;
    case ResizeCoordMode::kPytorchHalfPixel: return ct::ResizeCoord::kPytorchHalfPixel;
    case ResizeCoordMode::kTfCropAndResize: return ct::ResizeCoord::kTfCropAndResize;
    case ResizeCoordMode::kTfHalfPixelForNn: return ct::ResizeCoord::kTfHalfPixelForNn;
    default: return ct::ResizeCoord::kHalfPixel;
  }
}

ct::ResizeRound ToLauncher(ResizeNearestMode m) {
  switch (m) {
    case ResizeNearestMode::kRoundPreferCeil: return ct::ResizeRound::kRoundPreferCeil;
    case ResizeNearestMode::kFloor: return ct::ResizeRound::kFloor;
    case ResizeNearestMode::kCeil: return ct::ResizeRound::kCeil;
    default: return ct::ResizeRound::kRoundPreferFloor;
  }
}

struct ResizeConfig {
  ct::ResizeInterp interp = ct::ResizeInterp::kNearest;
  ct::ResizeCoord coord = ct::ResizeCoord::kHalfPixel;
  ct::ResizeRound round = ct::ResizeRound::kRoundPreferFloor;
  ResizeAttrs attrs;
};

StatusOr<ResizeConfig> ParseResize(const NodeDef& node, std::string_view where) {
  auto attrs = ParseResizeAttrs(node.op_type, node.opset, *node.attrs);
  if (!attrs.ok()) return attrs.status().WithContext(std::string(where));
  ResizeConfig c;
  c.interp = ToLauncher(attrs->mode);
  c.coord = ToLauncher(attrs->coord);
  c.round = ToLauncher(attrs->nearest);
  c.attrs = std::move(attrs).value();
  return c;
}

// Interpolating modes compute in float (double for float64); nearest moves
// elements of any size.
bool ResizeHandles(ct::ResizeInterp interp, DType dtype) {
  if (interp == ct::ResizeInterp::kNearest) return IsMovable(dtype);
  return dtype == DType::kUndefined || dtype == DType::kF32 ||
         dtype == DType::kF16 || dtype == DType::kBF16 || dtype == DType::kF64;
}

class ResizeKernel : public Kernel {
 public:
  ResizeKernel(std::string where, ResizeConfig config)
      : where_(std::move(where)), c_(std::move(config)) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    const int rank = static_cast<int>(x.rank());
    if (!ResizeHandles(c_.interp, x.dtype()) || !x.defined()) {
      return TP_ERROR(kUnimplemented, where_ << ": dtype "
                                             << DTypeName(x.dtype())
                                             << " is not supported on CUDA "
                                                "in this mode");
    }
    if (y.num_elements() == 0) return Status::Ok();
    TP_CHECK_ARG(rank >= 1, where_ << ": input X is a scalar");
    TP_RETURN_IF_ERROR(CheckRank(rank, ct::kMaxResizeRank, where_));
    TP_INTERNAL_CHECK(y.rank() == rank,
                      "output rank " << y.rank() << " != input rank " << rank);

    ct::ResizeParams p;
    p.interp = c_.interp;
    p.coord = c_.coord;
    p.round = c_.round;
    p.cubic_a = c_.attrs.cubic_a;
    p.exclude_outside = c_.attrs.exclude_outside;
    p.rank = rank;
    // Scales and roi are host value inputs.
    const Tensor* scales =
        c_.attrs.scales_input >= 0 && ctx.has_input(c_.attrs.scales_input)
            ? ctx.inputs[c_.attrs.scales_input]
            : nullptr;
    if (scales != nullptr && scales->num_elements() == 0) scales = nullptr;
    const int64_t num_scales = scales ? scales->num_elements()
                               : c_.attrs.scales_input < 0
                                   ? static_cast<int64_t>(c_.attrs.attr_scales.size())
                                   : rank;
    TP_CHECK_ARG(num_scales == rank,
                 where_ << ": input scales has " << num_scales
                        << " values, input X has rank " << rank);
    for (int a = 0; a < rank; ++a) {
      p.in_dims[a] = x.dim(a);
      p.out_dims[a] = y.dim(a);
      if (scales != nullptr) {
        p.scales[a] = scales->GetAsDouble(a);
      } else if (c_.attrs.scales_input < 0) {
        p.scales[a] = c_.attrs.attr_scales[a];
      } else {
        p.scales[a] =
            static_cast<double>(y.dim(a)) / static_cast<double>(x.dim(a));
      }
      p.roi_start[a] = 0;
      p.roi_end[a] = 1;
    }
    if (c_.coord == ct::ResizeCoord::kTfCropAndResize) {
      const Tensor* roi =
          ctx.has_input(c_.attrs.roi_input) ? ctx.inputs[c_.attrs.roi_input] : nullptr;
      TP_CHECK_ARG(roi != nullptr && roi->num_elements() == 2 * rank,
                   where_ << ": tf_crop_and_resize needs input roi with "
                          << 2 * rank << " values (starts, then ends), got "
                          << (roi ? roi->num_elements() : 0));
      for (int a = 0; a < rank; ++a) {
        p.roi_start[a] = roi->GetAsDouble(a);
        p.roi_end[a] = roi->GetAsDouble(a + rank);
      }
    }

    const size_t bytes = ct::ResizeScratchBytes(p);
    void* scratch = ctx.scratch->Get(bytes);
    if (scratch == nullptr) {
      return TP_ERROR(kResourceExhausted,
                      where_ << ": scratch of " << bytes << " bytes");
    }
    TP_ASSIGN_OR_RETURN(CudaStream * stream, StreamOf(ctx));
    if (c_.interp == ct::ResizeInterp::kNearest) {
      TP_CUDA_CHECK(ct::ResizeNearest(x.raw_data(), p,
                                      static_cast<int>(DTypeSize(x.dtype())),
                                      ScalarBits(c_.attrs.extrapolation, x.dtype()),
                                      scratch, y.raw_data(), stream->get()));
      return Status::Ok();
    }
    ct::ResizeElem elem = ct::ResizeElem::kF32;
    switch (x.dtype()) {
      case DType::kF16:
        elem = ct::ResizeElem::kF16;
        break;
      case DType::kBF16:
        elem = ct::ResizeElem::kBF16;
        break;
      case DType::kF64:
        elem = ct::ResizeElem::kF64;
        break;
      default:
        break;
    }
    TP_CUDA_CHECK(ct::ResizeInterpolate(x.raw_data(), p, elem, c_.attrs.extrapolation,
                                        scratch, y.raw_data(), stream->get()));
    return Status::Ok();
  }

 private:
  std::string where_;
  ResizeConfig c_;
};

StatusOr<std::unique_ptr<Kernel>> CreateResize(const NodeDef& node) {
  std::string where = KernelWhere(node);
  TP_ASSIGN_OR_RETURN(ResizeConfig config, ParseResize(node, where));
  return MakeKernel<ResizeKernel>(std::move(where), std::move(config));
}

bool SupportsResize(const NodeDef& node) {
  auto config = ParseResize(node, "");
  return config.ok() && ResizeHandles(config->interp, InputDType(node, 0));
}

}  // namespace

void RegisterCudaTensorKernels(KernelRegistry* r) {
  for (const char* op : {"Reshape", "Flatten", "Squeeze", "Unsqueeze"}) {
    r->Add(op, &CreateViewCopy);
  }
  r->Add("Transpose", &CreateTranspose, &SupportsMovableData);
  r->Add("Concat", &CreateConcat, &SupportsConcat);
  r->Add("Split", &CreateSplit, &SupportsMovableData);
  r->Add("Slice", &CreateSlice, &SupportsMovableData);
  r->Add("Gather", &CreateGather, &SupportsGather);
  r->Add("Expand", &CreateExpand, &SupportsMovableData);
  r->Add("Tile", &CreateTile, &SupportsMovableData);
  r->Add("Pad", &CreatePad, &SupportsPad);
  r->Add("Resize", &CreateResize, &SupportsResize);
  r->Add("Upsample", &CreateResize, &SupportsResize);
}

}  // namespace tensorpod::internal
