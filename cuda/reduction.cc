// CUDA kernels of the reduction family (Reduce*, ArgMax/ArgMin) and of the
// ops built on the same row and column reductions: Softmax, LogSoftmax,
// LayerNormalization, inference-mode BatchNormalization and the pooling ops.
// Host code: attributes are parsed at creation, shapes and dtypes checked
// per call; the kernels are in kernels/reduction.cu (see Note [Reduction
// layouts] there). Semantics mirror the CPU kernels in src/backends/cpu/
// (reduction.cc, nn_norm.cc, nn_pool.cc).
#include "kernels/reduction.cuh"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cuda_common.h"
#include "cuda_kernels.h"
#include "ops/nn_shapes.h"

namespace tensorpod::internal {
namespace {

namespace cr = cuda_reduction;

// ------------------------------------------------------------------ dtypes

// The launchers' element type for `t`; false when they have none.
bool ToElem(DType t, cr::Elem* e) {
  switch (t) {
    case DType::kF32:
      *e = cr::Elem::kF32;
      return true;
    case DType::kF16:
      *e = cr::Elem::kF16;
      return true;
    case DType::kBF16:
      *e = cr::Elem::kBF16;
      return true;
    case DType::kF64:
      *e = cr::Elem::kF64;
      return true;
    case DType::kI32:
      *e = cr::Elem::kI32;
      return true;
    case DType::kI64:
      *e = cr::Elem::kI64;
      return true;
    default:
      return false;
  }
}

// float32, float16 or bfloat16: the dtypes every kernel here computes in.
bool ToFloatElem(DType t, cr::Elem* e) {
  return ToElem(t, e) && (*e == cr::Elem::kF32 || *e == cr::Elem::kF16 ||
                          *e == cr::Elem::kBF16);
}

// ToFloatElem or ToElem's integers (kI32, kI64).
bool ToFloatOrIntElem(DType t, cr::Elem* e) {
  return ToElem(t, e) && *e != cr::Elem::kF64;
}

DType InputDType(const NodeDef& node, size_t i) {
  return i < node.input_dtypes.size() ? node.input_dtypes[i]
                                      : DType::kUndefined;
}

// Predicates accept an unknown dtype; Compute then reports what it cannot
// run.
bool IsFloatOrUnknown(DType t) {
  cr::Elem e;
  return t == DType::kUndefined || ToFloatElem(t, &e);
}

bool SupportsFloatInput(const NodeDef& node) {
  return IsFloatOrUnknown(InputDType(node, 0));
}

Status UnsupportedDType(const std::string& op, const std::string& node,
                        DType t) {
  return TP_ERROR(kUnimplemented,
                  op << " (node \"" << node
                     << "\") is not implemented on cuda for dtype "
                     << DTypeName(t));
}

// Scratch memory for a launcher's workspace; *p = nullptr when bytes == 0.
Status GetWorkspace(KernelContext& ctx, size_t bytes, const std::string& op,
                    void** p) {
  *p = nullptr;
  if (bytes == 0) return Status::Ok();
  *p = ctx.scratch->Get(bytes);
  if (*p == nullptr) {
    return TP_ERROR(kResourceExhausted,
                    op << ": no device scratch memory for a " << bytes
                       << "-byte workspace");
  }
  return Status::Ok();
}

// The product of shape[begin, end).
int64_t DimProduct(const Shape& shape, int64_t begin, int64_t end) {
  int64_t n = 1;
  for (int64_t i = begin; i < end; ++i) n *= shape[i];
  return n;
}

// x seen as [outer, len, inner] around one axis.
cr::AxisShape SplitAt(const Shape& shape, int64_t axis) {
  const int64_t rank = static_cast<int64_t>(shape.size());
  return cr::AxisShape{DimProduct(shape, 0, axis), shape[axis],
                       DimProduct(shape, axis + 1, rank)};
}

// Reduces x [outer, len, inner] over the middle axis into y.
Status ReduceAxisShape(KernelContext& ctx, const std::string& op,
                       cr::ReduceOp kind, cr::Elem elem, const Tensor& x,
                       Tensor* y, const cr::AxisShape& s) {
  void* workspace = nullptr;
  TP_RETURN_IF_ERROR(
      GetWorkspace(ctx, cr::ReduceWorkspaceBytes(s), op, &workspace));
  TP_ASSIGN_OR_RETURN(CudaStream * stream, StreamOf(ctx));
  TP_CUDA_CHECK(cr::LaunchReduce(kind, elem, x.raw_data(), y->raw_data(), s,
                                 workspace, stream->get()));
  return Status::Ok();
}

// ---------------------------------------------------------------- Reduce*

struct ReduceEntry {
  const char* op_type;
  cr::ReduceOp kind;
};

constexpr ReduceEntry kReduceOps[] = {
    {"ReduceSum", cr::ReduceOp::kSum},
    {"ReduceMean", cr::ReduceOp::kMean},
    {"ReduceMax", cr::ReduceOp::kMax},
    {"ReduceMin", cr::ReduceOp::kMin},
    {"ReduceProd", cr::ReduceOp::kProd},
    {"ReduceL1", cr::ReduceOp::kL1},
    {"ReduceL2", cr::ReduceOp::kL2},
    {"ReduceSumSquare", cr::ReduceOp::kSumSquare},
    {"ReduceLogSum", cr::ReduceOp::kLogSum},
    {"ReduceLogSumExp", cr::ReduceOp::kLogSumExp}};

const ReduceEntry* FindReduce(const std::string& op_type) {
  for (const ReduceEntry& e : kReduceOps) {
    if (op_type == e.op_type) return &e;
  }
  return nullptr;
}

// Sum, Max and Min also run on int32/int64; the rest on floats only.
bool AcceptsIntegers(cr::ReduceOp kind) {
  return kind == cr::ReduceOp::kSum || kind == cr::ReduceOp::kMax ||
         kind == cr::ReduceOp::kMin;
}

class ReduceKernel : public Kernel {
 public:
  ReduceKernel(std::string name, std::string op_type, cr::ReduceOp kind,
               bool axes_from_input, std::vector<int64_t> attr_axes,
               bool noop_with_empty_axes)
      : name_(std::move(name)),
        op_type_(std::move(op_type)),
        kind_(kind),
        axes_from_input_(axes_from_input),
        attr_axes_(std::move(attr_axes)),
        noop_with_empty_axes_(noop_with_empty_axes) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    Tensor& y = ctx.output(0);
    cr::Elem elem;
    const bool ok = AcceptsIntegers(kind_) ? ToFloatOrIntElem(x.dtype(), &elem)
                                           : ToFloatElem(x.dtype(), &elem);
    if (!ok) return UnsupportedDType(op_type_, name_, x.dtype());
    const int64_t rank = x.rank();
    // Input 1 is a host tensor (a value input of the schema).
    const Tensor* axes =
        axes_from_input_ && ctx.has_input(1) ? ctx.inputs[1] : nullptr;
    const int64_t num_axes =
        axes ? axes->num_elements() : static_cast<int64_t>(attr_axes_.size());
    TP_ASSIGN_OR_RETURN(CudaStream * stream, StreamOf(ctx));
    if (num_axes == 0 && noop_with_empty_axes_) {
      if (x.nbytes() > 0 && y.raw_data() != x.raw_data()) {
        TP_CUDA_CHECK(cudaMemcpyAsync(y.raw_data(), x.raw_data(), x.nbytes(),
                                      cudaMemcpyDeviceToDevice, stream->get()));
      }
      return Status::Ok();
    }
    std::vector<bool> reduced(rank, num_axes == 0);
    for (int64_t j = 0; j < num_axes; ++j) {
      TP_ASSIGN_OR_RETURN(
          int64_t a, NormalizeAxis(axes ? axes->GetAsInt64(j) : attr_axes_[j],
                                   rank, "axes"));
      reduced[a] = true;
    }
    if (y.num_elements() == 0) return Status::Ok();
    if (x.num_elements() == 0) {
      return ReduceAxisShape(ctx, op_type_, kind_, elem, x, &y,
                             cr::AxisShape{y.num_elements(), 0, 1});
    }
    // Drop unit axes and merge neighbours that are both reduced or both kept.
    std::vector<int64_t> dims;
    std::vector<bool> dim_reduced;
    for (int64_t i = 0; i < rank; ++i) {
      if (x.dim(i) == 1) continue;
      if (!dims.empty() && dim_reduced.back() == reduced[i]) {
        dims.back() *= x.dim(i);
      } else {
        dims.push_back(x.dim(i));
        dim_reduced.push_back(reduced[i]);
      }
    }
    const int64_t merged = static_cast<int64_t>(dims.size());
    int64_t runs = 0;
    int64_t first_reduced = merged;
    for (int64_t i = 0; i < merged; ++i) {
      if (!dim_reduced[i]) continue;
      ++runs;
      if (first_reduced == merged) first_reduced = i;
    }
    if (runs <= 1) {
      // [outer, len, inner]; no reduced run: every output reduces one element.
      cr::AxisShape s;
      s.outer = DimProduct(dims, 0, first_reduced);
      s.len = first_reduced < merged ? dims[first_reduced] : 1;
      s.inner = first_reduced < merged
                    ? DimProduct(dims, first_reduced + 1, merged)
                    : 1;
      return ReduceAxisShape(ctx, op_type_, kind_, elem, x, &y, s);
    }
    cr::StridedReduceShape s;
    for (int64_t i = 0; i < merged; ++i)
      ++(dim_reduced[i] ? s.reduced_rank : s.kept_rank);
    if (s.reduced_rank > cr::kMaxStridedRank ||
        s.kept_rank > cr::kMaxStridedRank) {
      return TP_ERROR(kUnimplemented,
                      op_type_ << " (node \"" << name_ << "\") on cuda: input "
                               << ShapeToString(x.shape())
                               << " alternates reduced and kept axes "
                               << "more than " << cr::kMaxStridedRank
                               << " times");
    }
    // Both lists keep the input's order, outermost first.
    int64_t stride = 1;
    int kept = s.kept_rank;
    int red = s.reduced_rank;
    for (int64_t i = merged - 1; i >= 0; --i) {
      if (dim_reduced[i]) {
        --red;
        s.reduced_dims[red] = dims[i];
        s.reduced_strides[red] = stride;
      } else {
        --kept;
        s.kept_dims[kept] = dims[i];
        s.kept_strides[kept] = stride;
      }
      stride *= dims[i];
    }
    s.outputs = y.num_elements();
    s.reduced_count = x.num_elements() / s.outputs;
    s.innermost_reduced = dim_reduced.back();
    TP_CUDA_CHECK(cr::LaunchReduceStrided(kind_, elem, x.raw_data(),
                                          y.raw_data(), s, stream->get()));
    return Status::Ok();
  }

 private:
  std::string name_;
  std::string op_type_;
  cr::ReduceOp kind_;
  bool axes_from_input_;
  std::vector<int64_t> attr_axes_;
  bool noop_with_empty_axes_;
};

bool SupportsReduce(const NodeDef& node) {
  const ReduceEntry* e = FindReduce(node.op_type);
  if (e == nullptr) return false;
  const DType t = InputDType(node, 0);
  if (IsFloatOrUnknown(t)) return true;
  return AcceptsIntegers(e->kind) && (t == DType::kI32 || t == DType::kI64);
}

StatusOr<std::unique_ptr<Kernel>> CreateReduceKernel(const NodeDef& node) {
  const ReduceEntry* e = FindReduce(node.op_type);
  TP_INTERNAL_CHECK(e != nullptr, "no reduction named " << node.op_type);
  // See InferReduce in src/ops/reduction.cc: ReduceSum takes axes as an
  // input from opset 13, the others from opset 18.
  const bool axes_from_input =
      node.opset >= (e->kind == cr::ReduceOp::kSum ? 13 : 18);
  return std::unique_ptr<Kernel>(new ReduceKernel(
      node.name, node.op_type, e->kind, axes_from_input,
      axes_from_input ? std::vector<int64_t>{} : node.attrs->GetInts("axes"),
      node.attrs->GetInt("noop_with_empty_axes", 0) != 0));
}

// ---------------------------------------------------------- ArgMax/ArgMin

class ArgReduceKernel : public Kernel {
 public:
  ArgReduceKernel(std::string name, std::string op_type, int64_t axis,
                  bool select_last)
      : name_(std::move(name)),
        op_type_(std::move(op_type)),
        axis_(axis),
        select_last_(select_last) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    cr::Elem elem;
    if (!ToFloatOrIntElem(x.dtype(), &elem))
      return UnsupportedDType(op_type_, name_, x.dtype());
    TP_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(axis_, x.rank(), "axis"));
    if (ctx.output(0).num_elements() == 0) return Status::Ok();
    const cr::AxisShape s = SplitAt(x.shape(), axis);
    TP_CHECK_ARG(s.len > 0,
                 op_type_ << " (node \"" << name_
                          << "\"): cannot take the arg of the empty axis "
                          << axis << " of input " << ShapeToString(x.shape()));
    TP_ASSIGN_OR_RETURN(CudaStream * stream, StreamOf(ctx));
    TP_CUDA_CHECK(cr::LaunchArgReduce(
        op_type_ == "ArgMax", select_last_, elem, x.raw_data(),
        ctx.output(0).data<int64_t>(), s, stream->get()));
    return Status::Ok();
  }

 private:
  std::string name_;
  std::string op_type_;
  int64_t axis_;
  bool select_last_;
};

bool SupportsArgReduce(const NodeDef& node) {
  const DType t = InputDType(node, 0);
  return IsFloatOrUnknown(t) || t == DType::kI32 || t == DType::kI64;
}

StatusOr<std::unique_ptr<Kernel>> CreateArgReduceKernel(const NodeDef& node) {
  return std::unique_ptr<Kernel>(new ArgReduceKernel(
      node.name, node.op_type, node.attrs->GetInt("axis", 0),
      node.attrs->GetInt("select_last_index", 0) != 0));
}

// ------------------------------------------------------ Softmax/LogSoftmax

class SoftmaxKernel : public Kernel {
 public:
  SoftmaxKernel(std::string name, bool log, int64_t axis, bool flatten)
      : name_(std::move(name)), log_(log), axis_(axis), flatten_(flatten) {}

  Status Compute(KernelContext& ctx) const override {
    const Tensor& x = ctx.input(0);
    const char* op = log_ ? "LogSoftmax" : "Softmax";
    cr::Elem elem;
    if (!ToFloatElem(x.dtype(), &elem))
      return UnsupportedDType(op, name_, x.dtype());
    const int64_t rank = x.rank();
    const int64_t axis = axis_ < 0 ? axis_ + rank : axis_;
    // Before opset 13 the axis only splits the shape in two (axis == rank
    // allowed); see InferSoftmaxImpl in src/ops/nn.cc.
    TP_CHECK_ARG(axis >= 0 && axis < rank + (flatten_ ? 1 : 0),
                 op << " (node \"" << name_ << "\"): axis " << axis_
                    << " is out of range for input "
                    << ShapeToString(x.shape()));
    if (x.num_elements() == 0) return Status::Ok();
    const cr::AxisShape s =
        flatten_ ? cr::AxisShape{DimProduct(x.shape(), 0, axis),
                                 DimProduct(x.shape(), axis, rank), 1}
                 : SplitAt(x.shape(), axis);
    TP_ASSIGN_OR_RETURN(CudaStream * stream, StreamOf(ctx));
    TP_CUDA_CHECK(cr::LaunchSoftmax(
        log_, elem, x.raw_data(), ctx.output(0).raw_data(), s, stream->get()));
    return Status::Ok();
  }

 private:
  std::string name_;
  bool log_;
  int64_t axis_;
  bool flatten_;  // opset < 13: normalise over everything from axis on
};

StatusOr<std::unique_ptr<Kernel>> CreateSoftmaxKernel(const NodeDef& node) {
  const bool flatten = node.opset < 13;
  return std::unique_ptr<Kernel>(
      new SoftmaxKernel(node.name, node.op_type == "LogSoftmax",
                        node.attrs->GetInt("axis", flatten ? 1 : -1), flatten));
}

// ------------------------------------------------------ LayerNormalization

class LayerNormKernel : public Kernel {
 public:
  LayerNormKernel(std::string name, int64_t axis, float epsilon)
      : name_(std::move(name)), axis_(axis), epsilon_(epsilon) {}

  Status Compute(KernelContext& ctx) const override {
    const char* op = "LayerNormalization";
    const Tensor& x = ctx.input(0);
    cr::Elem elem;
    if (!ToFloatElem(x.dtype(), &elem))
      return UnsupportedDType(op, name_, x.dtype());
    const Tensor& scale = ctx.input(1);
    const Tensor* bias = ctx.has_input(2) ? ctx.inputs[2] : nullptr;
    TP_CHECK_ARG(scale.dtype() == x.dtype() &&
                     (bias == nullptr || bias->dtype() == x.dtype()),
                 op << " (node \"" << name_
                    << "\"): Scale and B must have the dtype of X");
    TP_ASSIGN_OR_RETURN(int64_t axis, NormalizeAxis(axis_, x.rank(), "axis"));
    cr::LayerNormArgs a;
    a.rows = DimProduct(x.shape(), 0, axis);
    a.cols = DimProduct(x.shape(), axis, x.rank());
    TP_CHECK_ARG(scale.num_elements() == a.cols &&
                     (bias == nullptr || bias->num_elements() == a.cols),
                 op << " (node \"" << name_ << "\"): Scale and B must have the "
                    << a.cols << " elements of the normalised shape");
    a.x = x.raw_data();
    a.scale = scale.raw_data();
    a.bias = bias != nullptr ? bias->raw_data() : nullptr;
    a.y = ctx.output(0).raw_data();
    a.epsilon = epsilon_;
    // The optional Mean and InvStdDev outputs: float32, or float64 with
    // stash_type=11 (see InferLayerNorm in src/ops/nn.cc).
    for (size_t i = 1; i < 3 && i < ctx.outputs.size(); ++i) {
      Tensor* t = ctx.outputs[i];
      if (t == nullptr) continue;
      TP_CHECK_ARG(t->dtype() == DType::kF32 || t->dtype() == DType::kF64,
                   op << " (node \"" << name_ << "\"): output " << i
                      << " must be float32 or float64, got "
                      << DTypeName(t->dtype()));
      TP_CHECK_ARG(t->num_elements() == a.rows,
                   op << " (node \"" << name_ << "\"): output " << i << " has "
                      << t->num_elements() << " elements, expected " << a.rows);
      (i == 1 ? a.mean : a.inv_std) = t->raw_data();
      a.stats_f64 = t->dtype() == DType::kF64;
    }
    if (a.rows == 0) return Status::Ok();
    TP_ASSIGN_OR_RETURN(CudaStream * stream, StreamOf(ctx));
    TP_CUDA_CHECK(cr::LaunchLayerNorm(elem, a, stream->get()));
    return Status::Ok();
  }

 private:
  std::string name_;
  int64_t axis_;
  float epsilon_;
};

StatusOr<std::unique_ptr<Kernel>> CreateLayerNormKernel(const NodeDef& node) {
  return std::unique_ptr<Kernel>(
      new LayerNormKernel(node.name, node.attrs->GetInt("axis", -1),
                          node.attrs->GetFloat("epsilon", 1e-5f)));
}

// ------------------------------------------------------ BatchNormalization

class BatchNormKernel : public Kernel {
 public:
  BatchNormKernel(std::string name, float epsilon)
      : name_(std::move(name)), epsilon_(epsilon) {}

  Status Compute(KernelContext& ctx) const override {
    const char* op = "BatchNormalization";
    const Tensor& x = ctx.input(0);
    cr::Elem elem;
    if (!ToFloatElem(x.dtype(), &elem))
      return UnsupportedDType(op, name_, x.dtype());
    TP_CHECK_ARG(x.rank() >= 2, op << " (node \"" << name_
                                   << "\"): input X must have rank >= 2, got "
                                   << ShapeToString(x.shape()));
    cr::BatchNormArgs a;
    a.x = x.raw_data();
    a.y = ctx.output(0).raw_data();
    a.epsilon = epsilon_;
    a.n = x.dim(0);
    // The feature count (per channel, or per channel and position when an
    // old opset's spatial=0) is the parameters' size, as on the CPU.
    a.features = ctx.input(1).num_elements();
    static const char* const kNames[] = {"scale", "B", "input_mean",
                                         "input_var"};
    for (int i = 0; i < 4; ++i) {
      const Tensor& p = ctx.input(i + 1);
      if (!ToElem(p.dtype(), &a.param_elems[i]) ||
          a.param_elems[i] == cr::Elem::kI32 ||
          a.param_elems[i] == cr::Elem::kI64) {
        return UnsupportedDType(op, name_, p.dtype());
      }
      TP_CHECK_ARG(p.num_elements() == a.features,
                   op << " (node \"" << name_ << "\"): input " << kNames[i]
                      << " has " << p.num_elements() << " elements, expected "
                      << a.features);
      a.params[i] = p.raw_data();
    }
    if (x.num_elements() == 0) return Status::Ok();
    TP_CHECK_ARG(a.features > 0 && x.num_elements() % (a.n * a.features) == 0,
                 op << " (node \"" << name_ << "\"): " << a.features
                    << " features do not divide input X "
                    << ShapeToString(x.shape()));
    a.inner = x.num_elements() / (a.n * a.features);
    void* workspace = nullptr;
    TP_RETURN_IF_ERROR(
        GetWorkspace(ctx, 2 * static_cast<size_t>(a.features) * sizeof(float),
                     op, &workspace));
    a.coefficients = static_cast<float*>(workspace);
    TP_ASSIGN_OR_RETURN(CudaStream * stream, StreamOf(ctx));
    TP_CUDA_CHECK(cr::LaunchBatchNormInference(elem, a, stream->get()));
    return Status::Ok();
  }

 private:
  std::string name_;
  float epsilon_;
};

// Training mode is rejected, as on the CPU: tensorpod runs inference only.
bool IsBatchNormTraining(const NodeDef& node) {
  return node.attrs->GetInt("training_mode", 0) != 0 || node.num_outputs > 1;
}

bool SupportsBatchNorm(const NodeDef& node) {
  if (IsBatchNormTraining(node) || !SupportsFloatInput(node)) return false;
  for (size_t i = 1; i < 5; ++i) {
    const DType t = InputDType(node, i);
    if (!IsFloatOrUnknown(t) && t != DType::kF64) return false;
  }
  return true;
}

StatusOr<std::unique_ptr<Kernel>> CreateBatchNormKernel(const NodeDef& node) {
  if (IsBatchNormTraining(node)) {
    return TP_ERROR(
        kUnimplemented,
        "BatchNormalization in training mode (training_mode=1 or statistics "
        "outputs) is not supported; tensorpod runs inference only");
  }
  return std::unique_ptr<Kernel>(
      new BatchNormKernel(node.name, node.attrs->GetFloat("epsilon", 1e-5f)));
}

// ---------------------------------------------------------------- pooling

// MaxPool and AveragePool over 1 to 3 spatial dimensions.
class WindowPoolKernel : public Kernel {
 public:
  WindowPoolKernel(std::string name, bool is_max, WindowAttrs attrs,
                   bool count_include_pad, bool column_major)
      : name_(std::move(name)),
        is_max_(is_max),
        attrs_(std::move(attrs)),
        count_include_pad_(count_include_pad),
        column_major_(column_major) {}

  Status Compute(KernelContext& ctx) const override {
    const char* op = is_max_ ? "MaxPool" : "AveragePool";
    const Tensor& x = ctx.input(0);
    cr::Elem elem;
    if (!ToFloatElem(x.dtype(), &elem))
      return UnsupportedDType(op, name_, x.dtype());
    const int64_t spatial = x.rank() - 2;
    if (spatial < 1 || spatial > cr::kPoolDims) {
      return TP_ERROR(kUnimplemented,
                      op << " (node \"" << name_ << "\") on cuda supports 1 to "
                         << cr::kPoolDims << " spatial dimensions, got input "
                         << ShapeToString(x.shape()));
    }
    TP_ASSIGN_OR_RETURN(
        const WindowGeometry g,
        ComputeWindowGeometry(attrs_,
                              Shape(x.shape().begin() + 2, x.shape().end())));
    // Lower-rank pools get size-1 dimensions in front, which changes neither
    // the result nor the flat indices MaxPool reports.
    cr::PoolWindow w;
    const int64_t front = cr::kPoolDims - spatial;
    for (int64_t d = 0; d < cr::kPoolDims; ++d) {
      const int64_t i = d - front;
      const bool real = i >= 0;
      w.in[d] = real ? x.dim(2 + i) : 1;
      w.out[d] = real ? g.out[i] : 1;
      w.kernel[d] = real ? attrs_.kernel[i] : 1;
      w.stride[d] = real ? attrs_.strides[i] : 1;
      w.dilation[d] = real ? attrs_.dilations[i] : 1;
      w.pad_begin[d] = real ? g.pad_begin[i] : 0;
      w.pad_end[d] = real ? g.pad_end[i] : 0;
    }
    w.planes = x.dim(0) * x.dim(1);
    int64_t* indices = nullptr;
    if (is_max_ && ctx.outputs.size() > 1 && ctx.outputs[1] != nullptr)
      indices = ctx.output(1).data<int64_t>();
    TP_ASSIGN_OR_RETURN(CudaStream * stream, StreamOf(ctx));
    TP_CUDA_CHECK(cr::LaunchPool(is_max_, count_include_pad_, elem,
                                 x.raw_data(), ctx.output(0).raw_data(),
                                 indices, column_major_, w, stream->get()));
    return Status::Ok();
  }

 private:
  std::string name_;
  bool is_max_;
  WindowAttrs attrs_;
  bool count_include_pad_;
  bool column_major_;  // storage_order=1: Indices count column-major
};

// Pools with a CPU-only layout attribute (tp_blocked, from the CPU's
// blocked-layout pass) stay on the CPU.
bool HasCpuLayoutAttribute(const NodeDef& node) {
  for (const auto& [key, value] : node.attrs->map()) {
    if (key.rfind("tp_", 0) == 0) return true;
  }
  return false;
}

bool SupportsWindowPool(const NodeDef& node) {
  if (!SupportsFloatInput(node) || HasCpuLayoutAttribute(node)) return false;
  const size_t spatial = node.attrs->GetInts("kernel_shape").size();
  return spatial >= 1 && spatial <= static_cast<size_t>(cr::kPoolDims);
}

StatusOr<std::unique_ptr<Kernel>> CreateWindowPoolKernel(const NodeDef& node) {
  TP_ASSIGN_OR_RETURN(std::vector<int64_t> kernel,
                      node.attrs->RequireInts("kernel_shape"));
  TP_ASSIGN_OR_RETURN(WindowAttrs attrs,
                      ParseWindowAttrs(*node.attrs, std::move(kernel)));
  const bool is_max = node.op_type == "MaxPool";
  const bool count_include_pad =
      !is_max && node.attrs->GetInt("count_include_pad", 0) != 0;
  const bool column_major =
      is_max && node.attrs->GetInt("storage_order", 0) != 0;
  return std::unique_ptr<Kernel>(new WindowPoolKernel(
      node.name, is_max, std::move(attrs), count_include_pad, column_major));
}

// GlobalAveragePool / GlobalMaxPool: a mean or maximum per (n, c) plane.
class GlobalPoolKernel : public Kernel {
 public:
  GlobalPoolKernel(std::string name, bool is_max)
      : name_(std::move(name)), is_max_(is_max) {}

  Status Compute(KernelContext& ctx) const override {
    const std::string op = is_max_ ? "GlobalMaxPool" : "GlobalAveragePool";
    const Tensor& x = ctx.input(0);
    cr::Elem elem;
    if (!ToFloatElem(x.dtype(), &elem))
      return UnsupportedDType(op, name_, x.dtype());
    TP_CHECK_ARG(x.rank() >= 3, op << " (node \"" << name_
                                   << "\"): input X must have rank >= 3, got "
                                   << ShapeToString(x.shape()));
    const int64_t planes = x.dim(0) * x.dim(1);
    if (planes == 0) return Status::Ok();
    const cr::AxisShape s{planes, x.num_elements() / planes, 1};
    return ReduceAxisShape(ctx, op,
                           is_max_ ? cr::ReduceOp::kMax : cr::ReduceOp::kMean,
                           elem, x, &ctx.output(0), s);
  }

 private:
  std::string name_;
  bool is_max_;
};

StatusOr<std::unique_ptr<Kernel>> CreateGlobalPoolKernel(const NodeDef& node) {
  return std::unique_ptr<Kernel>(
      new GlobalPoolKernel(node.name, node.op_type == "GlobalMaxPool"));
}

bool SupportsGlobalPool(const NodeDef& node) {
  return SupportsFloatInput(node) && !HasCpuLayoutAttribute(node);
}

}  // namespace

void RegisterCudaReductionKernels(KernelRegistry* r) {
  for (const ReduceEntry& e : kReduceOps)
    r->Add(e.op_type, &CreateReduceKernel, &SupportsReduce);
  r->Add("ArgMax", &CreateArgReduceKernel, &SupportsArgReduce);
  r->Add("ArgMin", &CreateArgReduceKernel, &SupportsArgReduce);
  r->Add("Softmax", &CreateSoftmaxKernel, &SupportsFloatInput);
  r->Add("LogSoftmax", &CreateSoftmaxKernel, &SupportsFloatInput);
  r->Add("LayerNormalization", &CreateLayerNormKernel, &SupportsFloatInput);
  r->Add("BatchNormalization", &CreateBatchNormKernel, &SupportsBatchNorm);
  r->Add("MaxPool", &CreateWindowPoolKernel, &SupportsWindowPool);
  r->Add("AveragePool", &CreateWindowPoolKernel, &SupportsWindowPool);
  r->Add("GlobalAveragePool", &CreateGlobalPoolKernel, &SupportsGlobalPool);
  r->Add("GlobalMaxPool", &CreateGlobalPoolKernel, &SupportsGlobalPool);
}

}  // namespace tensorpod::internal
