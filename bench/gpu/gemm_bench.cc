// gemm_bench: tensorpod's CUDA matrix products against cuBLAS called
// directly, in one process on one stream.
//
// For each shape and precision (fp32, tf32, fp16, bf16) it times
//   - tensorpod: the CUDA backend's MatMul / tp.FusedMatMul kernel, created
//     through CreateKernel as a session would (weights given as constants,
//     "tp_allow_tf32" set for tf32, as Session does) and run with Compute;
//   - cuBLASLt: cublasLtMatmul with the first heuristic result for the same
//     problem and epilogue (bias, bias+ReLU) and the same 32 MiB workspace;
//   - cuBLAS: cublasGemmEx with CUBLAS_GEMM_DEFAULT (no epilogue: for the
//     fused shapes it does less work than the other two);
// with cudaEvents around many back-to-back launches after a warm-up, and
// prints a markdown table of TFLOP/s (2*M*N*K per product) with the ratio of
// tensorpod to the faster peer, plus tensorpod's normalized difference from
// cuBLASLt's result. Exit status 1 when a tensorpod kernel fails or its
// result differs; 0 (after saying why) when there is no GPU.
//
// Example:
//   build/bench/gpu/gemm_bench --out gemm.md
//   build/bench/gpu/gemm_bench --quick --dtypes fp16,bf16
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "backend/device_backend.h"
#include "core/dtype.h"
#include "core/tensor.h"
#include "device/allocator.h"
#include "ops/attributes.h"
#include "runtime/devices.h"

namespace tensorpod::internal {
namespace {

constexpr size_t kWorkspaceBytes = size_t{32} << 20;  // as the CUDA backend's streams

struct Shape3 {
  std::string what;  // where the shape comes from
  int64_t m, k, n;
  // tp.FusedMatMul with bias [n] and this activation ("" none, "Relu");
  // false: plain MatMul.
  bool fused = false;
  std::string activation;
};

struct Precision {
  std::string name;   // fp32, tf32, fp16, bf16
  DType dtype;        // of A, B, C and the bias
  bool tf32 = false;
};

std::vector<Shape3> Shapes(bool quick) {
  std::vector<Shape3> s = {
      {"square", 1024, 1024, 1024, false, ""},
      {"square", 4096, 4096, 4096, false, ""},
      {"square", 8192, 8192, 8192, false, ""},
      // MiniLM-L12 (hidden 384, FFN 1536), batch 32 x seq 128 tokens.
      {"encoder attention proj, 32x128 tokens", 4096, 384, 384, true, ""},
      {"encoder FFN up, 32x128 tokens", 4096, 384, 1536, true, ""},
      {"encoder FFN down, 32x128 tokens", 4096, 1536, 384, true, ""},
      {"encoder FFN up, 1x128 tokens", 128, 384, 1536, true, ""},
      // The test MLP's first layer (784 -> 512, ReLU) at batch 32.
      {"MLP layer + ReLU, batch 32", 32, 784, 512, true, "Relu"},
  };
  if (quick) {
    s.erase(std::remove_if(s.begin(), s.end(), [](const Shape3& x) { return x.m == 8192; }), s.end());
  }
  return s;
}

// ------------------------------------------------------------ CUDA checks

std::string CudaError(cudaError_t e) { return std::string(cudaGetErrorName(e)) + ": " + cudaGetErrorString(e); }

#define BENCH_CUDA(expr)                                                  \
  do {                                                                    \
    const cudaError_t e_ = (expr);                                        \
    if (e_ != cudaSuccess) return #expr " failed: " + CudaError(e_);      \
  } while (0)
#define BENCH_CUBLAS(expr)                                                          \
  do {                                                                              \
    const cublasStatus_t e_ = (expr);                                               \
    if (e_ != CUBLAS_STATUS_SUCCESS) {                                              \
      return #expr " failed: cuBLAS status " + std::to_string(static_cast<int>(e_)); \
    }                                                                               \
  } while (0)

// ------------------------------------------------------------------ memory

// Plain device memory for the operands, freed on destruction.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { Reset(); }
  // Frees what the buffer holds, then allocates `bytes`.
  std::string Allocate(size_t bytes) {
    Reset();
    BENCH_CUDA(cudaMalloc(&p_, std::max<size_t>(bytes, 256)));
    bytes_ = bytes;
    return "";
  }
  void Reset() {
    if (p_ != nullptr) cudaFree(p_);
    p_ = nullptr;
    bytes_ = 0;
  }
  void* get() const { return p_; }
  size_t bytes() const { return bytes_; }

 private:
  void* p_ = nullptr;
  size_t bytes_ = 0;
};

// Scratch for tensorpod kernels: device memory kept at the largest request.
class BenchScratch : public Scratch {
 public:
  void* Get(size_t bytes) override {
    if (buffer_.get() == nullptr || buffer_.bytes() < bytes) {
      if (!buffer_.Allocate(bytes).empty()) return nullptr;
    }
    return buffer_.get();
  }

 private:
  DeviceBuffer buffer_;
};

// Uniform values in [-1, 1) from a counter hash: quick for 64M elements.
float HashUniform(uint64_t i) {
  uint64_t x = i * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 29;
  return static_cast<float>(static_cast<double>(x >> 40) / static_cast<double>(1ull << 23) - 1.0);
}

// `n` values of `dtype` drawn from `seed`, as host bytes.
std::vector<uint8_t> HostValues(DType dtype, int64_t n, uint64_t seed) {
  std::vector<uint8_t> out(static_cast<size_t>(n) * DTypeSize(dtype));
  for (int64_t i = 0; i < n; ++i) {
    const float v = HashUniform(seed * 0x100000000ull + static_cast<uint64_t>(i));
    if (dtype == DType::kF32) {
      std::memcpy(out.data() + 4 * i, &v, 4);
    } else {
      const uint16_t h = dtype == DType::kF16 ? FloatToHalf(v) : FloatToBFloat16(v);
      std::memcpy(out.data() + 2 * i, &h, 2);
    }
  }
  return out;
}

double ToDouble(DType dtype, const uint8_t* p, int64_t i) {
  if (dtype == DType::kF32) {
    float f;
    std::memcpy(&f, p + 4 * i, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, p + 2 * i, 2);
  return dtype == DType::kF16 ? HalfToFloat(h) : BFloat16ToFloat(h);
}

// ------------------------------------------------------------------ timing

// Milliseconds per call of `launch` (which enqueues one product on `stream`
// and returns "" or an error), over enough calls for ~`target_ms` after a
// warm-up.
std::string TimeLaunches(cudaStream_t stream, const std::function<std::string()>& launch, double target_ms,
                         double* ms_per_call) {
  for (int i = 0; i < 3; ++i) {
    const std::string err = launch();
    if (!err.empty()) return err;
  }
  BENCH_CUDA(cudaStreamSynchronize(stream));
  cudaEvent_t start = nullptr, stop = nullptr;
  BENCH_CUDA(cudaEventCreate(&start));
  if (const cudaError_t e = cudaEventCreate(&stop); e != cudaSuccess) {
    cudaEventDestroy(start);
    return "cudaEventCreate failed: " + CudaError(e);
  }
  std::string err;
  auto run = [&](int calls, float* ms) -> std::string {
    BENCH_CUDA(cudaEventRecord(start, stream));
    for (int i = 0; i < calls; ++i) {
      const std::string e = launch();
      if (!e.empty()) return e;
    }
    BENCH_CUDA(cudaEventRecord(stop, stream));
    BENCH_CUDA(cudaEventSynchronize(stop));
    BENCH_CUDA(cudaEventElapsedTime(ms, start, stop));
    return "";
  };
  float probe_ms = 0, total_ms = 0;
  err = run(3, &probe_ms);
  int calls = 0;
  if (err.empty()) {
    const double per_call = std::max(1e-3, probe_ms / 3.0);
    calls = static_cast<int>(std::clamp(target_ms / per_call, 10.0, 5000.0));
    err = run(calls, &total_ms);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  if (!err.empty()) return err;
  *ms_per_call = total_ms / calls;
  return "";
}

// ------------------------------------------------------------- the peers

cudaDataType_t CudaType(DType t) {
  return t == DType::kF16 ? CUDA_R_16F : t == DType::kBF16 ? CUDA_R_16BF : CUDA_R_32F;
}

// Row-major C[m,n] = A[m,k] W[k,n] is column-major C^T = W^T A^T: the
// libraries' first operand is W (leading dimension n), the second A
// (leading dimension k), C's leading dimension n; a bias per column of C is
// a bias per row of C^T, which is what the bias epilogues add.
struct Operands {
  const void* a;
  const void* w;
  const void* bias;  // nullptr: none
  void* c;
};

// cublasLtMatmul with the first heuristic algorithm for the problem.
class LtPeer {
 public:
  ~LtPeer() {
    if (pref_) cublasLtMatmulPreferenceDestroy(pref_);
    if (lc_) cublasLtMatrixLayoutDestroy(lc_);
    if (lb_) cublasLtMatrixLayoutDestroy(lb_);
    if (la_) cublasLtMatrixLayoutDestroy(la_);
    if (op_) cublasLtMatmulDescDestroy(op_);
  }
  std::string Init(cublasLtHandle_t lt, const Shape3& s, const Precision& p, const Operands& o, void* workspace) {
    lt_ = lt;
    o_ = o;
    workspace_ = workspace;
    const cudaDataType_t t = CudaType(p.dtype);
    BENCH_CUBLAS(cublasLtMatmulDescCreate(&op_, p.tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F,
                                          CUDA_R_32F));
    if (o.bias != nullptr) {
      const cublasLtEpilogue_t epi = s.activation == "Relu" ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS;
      BENCH_CUBLAS(cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)));
      BENCH_CUBLAS(
          cublasLtMatmulDescSetAttribute(op_, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &o.bias, sizeof(o.bias)));
    }
    BENCH_CUBLAS(cublasLtMatrixLayoutCreate(&la_, t, s.n, s.k, s.n));
    BENCH_CUBLAS(cublasLtMatrixLayoutCreate(&lb_, t, s.k, s.m, s.k));
    BENCH_CUBLAS(cublasLtMatrixLayoutCreate(&lc_, t, s.n, s.m, s.n));
    BENCH_CUBLAS(cublasLtMatmulPreferenceCreate(&pref_));
    BENCH_CUBLAS(cublasLtMatmulPreferenceSetAttribute(pref_, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                      &kWorkspaceBytes, sizeof(kWorkspaceBytes)));
    int found = 0;
    BENCH_CUBLAS(cublasLtMatmulAlgoGetHeuristic(lt_, op_, la_, lb_, lc_, lc_, pref_, 1, &heuristic_, &found));
    if (found == 0) return "cuBLASLt found no algorithm";
    return "";
  }
  std::string Launch(cudaStream_t stream) const {
    const float alpha = 1.0f, beta = 0.0f;
    BENCH_CUBLAS(cublasLtMatmul(lt_, op_, &alpha, o_.w, la_, o_.a, lb_, &beta, o_.c, lc_, o_.c, lc_,
                                &heuristic_.algo, workspace_, kWorkspaceBytes, stream));
    return "";
  }

 private:
  cublasLtHandle_t lt_ = nullptr;
  Operands o_{};
  void* workspace_ = nullptr;
  cublasLtMatmulDesc_t op_ = nullptr;
  cublasLtMatrixLayout_t la_ = nullptr, lb_ = nullptr, lc_ = nullptr;
  cublasLtMatmulPreference_t pref_ = nullptr;
  cublasLtMatmulHeuristicResult_t heuristic_{};
};

std::string GemmExLaunch(cublasHandle_t h, const Shape3& s, const Precision& p, const Operands& o) {
  const float alpha = 1.0f, beta = 0.0f;
  const cudaDataType_t t = CudaType(p.dtype);
  BENCH_CUBLAS(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(s.n), static_cast<int>(s.m),
                            static_cast<int>(s.k), &alpha, o.w, t, static_cast<int>(s.n), o.a, t,
                            static_cast<int>(s.k), &beta, o.c, t, static_cast<int>(s.n),
                            p.tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  return "";
}

// ------------------------------------------------------------------ a row

struct Row {
  std::string shape, op, dtype;
  std::string tp, lt, gemmex;  // TFLOP/s or a short error
  double tp_tflops = 0, best_peer_tflops = 0;
  std::string diff;            // normalized |tensorpod - cuBLASLt|
  bool failed = false;
  std::vector<std::string> notes;
};

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

// Bound on the normalized difference between tensorpod and cuBLASLt: both
// accumulate in float32, so only the summation order and (narrow types) the
// output rounding differ.
double DiffBound(const Precision& p) {
  if (p.dtype == DType::kBF16) return 2e-2;
  if (p.dtype == DType::kF16 || p.tf32) return 5e-3;
  return 1e-4;
}

Row Measure(const DeviceBackend& gpu, DeviceStream& stream, cublasLtHandle_t lt, cublasHandle_t blas,
            void* workspace, const Shape3& s, const Precision& p, double target_ms) {
  Row row;
  row.shape = std::to_string(s.m) + "x" + std::to_string(s.k) + "x" + std::to_string(s.n) + " (" + s.what + ")";
  row.op = s.fused ? "tp.FusedMatMul" + std::string(s.activation.empty() ? "+bias" : "+bias+" + s.activation)
                   : "MatMul";
  row.dtype = p.name;
  const double flops = 2.0 * static_cast<double>(s.m) * static_cast<double>(s.n) * static_cast<double>(s.k);
  const size_t esize = DTypeSize(p.dtype);
  auto fail_all = [&](const std::string& why) {
    row.tp = row.lt = row.gemmex = "error";
    row.failed = true;
    row.notes.push_back(why);
    return row;
  };
  cudaStream_t cs = static_cast<cudaStream_t>(stream.native());

  const std::vector<uint8_t> a_host = HostValues(p.dtype, s.m * s.k, 1);
  const std::vector<uint8_t> w_host = HostValues(p.dtype, s.k * s.n, 2);
  const std::vector<uint8_t> bias_host = HostValues(p.dtype, s.n, 3);
  DeviceBuffer a, w, bias, c_tp, c_peer;
  const size_t c_bytes = static_cast<size_t>(s.m * s.n) * esize;
  const std::vector<std::pair<DeviceBuffer*, size_t>> sizes = {
      {&a, a_host.size()}, {&w, w_host.size()}, {&bias, bias_host.size()}, {&c_tp, c_bytes}, {&c_peer, c_bytes}};
  for (const auto& [buf, bytes] : sizes) {
    const std::string err = buf->Allocate(bytes);
    if (!err.empty()) return fail_all(err);
  }
  if (cudaMemcpy(a.get(), a_host.data(), a_host.size(), cudaMemcpyHostToDevice) != cudaSuccess ||
      cudaMemcpy(w.get(), w_host.data(), w_host.size(), cudaMemcpyHostToDevice) != cudaSuccess ||
      cudaMemcpy(bias.get(), bias_host.data(), bias_host.size(), cudaMemcpyHostToDevice) != cudaSuccess) {
    return fail_all("uploading operands failed");
  }

  // tensorpod: the kernel a session would build for this node.
  Attributes attrs;
  if (!s.activation.empty()) attrs.Set("tp_activation", s.activation);
  if (p.tf32) attrs.Set("tp_allow_tf32", int64_t{1});
  Tensor w_const(p.dtype, {s.k, s.n}, const_cast<uint8_t*>(w_host.data()));
  Tensor bias_const(p.dtype, {s.n}, const_cast<uint8_t*>(bias_host.data()));
  NodeDef def;
  def.op_type = s.fused ? "tp.FusedMatMul" : "MatMul";
  def.name = "bench";
  def.opset = 17;
  def.attrs = &attrs;
  def.input_dtypes.assign(s.fused ? 3 : 2, p.dtype);
  def.constant_inputs = {nullptr, &w_const};
  if (s.fused) def.constant_inputs.push_back(&bias_const);
  Tensor a_dev(p.dtype, {s.m, s.k}, a.get());
  Tensor w_dev(p.dtype, {s.k, s.n}, w.get());
  Tensor bias_dev(p.dtype, {s.n}, bias.get());
  Tensor c_dev(p.dtype, {s.m, s.n}, c_tp.get());
  BenchScratch scratch;
  KernelContext ctx;
  ctx.inputs = {&a_dev, &w_dev};
  if (s.fused) ctx.inputs.push_back(&bias_dev);
  ctx.outputs = {&c_dev};
  ctx.scratch = &scratch;
  ctx.stream = &stream;
  if (!gpu.Supports(def)) {
    row.tp = "unsupported";
    row.failed = true;
    row.notes.push_back("tensorpod: " + gpu.name() + " does not support " + def.op_type + " in " + p.name);
  } else {
    auto kernel = gpu.CreateKernel(def);
    if (!kernel.ok()) {
      row.tp = "error";
      row.failed = true;
      row.notes.push_back("tensorpod: " + kernel.status().ToString());
    } else {
      double ms = 0;
      const std::string err = TimeLaunches(
          cs,
          [&]() -> std::string {
            const Status st = (*kernel)->Compute(ctx);
            return st.ok() ? "" : st.ToString();
          },
          target_ms, &ms);
      if (err.empty()) {
        row.tp_tflops = flops / (ms * 1e-3) / 1e12;
        row.tp = Fixed(row.tp_tflops, 1);
      } else {
        row.tp = "error";
        row.failed = true;
        row.notes.push_back("tensorpod: " + err);
      }
    }
  }

  // cuBLASLt, same epilogue; its result is the reference for the check.
  const Operands o{a.get(), w.get(), s.fused ? bias.get() : nullptr, c_peer.get()};
  LtPeer peer;
  std::string err = peer.Init(lt, s, p, o, workspace);
  double lt_ms = 0;
  if (err.empty()) err = TimeLaunches(cs, [&] { return peer.Launch(cs); }, target_ms, &lt_ms);
  if (err.empty()) {
    const double tf = flops / (lt_ms * 1e-3) / 1e12;
    row.lt = Fixed(tf, 1);
    row.best_peer_tflops = std::max(row.best_peer_tflops, tf);
  } else {
    row.lt = "error";
    row.notes.push_back("cuBLASLt: " + err);
  }

  if (row.tp_tflops > 0 && row.lt != "error") {
    std::vector<uint8_t> got(c_bytes), want(c_bytes);
    if (cudaStreamSynchronize(cs) == cudaSuccess &&
        cudaMemcpy(got.data(), c_tp.get(), got.size(), cudaMemcpyDeviceToHost) == cudaSuccess &&
        cudaMemcpy(want.data(), c_peer.get(), want.size(), cudaMemcpyDeviceToHost) == cudaSuccess) {
      double max_diff = 0, max_ref = 0;
      for (int64_t i = 0; i < s.m * s.n; ++i) {
        const double g = ToDouble(p.dtype, got.data(), i), wv = ToDouble(p.dtype, want.data(), i);
        max_ref = std::max(max_ref, std::fabs(wv));
        max_diff = std::isfinite(g) ? std::max(max_diff, std::fabs(g - wv)) : INFINITY;
      }
      const double norm = max_diff / std::max(1.0, max_ref);
      row.diff = norm < 1e-6 ? "<1e-6" : Fixed(norm, 6);
      if (!(norm <= DiffBound(p))) {
        row.failed = true;
        row.notes.push_back("tensorpod's result differs from cuBLASLt's by " + Fixed(norm, 6) + " (bound " +
                            Fixed(DiffBound(p), 6) + ")");
      }
    } else {
      row.diff = "n/a";
      row.notes.push_back("could not read results back");
    }
  }

  // cuBLAS GemmEx, no epilogue.
  double ex_ms = 0;
  err = TimeLaunches(cs, [&] { return GemmExLaunch(blas, s, p, o); }, target_ms, &ex_ms);
  if (err.empty()) {
    const double tf = flops / (ex_ms * 1e-3) / 1e12;
    row.gemmex = Fixed(tf, 1) + (s.fused ? " (no bias)" : "");
    row.best_peer_tflops = std::max(row.best_peer_tflops, tf);
  } else {
    row.gemmex = "error";
    row.notes.push_back("cuBLAS GemmEx: " + err);
  }
  cudaStreamSynchronize(cs);
  return row;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, sep);) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

int Main(int argc, char** argv) {
  bool quick = false;
  std::string out_path;
  std::vector<std::string> dtypes = {"fp32", "tf32", "fp16", "bf16"};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      quick = true;
    } else if (a == "--out" && i + 1 < argc) {
      out_path = argv[++i];
    } else if (a == "--dtypes" && i + 1 < argc) {
      dtypes = Split(argv[++i], ',');
    } else {
      std::fprintf(stderr, "usage: gemm_bench [--quick] [--dtypes fp32,tf32,fp16,bf16] [--out FILE.md]\n");
      return 2;
    }
  }
  std::vector<Precision> precisions;
  for (const std::string& d : dtypes) {
    if (d == "fp32") precisions.push_back({d, DType::kF32, false});
    else if (d == "tf32") precisions.push_back({d, DType::kF32, true});
    else if (d == "fp16") precisions.push_back({d, DType::kF16, false});
    else if (d == "bf16") precisions.push_back({d, DType::kBF16, false});
    else {
      std::fprintf(stderr, "gemm_bench: unknown dtype %s\n", d.c_str());
      return 2;
    }
  }

  std::string why;
  if (CudaDevices(&why) == 0) {
    std::printf("SKIP: gemm_bench: no CUDA device: %s\n", why.c_str());
    return 0;
  }
  auto gpu = GetDeviceBackend(Device{DeviceType::kCuda, 0});
  if (!gpu.ok()) {
    std::fprintf(stderr, "gemm_bench: %s\n", gpu.status().ToString().c_str());
    return 1;
  }
  auto stream = (*gpu)->CreateStream();
  if (!stream.ok()) {
    std::fprintf(stderr, "gemm_bench: %s\n", stream.status().ToString().c_str());
    return 1;
  }
  cudaStream_t cs = static_cast<cudaStream_t>((*stream)->native());
  cublasLtHandle_t lt = nullptr;
  cublasHandle_t blas = nullptr;
  void* workspace = nullptr;
  if (cublasLtCreate(&lt) != CUBLAS_STATUS_SUCCESS || cublasCreate(&blas) != CUBLAS_STATUS_SUCCESS ||
      cublasSetStream(blas, cs) != CUBLAS_STATUS_SUCCESS ||
      cudaMalloc(&workspace, kWorkspaceBytes) != cudaSuccess ||
      cublasSetWorkspace(blas, workspace, kWorkspaceBytes) != CUBLAS_STATUS_SUCCESS) {
    std::fprintf(stderr, "gemm_bench: creating the cuBLAS handles failed\n");
    return 1;
  }
  int runtime = 0, driver = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);

  std::ostringstream md;
  md << "### GEMM: tensorpod vs cuBLAS on " << (*gpu)->device_name() << " (CUDA runtime " << runtime / 1000 << "."
     << (runtime % 1000) / 10 << ", driver " << driver / 1000 << "." << (driver % 1000) / 10 << ", cuBLAS "
     << cublasLtGetVersion() << ")\n\n"
     << "TFLOP/s = 2*M*N*K / time, cudaEvent-timed back-to-back launches after warm-up. M x K x N, row-major "
        "A[M,K] W[K,N]. Ratio: tensorpod / the faster peer. Diff: max|tensorpod - cuBLASLt| / max(1, "
        "max|cuBLASLt|).\n\n"
     << "| M x K x N | op | precision | tensorpod | cuBLASLt | cuBLAS GemmEx | ratio | diff |\n"
     << "|---|---|---|---:|---:|---:|---:|---:|\n";
  std::vector<std::string> notes;
  bool failed = false;
  const double target_ms = quick ? 40.0 : 100.0;
  for (const Shape3& s : Shapes(quick)) {
    for (const Precision& p : precisions) {
      const Row r = Measure(**gpu, **stream, lt, blas, workspace, s, p, target_ms);
      const std::string ratio =
          r.tp_tflops > 0 && r.best_peer_tflops > 0 ? Fixed(r.tp_tflops / r.best_peer_tflops, 2) : "-";
      md << "| " << r.shape << " | " << r.op << " | " << r.dtype << " | " << r.tp << " | " << r.lt << " | "
         << r.gemmex << " | " << ratio << " | " << (r.diff.empty() ? "-" : r.diff) << " |\n";
      for (const std::string& n : r.notes) notes.push_back(r.shape + " " + r.dtype + ": " + n);
      failed = failed || r.failed;
      std::fflush(stdout);
    }
  }
  if (!notes.empty()) {
    md << "\nNotes:\n";
    for (const std::string& n : notes) md << "- " << n << "\n";
  }
  md << "\n" << (failed ? "FAIL" : "PASS") << ": gemm_bench (tensorpod kernels ran and matched cuBLASLt)\n";
  std::fputs(md.str().c_str(), stdout);
  if (!out_path.empty()) std::ofstream(out_path) << md.str();

  cublasDestroy(blas);
  cublasLtDestroy(lt);
  cudaFree(workspace);
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace tensorpod::internal

int main(int argc, char** argv) { return tensorpod::internal::Main(argc, argv); }
