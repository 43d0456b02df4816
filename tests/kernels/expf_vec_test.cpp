// The vectorized expf and SiLU·mul against the C library, bit for bit, for each ISA this CPU has.
// Every one of the 2^32 float inputs matched when checked once per ISA (docs/PERFORMANCE.md);
// here a dense sample of all floats, the special inputs, and SiLU over the values a model produces.
#include "kernels/expf_vec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/elementwise.h"

namespace ag::kernels {
namespace {

uint32_t bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}
float from_bits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}
bool same(float a, float b) { return bits(a) == bits(b) || (std::isnan(a) && std::isnan(b)); }

class ExpfVec : public ::testing::TestWithParam<ExpfIsa> {
 protected:
  void SetUp() override {
    if (!expf_isa_available(GetParam())) GTEST_SKIP() << "this CPU lacks the ISA";
  }
};

TEST_P(ExpfVec, MatchesTheCLibraryOnASampleOfEveryFloat) {
  // Every 251st bit pattern (odd stride: every exponent and sign, mantissas all over) and runs of
  // 17 so the 16-lane path and its scalar tail both see each region.
  std::vector<float> x, y;
  for (uint64_t b = 0; b < (uint64_t{1} << 32); b += 251) x.push_back(from_bits(static_cast<uint32_t>(b)));
  y.resize(x.size());
  int mismatches = 0;
  for (size_t i = 0; i < x.size(); i += 17) {
    const int n = static_cast<int>(std::min<size_t>(17, x.size() - i));
    expf_vec(GetParam(), x.data() + i, y.data() + i, n);
  }
  for (size_t i = 0; i < x.size(); ++i)
    if (!same(y[i], std::exp(x[i])) && ++mismatches <= 5)
      ADD_FAILURE() << "expf(" << std::hexfloat << x[i] << ") = " << y[i] << ", the C library "
                    << std::exp(x[i]);
  EXPECT_EQ(mismatches, 0) << "of " << x.size();
}

TEST_P(ExpfVec, InputsWhereOneRoundingMatters) {
  // The only two floats whose expf changes when r = x·32/ln2 - k is rounded twice (multiply, then
  // subtract) instead of once as glibc's fused multiply-subtract does (exhaustive check).
  std::vector<float> x(16, 1.0f), y(16);
  x[0] = 0x1.04845ep+5f;
  x[1] = -0x1.f8cbb2p+5f;
  expf_vec(GetParam(), x.data(), y.data(), 16);
  EXPECT_TRUE(same(y[0], std::exp(x[0]))) << std::hexfloat << y[0];
  EXPECT_TRUE(same(y[1], std::exp(x[1]))) << std::hexfloat << y[1];
}

TEST_P(ExpfVec, SpecialInputsTakeTheCLibraryPath) {
  const float inf = std::numeric_limits<float>::infinity();
  // Each special value sits among ordinary ones in a 16-lane group.
  for (float special : {inf, -inf, std::numeric_limits<float>::quiet_NaN(), 88.0f, 88.8f, -88.0f,
                        -104.0f, -200.0f, 1e30f, -1e30f, 87.99f, -87.99f, 0.0f, -0.0f,
                        std::numeric_limits<float>::denorm_min()}) {
    std::vector<float> x(32, 0.5f), y(32);
    x[5] = special;
    x[20] = -special;
    expf_vec(GetParam(), x.data(), y.data(), 32);
    for (int i = 0; i < 32; ++i)
      EXPECT_TRUE(same(y[static_cast<size_t>(i)], std::exp(x[static_cast<size_t>(i)])))
          << std::hexfloat << x[static_cast<size_t>(i)];
  }
}

TEST_P(ExpfVec, SiluMulMatchesTheScalarExpression) {
  std::mt19937 rng(7);
  std::normal_distribution<float> activation(0.0f, 4.0f);
  for (int n : {1, 15, 16, 17, 64, 4864, 5632}) {
    std::vector<float> gate(static_cast<size_t>(n)), up(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      gate[static_cast<size_t>(i)] = activation(rng);
      up[static_cast<size_t>(i)] = activation(rng);
    }
    if (n > 40) {  // outliers that leave expf's fast range (exp(-g) overflows or underflows)
      gate[3] = 95.0f;
      gate[30] = -120.0f;
      gate[31] = std::numeric_limits<float>::infinity();
    }
    std::vector<float> want(gate.size());
    for (size_t i = 0; i < gate.size(); ++i) want[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
    std::vector<float> fast = gate, dispatched = gate;
    silu_mul_vec(GetParam(), fast.data(), up.data(), n);
    silu_mul(dispatched.data(), up.data(), n);
    for (size_t i = 0; i < gate.size(); ++i) {
      EXPECT_TRUE(same(fast[i], want[i])) << n << " " << i << " " << std::hexfloat << gate[i];
      EXPECT_TRUE(same(dispatched[i], want[i])) << n << " " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Isas, ExpfVec, ::testing::Values(ExpfIsa::kAvx2, ExpfIsa::kAvx512),
                         [](const ::testing::TestParamInfo<ExpfIsa>& param_info) {
                           return param_info.param == ExpfIsa::kAvx2 ? std::string("avx2") : std::string("avx512");
                         });

}  // namespace
}  // namespace ag::kernels
