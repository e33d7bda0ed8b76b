// Row-major GEMM on cuBLASLt: C = alpha * op(A) op(B) + beta * C, with an
// optional fused epilogue (bias per column of C, bias+ReLU, bias+GELU(tanh))
// and strided batches. Float32 (optionally TF32 tensor cores), float16 and
// bfloat16 data, always float32 accumulation. The chosen algorithm is cached
// per problem (heuristic query once), so steady-state calls only create
// descriptors and launch. Thread-safe.
//
// Example:
//   LtGemm gemm;
//   GemmProblem p;  p.m = 128; p.n = 384; p.k = 384; p.dtype = DType::kF16;
//   p.a = x; p.lda = 384; p.b = w; p.ldb = 384; p.c = y; p.ldc = 384;
//   TP_RETURN_IF_ERROR(gemm.Run(stream, p));
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

#include "cuda_common.h"

namespace tensorpod::internal {

enum class GemmEpilogue { kNone, kBias, kBiasRelu, kBiasGeluTanh, kRelu, kGeluTanh };

struct GemmProblem {
  DType dtype = DType::kF32;  // of A, B, C and the bias
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0;
  const void* a = nullptr;
  int64_t lda = 0, stride_a = 0;  // stride_a: elements between batch entries (0: shared)
  const void* b = nullptr;
  int64_t ldb = 0, stride_b = 0;
  void* c = nullptr;
  int64_t ldc = 0, stride_c = 0;
  int64_t batch = 1;
  float alpha = 1.0f, beta = 0.0f;
  GemmEpilogue epilogue = GemmEpilogue::kNone;
  const void* bias = nullptr;  // [n], for the kBias* epilogues
  bool allow_tf32 = false;     // float32 only
};

class LtGemm {
 public:
  Status Run(CudaStream* stream, const GemmProblem& p) const;

 private:
  using Key = std::vector<int64_t>;
  mutable std::mutex mu_;
  mutable std::map<Key, cublasLtMatmulAlgo_t> algos_;  // guarded by mu_
};

// Whether cuBLASLt GEMMs handle this dtype here.
inline bool GemmDType(DType t) { return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16; }

}  // namespace tensorpod::internal
