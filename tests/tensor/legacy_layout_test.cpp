// Known-answer tests: hand-built blocks with known bytes dequantize, quantize and dot to known
// values. They pin GGML's on-disk layouts (field order, nibble order, the Q5 high bits, Q8_1's
// stored sum) independently of our own quantizers, for the reference and the fast kernels alike.
#include <gtest/gtest.h>

#include <cstring>
#include <initializer_list>
#include <vector>

#include "tensor/dtype.h"
#include "tensor/quant_blocks.h"
#include "tensor/type_traits.h"

namespace ag {
namespace {

using Bytes = std::vector<uint8_t>;

// The F16 bits of a few exact values, little-endian byte pairs.
constexpr uint8_t kHalf0_25[2] = {0x00, 0x34};
constexpr uint8_t kHalf0_5[2] = {0x00, 0x38};
constexpr uint8_t kHalf1[2] = {0x00, 0x3C};
constexpr uint8_t kHalf2[2] = {0x00, 0x40};
constexpr uint8_t kHalf10[2] = {0x00, 0x49};
constexpr uint8_t kHalfMinus1[2] = {0x00, 0xBC};

void put(Bytes& b, std::initializer_list<uint8_t> v) { b.insert(b.end(), v.begin(), v.end()); }
void put(Bytes& b, const uint8_t (&h)[2]) { b.insert(b.end(), h, h + 2); }
void put_repeated(Bytes& b, uint8_t v, int count) { b.insert(b.end(), static_cast<size_t>(count), v); }

const TypeTraits& kernels(DType t, bool fast) { return fast ? type_traits(t) : type_traits_reference(t); }

std::vector<float> dequantize(DType t, const Bytes& bytes, int64_t n, bool fast) {
  EXPECT_EQ(bytes.size(), row_bytes(t, static_cast<uint64_t>(n)));
  std::vector<float> out(static_cast<size_t>(n));
  kernels(t, fast).to_float(bytes.data(), out.data(), n);
  return out;
}

Bytes quantize(DType t, const std::vector<float>& x, bool fast) {
  Bytes out(row_bytes(t, x.size()));
  kernels(t, fast).from_float(x.data(), out.data(), static_cast<int64_t>(x.size()));
  return out;
}

class KnownAnswer : public ::testing::TestWithParam<bool> {};  // param: fast kernels

TEST(LegacyLayout, BlockSizesMatchTheDtypeTable) {
  const std::pair<DType, size_t> sizes[] = {
      {DType::Q4_0, sizeof(BlockQ4_0)}, {DType::Q4_1, sizeof(BlockQ4_1)},
      {DType::Q5_0, sizeof(BlockQ5_0)}, {DType::Q5_1, sizeof(BlockQ5_1)},
      {DType::Q8_0, sizeof(BlockQ8_0)}, {DType::Q8_1, sizeof(BlockQ8_1)}};
  for (const auto& [type, size] : sizes) {
    EXPECT_EQ(dtype_info(type).type_size, size) << dtype_name(type);
    EXPECT_EQ(dtype_info(type).block_size, 32u) << dtype_name(type);
  }
}

TEST(LegacyLayout, VecDotTypes) {
  EXPECT_EQ(type_traits(DType::F32).vec_dot_type, DType::F32);
  EXPECT_EQ(type_traits(DType::F16).vec_dot_type, DType::F16);
  EXPECT_EQ(type_traits(DType::BF16).vec_dot_type, DType::BF16);
  EXPECT_EQ(type_traits(DType::Q4_0).vec_dot_type, DType::Q8_0);
  EXPECT_EQ(type_traits(DType::Q4_1).vec_dot_type, DType::Q8_1);
  EXPECT_EQ(type_traits(DType::Q5_0).vec_dot_type, DType::Q8_0);
  EXPECT_EQ(type_traits(DType::Q5_1).vec_dot_type, DType::Q8_1);
  EXPECT_EQ(type_traits(DType::Q8_0).vec_dot_type, DType::Q8_0);
  EXPECT_TRUE(has_type_traits(DType::Q8_1));
  EXPECT_EQ(type_traits(DType::Q8_1).vec_dot, nullptr);  // activation-only
}

TEST_P(KnownAnswer, DequantizeQ4_0) {
  Bytes b;
  put(b, kHalf0_5);
  put(b, {0x9F});  // element 0: low nibble 15; element 16: high nibble 9
  put_repeated(b, 0x88, 14);
  put(b, {0x07});  // element 15: 7; element 31: 0
  const auto y = dequantize(DType::Q4_0, b, 32, GetParam());
  EXPECT_EQ(y[0], 3.5f);
  EXPECT_EQ(y[16], 0.5f);
  EXPECT_EQ(y[15], -0.5f);
  EXPECT_EQ(y[31], -4.0f);
  for (int j : {1, 7, 14, 17, 30}) EXPECT_EQ(y[j], 0.0f) << j;
}

TEST_P(KnownAnswer, DequantizeQ4_1) {
  Bytes b;
  put(b, kHalf0_5);     // d
  put(b, kHalfMinus1);  // m
  put_repeated(b, 0x00, 3);
  put(b, {0x2A});  // element 3: 10, element 19: 2
  put_repeated(b, 0x00, 12);
  const auto y = dequantize(DType::Q4_1, b, 32, GetParam());
  EXPECT_EQ(y[3], 4.0f);
  EXPECT_EQ(y[19], 0.0f);
  for (int j : {0, 2, 4, 16, 18, 31}) EXPECT_EQ(y[j], -1.0f) << j;
}

TEST_P(KnownAnswer, DequantizeQ5_0) {
  Bytes b;
  put(b, kHalf1);
  put(b, {0x01, 0x00, 0x02, 0x00});  // qh: bits 0 and 17
  put(b, {0x21, 0x03});              // elements 0/16: 1/2; elements 1/17: 3/0
  put_repeated(b, 0x00, 14);
  const auto y = dequantize(DType::Q5_0, b, 32, GetParam());
  EXPECT_EQ(y[0], 1.0f);     // (1 | 16) - 16
  EXPECT_EQ(y[16], -14.0f);  // 2 - 16
  EXPECT_EQ(y[1], -13.0f);   // 3 - 16
  EXPECT_EQ(y[17], 0.0f);    // (0 | 16) - 16
  for (int j : {2, 15, 18, 31}) EXPECT_EQ(y[j], -16.0f) << j;
}

TEST_P(KnownAnswer, DequantizeQ5_1) {
  Bytes b;
  put(b, kHalf2);    // d
  put(b, kHalf0_5);  // m
  put(b, {0x00, 0x00, 0x00, 0x80});  // qh: bit 31
  put_repeated(b, 0x00, 15);
  put(b, {0x30});  // element 15: 0; element 31: 3
  const auto y = dequantize(DType::Q5_1, b, 32, GetParam());
  EXPECT_EQ(y[31], 38.5f);  // (3 | 16) * 2 + 0.5
  EXPECT_EQ(y[15], 0.5f);
  EXPECT_EQ(y[0], 0.5f);
}

TEST_P(KnownAnswer, DequantizeQ8_0AndQ8_1) {
  Bytes b0;
  put(b0, kHalf0_25);
  put(b0, {0x80, 0x7F, 0x01});  // -128, 127, 1
  put_repeated(b0, 0x00, 29);
  Bytes b1;
  put(b1, kHalf0_25);
  put(b1, kHalf10);  // s is not used when dequantizing
  b1.insert(b1.end(), b0.begin() + 2, b0.end());
  for (const auto& [type, bytes] : {std::pair{DType::Q8_0, b0}, std::pair{DType::Q8_1, b1}}) {
    const auto y = dequantize(type, bytes, 32, GetParam());
    EXPECT_EQ(y[0], -32.0f);
    EXPECT_EQ(y[1], 31.75f);
    EXPECT_EQ(y[2], 0.25f);
    EXPECT_EQ(y[31], 0.0f);
  }
}

TEST_P(KnownAnswer, DequantizeFloats) {
  const Bytes f16 = {0x00, 0x3C, 0x00, 0xC0, 0x01, 0x00, 0xFF, 0x7B};
  const auto h = dequantize(DType::F16, f16, 4, GetParam());
  EXPECT_EQ(h[0], 1.0f);
  EXPECT_EQ(h[1], -2.0f);
  EXPECT_EQ(h[2], 0x1p-24f);
  EXPECT_EQ(h[3], 65504.0f);
  const Bytes bf16 = {0x80, 0x3F, 0x49, 0x40, 0x80, 0xBF};
  const auto b = dequantize(DType::BF16, bf16, 3, GetParam());
  EXPECT_EQ(b[0], 1.0f);
  EXPECT_EQ(b[1], 3.140625f);
  EXPECT_EQ(b[2], -1.0f);
  const Bytes f32 = {0x00, 0x00, 0xC0, 0x3F};
  EXPECT_EQ(dequantize(DType::F32, f32, 1, GetParam())[0], 1.5f);
}

TEST_P(KnownAnswer, QuantizeQ4_0) {
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16);
  // max -16 -> d = 2, levels trunc(x / 2 + 8.5), element 31 clipped from 16 to 15
  const Bytes b = quantize(DType::Q4_0, x, GetParam());
  EXPECT_EQ(b[0], 0x00);
  EXPECT_EQ(b[1], 0x40);
  EXPECT_EQ(b[2], 0x80);
  EXPECT_EQ(b[3], 0x91);
  EXPECT_EQ(b[17], 0xF8);
}

TEST_P(KnownAnswer, QuantizeQ4_1) {
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j % 16 - 3);  // min -3, max 12: d = 1
  const Bytes b = quantize(DType::Q4_1, x, GetParam());
  Bytes expected = {0x00, 0x3C, 0x00, 0xC2};  // d = 1, m = -3
  for (int j = 0; j < 16; ++j) expected.push_back(static_cast<uint8_t>(0x11 * j));
  EXPECT_EQ(b, expected);
}

TEST_P(KnownAnswer, QuantizeQ5_0AndQ5_1) {
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16);  // Q5_0: max -16 -> d = 1, q = j
  Bytes expected = {0x00, 0x3C, 0x00, 0x00, 0xFF, 0xFF};           // qh: elements 16..31
  for (int j = 0; j < 16; ++j) expected.push_back(static_cast<uint8_t>(0x11 * j));
  EXPECT_EQ(quantize(DType::Q5_0, x, GetParam()), expected);

  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 5);  // Q5_1: min -5, max 26 -> d = 1
  expected = {0x00, 0x3C, 0x00, 0xC5, 0x00, 0x00, 0xFF, 0xFF};
  for (int j = 0; j < 16; ++j) expected.push_back(static_cast<uint8_t>(0x11 * j));
  EXPECT_EQ(quantize(DType::Q5_1, x, GetParam()), expected);
}

TEST_P(KnownAnswer, QuantizeQ8RoundsHalfAwayFromZero) {
  std::vector<float> x(32, 0.0f);
  const float head[] = {127.0f, 62.5f, -62.5f, 0.5f, -0.5f, 1.49f};  // amax 127 -> d = 1
  std::copy(std::begin(head), std::end(head), x.begin());
  const Bytes q80 = quantize(DType::Q8_0, x, GetParam());
  const Bytes q81 = quantize(DType::Q8_1, x, GetParam());
  const int8_t expected[] = {127, 63, -63, 1, -1, 1};
  EXPECT_EQ(q80[0], 0x00);
  EXPECT_EQ(q80[1], 0x3C);
  EXPECT_EQ(q81[2], 0x00);  // s = f16(128 * 1)
  EXPECT_EQ(q81[3], 0x58);
  for (int j = 0; j < 6; ++j) {
    EXPECT_EQ(static_cast<int8_t>(q80[2 + j]), expected[j]) << j;
    EXPECT_EQ(static_cast<int8_t>(q81[4 + j]), expected[j]) << j;
  }
}

float dot(DType t, const Bytes& w, const Bytes& a, int64_t n, bool fast) {
  return kernels(t, fast).vec_dot(n, w.data(), a.data());
}

TEST_P(KnownAnswer, DotQ4_0) {
  Bytes w;
  put(w, kHalf0_5);
  put_repeated(w, 0x9F, 16);  // elements 0..15: 3.5, 16..31: 0.5
  Bytes a;
  put(a, kHalf0_25);
  for (int j = 0; j < 32; ++j) a.push_back(static_cast<uint8_t>(j - 16));
  // 3.5 * 0.25 * (-136) + 0.5 * 0.25 * 120
  EXPECT_EQ(dot(DType::Q4_0, w, a, 32, GetParam()), -104.0f);
}

TEST_P(KnownAnswer, DotWithMinUsesTheStoredActivationSum) {
  // Q8_1's s deliberately disagrees with its qs (10 vs 32): GGML's dot trusts s.
  Bytes a;
  put(a, kHalf1);
  put(a, kHalf10);
  put_repeated(a, 0x01, 32);
  Bytes w41;
  put(w41, kHalf1);
  put(w41, kHalf2);
  put_repeated(w41, 0x11, 16);  // every level 1
  EXPECT_EQ(dot(DType::Q4_1, w41, a, 32, GetParam()), 32.0f + 2.0f * 10.0f);
  Bytes w51;
  put(w51, kHalf1);
  put(w51, kHalf2);
  put_repeated(w51, 0xFF, 4);  // every fifth bit set
  put_repeated(w51, 0x11, 16);  // every level 17
  EXPECT_EQ(dot(DType::Q5_1, w51, a, 32, GetParam()), 17.0f * 32.0f + 2.0f * 10.0f);
}

TEST_P(KnownAnswer, DotQ5_0AndQ8_0) {
  Bytes a;
  put(a, kHalf0_5);
  for (int j = 0; j < 32; ++j) a.push_back(static_cast<uint8_t>(j));
  Bytes w50;
  put(w50, kHalf1);
  put_repeated(w50, 0x00, 4);
  put_repeated(w50, 0xFF, 16);  // every level 15 - 16 = -1
  EXPECT_EQ(dot(DType::Q5_0, w50, a, 32, GetParam()), -248.0f);  // -496 * 0.5

  Bytes w80;
  put(w80, kHalf0_5);
  put(w80, {0x80});  // -128: valid in a file, never produced by the quantizer
  put_repeated(w80, 0x02, 31);
  Bytes a80;
  put(a80, kHalf2);
  put_repeated(a80, 0x01, 32);
  EXPECT_EQ(dot(DType::Q8_0, w80, a80, 32, GetParam()), -66.0f);  // (-128 + 62) * 0.5 * 2
}

TEST_P(KnownAnswer, DotFloats) {
  const std::vector<float> xf = {1, 2, 3}, yf = {0.5f, -1, 2};
  for (DType t : {DType::F32, DType::F16, DType::BF16}) {
    const Bytes w = quantize(t, xf, GetParam());
    const Bytes a = quantize(t, yf, GetParam());
    EXPECT_EQ(dot(t, w, a, 3, GetParam()), 4.5f) << dtype_name(t);
  }
}

INSTANTIATE_TEST_SUITE_P(Kernels, KnownAnswer, ::testing::Values(false, true),
                         [](const auto& param_info) { return param_info.param ? "fast" : "reference"; });

}  // namespace
}  // namespace ag
