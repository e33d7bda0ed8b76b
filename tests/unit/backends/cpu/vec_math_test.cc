#include "backends/cpu/vec_math.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace tensorpod::internal::vec {
namespace {

// Every instruction set this CPU can run, the scalar one included.
std::vector<Isa> UsableIsas() {
  std::vector<Isa> out = {Isa::kScalar};
  if (ActiveIsa() == Isa::kAvx2 || ActiveIsa() == Isa::kAvx512) out.push_back(Isa::kAvx2);
  if (ActiveIsa() == Isa::kAvx512) out.push_back(Isa::kAvx512);
  return out;
}

std::vector<double> ReferenceSoftmax(const std::vector<float>& x, float scale, const float* mask,
                                     int64_t mask_stride) {
  std::vector<double> v(x.size());
  double mx = -INFINITY;
  for (size_t j = 0; j < x.size(); ++j) {
    v[j] = double(x[j]) * scale + (mask ? double(mask[j * mask_stride]) : 0.0);
    mx = std::max(mx, v[j]);
  }
  double sum = 0;
  for (double& e : v) sum += (e = std::exp(e - mx));
  for (double& e : v) e /= sum;
  return v;
}

TEST(VecMathTest, ReportsTheInstructionSetInUse) {
  const Isa isa = ActiveIsa();
  if (isa != Isa::kAvx512) std::printf("note: this CPU has no AVX-512F; its body is not exercised here\n");
  EXPECT_STRNE(IsaName(isa), "");
}

TEST(VecMathTest, SoftmaxRowMatchesDoublePrecisionOnEveryLengthAndTail) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-12.0f, 12.0f);
  for (Isa isa : UsableIsas()) {
    for (int64_t n : {1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 128, 129, 384}) {
      std::vector<float> x(n), mask(n), y(n);
      for (auto& e : x) e = dist(rng);
      for (int64_t j = 0; j < n; ++j) mask[j] = (j % 5 == 3) ? -3.4028235e38f : 0.0f;
      struct Case { float scale; const float* mask; int64_t stride; };
      const float one_mask = -2.5f;
      for (const Case& c : {Case{1.0f, nullptr, 0}, Case{0.125f, mask.data(), 1}, Case{2.0f, &one_mask, 0}}) {
        SoftmaxRowWith(isa, x.data(), y.data(), n, c.scale, c.mask, c.stride);
        const std::vector<double> want = ReferenceSoftmax(x, c.scale, c.mask, c.stride);
        double total = 0;
        for (int64_t j = 0; j < n; ++j) {
          ASSERT_NEAR(y[j], want[j], 2e-6 * want[j] + 1e-9)
              << IsaName(isa) << " n=" << n << " j=" << j << " scale=" << c.scale;
          total += y[j];
        }
        EXPECT_NEAR(total, 1.0, 1e-5) << IsaName(isa) << " n=" << n;
      }
    }
  }
}

TEST(VecMathTest, SoftmaxRowWorksInPlaceAndOnExtremeInputs) {
  for (Isa isa : UsableIsas()) {
    // In place, with -inf entries: they get exactly 0.
    std::vector<float> row = {1.0f, -INFINITY, 3.0f, -INFINITY, 2.0f, 0.5f, -1.0f, 4.0f, 9.0f, -INFINITY};
    const std::vector<double> want = ReferenceSoftmax(row, 1.0f, nullptr, 0);
    SoftmaxRowWith(isa, row.data(), row.data(), row.size(), 1.0f, nullptr, 0);
    for (size_t j = 0; j < row.size(); ++j) EXPECT_NEAR(row[j], want[j], 2e-6 * want[j] + 1e-9) << IsaName(isa);
    EXPECT_EQ(row[1], 0.0f) << IsaName(isa);
    // Huge logits do not overflow: only differences matter.
    std::vector<float> big = {1e30f, 1e30f, -1e30f};
    SoftmaxRowWith(isa, big.data(), big.data(), 3, 1.0f, nullptr, 0);
    EXPECT_FLOAT_EQ(big[0], 0.5f) << IsaName(isa);
    EXPECT_FLOAT_EQ(big[2], 0.0f) << IsaName(isa);
    // A NaN makes the whole row NaN, as the unfused graph would.
    for (int64_t n : {3, 20}) {
      std::vector<float> bad(n, 1.0f);
      bad[n - 1] = NAN;
      SoftmaxRowWith(isa, bad.data(), bad.data(), n, 1.0f, nullptr, 0);
      for (float v : bad) EXPECT_TRUE(std::isnan(v)) << IsaName(isa) << " n=" << n;
    }
    // Every position masked with -FLT_MAX (the finfo.min convention): the
    // logits all round to the mask, so the row is uniform on every ISA.
    for (int64_t n : {5, 16, 37}) {
      std::vector<float> x(n), y(n), m(n, -3.4028235e38f);
      for (int64_t j = 0; j < n; ++j) x[j] = 0.37f * static_cast<float>(j % 7) - 1.0f;
      SoftmaxRowWith(isa, x.data(), y.data(), n, 0.125f, m.data(), 1);
      for (float v : y) EXPECT_NEAR(v, 1.0f / static_cast<float>(n), 1e-6f) << IsaName(isa) << " n=" << n;
    }
    // Every position masked to -inf: 0/0, NaN (onnxruntime and numpy agree).
    std::vector<float> masked(18, -INFINITY);
    SoftmaxRowWith(isa, masked.data(), masked.data(), masked.size(), 1.0f, nullptr, 0);
    for (float v : masked) EXPECT_TRUE(std::isnan(v)) << IsaName(isa);
  }
}

TEST(VecMathTest, GeluErfIsWithinItsErrorBound) {
  std::vector<float> x;
  for (float v = -12.0f; v <= 12.0f; v += 0.00731f) x.push_back(v);
  x.push_back(0.0f);
  x.push_back(-0.0f);
  for (Isa isa : UsableIsas()) {
    for (int64_t n : {int64_t(x.size()), int64_t{13}}) {
      std::vector<float> y(n);
      GeluErfWith(isa, x.data(), y.data(), n);
      double worst = 0;
      for (int64_t i = 0; i < n; ++i) {
        const double want = 0.5 * x[i] * std::erfc(-double(x[i]) / std::sqrt(2.0));
        worst = std::max(worst, std::abs(y[i] - want) / std::max(1.0, std::abs(want)));
      }
      EXPECT_LT(worst, 3e-7) << IsaName(isa) << " n=" << n;
    }
  }
}

TEST(VecMathTest, GeluErfKeepsSpecialValues) {
  for (Isa isa : UsableIsas()) {
    std::vector<float> x = {INFINITY, NAN, 0.0f, -30.0f, 30.0f};
    std::vector<float> y(x.size());
    GeluErfWith(isa, x.data(), y.data(), x.size());
    EXPECT_EQ(y[0], INFINITY) << IsaName(isa);
    EXPECT_TRUE(std::isnan(y[1])) << IsaName(isa);
    EXPECT_EQ(y[2], 0.0f) << IsaName(isa);
    EXPECT_NEAR(y[3], 0.0f, 1e-30) << IsaName(isa);
    EXPECT_EQ(y[4], 30.0f) << IsaName(isa);
  }
}

}  // namespace
}  // namespace tensorpod::internal::vec
