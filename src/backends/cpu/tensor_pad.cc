#include "backends/cpu/tensor_pad.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "backends/cpu/parallel.h"
#include "backends/cpu/tensor_copy.h"
#include "ops/tensor.h"

namespace tensorpod::internal {
namespace {

// Where output coordinates along one dimension read from: the input
// dimension is first cropped to [lo, lo + len), then padded by `pad` in front.
struct PadAxis {
  int64_t lo;
  int64_t len;
  int64_t pad;
};

// The input index output coordinate `o` reads along `axis`, or -1 for the
// constant value. ResolvePads guarantees one reflection suffices.
inline int64_t SourceIndex(const PadAxis& axis, int64_t o, PadMode mode) {
  int64_t j = o - axis.pad;
  if (j < 0 || j >= axis.len) {
    switch (mode) {
      case PadMode::kConstant:
        return -1;
      case PadMode::kEdge:
        j = j < 0 ? 0 : axis.len - 1;
        break;
      case PadMode::kReflect:
        j = j < 0 ? -j : 2 * (axis.len - 1) - j;
        break;
    }
  }
  return axis.lo + j;
}

// Pads row by row: outer coordinates pick a source row (or the constant),
// the last dimension copies its kept span with memcpy and maps its pads.
template <typename T>
void PadTyped(const T* src, const Shape& in_shape, const Shape& out_shape,
              const PadAxis* axes, PadMode mode, T value, T* dst, int threads) {
  const int r = static_cast<int>(out_shape.size());
  int64_t in_strides[kMaxTensorRank];
  DenseStrides(in_shape, in_strides);
  const int64_t row_len = out_shape[r - 1];
  int64_t rows = 1;
  for (int k = 0; k < r - 1; ++k) rows *= out_shape[k];
  const PadAxis& last = axes[r - 1];
  const int64_t kept = std::clamp<int64_t>(row_len - last.pad, 0, last.len);
  const int64_t row_bytes = row_len * static_cast<int64_t>(sizeof(T));
  const int64_t grain =
      std::max<int64_t>(1, kCopyGrainBytes / std::max<int64_t>(row_bytes, 1));
  ParallelFor(rows, threads, grain, [&](int64_t begin, int64_t end) {
    int64_t coord[kMaxTensorRank];
    int64_t rem = begin;
    for (int k = r - 2; k >= 0; --k) {
      coord[k] = rem % out_shape[k];
      rem /= out_shape[k];
    }
    T* out = dst + begin * row_len;
    for (int64_t row = begin; row < end; ++row, out += row_len) {
      int64_t offset = 0;
      bool constant_row = false;
      for (int k = 0; k < r - 1 && !constant_row; ++k) {
        const int64_t i = SourceIndex(axes[k], coord[k], mode);
        constant_row = i < 0;
        offset += i * in_strides[k];
      }
      if (constant_row) {
        std::fill_n(out, row_len, value);
      } else {
        const T* in = src + offset;
        for (int64_t o = 0; o < std::min(last.pad, row_len); ++o) {
          const int64_t i = SourceIndex(last, o, mode);
          out[o] = i < 0 ? value : in[i];
        }
        if (kept > 0)
          std::memcpy(out + last.pad, in + last.lo, kept * sizeof(T));
        for (int64_t o = last.pad + kept; o < row_len; ++o) {
          const int64_t i = SourceIndex(last, o, mode);
          out[o] = i < 0 ? value : in[i];
        }
      }
      for (int k = r - 2; k >= 0; --k) {
        if (++coord[k] < out_shape[k]) break;
        coord[k] = 0;
      }
    }
  });
}

// Writes `v` as one element of `dtype` (the opset < 11 "value" attribute is
// a float whatever the data's type).
void StoreScalar(double v, DType dtype, void* out) {
  auto put = [out](auto x) { std::memcpy(out, &x, sizeof(x)); };
  switch (dtype) {
    case DType::kF32:
      return put(static_cast<float>(v));
    case DType::kF64:
      return put(v);
    case DType::kF16:
      return put(FloatToHalf(static_cast<float>(v)));
    case DType::kBF16:
      return put(FloatToBFloat16(static_cast<float>(v)));
    case DType::kI64:
      return put(static_cast<int64_t>(v));
    case DType::kI32:
      return put(static_cast<int32_t>(v));
    case DType::kI16:
      return put(static_cast<int16_t>(v));
    case DType::kI8:
      return put(static_cast<int8_t>(v));
    case DType::kU8:
      return put(static_cast<uint8_t>(v));
    case DType::kU16:
      return put(static_cast<uint16_t>(v));
    case DType::kU32:
      return put(static_cast<uint32_t>(v));
    case DType::kU64:
      return put(static_cast<uint64_t>(v));
    case DType::kBool:
      return put(static_cast<uint8_t>(v != 0.0));
    case DType::kUndefined:
      return;
  }
}

class PadKernel : public Kernel {
 public:
  PadKernel(std::string where, PadMode mode, int opset, const Attributes& attrs)
      : where_(std::move(where)), mode_(mode), opset_(opset), attrs_(attrs) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& in = ctx.input(0);
    Tensor& out = ctx.output(0);
    TP_RETURN_IF_ERROR(CheckMovable(in.dtype(), where_));
    TP_RETURN_IF_ERROR(CheckRank(in.rank(), where_));
    if (out.num_elements() == 0) return Status::Ok();
    IntList pads;
    uint64_t value = 0;
    if (opset_ < 11) {
      TP_ASSIGN_OR_RETURN(pads, AttrIntList(attrs_, "pads", where_));
      StoreScalar(attrs_.GetFloat("value", 0.0f), in.dtype(), &value);
    } else {
      TP_RETURN_IF_ERROR(CheckIntTensor(ctx.input(1), where_, "\"pads\""));
      pads = IntList(&ctx.input(1));
      if (ctx.has_input(2))
        std::memcpy(&value, ctx.input(2).raw_data(), DTypeSize(in.dtype()));
    }
    int64_t begin[kMaxTensorRank];
    int64_t end[kMaxTensorRank];
    TP_RETURN_IF_ERROR(
        ResolvePads(where_, in.shape(), pads, mode_, begin, end));
    if (in.rank() == 0) {
      std::memcpy(out.raw_data(), in.raw_data(), in.nbytes());
      return Status::Ok();
    }
    PadAxis axes[kMaxTensorRank];
    for (int64_t d = 0; d < in.rank(); ++d) {
      const int64_t lo = std::max<int64_t>(0, -begin[d]);
      axes[d] = PadAxis{lo, in.dim(d) - lo - std::max<int64_t>(0, -end[d]),
                        std::max<int64_t>(0, begin[d])};
    }
    switch (DTypeSize(in.dtype())) {
      case 1:
        Run<uint8_t>(in, axes, value, &out, ctx.threads);
        break;
      case 2:
        Run<uint16_t>(in, axes, value, &out, ctx.threads);
        break;
      case 4:
        Run<uint32_t>(in, axes, value, &out, ctx.threads);
        break;
      case 8:
        Run<uint64_t>(in, axes, value, &out, ctx.threads);
        break;
    }
    return Status::Ok();
  }

 private:
  template <typename T>
  void Run(const Tensor& in, const PadAxis* axes, uint64_t value_bits,
           Tensor* out, int threads) const {
    T value;
    std::memcpy(&value, &value_bits, sizeof(T));
    PadTyped(in.data<T>(), in.shape(), out->shape(), axes, mode_, value,
             out->data<T>(), threads);
  }

  std::string where_;
  PadMode mode_;
  int opset_;
  const Attributes& attrs_;
};

}  // namespace

StatusOr<std::unique_ptr<Kernel>> CreatePadKernel(const NodeDef& node) {
  std::string where = "Pad node \"" + node.name + "\"";
  TP_ASSIGN_OR_RETURN(PadMode mode, ParsePadMode(*node.attrs, where));
  return std::unique_ptr<Kernel>(
      new PadKernel(std::move(where), mode, node.opset, *node.attrs));
}

}  // namespace tensorpod::internal
