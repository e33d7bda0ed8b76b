// Vectorised float32 row functions for the CPU kernels' hot loops (softmax,
// GELU). The library is built for AVX2 + FMA; each function also has an
// AVX-512 body chosen at run time when the CPU has AVX-512F, since that is
// where the FMA peak is on current servers.
#pragma once

#include <cstdint>

namespace tensorpod::internal::vec {

// The instruction set the dispatching functions below use on this CPU.
enum class Isa { kScalar, kAvx2, kAvx512 };
Isa ActiveIsa();
const char* IsaName(Isa isa);

// y[j] = softmax over j of (x[j] * scale + mask[j * mask_stride]), n > 0.
// `mask` may be null; mask_stride is 1 (a row of the mask) or 0 (one value
// for the whole row). x and y may be the same row. Inputs of -inf give 0;
// a NaN anywhere makes the row NaN.
void SoftmaxRow(const float* x, float* y, int64_t n, float scale, const float* mask, int64_t mask_stride);

// The softmax's numerator and denominator: y[j] = exp(logit[j] - max) and
// their sum returned, for callers that divide later (attention scales its
// output rows, not the scores). NaN rows come back NaN with a NaN sum.
float ExpRow(const float* x, float* y, int64_t n, float scale, const float* mask, int64_t mask_stride);
float ExpRowWith(Isa isa, const float* x, float* y, int64_t n, float scale, const float* mask, int64_t mask_stride);

// The same with a chosen instruction set (tests compare them); `isa` must
// be supported by the CPU (see ActiveIsa) or kScalar.
void SoftmaxRowWith(Isa isa, const float* x, float* y, int64_t n, float scale, const float* mask,
                    int64_t mask_stride);

// y[i] = x[i] * 0.5 * (1 + erf(x[i] / sqrt(2))) over n elements, in place
// allowed; error under 3e-7 against double precision (absolute below 1,
// relative above; Abramowitz & Stegun 7.1.26 with a vector exp).
void GeluErf(const float* x, float* y, int64_t n);
void GeluErfWith(Isa isa, const float* x, float* y, int64_t n);

}  // namespace tensorpod::internal::vec
