#include "backends/cpu/vec_math.h"

#include <algorithm>
#include <cmath>
#include <limits>

#if defined(__x86_64__) && defined(__AVX2__) && defined(__FMA__)
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized inside their own
// intrinsics (_mm512_undefined_ps).
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#define TP_VEC_X86 1
#include <immintrin.h>
#else
#define TP_VEC_X86 0
#endif

namespace tensorpod::internal::vec {
namespace {

// exp(x) = 2^n * exp(r), n = round(x / ln 2), r = x - n ln 2 in
// [-ln2/2, ln2/2]; ln 2 split in a part exact in float and a remainder so
// that n ln 2 is subtracted without rounding error. exp(r) by its Taylor
// series to r^6 (truncation error under 2e-7 relative on that interval,
// about two float ulps).
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;
constexpr float kLn2Lo = -2.12194440e-4f;
constexpr float kExpC2 = 1.0f / 2, kExpC3 = 1.0f / 6, kExpC4 = 1.0f / 24, kExpC5 = 1.0f / 120,
                kExpC6 = 1.0f / 720;
// Beyond these exp overflows to inf / is below the smallest denormal.
constexpr float kExpMax = 88.72283935546875f;
constexpr float kExpMin = -103.972084045410f;

// GELU: Phi(x) = 0.5 * erfc(-x / sqrt(2)). erfc(z) for z >= 0 by
// Abramowitz & Stegun 7.1.26: 1 - erf(z) = t (a1 + t (a2 + ...)) e^{-z^2},
// t = 1 / (1 + p z), absolute error <= 1.5e-7 (Handbook of Mathematical
// Functions, 1964, eq. 7.1.26); the negative half by symmetry.
constexpr float kErfP = 0.3275911f;
constexpr float kErfA1 = 0.254829592f, kErfA2 = -0.284496736f, kErfA3 = 1.421413741f, kErfA4 = -1.453152027f,
                kErfA5 = 1.061405429f;
constexpr float kInvSqrt2 = 0.70710678118654752f;

float GeluScalar(float x) { return 0.5f * x * std::erfc(-x * kInvSqrt2); }

// See ExpRow: the max of x * scale + mask in a first pass, the exponentials
// and their sum in a second; a NaN anywhere makes the row and the sum NaN.
float ExpRowScalar(const float* x, float* y, int64_t n, float scale, const float* mask, int64_t mask_stride) {
  auto logit = [&](int64_t j) { return x[j] * scale + (mask != nullptr ? mask[j * mask_stride] : 0.0f); };
  float mx = -std::numeric_limits<float>::infinity();
  bool nan = false;
  for (int64_t j = 0; j < n; ++j) {
    const float v = logit(j);
    nan = nan || std::isnan(v);
    mx = std::max(mx, v);
  }
  if (nan) {
    std::fill(y, y + n, std::numeric_limits<float>::quiet_NaN());
    return std::numeric_limits<float>::quiet_NaN();
  }
  // A row of -inf (everything masked out) has no maximum to subtract; its
  // softmax is 0/0.
  if (mx == -std::numeric_limits<float>::infinity()) mx = 0.0f;
  float sum = 0.0f;
  for (int64_t j = 0; j < n; ++j) {
    y[j] = std::exp(logit(j) - mx);
    sum += y[j];
  }
  return sum;
}

#if TP_VEC_X86

// ---- AVX2 + FMA (the build's baseline) ----

inline __m256 Exp8(__m256 x) {
  // min/max return their second operand when either is NaN: x goes second
  // so a NaN comes through.
  x = _mm256_min_ps(_mm256_set1_ps(kExpMax), x);
  // 2^n by exponent bits needs n >= -126: below that exp(x) < 1.2e-38 is
  // flushed to 0 at the end.
  const __m256 tiny = _mm256_cmp_ps(x, _mm256_set1_ps(-87.33654f), _CMP_LT_OQ);
  x = _mm256_max_ps(_mm256_set1_ps(-87.33654f), x);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
  __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(kExpC6), r, _mm256_set1_ps(kExpC5));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kExpC4));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kExpC3));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kExpC2));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  // n in [-126, 128]. n = 128 (x above ~88.38) gives inf's bit pattern
  // although exp(x) is still finite there; the callers only pass x <= 0
  // (logit - max, -z^2), so that range is never reached.
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  const __m256 pow2 = _mm256_castsi256_ps(bits);
  return _mm256_andnot_ps(tiny, _mm256_mul_ps(p, pow2));
}

inline float HorizontalMax8(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

inline float HorizontalSum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

// Lanes [0, count) of a row tail.
inline __m256i TailMask8(int64_t count) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(count)), lane);
}

float ExpRowAvx2(const float* x, float* y, int64_t n, float scale, const float* mask, int64_t mask_stride) {
  const __m256 vscale = _mm256_set1_ps(scale);
  const __m256 neg_inf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  const bool mask_row = mask != nullptr && mask_stride != 0;
  const __m256 mask_value = _mm256_set1_ps(mask != nullptr && mask_stride == 0 ? mask[0] : 0.0f);
  // Logits of lanes [j, j + 8), or of the `m` lanes of a tail (the rest 0).
  auto logits = [&](int64_t j) {
    return _mm256_fmadd_ps(_mm256_loadu_ps(x + j), vscale, mask_row ? _mm256_loadu_ps(mask + j) : mask_value);
  };
  auto tail_logits = [&](int64_t j, __m256i m) {
    return _mm256_fmadd_ps(_mm256_maskload_ps(x + j, m), vscale,
                           mask_row ? _mm256_maskload_ps(mask + j, m) : mask_value);
  };
  __m256 vmax = neg_inf;
  __m256 nan = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256 v = logits(j);
    nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    vmax = _mm256_max_ps(vmax, v);
  }
  const __m256i tail = TailMask8(n - j);
  if (j < n) {
    const __m256 v = _mm256_blendv_ps(neg_inf, tail_logits(j, tail), _mm256_castsi256_ps(tail));
    nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    vmax = _mm256_max_ps(vmax, v);
  }
  if (_mm256_movemask_ps(nan) != 0) {
    std::fill(y, y + n, std::numeric_limits<float>::quiet_NaN());
    return std::numeric_limits<float>::quiet_NaN();
  }
  float mx = HorizontalMax8(vmax);
  if (mx == -std::numeric_limits<float>::infinity()) mx = 0.0f;
  const __m256 vmx = _mm256_set1_ps(mx);
  __m256 vsum = _mm256_setzero_ps();
  for (j = 0; j + 8 <= n; j += 8) {
    const __m256 e = Exp8(_mm256_sub_ps(logits(j), vmx));
    _mm256_storeu_ps(y + j, e);
    vsum = _mm256_add_ps(vsum, e);
  }
  if (j < n) {
    const __m256 e = _mm256_and_ps(Exp8(_mm256_sub_ps(tail_logits(j, tail), vmx)), _mm256_castsi256_ps(tail));
    _mm256_maskstore_ps(y + j, tail, e);
    vsum = _mm256_add_ps(vsum, e);
  }
  return HorizontalSum8(vsum);
}

inline __m256 Gelu8(__m256 x) {
  // z = |x| / sqrt(2); erfc(z) by 7.1.26; Phi(x) = erfc(z)/2 for x < 0,
  // 1 - erfc(z)/2 otherwise.
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256 z = _mm256_mul_ps(_mm256_andnot_ps(sign, x), _mm256_set1_ps(kInvSqrt2));
  const __m256 t = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_fmadd_ps(_mm256_set1_ps(kErfP), z, _mm256_set1_ps(1.0f)));
  __m256 poly = _mm256_fmadd_ps(_mm256_set1_ps(kErfA5), t, _mm256_set1_ps(kErfA4));
  poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(kErfA3));
  poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(kErfA2));
  poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(kErfA1));
  poly = _mm256_mul_ps(poly, t);
  const __m256 half_erfc =
      _mm256_mul_ps(_mm256_mul_ps(poly, Exp8(_mm256_mul_ps(_mm256_xor_ps(z, sign), z))), _mm256_set1_ps(0.5f));
  const __m256 negative = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
  const __m256 phi = _mm256_blendv_ps(_mm256_sub_ps(_mm256_set1_ps(1.0f), half_erfc), half_erfc, negative);
  return _mm256_mul_ps(x, phi);
}

void GeluErfAvx2(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, Gelu8(_mm256_loadu_ps(x + i)));
  if (i < n) {
    const __m256i m = TailMask8(n - i);
    _mm256_maskstore_ps(y + i, m, Gelu8(_mm256_maskload_ps(x + i, m)));
  }
}

// ---- AVX-512F, compiled for it and called only where the CPU has it ----

#define TP_AVX512 __attribute__((target("avx512f")))

TP_AVX512 inline __m512 Exp16(__m512 x) {
  x = _mm512_min_ps(_mm512_set1_ps(kExpMax), x);
  x = _mm512_max_ps(_mm512_set1_ps(kExpMin), x);
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(kLog2e)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Hi), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(kLn2Lo), r);
  __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(kExpC6), r, _mm512_set1_ps(kExpC5));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kExpC4));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kExpC3));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(kExpC2));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  // scalef computes p * 2^n with gradual underflow to 0 and overflow to inf.
  return _mm512_scalef_ps(p, n);
}

TP_AVX512 inline __mmask16 TailMask16(int64_t count) {
  return static_cast<__mmask16>((1u << count) - 1u);
}

TP_AVX512 float ExpRowAvx512(const float* x, float* y, int64_t n, float scale, const float* mask,
                             int64_t mask_stride) {
  const __m512 vscale = _mm512_set1_ps(scale);
  const bool mask_row = mask != nullptr && mask_stride != 0;
  const __m512 mask_value = _mm512_set1_ps(mask != nullptr && mask_stride == 0 ? mask[0] : 0.0f);
  __m512 vmax = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __mmask16 nan = 0;
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    const __m512 v = _mm512_fmadd_ps(_mm512_loadu_ps(x + j), vscale, mask_row ? _mm512_loadu_ps(mask + j) : mask_value);
    nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    vmax = _mm512_max_ps(vmax, v);
  }
  const __mmask16 tail = TailMask16(n - j);
  auto tail_logits = [&](int64_t at) TP_AVX512 {
    return _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tail, x + at), vscale,
                           mask_row ? _mm512_maskz_loadu_ps(tail, mask + at) : mask_value);
  };
  if (j < n) {
    const __m512 v = tail_logits(j);
    nan |= _mm512_mask_cmp_ps_mask(tail, v, v, _CMP_UNORD_Q);
    vmax = _mm512_mask_max_ps(vmax, tail, vmax, v);
  }
  if (nan != 0) {
    std::fill(y, y + n, std::numeric_limits<float>::quiet_NaN());
    return std::numeric_limits<float>::quiet_NaN();
  }
  float mx = _mm512_reduce_max_ps(vmax);
  if (mx == -std::numeric_limits<float>::infinity()) mx = 0.0f;
  // The logits rounded exactly as in the first pass, then minus the max:
  // with a mask of -FLT_MAX, x * scale + mask rounds to the mask, and a
  // fully masked row must come out uniform on every instruction set.
  const __m512 vmx = _mm512_set1_ps(mx);
  __m512 vsum = _mm512_setzero_ps();
  for (j = 0; j + 16 <= n; j += 16) {
    const __m512 logit =
        _mm512_fmadd_ps(_mm512_loadu_ps(x + j), vscale, mask_row ? _mm512_loadu_ps(mask + j) : mask_value);
    const __m512 e = Exp16(_mm512_sub_ps(logit, vmx));
    _mm512_storeu_ps(y + j, e);
    vsum = _mm512_add_ps(vsum, e);
  }
  if (j < n) {
    const __m512 e = Exp16(_mm512_sub_ps(tail_logits(j), vmx));
    _mm512_mask_storeu_ps(y + j, tail, e);
    vsum = _mm512_mask_add_ps(vsum, tail, vsum, e);
  }
  return _mm512_reduce_add_ps(vsum);
}

TP_AVX512 inline __m512 Gelu16(__m512 x) {
  const __m512 z = _mm512_mul_ps(_mm512_abs_ps(x), _mm512_set1_ps(kInvSqrt2));
  const __m512 t = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(_mm512_set1_ps(kErfP), z, _mm512_set1_ps(1.0f)));
  __m512 poly = _mm512_fmadd_ps(_mm512_set1_ps(kErfA5), t, _mm512_set1_ps(kErfA4));
  poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(kErfA3));
  poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(kErfA2));
  poly = _mm512_fmadd_ps(poly, t, _mm512_set1_ps(kErfA1));
  poly = _mm512_mul_ps(poly, t);
  const __m512 half_erfc =
      _mm512_mul_ps(_mm512_mul_ps(poly, Exp16(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), z), z))),
                    _mm512_set1_ps(0.5f));
  const __mmask16 negative = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
  const __m512 phi = _mm512_mask_blend_ps(negative, _mm512_sub_ps(_mm512_set1_ps(1.0f), half_erfc), half_erfc);
  return _mm512_mul_ps(x, phi);
}

TP_AVX512 void GeluErfAvx512(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, Gelu16(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = TailMask16(n - i);
    _mm512_mask_storeu_ps(y + i, m, Gelu16(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

#endif  // TP_VEC_X86

Isa DetectIsa() {
#if TP_VEC_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return Isa::kAvx512;
  return Isa::kAvx2;
#else
  return Isa::kScalar;
#endif
}

}  // namespace

Isa ActiveIsa() {
  static const Isa isa = DetectIsa();
  return isa;
}

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return "avx512";
    case Isa::kAvx2:
      return "avx2";
    default:
      return "scalar";
  }
}

float ExpRowWith(Isa isa, const float* x, float* y, int64_t n, float scale, const float* mask,
                 int64_t mask_stride) {
  if (n <= 0) return 0.0f;
#if TP_VEC_X86
  if (isa == Isa::kAvx512) return ExpRowAvx512(x, y, n, scale, mask, mask_stride);
  if (isa == Isa::kAvx2) return ExpRowAvx2(x, y, n, scale, mask, mask_stride);
#endif
  return ExpRowScalar(x, y, n, scale, mask, mask_stride);
}

float ExpRow(const float* x, float* y, int64_t n, float scale, const float* mask, int64_t mask_stride) {
  return ExpRowWith(ActiveIsa(), x, y, n, scale, mask, mask_stride);
}

void SoftmaxRowWith(Isa isa, const float* x, float* y, int64_t n, float scale, const float* mask,
                    int64_t mask_stride) {
  const float inv = 1.0f / ExpRowWith(isa, x, y, n, scale, mask, mask_stride);
  for (int64_t j = 0; j < n; ++j) y[j] *= inv;
}

void SoftmaxRow(const float* x, float* y, int64_t n, float scale, const float* mask, int64_t mask_stride) {
  SoftmaxRowWith(ActiveIsa(), x, y, n, scale, mask, mask_stride);
}

void GeluErfWith(Isa isa, const float* x, float* y, int64_t n) {
  if (n <= 0) return;
#if TP_VEC_X86
  if (isa == Isa::kAvx512) return GeluErfAvx512(x, y, n);
  if (isa == Isa::kAvx2) return GeluErfAvx2(x, y, n);
#endif
  for (int64_t i = 0; i < n; ++i) y[i] = GeluScalar(x[i]);
}

void GeluErf(const float* x, float* y, int64_t n) { GeluErfWith(ActiveIsa(), x, y, n); }

}  // namespace tensorpod::internal::vec
