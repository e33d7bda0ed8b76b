// Standalone benchmark: which library should the CPU backend use for
// single-precision GEMM and for 2-D convolution (NCHW, float32)?
//
// Candidates
//   GEMM: Eigen (Map of row-major matrices, noalias product), oneDNN
//         dnnl_sgemm, OpenBLAS cblas_sgemm.
//   Conv: im2col + {Eigen, OpenBLAS, dnnl_sgemm}; the oneDNN
//         convolution_forward primitive with plain NCHW src/dst and `any`
//         weights; the same primitive with `any` src/dst (blocked layouts),
//         timed without and with the NCHW <-> blocked reorders.
// Each case runs at 1 and 2 threads and reports the median over ~0.2 s.
// Results are recorded in bench/README.md.
//
// Build (one line; see bench/README.md):
//   g++ -O3 -march=x86-64-v3 -fopenmp -std=c++17 -I/usr/include/eigen3
//       bench/gemm_conv_candidates.cc -ldnnl -lopenblas
//       -o /tmp/gemm_conv_candidates
// Run:
//   /tmp/gemm_conv_candidates [--sections=peak,gemm,conv,mix]
//                             [--filter=SUBSTRING] [--seconds=0.2]
//   --filter keeps only the candidates whose name contains SUBSTRING
//   (e.g. --filter=eigen to compare Eigen builds with different -march).
//
// Thread pools: Eigen and oneDNN (Debian's build) both run on the OpenMP
// runtime, so omp_set_num_threads / Eigen::setNbThreads control them.
// Debian's OpenBLAS here is the pthread variant: it has its own worker
// threads, which spin for a while after each call. To keep one library's
// spinning workers from slowing the next candidate, every timed case starts
// after a short pause; the `mix` section measures the interleaved case that
// an engine with an OpenMP pool would actually see.

#include <cblas.h>
#include <immintrin.h>
#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl.hpp>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using RowMat =
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

double g_seconds_per_case = 0.2;
std::string g_filter;  // Empty: every candidate.
constexpr int kMinReps = 5;
constexpr int kMaxReps = 200000;
constexpr int kThreadCounts[] = {1, 2};

// ---------------------------------------------------------------------------
// Buffers and timing.

struct FreeDeleter {
  void operator()(float* p) const { std::free(p); }
};
using Buffer = std::unique_ptr<float[], FreeDeleter>;

Buffer AllocFloats(size_t n) {
  size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
  if (bytes == 0) bytes = 64;
  return Buffer(static_cast<float*>(std::aligned_alloc(64, bytes)));
}

Buffer RandomFloats(size_t n, unsigned seed) {
  Buffer b = AllocFloats(n);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  for (size_t i = 0; i < n; ++i) b[i] = dist(rng);
  return b;
}

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Lets spinning worker threads of the previous candidate go to sleep before
// the next measurement starts: an idle OpenBLAS (pthread) worker polls for
// 2^28 TSC ticks (~0.1 s here) before it blocks; OpenMP workers spin briefly.
void Settle() { std::this_thread::sleep_for(std::chrono::milliseconds(250)); }

// Runs `f` twice untimed, then repeatedly until g_seconds_per_case has passed
// (at least kMinReps times). Returns the median seconds per call.
double MedianSeconds(const std::function<void()>& f) {
  f();
  f();
  std::vector<double> t;
  const auto start = Clock::now();
  while (t.size() < static_cast<size_t>(kMaxReps)) {
    const auto t0 = Clock::now();
    f();
    const auto t1 = Clock::now();
    t.push_back(Seconds(t0, t1));
    if (t.size() >= static_cast<size_t>(kMinReps) &&
        Seconds(start, t1) >= g_seconds_per_case)
      break;
  }
  std::nth_element(t.begin(), t.begin() + t.size() / 2, t.end());
  return t[t.size() / 2];
}

bool Selected(const std::string& name) {
  return g_filter.empty() || name.find(g_filter) != std::string::npos;
}

void SetThreads(int n) {
  omp_set_num_threads(n);
  Eigen::setNbThreads(n);
  openblas_set_num_threads(n);
}

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "FATAL: %s\n", what);
    std::exit(1);
  }
}

// ---------------------------------------------------------------------------
// FMA peak.

// 16 independent accumulators cover FMA latency x FMA ports on current cores.
__attribute__((target("avx512f"))) float FmaLoopAvx512(long iters) {
  __m512 acc[16];
  for (int j = 0; j < 16; ++j) acc[j] = _mm512_set1_ps(0.001f * j);
  const __m512 a = _mm512_set1_ps(0.999999f);
  const __m512 b = _mm512_set1_ps(1e-6f);
  for (long i = 0; i < iters; ++i) {
#pragma GCC unroll 16
    for (int j = 0; j < 16; ++j) acc[j] = _mm512_fmadd_ps(acc[j], a, b);
  }
  __m512 s = acc[0];
  for (int j = 1; j < 16; ++j) s = _mm512_add_ps(s, acc[j]);
  return _mm512_reduce_add_ps(s);
}
constexpr double kFlopsPerIterAvx512 = 16 * 16 * 2;

__attribute__((target("avx2,fma"))) float FmaLoopAvx2(long iters) {
  __m256 acc[12];
  for (int j = 0; j < 12; ++j) acc[j] = _mm256_set1_ps(0.001f * j);
  const __m256 a = _mm256_set1_ps(0.999999f);
  const __m256 b = _mm256_set1_ps(1e-6f);
  for (long i = 0; i < iters; ++i) {
#pragma GCC unroll 12
    for (int j = 0; j < 12; ++j) acc[j] = _mm256_fmadd_ps(acc[j], a, b);
  }
  __m256 s = acc[0];
  for (int j = 1; j < 12; ++j) s = _mm256_add_ps(s, acc[j]);
  float out[8];
  _mm256_storeu_ps(out, s);
  float r = 0;
  for (float v : out) r += v;
  return r;
}
constexpr double kFlopsPerIterAvx2 = 12 * 8 * 2;

volatile float g_sink;

struct Peak {
  const char* isa;
  double gflops_1t;      // median
  double gflops_1t_max;  // best trial
  double gflops_2t;      // median, both threads running the loop
};

Peak MeasurePeak() {
  const bool avx512 = __builtin_cpu_supports("avx512f");
  const double flops_per_iter = avx512 ? kFlopsPerIterAvx512 : kFlopsPerIterAvx2;
  auto loop = [&](long iters) {
    g_sink = avx512 ? FmaLoopAvx512(iters) : FmaLoopAvx2(iters);
  };
  const long iters = 20 * 1000 * 1000;  // ~0.1 s per trial at ~100 GFLOP/s.
  loop(iters / 10);
  std::vector<double> g1;
  for (int trial = 0; trial < 7; ++trial) {
    const auto t0 = Clock::now();
    loop(iters);
    g1.push_back(flops_per_iter * iters / Seconds(t0, Clock::now()) * 1e-9);
  }
  std::vector<double> g2;
  for (int trial = 0; trial < 5; ++trial) {
    const auto t0 = Clock::now();
#pragma omp parallel num_threads(2)
    loop(iters);
    g2.push_back(2 * flops_per_iter * iters / Seconds(t0, Clock::now()) *
                 1e-9);
  }
  std::sort(g1.begin(), g1.end());
  std::sort(g2.begin(), g2.end());
  return {avx512 ? "AVX-512 (zmm FMA)" : "AVX2 (ymm FMA)", g1[g1.size() / 2],
          g1.back(), g2[g2.size() / 2]};
}

// ---------------------------------------------------------------------------
// GEMM: C[M,N] = A[M,K] * B[K,N], all row-major, no transpose.

using GemmFn = void (*)(int M, int N, int K, const float* A, const float* B,
                        float* C);

void GemmEigen(int M, int N, int K, const float* A, const float* B, float* C) {
  Eigen::Map<const RowMat> a(A, M, K);
  Eigen::Map<const RowMat> b(B, K, N);
  Eigen::Map<RowMat> c(C, M, N);
  c.noalias() = a * b;
}

void GemmDnnl(int M, int N, int K, const float* A, const float* B, float* C) {
  // dnnl_sgemm is row-major: C = alpha * op(A) * op(B) + beta * C.
  dnnl_status_t st = dnnl_sgemm('N', 'N', M, N, K, 1.f, A, K, B, N, 0.f, C, N);
  if (st != dnnl_success) Check(false, "dnnl_sgemm failed");
}

void GemmOpenBlas(int M, int N, int K, const float* A, const float* B,
                  float* C) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.f, A, K, B,
              N, 0.f, C, N);
}

struct GemmLib {
  const char* name;
  GemmFn fn;
};
const GemmLib kGemmLibs[] = {
    {"eigen", GemmEigen}, {"dnnl", GemmDnnl}, {"openblas", GemmOpenBlas}};

// Compares 256 sampled entries of C against a double-precision dot product.
void CheckGemm(const char* lib, int M, int N, int K, const float* A,
               const float* B, const float* C) {
  std::mt19937 rng(7);
  for (int s = 0; s < 256; ++s) {
    const int i = rng() % M, j = rng() % N;
    double ref = 0, mag = 0;
    for (int k = 0; k < K; ++k) {
      ref += double(A[size_t(i) * K + k]) * B[size_t(k) * N + j];
      mag += std::fabs(double(A[size_t(i) * K + k]) * B[size_t(k) * N + j]);
    }
    if (std::fabs(C[size_t(i) * N + j] - ref) > 1e-5 * mag + 1e-6) {
      std::fprintf(stderr, "GEMM mismatch: %s %dx%dx%d at (%d,%d): %g vs %g\n",
                   lib, M, K, N, i, j, C[size_t(i) * N + j], ref);
      std::exit(1);
    }
  }
}

struct GemmShape {
  const char* label;
  int M, K, N;
};

void RunGemm(const Peak& peak) {
  const GemmShape shapes[] = {
      {"square", 256, 256, 256},       {"square", 512, 512, 512},
      {"square", 1024, 1024, 1024},    {"mlp", 32, 784, 512},
      {"mlp", 1, 784, 512},            {"encoder", 128, 384, 1536},
      {"encoder", 128, 1536, 384},     {"encoder", 1024, 384, 384},
  };
  std::printf(
      "\n== SGEMM C[M,N] = A[M,K] * B[K,N], row-major, median GFLOP/s ==\n"
      "%%peak: 1T against the 1-thread FMA peak, 2T against 2x that.\n\n");
  std::printf("%-8s %-16s %-9s %9s %7s %9s %7s %8s\n", "kind", "MxKxN",
              "library", "1T GF/s", "1T %pk", "2T GF/s", "2T %pk", "2T/1T");
  std::printf("%s\n", std::string(80, '-').c_str());
  for (const GemmShape& s : shapes) {
    Buffer A = RandomFloats(size_t(s.M) * s.K, 1);
    Buffer B = RandomFloats(size_t(s.K) * s.N, 2);
    Buffer C = AllocFloats(size_t(s.M) * s.N);
    const double flops = 2.0 * s.M * s.N * s.K;
    char dims[32];
    std::snprintf(dims, sizeof dims, "%dx%dx%d", s.M, s.K, s.N);
    for (const GemmLib& lib : kGemmLibs) {
      if (!Selected(lib.name)) continue;
      double gf[2];
      for (int ti = 0; ti < 2; ++ti) {
        SetThreads(kThreadCounts[ti]);
        Settle();
        std::memset(C.get(), 0, sizeof(float) * s.M * s.N);
        const double sec = MedianSeconds(
            [&] { lib.fn(s.M, s.N, s.K, A.get(), B.get(), C.get()); });
        CheckGemm(lib.name, s.M, s.N, s.K, A.get(), B.get(), C.get());
        gf[ti] = flops / sec * 1e-9;
      }
      std::printf("%-8s %-16s %-9s %9.1f %6.1f%% %9.1f %6.1f%% %7.2fx\n",
                  s.label, dims, lib.name, gf[0], 100 * gf[0] / peak.gflops_1t,
                  gf[1], 100 * gf[1] / (2 * peak.gflops_1t), gf[1] / gf[0]);
      std::fflush(stdout);
    }
  }
}

// ---------------------------------------------------------------------------
// Convolution, NCHW float32, no bias.

struct ConvShape {
  const char* name;
  int C, H, W, OC, K, stride, pad, group;
  int OH() const { return (H + 2 * pad - K) / stride + 1; }
  int OW() const { return (W + 2 * pad - K) / stride + 1; }
  int Cg() const { return C / group; }
  int OCg() const { return OC / group; }
};

double ConvFlops(const ConvShape& s, int n) {
  return 2.0 * n * s.OC * s.OH() * s.OW() * s.Cg() * s.K * s.K;
}

// Writes the [Cg*K*K, OH*OW] column matrix of one image and one group.
// Rows are split across the OpenMP threads.
void Im2Col(const ConvShape& s, const float* x, float* col, int threads) {
  const int K = s.K, H = s.H, W = s.W, OH = s.OH(), OW = s.OW();
  const int st = s.stride, pad = s.pad;
  const int rows = s.Cg() * K * K;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int r = 0; r < rows; ++r) {
    const int c = r / (K * K), kh = (r / K) % K, kw = r % K;
    const float* src = x + size_t(c) * H * W;
    float* dst = col + size_t(r) * OH * OW;
    // Output columns whose input column iw = ow*st - pad + kw is in [0, W).
    int ow_lo = 0;
    while (ow_lo < OW && ow_lo * st - pad + kw < 0) ++ow_lo;
    int ow_hi = OW;
    while (ow_hi > ow_lo && (ow_hi - 1) * st - pad + kw >= W) --ow_hi;
    for (int oh = 0; oh < OH; ++oh) {
      float* d = dst + size_t(oh) * OW;
      const int ih = oh * st - pad + kh;
      if (ih < 0 || ih >= H) {
        std::memset(d, 0, sizeof(float) * OW);
        continue;
      }
      const float* srow = src + size_t(ih) * W + (kw - pad);
      for (int ow = 0; ow < ow_lo; ++ow) d[ow] = 0.f;
      if (st == 1) {
        std::memcpy(d + ow_lo, srow + ow_lo, sizeof(float) * (ow_hi - ow_lo));
      } else {
        for (int ow = ow_lo; ow < ow_hi; ++ow) d[ow] = srow[ow * st];
      }
      for (int ow = ow_hi; ow < OW; ++ow) d[ow] = 0.f;
    }
  }
}

// im2col + GEMM per image and per group: y[OCg, OH*OW] = w[OCg, Cg*K*K] *
// col[Cg*K*K, OH*OW]. 1x1 stride-1 unpadded convolutions skip im2col.
void ConvIm2col(const ConvShape& s, int n, const float* x, const float* w,
                float* y, float* col, GemmFn gemm, int threads) {
  const int ohw = s.OH() * s.OW();
  const int kc = s.Cg() * s.K * s.K;
  const bool direct = s.K == 1 && s.stride == 1 && s.pad == 0;
  for (int b = 0; b < n; ++b) {
    for (int g = 0; g < s.group; ++g) {
      const float* xg = x + (size_t(b) * s.C + size_t(g) * s.Cg()) * s.H * s.W;
      const float* wg = w + size_t(g) * s.OCg() * kc;
      float* yg = y + (size_t(b) * s.OC + size_t(g) * s.OCg()) * ohw;
      const float* cols = xg;
      if (!direct) {
        Im2Col(s, xg, col, threads);
        cols = col;
      }
      gemm(s.OCg(), ohw, kc, wg, cols, yg);
    }
  }
}

// Compares 2000 sampled outputs (NCHW) against a direct double-precision sum.
void CheckConv(const std::string& what, const ConvShape& s, int n,
               const float* x, const float* w, const float* y) {
  std::mt19937 rng(11);
  const int OH = s.OH(), OW = s.OW();
  for (int t = 0; t < 2000; ++t) {
    const int b = rng() % n, oc = rng() % s.OC, oh = rng() % OH,
              ow = rng() % OW;
    const int g = oc / s.OCg();
    double ref = 0, mag = 0;
    for (int c = 0; c < s.Cg(); ++c)
      for (int kh = 0; kh < s.K; ++kh)
        for (int kw = 0; kw < s.K; ++kw) {
          const int ih = oh * s.stride - s.pad + kh;
          const int iw = ow * s.stride - s.pad + kw;
          if (ih < 0 || ih >= s.H || iw < 0 || iw >= s.W) continue;
          const double v =
              double(x[((size_t(b) * s.C + g * s.Cg() + c) * s.H + ih) * s.W +
                       iw]) *
              w[((size_t(oc) * s.Cg() + c) * s.K + kh) * s.K + kw];
          ref += v;
          mag += std::fabs(v);
        }
    const float got = y[((size_t(b) * s.OC + oc) * OH + oh) * OW + ow];
    if (std::fabs(got - ref) > 1e-5 * mag + 1e-6) {
      std::fprintf(stderr, "conv mismatch: %s %s n=%d at (%d,%d,%d,%d): %g vs %g\n",
                   what.c_str(), s.name, n, b, oc, oh, ow, got, ref);
      std::exit(1);
    }
  }
}

// A oneDNN convolution_forward with its weights already reordered to the
// layout it chose, plus the reorders that convert NCHW src/dst to and from
// the primitive's own layouts (empty when those are plain NCHW already).
// See Note [oneDNN 2.6 convolution setup] in bench/README.md.
struct DnnlConv {
  dnnl::convolution_forward conv;
  dnnl::memory src_user, dst_user;  // NCHW, wrap the caller's buffers.
  dnnl::memory src, weights, dst;   // What the primitive reads and writes.
  bool reorder_src = false, reorder_dst = false;
  dnnl::reorder src_reorder, dst_reorder;
  std::string impl;
};

DnnlConv MakeDnnlConv(const dnnl::engine& eng, dnnl::stream& strm,
                      const ConvShape& s, int n, const float* w_oihw, float* x,
                      float* y, bool blocked_io) {
  using dnnl::memory;
  using tag = memory::format_tag;
  using dt = memory::data_type;
  const memory::dims src_dims = {n, s.C, s.H, s.W};
  const memory::dims dst_dims = {n, s.OC, s.OH(), s.OW()};
  // Grouped weights are 5-D: {G, OC/G, IC/G, KH, KW}; goihw has the same
  // bytes as the ONNX [OC, IC/G, KH, KW] tensor.
  const memory::dims wei_dims =
      s.group > 1 ? memory::dims{s.group, s.OCg(), s.Cg(), s.K, s.K}
                  : memory::dims{s.OC, s.C, s.K, s.K};
  const tag wei_user_tag = s.group > 1 ? tag::goihw : tag::oihw;

  const memory::desc src_user_md(src_dims, dt::f32, tag::nchw);
  const memory::desc dst_user_md(dst_dims, dt::f32, tag::nchw);
  const memory::desc wei_user_md(wei_dims, dt::f32, wei_user_tag);
  const memory::desc src_md(src_dims, dt::f32,
                            blocked_io ? tag::any : tag::nchw);
  const memory::desc dst_md(dst_dims, dt::f32,
                            blocked_io ? tag::any : tag::nchw);
  const memory::desc wei_md(wei_dims, dt::f32, tag::any);

  const memory::dims strides = {s.stride, s.stride};
  const memory::dims pad = {s.pad, s.pad};
  dnnl::convolution_forward::desc desc(
      dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
      src_md, wei_md, dst_md, strides, pad, pad);
  dnnl::convolution_forward::primitive_desc pd(desc, eng);

  DnnlConv c;
  c.impl = pd.impl_info_str();
  c.conv = dnnl::convolution_forward(pd);
  c.src_user = memory(src_user_md, eng, x);
  c.dst_user = memory(dst_user_md, eng, y);

  // Weights: reordered once, outside any timed loop.
  memory wei_user(wei_user_md, eng, const_cast<float*>(w_oihw));
  if (pd.weights_desc() != wei_user_md) {
    c.weights = memory(pd.weights_desc(), eng);
    dnnl::reorder(wei_user, c.weights).execute(strm, wei_user, c.weights);
    strm.wait();
  } else {
    c.weights = wei_user;
  }
  c.reorder_src = pd.src_desc() != src_user_md;
  c.reorder_dst = pd.dst_desc() != dst_user_md;
  if (c.reorder_src) {
    c.src = memory(pd.src_desc(), eng);
    c.src_reorder = dnnl::reorder(c.src_user, c.src);
  } else {
    c.src = c.src_user;
  }
  if (c.reorder_dst) {
    c.dst = memory(pd.dst_desc(), eng);
    c.dst_reorder = dnnl::reorder(c.dst, c.dst_user);
  } else {
    c.dst = c.dst_user;
  }
  if (c.reorder_src || c.reorder_dst) {
    c.impl += " (src ";
    c.impl += c.reorder_src ? "blocked" : "nchw";
    c.impl += ", dst ";
    c.impl += c.reorder_dst ? "blocked" : "nchw";
    c.impl += ")";
  }
  return c;
}

void DnnlConvExecute(DnnlConv& c, dnnl::stream& strm, bool with_reorders) {
  if (with_reorders && c.reorder_src)
    c.src_reorder.execute(strm, c.src_user, c.src);
  c.conv.execute(strm, {{DNNL_ARG_SRC, c.src},
                        {DNNL_ARG_WEIGHTS, c.weights},
                        {DNNL_ARG_DST, c.dst}});
  if (with_reorders && c.reorder_dst)
    c.dst_reorder.execute(strm, c.dst, c.dst_user);
  strm.wait();
}

void RunConv() {
  const ConvShape shapes[] = {
      {"3x3 s1 64->64 56x56", 64, 56, 56, 64, 3, 1, 1, 1},
      {"3x3 s2 64->128 56x56", 64, 56, 56, 128, 3, 2, 1, 1},
      {"1x1 s1 256->64 56x56", 256, 56, 56, 64, 1, 1, 0, 1},
      {"7x7 s2 3->64 224x224", 3, 224, 224, 64, 7, 2, 3, 1},
      {"dw3x3 s1 C=96 56x56", 96, 56, 56, 96, 3, 1, 1, 96},
  };
  std::printf(
      "\n== Conv2D NCHW float32, no bias, median ms per call ==\n"
      "im2col+*: per image and per group, im2col on the OpenMP threads.\n"
      "dnnl-nchw: primitive with nchw src/dst, `any` weights (reordered once).\n"
      "dnnl-blk: primitive with `any` src/dst; 'conv' excludes, '+reord' "
      "includes\n          the nchw->blocked src and blocked->nchw dst "
      "reorders.\n\n");
  std::printf("%-21s %2s %-18s %9s %9s %7s %8s  %s\n", "case", "N",
              "candidate", "1T ms", "2T ms", "2T/1T", "1T GF/s",
              "oneDNN impl (2T)");
  std::printf("%s\n", std::string(110, '-').c_str());

  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  struct Im2colLib {
    const char* name;
    GemmFn fn;
  };
  const Im2colLib im2col_libs[] = {{"im2col+eigen", GemmEigen},
                                   {"im2col+openblas", GemmOpenBlas},
                                   {"im2col+dnnl_sgemm", GemmDnnl}};

  for (const ConvShape& s : shapes) {
    for (int n : {1, 8}) {
      const size_t x_size = size_t(n) * s.C * s.H * s.W;
      const size_t y_size = size_t(n) * s.OC * s.OH() * s.OW();
      const size_t w_size = size_t(s.OC) * s.Cg() * s.K * s.K;
      const size_t col_size = size_t(s.Cg()) * s.K * s.K * s.OH() * s.OW();
      Buffer x = RandomFloats(x_size, 3);
      Buffer w = RandomFloats(w_size, 4);
      Buffer y = AllocFloats(y_size);
      Buffer col = AllocFloats(col_size);
      const double flops = ConvFlops(s, n);

      auto report = [&](const std::string& cand, const double ms[2],
                        const std::string& impl) {
        std::printf("%-21s %2d %-18s %9.3f %9.3f %6.2fx %8.1f  %s\n", s.name,
                    n, cand.c_str(), ms[0], ms[1], ms[0] / ms[1],
                    flops / (ms[0] * 1e-3) * 1e-9, impl.c_str());
        std::fflush(stdout);
      };

      for (const Im2colLib& lib : im2col_libs) {
        if (!Selected(lib.name)) continue;
        double ms[2];
        for (int ti = 0; ti < 2; ++ti) {
          const int t = kThreadCounts[ti];
          SetThreads(t);
          Settle();
          std::memset(y.get(), 0, sizeof(float) * y_size);
          ms[ti] = 1e3 * MedianSeconds([&] {
                     ConvIm2col(s, n, x.get(), w.get(), y.get(), col.get(),
                                lib.fn, t);
                   });
          CheckConv(lib.name, s, n, x.get(), w.get(), y.get());
        }
        report(lib.name, ms, "");
      }

      for (bool blocked : {false, true}) {
        const std::string base = blocked ? "dnnl-blk" : "dnnl-nchw";
        if (!Selected(base)) continue;
        double ms[2], ms_reord[2];
        std::string impl;
        for (int ti = 0; ti < 2; ++ti) {
          // oneDNN sizes per-thread scratchpads when the primitive is
          // created, so create it under the thread count it will run with.
          SetThreads(kThreadCounts[ti]);
          DnnlConv c = MakeDnnlConv(eng, strm, s, n, w.get(), x.get(),
                                    y.get(), blocked);
          impl = c.impl;
          Settle();
          std::memset(y.get(), 0, sizeof(float) * y_size);
          ms[ti] = 1e3 * MedianSeconds([&] { DnnlConvExecute(c, strm, false); });
          if (blocked) {
            ms_reord[ti] =
                1e3 * MedianSeconds([&] { DnnlConvExecute(c, strm, true); });
          }
          // One full call so that y holds the NCHW result to check.
          DnnlConvExecute(c, strm, true);
          CheckConv(base, s, n, x.get(), w.get(), y.get());
        }
        if (blocked) {
          report(base + " conv", ms, impl);
          report(base + " +reord", ms_reord, "");
        } else {
          report(base, ms, impl);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------
// Two pools: a GEMM followed by an OpenMP-parallel epilogue (bias + ReLU),
// as an engine whose elementwise ops run on an OpenMP pool would execute
// back-to-back nodes. Eigen and oneDNN share the OpenMP pool; OpenBLAS
// (pthread build) brings its own.

void RunMix() {
  const GemmShape shapes[] = {{"mlp", 32, 784, 512},
                              {"encoder", 128, 384, 1536}};
  std::printf(
      "\n== Two pools: GEMM then an OpenMP bias+ReLU over C, 2 threads, "
      "median us ==\n\n");
  std::printf("%-8s %-14s %-9s %11s %11s %11s %9s\n", "kind", "MxKxN",
              "library", "gemm only", "epi only", "gemm+epi", "overhead");
  std::printf("%s\n", std::string(80, '-').c_str());
  const int threads = 2;
  for (const GemmShape& s : shapes) {
    Buffer A = RandomFloats(size_t(s.M) * s.K, 1);
    Buffer B = RandomFloats(size_t(s.K) * s.N, 2);
    Buffer bias = RandomFloats(s.N, 5);
    Buffer C = AllocFloats(size_t(s.M) * s.N);
    const int M = s.M, N = s.N;
    auto epilogue = [&] {
      float* c = C.get();
      const float* bv = bias.get();
#pragma omp parallel for num_threads(threads) schedule(static)
      for (int i = 0; i < M; ++i)
        for (int j = 0; j < N; ++j)
          c[size_t(i) * N + j] = std::max(c[size_t(i) * N + j] + bv[j], 0.f);
    };
    char dims[32];
    std::snprintf(dims, sizeof dims, "%dx%dx%d", s.M, s.K, s.N);
    for (const GemmLib& lib : kGemmLibs) {
      if (!Selected(lib.name)) continue;
      SetThreads(threads);
      Settle();
      const double g = MedianSeconds(
          [&] { lib.fn(s.M, s.N, s.K, A.get(), B.get(), C.get()); });
      Settle();
      const double e = MedianSeconds(epilogue);
      Settle();
      const double ge = MedianSeconds([&] {
        lib.fn(s.M, s.N, s.K, A.get(), B.get(), C.get());
        epilogue();
      });
      std::printf("%-8s %-14s %-9s %11.1f %11.1f %11.1f %+8.0f%%\n", s.label,
                  dims, lib.name, g * 1e6, e * 1e6, ge * 1e6,
                  100 * (ge - g - e) / (g + e));
      std::fflush(stdout);
    }
  }
}

// ---------------------------------------------------------------------------

const char* Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "(unset)";
}

// The first three fields of /proc/loadavg: other work on a shared machine
// shows up here and explains outliers, so the header and footer print it.
std::string LoadAvg() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  if (!(f >> a >> b >> c)) return "unknown";
  return a + " " + b + " " + c;
}

std::string CpuModel() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t p = line.find(':');
      return p == std::string::npos ? line : line.substr(p + 2);
    }
  }
  return "unknown";
}

const char* DnnlIsaName(dnnl_cpu_isa_t isa) {
  switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx512_mic: return "avx512_mic";
    case dnnl_cpu_isa_avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    default: return "other";
  }
}

void PrintHeader(const Peak* peak) {
  const dnnl_version_t* v = dnnl_version();
  std::printf("== gemm_conv_candidates ==\n");
  std::printf("cpu               : %s, %d logical CPUs (omp_get_num_procs)\n",
              CpuModel().c_str(), omp_get_num_procs());
  std::printf("OPENBLAS_CORETYPE : %s\n", Env("OPENBLAS_CORETYPE"));
  std::printf("OMP_NUM_THREADS   : %s   OMP_WAIT_POLICY: %s   "
              "OPENBLAS_NUM_THREADS: %s\n",
              Env("OMP_NUM_THREADS"), Env("OMP_WAIT_POLICY"),
              Env("OPENBLAS_NUM_THREADS"));
  std::printf("OpenBLAS          : core %s; %s\n", openblas_get_corename(),
              openblas_get_config());
  std::printf("oneDNN            : %d.%d.%d (%s), cpu runtime %s, "
              "effective ISA %s\n",
              v->major, v->minor, v->patch, v->hash,
              v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other",
              DnnlIsaName(dnnl_get_effective_cpu_isa()));
  std::printf("Eigen             : %d.%d.%d, SIMD: %s (compile-time)\n",
              EIGEN_WORLD_VERSION, EIGEN_MAJOR_VERSION, EIGEN_MINOR_VERSION,
              Eigen::SimdInstructionSetsInUse());
  std::printf("compiler          : g++ %s, this binary %s\n", __VERSION__,
#if defined(__AVX512F__)
              "has AVX-512"
#elif defined(__AVX2__)
              "has AVX2 (no AVX-512)"
#else
              "has no AVX2"
#endif
  );
  std::printf("loadavg at start  : %s (1, 5, 15 min)\n", LoadAvg().c_str());
  std::printf("timing            : median over >= %d calls and >= %.2f s per "
              "case, after 2 warm-up calls\n",
              kMinReps, g_seconds_per_case);
  if (peak != nullptr) {
    std::printf(
        "\n== FMA peak (%s), GFLOP/s ==\n"
        "1 thread : %.1f median, %.1f best\n"
        "2 threads: %.1f median (both threads in the loop)\n",
        peak->isa, peak->gflops_1t, peak->gflops_1t_max, peak->gflops_2t);
  }
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  std::string sections = "peak,gemm,conv,mix";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--sections=", 0) == 0) {
      sections = a.substr(11);
    } else if (a.rfind("--filter=", 0) == 0) {
      g_filter = a.substr(9);
    } else if (a.rfind("--seconds=", 0) == 0) {
      g_seconds_per_case = std::atof(a.c_str() + 10);
    } else {
      std::fprintf(stderr,
                   "usage: %s [--sections=peak,gemm,conv,mix] "
                   "[--filter=SUBSTRING] [--seconds=0.2]\n",
                   argv[0]);
      return 2;
    }
  }
  auto has = [&](const char* sec) {
    return sections.find(sec) != std::string::npos;
  };
  const auto t0 = Clock::now();
  // GEMM %peak needs the peak; measure it whenever GEMM runs.
  Peak peak{};
  const bool want_peak = has("peak") || has("gemm");
  if (want_peak) peak = MeasurePeak();
  PrintHeader(want_peak ? &peak : nullptr);
  if (has("gemm")) RunGemm(peak);
  if (has("conv")) RunConv();
  if (has("mix")) RunMix();
  std::printf("\nloadavg at end: %s; total wall time: %.1f s\n",
              LoadAvg().c_str(), Seconds(t0, Clock::now()));
  return 0;
}
