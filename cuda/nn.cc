// CUDA matrix products (cuBLASLt: MatMul, Gemm, tp.FusedMatMul) and
// convolution (cuDNN). Why cuDNN for convolution: see cuda/README.md.
#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "activation.h"
#include "cuda_common.h"
#include "cuda_kernels.h"
#include "gemm.h"
#include "kernels/elementwise.cuh"
#include "kernels/nn.cuh"
#include "ops/nn_shapes.h"

namespace tensorpod::internal {
namespace {

int DTypeCode(DType t) { return t == DType::kF16 ? kEwF16 : t == DType::kBF16 ? kEwBF16 : kEwF32; }

bool FloatInputs(const NodeDef& node, size_t count) {
  for (size_t i = 0; i < std::min(count, node.input_dtypes.size()); ++i) {
    const DType t = node.input_dtypes[i];
    if (t != DType::kUndefined && !GemmDType(t)) return false;
  }
  return true;
}

// The fused activation as the GEMM epilogue where cuBLASLt has it (ReLU,
// GELU(tanh)), else as a pass over the output. Exact (erf) GELU is never
// approximated.
struct FusedActivation {
  CudaActivationSpec spec;
  GemmEpilogue Epilogue(bool has_bias) const {
    if (spec.kind == kCudaActRelu) return has_bias ? GemmEpilogue::kBiasRelu : GemmEpilogue::kRelu;
    if (spec.kind == kCudaActGeluTanh) return has_bias ? GemmEpilogue::kBiasGeluTanh : GemmEpilogue::kGeluTanh;
    return has_bias ? GemmEpilogue::kBias : GemmEpilogue::kNone;
  }
  bool NeedsPass() const {
    return spec.kind != kCudaActNone && spec.kind != kCudaActRelu && spec.kind != kCudaActGeluTanh;
  }
  Status Apply(Tensor& y, int64_t rows, int64_t cols, CudaStream* s) const {
    if (!NeedsPass() || rows * cols == 0) return Status::Ok();
    TP_CUDA_CHECK(LaunchBiasActivation(DTypeCode(y.dtype()), y.raw_data(), nullptr, rows, cols, spec.kind,
                                       spec.alpha, spec.beta, s->get()));
    return Status::Ok();
  }
};

Status ZeroFill(Tensor& y, CudaStream* s) {
  if (y.nbytes() > 0) TP_CUDA_CHECK(cudaMemsetAsync(y.raw_data(), 0, y.nbytes(), s->get()));
  return Status::Ok();
}

// ---------------------------------------------------------------- MatMul

// ONNX MatMul and tp.FusedMatMul (MatMul + bias[N] + activation). Batches
// become one strided-batched GEMM when each operand's batch is dense or
// shared, and one GEMM with the batch folded into M when B is shared.
class MatMulKernel : public Kernel {
 public:
  static StatusOr<std::unique_ptr<Kernel>> Make(const NodeDef& node) {
    auto k = std::make_unique<MatMulKernel>();
    TP_ASSIGN_OR_RETURN(k->act_.spec, ParseFusedActivation(*node.attrs));
    k->allow_tf32_ = node.attrs->GetInt("tp_allow_tf32", 0) != 0;
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status Compute(KernelContext& ctx) const override {
    TP_ASSIGN_OR_RETURN(CudaStream * s, StreamOf(ctx));
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    Tensor& y = ctx.output(0);
    TP_CHECK_ARG(GemmDType(a.dtype()) && a.dtype() == b.dtype(),
                 "MatMul on cuda takes float32, float16 or bfloat16 operands of one dtype, got "
                     << DTypeName(a.dtype()) << " and " << DTypeName(b.dtype()));
    if (y.num_elements() == 0) return Status::Ok();
    TP_ASSIGN_OR_RETURN(MatMulPlan plan, PlanMatMul(a.shape(), b.shape()));
    const Tensor* bias = ctx.has_input(2) ? ctx.inputs[2] : nullptr;
    if (plan.k == 0) {
      TP_CHECK_ARG(bias == nullptr && act_.spec.kind == kCudaActNone,
                   "a fused MatMul with an empty inner dimension is not implemented on cuda");
      return ZeroFill(y, s);
    }
    GemmProblem p;
    p.dtype = a.dtype();
    p.m = plan.m;
    p.n = plan.n;
    p.k = plan.k;
    p.a = a.raw_data();
    p.lda = plan.k;
    p.b = b.raw_data();
    p.ldb = plan.n;
    p.c = y.raw_data();
    p.ldc = plan.n;
    p.allow_tf32 = allow_tf32_;
    p.epilogue = act_.Epilogue(bias != nullptr);
    if (bias != nullptr) {
      TP_CHECK_ARG(bias->num_elements() == plan.n && bias->dtype() == a.dtype(),
                   "the fused bias must hold " << plan.n << " " << DTypeName(a.dtype()) << " values, got "
                                               << ShapeToString(bias->shape()));
      p.bias = bias->raw_data();
    }
    const int64_t batches = plan.batch_count();
    const int64_t a_mats = Matrices(plan, plan.a_batch_stride), b_mats = Matrices(plan, plan.b_batch_stride);
    const int64_t c_size = plan.m * plan.n;
    if (b_mats == 1 && a_mats == batches) {
      p.m = batches * plan.m;  // B shared: fold the batch into M
      TP_RETURN_IF_ERROR(gemm_.Run(s, p));
    } else if ((a_mats == batches || a_mats == 1) && (b_mats == batches || b_mats == 1)) {
      p.batch = batches;
      p.stride_a = a_mats == 1 ? 0 : plan.m * plan.k;
      p.stride_b = b_mats == 1 ? 0 : plan.k * plan.n;
      p.stride_c = c_size;
      TP_RETURN_IF_ERROR(gemm_.Run(s, p));
    } else {
      // Mixed broadcasting ([2,1,..] x [1,3,..]): one GEMM per batch entry.
      const size_t elem = DTypeSize(a.dtype());
      for (int64_t i = 0; i < batches; ++i) {
        int64_t oa = 0, ob = 0;
        plan.BatchOffsets(i, &oa, &ob);
        GemmProblem q = p;
        q.a = static_cast<const char*>(a.raw_data()) + oa * plan.m * plan.k * elem;
        q.b = static_cast<const char*>(b.raw_data()) + ob * plan.k * plan.n * elem;
        q.c = static_cast<char*>(y.raw_data()) + i * c_size * elem;
        TP_RETURN_IF_ERROR(gemm_.Run(s, q));
      }
    }
    return act_.Apply(y, y.num_elements() / plan.n, plan.n, s);
  }

 private:
  static int64_t Matrices(const MatMulPlan& p, const std::vector<int64_t>& strides) {
    int64_t count = 1;
    for (size_t d = 0; d < p.batch.size(); ++d) if (strides[d] != 0) count *= p.batch[d];
    return count;
  }
  FusedActivation act_;
  bool allow_tf32_ = false;
  LtGemm gemm_;
};

bool SupportsMatMul(const NodeDef& node) {
  if (!FloatInputs(node, 3)) return false;
  return ParseFusedActivation(*node.attrs).ok();
}

// ------------------------------------------------------------------ Gemm

// ONNX Gemm: Y = alpha * op(A) op(B) + beta * C, C broadcast from a scalar,
// [N], [M,1], [1,N] or [M,N]; plus a fused activation.
class GemmKernel : public Kernel {
 public:
  static StatusOr<std::unique_ptr<Kernel>> Make(const NodeDef& node) {
    auto k = std::make_unique<GemmKernel>();
    k->trans_a_ = node.attrs->GetInt("transA", 0) != 0;
    k->trans_b_ = node.attrs->GetInt("transB", 0) != 0;
    k->alpha_ = node.attrs->GetFloat("alpha", 1.0f);
    k->beta_ = node.attrs->GetFloat("beta", 1.0f);
    k->allow_tf32_ = node.attrs->GetInt("tp_allow_tf32", 0) != 0;
    TP_ASSIGN_OR_RETURN(k->act_.spec, ParseFusedActivation(*node.attrs));
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status Compute(KernelContext& ctx) const override {
    TP_ASSIGN_OR_RETURN(CudaStream * s, StreamOf(ctx));
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    Tensor& y = ctx.output(0);
    TP_CHECK_ARG(GemmDType(a.dtype()) && a.dtype() == b.dtype(),
                 "Gemm on cuda takes float32, float16 or bfloat16 operands of one dtype, got "
                     << DTypeName(a.dtype()) << " and " << DTypeName(b.dtype()));
    const int64_t m = y.dim(0), n = y.dim(1);
    const int64_t k = trans_a_ ? a.dim(0) : a.dim(1);
    if (m * n == 0) return Status::Ok();
    GemmProblem p;
    p.dtype = a.dtype();
    p.trans_a = trans_a_;
    p.trans_b = trans_b_;
    p.m = m;
    p.n = n;
    p.k = k;
    p.a = a.raw_data();
    p.lda = a.dim(1);
    p.b = b.raw_data();
    p.ldb = b.dim(1);
    p.c = y.raw_data();
    p.ldc = n;
    p.alpha = alpha_;
    p.allow_tf32 = allow_tf32_;
    const Tensor* c = ctx.has_input(2) && beta_ != 0.0f ? ctx.inputs[2] : nullptr;
    bool bias_epilogue = false;
    if (c != nullptr) {
      const int64_t c_rows = c->rank() == 2 ? c->dim(0) : 1;
      const int64_t c_cols = c->rank() == 0 ? 1 : c->shape().back();
      if (beta_ == 1.0f && c_rows == 1 && c_cols == n && c->dtype() == a.dtype()) {
        bias_epilogue = true;  // a row vector: cuBLASLt's bias
        p.bias = c->raw_data();
      } else {
        TP_CUDA_CHECK(LaunchBroadcast2D(DTypeCode(a.dtype()), c->raw_data(), c_rows, c_cols, y.raw_data(), m, n,
                                        s->get()));
        p.beta = beta_;
      }
    }
    if (k == 0) {
      TP_CHECK_ARG(!bias_epilogue && c == nullptr && act_.spec.kind == kCudaActNone,
                   "Gemm with an empty inner dimension and a C input is not implemented on cuda");
      return ZeroFill(y, s);
    }
    p.epilogue = act_.Epilogue(bias_epilogue);
    if (p.beta != 0.0f && p.epilogue != GemmEpilogue::kNone) {
      // beta*C is already in Y; the activation runs as its own pass.
      p.epilogue = GemmEpilogue::kNone;
      TP_RETURN_IF_ERROR(gemm_.Run(s, p));
      TP_CUDA_CHECK(LaunchBiasActivation(DTypeCode(y.dtype()), y.raw_data(), nullptr, m, n, act_.spec.kind,
                                         act_.spec.alpha, act_.spec.beta, s->get()));
      return Status::Ok();
    }
    TP_RETURN_IF_ERROR(gemm_.Run(s, p));
    return act_.Apply(y, m, n, s);
  }

 private:
  bool trans_a_ = false, trans_b_ = false;
  float alpha_ = 1.0f, beta_ = 1.0f;
  bool allow_tf32_ = false;
  FusedActivation act_;
  LtGemm gemm_;
};

bool SupportsGemm(const NodeDef& node) { return SupportsMatMul(node); }

// ------------------------------------------------------------------ Conv

cudnnDataType_t CudnnType(DType t) {
  return t == DType::kF16 ? CUDNN_DATA_HALF : t == DType::kBF16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
}

// Owns one call's cuDNN descriptors.
struct ConvDescriptors {
  cudnnTensorDescriptor_t x = nullptr, y = nullptr;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;
  ~ConvDescriptors() {
    if (conv) cudnnDestroyConvolutionDescriptor(conv);
    if (w) cudnnDestroyFilterDescriptor(w);
    if (y) cudnnDestroyTensorDescriptor(y);
    if (x) cudnnDestroyTensorDescriptor(x);
  }
};

std::vector<int> Packed(const Shape& s) {
  std::vector<int> strides(s.size(), 1);
  for (int d = static_cast<int>(s.size()) - 2; d >= 0; --d) strides[d] = strides[d + 1] * static_cast<int>(s[d + 1]);
  return strides;
}

// Conv (1-D to 3-D, groups, dilations, symmetric pads) on cuDNN's
// convolution forward, the algorithm picked once per shape by cuDNN's
// heuristics (no exhaustive search), workspace from the context's scratch;
// bias and the fused activation in one pass after it.
class ConvKernel : public Kernel {
 public:
  static StatusOr<std::unique_ptr<Kernel>> Make(const NodeDef& node) {
    auto k = std::make_unique<ConvKernel>();
    k->group_ = node.attrs->GetInt("group", 1);
    TP_CHECK_ARG(k->group_ >= 1, "Conv group must be >= 1, got " << k->group_);
    k->allow_tf32_ = node.attrs->GetInt("tp_allow_tf32", 0) != 0;
    TP_ASSIGN_OR_RETURN(k->act_.spec, ParseFusedActivation(*node.attrs));
    return std::unique_ptr<Kernel>(std::move(k));
  }

  Status Compute(KernelContext& ctx) const override {
    TP_ASSIGN_OR_RETURN(CudaStream * s, StreamOf(ctx));
    const Tensor& x = ctx.input(0);
    const Tensor& w = ctx.input(1);
    const Tensor* bias = ctx.has_input(2) ? ctx.inputs[2] : nullptr;
    Tensor& y = ctx.output(0);
    TP_CHECK_ARG(GemmDType(x.dtype()) && w.dtype() == x.dtype(),
                 "Conv on cuda takes float32, float16 or bfloat16, got " << DTypeName(x.dtype()));
    TP_CHECK_ARG(x.rank() >= 3 && x.rank() <= 5, "Conv on cuda takes 1-D to 3-D inputs, got "
                                                      << ShapeToString(x.shape()));
    if (y.num_elements() == 0) return Status::Ok();
    const int spatial = static_cast<int>(x.rank()) - 2;
    std::vector<int64_t> kernel(w.shape().begin() + 2, w.shape().end());
    // The attributes were validated by shape inference; re-derive the pads
    // for these input sizes.
    TP_ASSIGN_OR_RETURN(WindowAttrs wa, ParseWindowAttrs(*attrs_, kernel));
    TP_ASSIGN_OR_RETURN(WindowGeometry geo,
                        ComputeWindowGeometry(wa, Shape(x.shape().begin() + 2, x.shape().end())));
    for (int d = 0; d < spatial; ++d) {
      if (geo.pad_begin[d] != geo.pad_end[d]) {
        return TP_ERROR(kUnimplemented, "Conv on cuda needs symmetric padding, got " << geo.pad_begin[d] << " and "
                                                                                    << geo.pad_end[d]
                                                                                    << " on spatial axis " << d);
      }
    }
    // cuDNN wants at least 4-D descriptors: a 1-D conv is a 2-D one of height 1.
    Shape xs = x.shape(), ws = w.shape(), ys = y.shape();
    std::vector<int> pads, strides, dilations;
    for (int d = 0; d < spatial; ++d) {
      pads.push_back(static_cast<int>(geo.pad_begin[d]));
      strides.push_back(static_cast<int>(wa.strides[d]));
      dilations.push_back(static_cast<int>(wa.dilations[d]));
    }
    if (spatial == 1) {
      xs.insert(xs.begin() + 2, 1);
      ws.insert(ws.begin() + 2, 1);
      ys.insert(ys.begin() + 2, 1);
      pads.insert(pads.begin(), 0);
      strides.insert(strides.begin(), 1);
      dilations.insert(dilations.begin(), 1);
    }
    for (const Shape* sh : {&xs, &ws, &ys}) {
      TP_CHECK_ARG(NumElementsUnchecked(*sh) <= INT32_MAX,
                   "Conv tensor " << ShapeToString(*sh) << " has too many elements for cuDNN's descriptors");
    }
    const int nd = static_cast<int>(xs.size());
    const cudnnDataType_t type = CudnnType(x.dtype());
    TP_ASSIGN_OR_RETURN(cudnnHandle_t handle, s->cudnn());
    ConvDescriptors d;
    std::vector<int> xdims(xs.begin(), xs.end()), wdims(ws.begin(), ws.end()), ydims(ys.begin(), ys.end());
    TP_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d.x));
    TP_CUDNN_CHECK(cudnnSetTensorNdDescriptor(d.x, type, nd, xdims.data(), Packed(xs).data()));
    TP_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d.y));
    TP_CUDNN_CHECK(cudnnSetTensorNdDescriptor(d.y, type, nd, ydims.data(), Packed(ys).data()));
    TP_CUDNN_CHECK(cudnnCreateFilterDescriptor(&d.w));
    TP_CUDNN_CHECK(cudnnSetFilterNdDescriptor(d.w, type, CUDNN_TENSOR_NCHW, nd, wdims.data()));
    TP_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&d.conv));
    TP_CUDNN_CHECK(cudnnSetConvolutionNdDescriptor(d.conv, nd - 2, pads.data(), strides.data(), dilations.data(),
                                                   CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT));
    TP_CUDNN_CHECK(cudnnSetConvolutionGroupCount(d.conv, static_cast<int>(group_)));
    // float32: plain FMA unless TF32 was asked for; 16-bit types: tensor cores.
    const cudnnMathType_t math = x.dtype() != DType::kF32 ? CUDNN_TENSOR_OP_MATH
                                 : allow_tf32_            ? CUDNN_DEFAULT_MATH
                                                          : CUDNN_FMA_MATH;
    TP_CUDNN_CHECK(cudnnSetConvolutionMathType(d.conv, math));

    std::vector<int64_t> key(xs.begin(), xs.end());
    key.insert(key.end(), ws.begin(), ws.end());
    key.push_back(static_cast<int64_t>(x.dtype()));
    cudnnConvolutionFwdAlgo_t algo;
    size_t workspace = 0;
    bool found = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = algos_.find(key);
      if (it != algos_.end()) {
        algo = it->second.first;
        workspace = it->second.second;
        found = true;
      }
    }
    if (!found) {
      cudnnConvolutionFwdAlgoPerf_t perf[8];
      int returned = 0;
      TP_CUDNN_CHECK(cudnnGetConvolutionForwardAlgorithm_v7(handle, d.x, d.w, d.conv, d.y, 8, &returned, perf));
      bool ok = false;
      // The fastest by cuDNN's estimate whose workspace stays reasonable
      // (FFT algorithms can ask for gigabytes).
      constexpr size_t kMaxWorkspace = size_t{512} << 20;
      for (int i = 0; i < returned && !ok; ++i) {
        if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].memory > kMaxWorkspace) continue;
        algo = perf[i].algo;
        ok = cudnnGetConvolutionForwardWorkspaceSize(handle, d.x, d.w, d.conv, d.y, algo, &workspace) ==
             CUDNN_STATUS_SUCCESS;
      }
      if (!ok) {
        return TP_ERROR(kUnimplemented, "cuDNN has no forward algorithm for a " << DTypeName(x.dtype()) << " conv of "
                                                                                << ShapeToString(x.shape()) << " by "
                                                                                << ShapeToString(w.shape()));
      }
      std::lock_guard<std::mutex> lock(mu_);
      algos_[key] = {algo, workspace};
    }
    void* ws_ptr = nullptr;
    if (workspace > 0) {
      ws_ptr = ctx.scratch->Get(workspace);
      if (ws_ptr == nullptr) {
        return TP_ERROR(kResourceExhausted, "no device memory for a " << workspace << "-byte cuDNN workspace");
      }
    }
    const float one = 1.0f, zero = 0.0f;
    TP_CUDNN_CHECK(cudnnConvolutionForward(handle, &one, d.x, x.raw_data(), d.w, w.raw_data(), d.conv, algo, ws_ptr,
                                           workspace, &zero, d.y, y.raw_data()));
    if (bias != nullptr || act_.spec.kind != kCudaActNone) {
      const int64_t channels = y.dim(1);
      const int64_t inner = y.num_elements() / (y.dim(0) * channels);
      TP_CUDA_CHECK(LaunchChannelBiasActivation(DTypeCode(y.dtype()), y.raw_data(),
                                                bias != nullptr ? bias->raw_data() : nullptr, y.dim(0), channels,
                                                inner, act_.spec.kind, act_.spec.alpha, act_.spec.beta, s->get()));
    }
    return Status::Ok();
  }

  const Attributes* attrs_ = nullptr;  // the node's; outlives the kernel

 private:
  int64_t group_ = 1;
  bool allow_tf32_ = false;
  FusedActivation act_;
  mutable std::mutex mu_;
  mutable std::map<std::vector<int64_t>, std::pair<cudnnConvolutionFwdAlgo_t, size_t>> algos_;  // guarded by mu_
};

StatusOr<std::unique_ptr<Kernel>> MakeConv(const NodeDef& node) {
  TP_ASSIGN_OR_RETURN(auto k, ConvKernel::Make(node));
  static_cast<ConvKernel*>(k.get())->attrs_ = node.attrs;
  return k;
}

bool SupportsConv(const NodeDef& node) {
  if (!FloatInputs(node, 3) || !ParseFusedActivation(*node.attrs).ok()) return false;
  // Layout flags of the CPU backend's blocked convolution are not ours.
  if (node.attrs->Has("tp_src_blocked") || node.attrs->Has("tp_dst_blocked")) return false;
  // Asymmetric pads need a padding pass cuDNN does not have: explicit ones
  // are visible here; SAME_* pads are symmetric for every input size only
  // with stride 1 and an odd (dilated) kernel extent.
  const std::vector<int64_t> pads = node.attrs->GetInts("pads", {});
  for (size_t i = 0; i < pads.size() / 2; ++i) {
    if (pads[i] != pads[i + pads.size() / 2]) return false;
  }
  const std::string auto_pad = node.attrs->GetString("auto_pad", "NOTSET");
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    std::vector<int64_t> kernel = node.attrs->GetInts("kernel_shape", {});
    const Tensor* w = node.constant_inputs.size() > 1 ? node.constant_inputs[1] : nullptr;
    if (kernel.empty() && w != nullptr) kernel.assign(w->shape().begin() + std::min<int64_t>(2, w->rank()), w->shape().end());
    if (kernel.empty()) return false;
    const std::vector<int64_t> strides = node.attrs->GetInts("strides", {});
    const std::vector<int64_t> dilations = node.attrs->GetInts("dilations", {});
    for (size_t i = 0; i < kernel.size(); ++i) {
      const int64_t stride = i < strides.size() ? strides[i] : 1;
      const int64_t dilation = i < dilations.size() ? dilations[i] : 1;
      if (stride != 1 || ((kernel[i] - 1) * dilation + 1) % 2 == 0) return false;
    }
  }
  return true;
}

}  // namespace

void RegisterCudaNnKernels(KernelRegistry* r) {
  r->Add("MatMul", MatMulKernel::Make, SupportsMatMul);
  r->Add("tp.FusedMatMul", MatMulKernel::Make, SupportsMatMul);
  r->Add("Gemm", GemmKernel::Make, SupportsGemm);
  r->Add("Conv", MakeConv, SupportsConv);
}

}  // namespace tensorpod::internal
