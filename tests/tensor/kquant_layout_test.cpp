// Known-answer tests of the K-quant block layouts: hand-built block bytes -> expected weights.
// Two kinds: literal bytes with literal expected values, and random blocks built by the test's own
// encoders (kquant_test_util.h) whose expected weights follow from the quants and scales alone.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "kquant_test_util.h"
#include "tensor/kquant.h"
#include "tensor/type_traits.h"

namespace ag {
namespace {

// Dequantizes one block with the reference and with the dispatched (fast) kernels.
template <typename Block>
std::vector<float> dequant_both(DType type, const Block& b) {
  std::vector<float> ref(QK_K), fast(QK_K);
  type_traits_reference(type).to_float(&b, ref.data(), QK_K);
  type_traits(type).to_float(&b, fast.data(), QK_K);
  EXPECT_EQ(0, std::memcmp(ref.data(), fast.data(), QK_K * sizeof(float))) << dtype_name(type);
  return ref;
}

TEST(KQuantLayout, Sizes) {
  EXPECT_EQ(dtype_info(DType::Q2_K).type_size, sizeof(BlockQ2K));
  EXPECT_EQ(dtype_info(DType::Q3_K).type_size, sizeof(BlockQ3K));
  EXPECT_EQ(dtype_info(DType::Q4_K).type_size, sizeof(BlockQ4K));
  EXPECT_EQ(dtype_info(DType::Q5_K).type_size, sizeof(BlockQ5K));
  EXPECT_EQ(dtype_info(DType::Q6_K).type_size, sizeof(BlockQ6K));
  EXPECT_EQ(dtype_info(DType::Q8_K).type_size, sizeof(BlockQ8K));
  for (DType t : {DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    EXPECT_EQ(type_traits(t).vec_dot_type, DType::Q8_K);
  }
}

TEST(KQuantLayout, Q2KLiteral) {
  BlockQ2K b{};
  b.scales[0] = 0x21;                     // scale 1, min 2
  b.scales[15] = 0x3F;                    // scale 15, min 3
  std::memset(b.qs, 0xE4, sizeof(b.qs));  // 0b11'10'01'00: quant k for shift 2k
  b.d = 0x3800;                           // 0.5
  b.dmin = 0x3400;                        // 0.25
  const auto y = dequant_both(DType::Q2_K, b);
  EXPECT_EQ(y[0], -0.5f);  // 0.5*1*0 - 0.25*2
  EXPECT_EQ(y[15], -0.5f);
  EXPECT_EQ(y[16], 0.0f);  // sub-block 1: scale 0, min 0
  EXPECT_EQ(y[40], 0.0f);
  EXPECT_EQ(y[255], 21.75f);  // sub-block 15, quant 3: 0.5*15*3 - 0.25*3
  EXPECT_EQ(y[240], 21.75f);
}

TEST(KQuantLayout, Q3KLiteral) {
  BlockQ3K b{};
  std::memset(b.hmask, 0xFF, sizeof(b.hmask));  // high bit set: no -4
  b.hmask[0] = 0xFA;                            // elements 0 and 64: high bit clear
  std::memset(b.qs, 0xFF, sizeof(b.qs));        // low bits 3 everywhere
  b.scales[0] = 0x05;                           // scale 0 low nibble 5
  b.scales[8] = 0xE6;  // high bits: scale 0 -> 2, scale 4 -> 1, scale 8 -> 2, scale 12 -> 3
  b.scales[9] = b.scales[10] = b.scales[11] = 0xAA;  // high bits 2: the other scales are 0
  b.d = 0x3C00;                                      // 1.0
  const auto y = dequant_both(DType::Q3_K, b);
  EXPECT_EQ(y[0], -5.0f);   // scale 5, quant 3 - 4
  EXPECT_EQ(y[1], 15.0f);   // scale 5, quant 3
  EXPECT_EQ(y[32], 0.0f);   // scale 2 = 0
  EXPECT_EQ(y[64], 16.0f);  // scale 4 = -16, quant -1
  EXPECT_EQ(y[65], -48.0f);
  EXPECT_EQ(y[128], 0.0f);   // scale 8 = 0
  EXPECT_EQ(y[192], 48.0f);  // scale 12 = 16
}

TEST(KQuantLayout, Q4KLiteral) {
  BlockQ4K b{};
  // Sub-blocks 0..3: scale j+1, min j. Sub-blocks 4..7: scale 17, min 32 (uses the high bits).
  const uint8_t scales[12] = {0x41, 0x42, 0x43, 0x44, 0x80, 0x81, 0x82, 0x83, 1, 1, 1, 1};
  std::memcpy(b.scales, scales, 12);
  std::memset(b.qs, 0x21, sizeof(b.qs));  // low nibble 1, high nibble 2
  b.d = 0x3C00;                           // 1.0
  b.dmin = 0x3800;                        // 0.5
  const auto y = dequant_both(DType::Q4_K, b);
  EXPECT_EQ(y[0], 1.0f);     // 1*1*1 - 0.5*0
  EXPECT_EQ(y[32], 3.5f);    // sub-block 1, high nibble: 1*2*2 - 0.5*1
  EXPECT_EQ(y[64], 2.0f);    // sub-block 2: 3*1 - 0.5*2
  EXPECT_EQ(y[128], 1.0f);   // sub-block 4: 17*1 - 0.5*32
  EXPECT_EQ(y[255], 18.0f);  // sub-block 7: 17*2 - 0.5*32
}

TEST(KQuantLayout, Q5KLiteral) {
  BlockQ5K b{};
  const uint8_t scales[12] = {1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1};  // scale 1, min 0 everywhere
  std::memcpy(b.scales, scales, 12);
  b.qs[0] = 0xF5;  // element 0: 5, element 32: 15
  b.qh[0] = 0x01;  // fifth bit of element 0
  b.qh[3] = 0x80;  // fifth bit of element 192 + 32 + 3
  b.d = 0x3C00;
  b.dmin = 0x3C00;
  const auto y = dequant_both(DType::Q5_K, b);
  EXPECT_EQ(y[0], 21.0f);
  EXPECT_EQ(y[1], 0.0f);
  EXPECT_EQ(y[32], 15.0f);
  EXPECT_EQ(y[227], 16.0f);
  EXPECT_EQ(y[195], 0.0f);
}

TEST(KQuantLayout, Q6KLiteral) {
  BlockQ6K b{};  // all quants stored as 0: weight -32 * scale
  b.scales[0] = 2;
  b.scales[1] = -1;
  b.scales[15] = 127;
  b.ql[0] = 0x0F;
  b.qh[0] = 0x03;  // element 0: 15 | 3 << 4 = 63 -> +31
  b.d = 0x3800;    // 0.5
  const auto y = dequant_both(DType::Q6_K, b);
  EXPECT_EQ(y[0], 31.0f);
  EXPECT_EQ(y[1], -32.0f);
  EXPECT_EQ(y[16], 16.0f);
  EXPECT_EQ(y[64], 0.0f);  // scale 4 = 0
  EXPECT_EQ(y[255], -2032.0f);
}

// Random blocks through the test's encoders. Super-block factors are powers of two so the F16
// storage is exact and expected values are plain products.
class KQuantLayoutRandom : public ::testing::Test {
 protected:
  std::mt19937 rng{1234};
  int uniform(int lo, int hi) {
    return lo + static_cast<int>(rng() % static_cast<uint32_t>(hi - lo + 1));
  }
  void fill(int* v, int n, int lo, int hi) {
    for (int i = 0; i < n; ++i) v[i] = uniform(lo, hi);
  }
};

TEST_F(KQuantLayoutRandom, Q2K) {
  for (int rep = 0; rep < 8; ++rep) {
    int q[QK_K], sc[16], m[16];
    fill(q, QK_K, 0, 3);
    fill(sc, 16, 0, 15);
    fill(m, 16, 0, 15);
    const float d = 0.125f, dmin = 0.0625f;
    const auto y = dequant_both(DType::Q2_K, test::encode_q2_k(q, sc, m, d, dmin));
    for (int e = 0; e < QK_K; ++e) {
      ASSERT_FLOAT_EQ(y[e], d * sc[e / 16] * q[e] - dmin * m[e / 16]) << e;
    }
  }
}

TEST_F(KQuantLayoutRandom, Q3K) {
  for (int rep = 0; rep < 8; ++rep) {
    int q[QK_K], sc[16];
    fill(q, QK_K, -4, 3);
    fill(sc, 16, -32, 31);
    const float d = 0.25f;
    const auto y = dequant_both(DType::Q3_K, test::encode_q3_k(q, sc, d));
    for (int e = 0; e < QK_K; ++e) ASSERT_FLOAT_EQ(y[e], d * sc[e / 16] * q[e]) << e;
  }
}

TEST_F(KQuantLayoutRandom, Q4K) {
  for (int rep = 0; rep < 8; ++rep) {
    int q[QK_K], sc[8], m[8];
    fill(q, QK_K, 0, 15);
    fill(sc, 8, 0, 63);
    fill(m, 8, 0, 63);
    const float d = 0.5f, dmin = 0.25f;
    const auto y = dequant_both(DType::Q4_K, test::encode_q4_k(q, sc, m, d, dmin));
    for (int e = 0; e < QK_K; ++e) {
      ASSERT_FLOAT_EQ(y[e], d * sc[e / 32] * q[e] - dmin * m[e / 32]) << e;
    }
  }
}

TEST_F(KQuantLayoutRandom, Q5K) {
  for (int rep = 0; rep < 8; ++rep) {
    int q[QK_K], sc[8], m[8];
    fill(q, QK_K, 0, 31);
    fill(sc, 8, 0, 63);
    fill(m, 8, 0, 63);
    const float d = 0.5f, dmin = 2.0f;
    const auto y = dequant_both(DType::Q5_K, test::encode_q5_k(q, sc, m, d, dmin));
    for (int e = 0; e < QK_K; ++e) {
      ASSERT_FLOAT_EQ(y[e], d * sc[e / 32] * q[e] - dmin * m[e / 32]) << e;
    }
  }
}

TEST_F(KQuantLayoutRandom, Q6K) {
  for (int rep = 0; rep < 8; ++rep) {
    int q[QK_K], sc[16];
    fill(q, QK_K, -32, 31);
    fill(sc, 16, -128, 127);
    const float d = 0.03125f;
    const auto y = dequant_both(DType::Q6_K, test::encode_q6_k(q, sc, d));
    for (int e = 0; e < QK_K; ++e) ASSERT_FLOAT_EQ(y[e], d * sc[e / 16] * q[e]) << e;
  }
}

TEST(KQuantLayout, Q8KActivations) {
  // A literal block: iscale = -127 / max where max is the value of largest magnitude (-2 here),
  // so iscale = 63.5 and d = 1 / 63.5; quants round to nearest with ties to even; bsums hold the
  // sums of each 16 quants.
  std::vector<float> x(QK_K, 0.0f);
  x[0] = -2.0f;
  x[1] = 1.0f;  // 63.5: a tie, rounds to 64
  x[17] = 0.02f;
  x[255] = 1.5f;
  BlockQ8K b;
  type_traits(DType::Q8_K).from_float(x.data(), &b, QK_K);
  EXPECT_FLOAT_EQ(b.d, 1.0f / 63.5f);
  EXPECT_EQ(b.qs[0], -127);
  EXPECT_EQ(b.qs[1], 64);
  EXPECT_EQ(b.qs[17], 1);
  EXPECT_EQ(b.qs[255], 95);
  EXPECT_EQ(b.bsums[0], -127 + 64);
  EXPECT_EQ(b.bsums[1], 1);
  EXPECT_EQ(b.bsums[15], 95);
  std::vector<float> back(QK_K);
  type_traits(DType::Q8_K).to_float(&b, back.data(), QK_K);
  EXPECT_FLOAT_EQ(back[0], -2.0f);
  EXPECT_FLOAT_EQ(back[255], 95.0f / 63.5f);

  // All zeros: d = 0 and every quant and sum 0 (no division by zero).
  std::vector<float> zeros(QK_K, 0.0f);
  std::memset(&b, 0x5A, sizeof(b));
  type_traits(DType::Q8_K).from_float(zeros.data(), &b, QK_K);
  EXPECT_EQ(b.d, 0.0f);
  for (int i = 0; i < QK_K; ++i) ASSERT_EQ(b.qs[i], 0);
  for (int j = 0; j < 16; ++j) ASSERT_EQ(b.bsums[j], 0);
}

}  // namespace
}  // namespace ag
