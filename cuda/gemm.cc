#include "gemm.h"

#include <memory>

namespace tensorpod::internal {
namespace {

// Row-major C[m,n] = A[m,k] B[k,n] is column-major C^T[n,m] = B^T[n,k] A^T[k,m]:
// cuBLASLt's "A" is our B and its "B" is our A, with C's leading dimension
// unchanged, and a per-column bias of C is a per-row bias of C^T, which is
// what cuBLASLt's bias epilogues add.

cudaDataType_t CudaType(DType t) {
  switch (t) {
    case DType::kF16: return CUDA_R_16F;
    case DType::kBF16: return CUDA_R_16BF;
    default: return CUDA_R_32F;
  }
}

cublasLtEpilogue_t LtEpilogue(GemmEpilogue e) {
  switch (e) {
    case GemmEpilogue::kBias: return CUBLASLT_EPILOGUE_BIAS;
    case GemmEpilogue::kBiasRelu: return CUBLASLT_EPILOGUE_RELU_BIAS;
    case GemmEpilogue::kBiasGeluTanh: return CUBLASLT_EPILOGUE_GELU_BIAS;
    case GemmEpilogue::kRelu: return CUBLASLT_EPILOGUE_RELU;
    case GemmEpilogue::kGeluTanh: return CUBLASLT_EPILOGUE_GELU;
    default: return CUBLASLT_EPILOGUE_DEFAULT;
  }
}

// Largest power of two (<= 256) dividing the address: what cuBLASLt may
// assume about the pointer.
uint32_t Alignment(const void* p) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  uint32_t align = 256;
  while (align > 1 && a % align != 0) align /= 2;
  return align;
}

// Owns the cuBLASLt descriptors of one call.
struct LtDescriptors {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  ~LtDescriptors() {
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (c) cublasLtMatrixLayoutDestroy(c);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (op) cublasLtMatmulDescDestroy(op);
  }
};

Status SetBatch(cublasLtMatrixLayout_t layout, int64_t batch, int64_t stride) {
  if (batch <= 1) return Status::Ok();
  const int32_t count = static_cast<int32_t>(batch);
  TP_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &count, sizeof(count)));
  TP_CUBLAS_CHECK(cublasLtMatrixLayoutSetAttribute(layout, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &stride,
                                                   sizeof(stride)));
  return Status::Ok();
}

}  // namespace

Status LtGemm::Run(CudaStream* stream, const GemmProblem& p) const {
  if (p.m == 0 || p.n == 0 || p.batch == 0) return Status::Ok();
  TP_CHECK_ARG(GemmDType(p.dtype), "GEMM on cuda is not implemented for dtype " << DTypeName(p.dtype));
  TP_CHECK_ARG(p.batch <= INT32_MAX, "GEMM batch " << p.batch << " is too large");
  TP_ASSIGN_OR_RETURN(cublasLtHandle_t handle, stream->lt());
  const cudaDataType_t type = CudaType(p.dtype);
  const cublasComputeType_t compute =
      p.dtype == DType::kF32 && p.allow_tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;

  LtDescriptors d;
  TP_CUBLAS_CHECK(cublasLtMatmulDescCreate(&d.op, compute, CUDA_R_32F));
  // cuBLASLt's A is our B, its B our A (see the comment above).
  const cublasOperation_t op_lt_a = p.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_lt_b = p.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
  TP_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSA, &op_lt_a, sizeof(op_lt_a)));
  TP_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSB, &op_lt_b, sizeof(op_lt_b)));
  const cublasLtEpilogue_t epilogue = LtEpilogue(p.epilogue);
  if (epilogue != CUBLASLT_EPILOGUE_DEFAULT) {
    TP_CUBLAS_CHECK(
        cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof(epilogue)));
  }
  const bool has_bias = p.epilogue == GemmEpilogue::kBias || p.epilogue == GemmEpilogue::kBiasRelu ||
                        p.epilogue == GemmEpilogue::kBiasGeluTanh;
  if (has_bias) {
    TP_CHECK_ARG(p.bias != nullptr, "GEMM bias epilogue without a bias");
    TP_CUBLAS_CHECK(
        cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &p.bias, sizeof(p.bias)));
  }
  // Stored (pre-op) column-major shapes.
  const uint64_t a_rows = p.trans_b ? p.k : p.n, a_cols = p.trans_b ? p.n : p.k;
  const uint64_t b_rows = p.trans_a ? p.m : p.k, b_cols = p.trans_a ? p.k : p.m;
  TP_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&d.a, type, a_rows, a_cols, p.ldb));
  TP_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&d.b, type, b_rows, b_cols, p.lda));
  TP_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&d.c, type, p.n, p.m, p.ldc));
  TP_RETURN_IF_ERROR(SetBatch(d.a, p.batch, p.stride_b));
  TP_RETURN_IF_ERROR(SetBatch(d.b, p.batch, p.stride_a));
  TP_RETURN_IF_ERROR(SetBatch(d.c, p.batch, p.stride_c));

  const uint32_t align_a = Alignment(p.b), align_b = Alignment(p.a), align_c = Alignment(p.c);
  const uint32_t align_bias = has_bias ? Alignment(p.bias) : 256;
  Key key = {static_cast<int64_t>(p.dtype), p.trans_a, p.trans_b, p.m, p.n, p.k, p.lda, p.ldb, p.ldc,
             p.stride_a, p.stride_b, p.stride_c, p.batch, static_cast<int64_t>(p.epilogue), p.allow_tf32,
             align_a, align_b, align_c, align_bias, p.beta != 0.0f};
  cublasLtMatmulAlgo_t algo;
  bool found = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = algos_.find(key);
    if (it != algos_.end()) {
      algo = it->second;
      found = true;
    }
  }
  if (!found) {
    TP_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&d.pref));
    const uint64_t workspace = CudaStream::kLtWorkspaceBytes;
    TP_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(d.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                         &workspace, sizeof(workspace)));
    TP_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(d.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES,
                                                         &align_a, sizeof(align_a)));
    TP_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(d.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                                                         &align_b, sizeof(align_b)));
    TP_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(d.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES,
                                                         &align_c, sizeof(align_c)));
    TP_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(d.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES,
                                                         &align_c, sizeof(align_c)));
    cublasLtMatmulHeuristicResult_t result = {};
    int returned = 0;
    TP_CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(handle, d.op, d.a, d.b, d.c, d.c, d.pref, 1, &result, &returned));
    if (returned == 0) {
      return TP_ERROR(kUnimplemented, "cuBLASLt has no algorithm for a " << DTypeName(p.dtype) << " GEMM of m=" << p.m
                                                                         << " n=" << p.n << " k=" << p.k
                                                                         << " batch=" << p.batch);
    }
    algo = result.algo;
    std::lock_guard<std::mutex> lock(mu_);
    algos_.emplace(std::move(key), algo);
  }
  TP_CUBLAS_CHECK(cublasLtMatmul(handle, d.op, &p.alpha, p.b, d.a, p.a, d.b, &p.beta, p.c, d.c, p.c, d.c, &algo,
                                 stream->lt_workspace(), CudaStream::kLtWorkspaceBytes, stream->get()));
  return Status::Ok();
}

}  // namespace tensorpod::internal
