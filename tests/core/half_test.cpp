#include "core/half.h"

#include <gtest/gtest.h>

#include <cmath>
#include <immintrin.h>

// Every F16 value round-trips through F32; F32 -> F16 rounds like the F16C instruction.
TEST(Half, F16RoundTripIsExactForAllValues) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = ag::f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(ag::f32_to_f16(f), h) << h;
  }
}

__attribute__((target("f16c"))) static uint16_t hw_f32_to_f16(float f) {
  return static_cast<uint16_t>(_cvtss_sh(f, 0));
}
__attribute__((target("f16c"))) static float hw_f16_to_f32(uint16_t h) { return _cvtsh_ss(h); }

TEST(Half, MatchesF16cInstruction) {
  if (!__builtin_cpu_supports("avx2")) GTEST_SKIP() << "no F16C";
  for (uint32_t h = 0; h < 65536; ++h) {
    float a = ag::f16_to_f32(static_cast<uint16_t>(h)), b = hw_f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(a)) continue;
    ASSERT_EQ(ag::float_to_bits(a), ag::float_to_bits(b));
  }
  uint32_t state = 12345;
  for (int i = 0; i < 2000000; ++i) {
    state = state * 1664525u + 1013904223u;
    float f = ag::bits_to_float(state);
    if (std::isnan(f)) continue;
    ASSERT_EQ(ag::f32_to_f16(f), hw_f32_to_f16(f)) << f;
  }
}

TEST(Half, Bf16RoundsToNearestEven) {
  EXPECT_EQ(ag::f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(ag::bf16_to_f32(0x3f80), 1.0f);
  EXPECT_EQ(ag::f32_to_bf16(ag::bits_to_float(0x3f808000u)), 0x3f80);  // tie -> even
  EXPECT_EQ(ag::f32_to_bf16(ag::bits_to_float(0x3f818000u)), 0x3f82);  // tie -> even (up)
}
