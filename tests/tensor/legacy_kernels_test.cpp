// Properties of the float and legacy quant kernels on random data: quantization error within each
// type's bound, fast kernels equal to (to_float, from_float) or within rounding of (vec_dot) the
// scalar references, and dots equal to the dot of the dequantized values.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "core/cpu_features.h"
#include "core/half.h"
#include "tensor/dtype.h"
#include "tensor/type_traits.h"
#include "test_rng.h"

namespace ag {
namespace {

using Bytes = std::vector<uint8_t>;

const DType kWeightTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0,
                              DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0};

bool is_quant(DType t) { return dtype_info(t).block_size == 32; }

Bytes quantize(const TypeTraits& k, const std::vector<float>& x) {
  Bytes out(row_bytes(k.type, x.size()));
  k.from_float(x.data(), out.data(), static_cast<int64_t>(x.size()));
  return out;
}

std::vector<float> dequantize(const TypeTraits& k, const Bytes& q, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  k.to_float(q.data(), out.data(), n);
  return out;
}

// Lengths to test: one block, an odd number of blocks (the fast dots handle blocks in pairs), a
// model-sized row; float types also get lengths that leave SIMD tails.
std::vector<int64_t> lengths(DType t) {
  if (is_quant(t)) return {32, 96, 4096};
  return {1, 7, 31, 33, 4096 + 5};
}

// Largest allowed |x - dequantize(quantize(x))| for the elements of one block (x: the block's
// 32 inputs; for the float types, the single element). With d the block scale of round-to-
// nearest, levels are within d/2 of x, except the symmetric types' clipped top level (within d).
// Storing d (and m) as F16 moves each value by at most |level| * d * 2^-11 (+ |m| * 2^-11), and
// the quantizer's float arithmetic adds a few ulps, covered by 1e-6 of the block's magnitude.
double error_bound(DType t, const float* x) {
  const int n = is_quant(t) ? 32 : 1;
  float mn = x[0], mx = x[0], amax = 0;
  for (int j = 0; j < n; ++j) {
    mn = std::min(mn, x[j]);
    mx = std::max(mx, x[j]);
    amax = std::max(amax, std::fabs(x[j]));
  }
  const double h = std::ldexp(1.0, -11);  // F16 relative rounding
  // + 2^-25: a scale or min in F16's subnormal range is rounded absolutely, not relatively.
  const double slack = 1e-6 * amax + std::ldexp(1.0, -25);
  switch (t) {
    case DType::F32: return 0;
    case DType::F16: return amax * h + std::ldexp(1.0, -25);
    case DType::BF16: return amax * std::ldexp(1.0, -8);
    case DType::Q4_0: return amax / 8.0 * (1 + 8 * h) + slack;
    case DType::Q5_0: return amax / 16.0 * (1 + 16 * h) + slack;
    case DType::Q8_0:
    case DType::Q8_1: return amax / 127.0 * (0.5 + 127 * h) + slack;
    case DType::Q4_1: return (mx - mn) / 15.0 * (0.5 + 15 * h) + std::fabs(mn) * h + slack;
    case DType::Q5_1: return (mx - mn) / 31.0 * (0.5 + 31 * h) + std::fabs(mn) * h + slack;
    default: ADD_FAILURE() << "no bound for " << dtype_name(t); return 0;
  }
}

class LegacyType : public ::testing::TestWithParam<DType> {};        // weight types
class LegacyConversion : public ::testing::TestWithParam<DType> {};  // weight types and Q8_1

// The fast-vs-reference tests below compare something only when the fast kernels are installed.
TEST(LegacyDispatch, FastKernelsAreSelectedOnAvx2) {
  if (!cpu_has_avx2_fma()) GTEST_SKIP() << "no AVX2+FMA+F16C (or AUTOGLM_FORCE_SCALAR=1)";
  for (DType t : kWeightTypes) EXPECT_NE(type_traits(t).vec_dot, type_traits_reference(t).vec_dot) << dtype_name(t);
  for (DType t : {DType::F16, DType::BF16, DType::Q8_0, DType::Q8_1})
    EXPECT_NE(type_traits(t).from_float, type_traits_reference(t).from_float) << dtype_name(t);
}

TEST_P(LegacyConversion, RoundTripErrorWithinBound) {
  const DType t = GetParam();
  test::Rng rng(1);
  for (const auto& k : {type_traits_reference(t), type_traits(t)}) {
    for (int64_t n : lengths(t)) {
      const auto x = test::weight_like(rng, n);
      const auto y = dequantize(k, quantize(k, x), n);
      const int64_t step = is_quant(t) ? 32 : 1;
      double sq = 0, sq_bound = 0;
      for (int64_t b = 0; b < n; b += step) {
        const double bound = error_bound(t, &x[b]);
        for (int64_t j = b; j < b + step; ++j) {
          ASSERT_LE(std::fabs(x[j] - y[j]), bound) << dtype_name(t) << " n=" << n << " j=" << j;
          sq += (x[j] - y[j]) * (x[j] - y[j]);
          sq_bound += bound * bound;
        }
      }
      // Typical errors are well inside the worst case (round-to-nearest: rms d/sqrt(12)).
      if (t != DType::F32) {
        EXPECT_LT(std::sqrt(sq), 0.7 * std::sqrt(sq_bound)) << dtype_name(t) << " n=" << n;
      }
    }
  }
}

TEST_P(LegacyConversion, ZerosStayZero) {
  const DType t = GetParam();
  const std::vector<float> x(64, 0.0f);
  for (const auto& k : {type_traits_reference(t), type_traits(t)}) {
    for (float v : dequantize(k, quantize(k, x), 64)) EXPECT_EQ(v, 0.0f) << dtype_name(t);
  }
}

// Random bytes with finite F16 scales: every bit pattern of the quants must dequantize the same.
Bytes random_blocks(DType t, test::Rng& rng, int64_t n) {
  Bytes b(row_bytes(t, static_cast<uint64_t>(n)));
  for (auto& v : b) v = static_cast<uint8_t>(rng.next());
  if (!is_quant(t)) return b;
  const size_t size = dtype_info(t).type_size;
  const bool two_halves = t == DType::Q4_1 || t == DType::Q5_1 || t == DType::Q8_1;
  for (size_t off = 0; off < b.size(); off += size) {
    for (int h = 0; h < (two_halves ? 2 : 1); ++h) {
      const float scale = std::pow(10.0f, rng.uniform(-4.0f, 1.0f)) * (rng.uniform() < 0.5f ? -1.0f : 1.0f);
      const uint16_t bits = f32_to_f16(scale);
      std::memcpy(&b[off + 2 * static_cast<size_t>(h)], &bits, 2);
    }
  }
  return b;
}

TEST_P(LegacyConversion, FastToFloatIsBitIdentical) {
  const DType t = GetParam();
  test::Rng rng(2);
  for (int64_t n : lengths(t)) {
    const Bytes q = random_blocks(t, rng, n);
    const auto a = dequantize(type_traits_reference(t), q, n);
    const auto b = dequantize(type_traits(t), q, n);
    for (int64_t j = 0; j < n; ++j) {
      // NaN patterns (random F16/BF16 bits) may differ in payload: compare them as "is NaN".
      if (std::isnan(a[j])) {
        ASSERT_TRUE(std::isnan(b[j])) << j;
        continue;
      }
      ASSERT_EQ(float_to_bits(a[j]), float_to_bits(b[j])) << dtype_name(t) << " n=" << n << " j=" << j;
    }
  }
}

TEST(LegacyFloat, FastToFloatCoversEveryHalf) {
  std::vector<uint16_t> all(65536);
  for (uint32_t i = 0; i < 65536; ++i) all[i] = static_cast<uint16_t>(i);
  for (DType t : {DType::F16, DType::BF16}) {
    std::vector<float> a(65536), b(65536);
    type_traits_reference(t).to_float(all.data(), a.data(), 65536);
    type_traits(t).to_float(all.data(), b.data(), 65536);
    for (size_t i = 0; i < a.size(); ++i) {
      if (std::isnan(a[i])) {
        ASSERT_TRUE(std::isnan(b[i])) << i;
      } else {
        ASSERT_EQ(float_to_bits(a[i]), float_to_bits(b[i])) << dtype_name(t) << " " << i;
      }
    }
  }
}

// Inputs that exercise rounding edges: random rows, exact ties after scaling, F16 subnormals and
// overflow, huge and tiny blocks.
std::vector<float> tricky_row(test::Rng& rng) {
  auto x = test::weight_like(rng, 32 * 40);
  float* p = x.data();
  for (int j = 0; j < 32; ++j) p[j] = static_cast<float>(j) - 15.5f;  // Q8: amax 15.5
  p += 32;
  p[0] = 127.0f;  // Q8 scale 1: every k + 0.5 is a tie
  for (int j = 1; j < 32; ++j) p[j] = static_cast<float>(j % 2 ? j : -j) + 0.5f;
  p += 32;
  for (int j = 0; j < 32; ++j) p[j] = std::ldexp(static_cast<float>(j + 1), -30);  // F16 subnormal
  p += 32;
  for (int j = 0; j < 32; ++j) p[j] = 65504.0f + static_cast<float>(j) * 4.0f;  // F16 max, then inf
  p += 32;
  for (int j = 0; j < 32; ++j) p[j] = (j % 3 ? 1.0f : -1.0f) * std::ldexp(1.0f + std::ldexp(static_cast<float>(j), -11), j - 16);  // F16 ties
  p += 32;
  for (int j = 0; j < 32; ++j) p[j] = (j % 2 ? 3e38f : -1e38f) * rng.uniform();  // huge
  p += 32;
  for (int j = 0; j < 32; ++j) p[j] = 1e-38f * rng.normal();  // tiny
  p += 32;
  std::fill(p, p + 32, 0.0f);
  return x;
}

TEST_P(LegacyConversion, FastFromFloatIsByteIdentical) {
  const DType t = GetParam();
  test::Rng rng(3);
  for (int rep = 0; rep < 4; ++rep) {
    auto x = tricky_row(rng);
    if (!is_quant(t)) x.resize(x.size() - 3);  // a SIMD tail
    EXPECT_EQ(quantize(type_traits_reference(t), x), quantize(type_traits(t), x)) << dtype_name(t);
  }
}

TEST(LegacyQ8, FastFromFloatAgreesOnNonFiniteInput) {
  std::vector<float> x(96, 1.0f);
  x[3] = std::numeric_limits<float>::quiet_NaN();
  x[40] = std::numeric_limits<float>::infinity();
  x[70] = -std::numeric_limits<float>::infinity();
  x[71] = std::numeric_limits<float>::quiet_NaN();
  for (DType t : {DType::Q8_0, DType::Q8_1})
    EXPECT_EQ(quantize(type_traits_reference(t), x), quantize(type_traits(t), x)) << dtype_name(t);
}

TEST(LegacyQ8, Q8_1StoresTheScaledSum) {
  test::Rng rng(4);
  const auto x = test::weight_like(rng, 32 * 8);
  const Bytes q = quantize(type_traits(DType::Q8_1), x);
  for (size_t off = 0; off < q.size(); off += 36) {
    uint16_t d, s;
    std::memcpy(&d, &q[off], 2);
    std::memcpy(&s, &q[off + 2], 2);
    int sum = 0;
    for (int j = 0; j < 32; ++j) sum += static_cast<int8_t>(q[off + 4 + j]);
    // s is rounded from the unrounded d, as in GGML
    const float d_exact = f16_to_f32(d);
    EXPECT_NEAR(f16_to_f32(s), static_cast<float>(sum) * d_exact,
                std::fabs(static_cast<float>(sum) * d_exact) * 2e-3f + 1e-6f);
  }
}

// vec_dot of a quantized weight row with a quantized activation row, fast and reference, against
// the double-precision dot of the two dequantized rows.
//
// Tolerances are relative to mag = sum |w_i a_i| of the dequantized values, the scale of float
// rounding in any summation order (relative to the result itself, cancellation would make any
// tolerance meaningless). Integer block sums are exact in both kernels; what remains is float
// rounding of the per-block scaling and of the accumulation over at most n/32 + a few terms per
// lane: <= (n/32 + 8) * 2^-24 * mag, under 1e-5 * mag for n <= 4096. The float types accumulate
// n/32 products per lane in the fast kernel and in double in the reference: same bound.
// Q4_1/Q5_1 also use the activation's stored s = F16(d * sum q), rounded from the unrounded d:
// it differs from F16(d) * sum q by up to about 2^-10 relative, times |m| per block; 2^-9 of
// sum |m s| is added to the bound against the dequantized dot.
TEST_P(LegacyType, VecDotMatchesDequantizedDot) {
  const DType t = GetParam();
  const auto& ref = type_traits_reference(t);
  const auto& fast = type_traits(t);
  const auto& act_ref = type_traits_reference(ref.vec_dot_type);
  test::Rng rng(5);
  for (int64_t n : lengths(t)) {
    for (int rep = 0; rep < 3; ++rep) {
      const auto w = test::weight_like(rng, n);
      auto a = test::weight_like(rng, n);
      if (rep == 2) for (auto& v : a) v = std::fabs(v);  // same-sign activations: large min terms
      const Bytes wq = quantize(ref, w);
      const Bytes aq = quantize(act_ref, a);
      const auto wd = dequantize(ref, wq, n);
      const auto ad = dequantize(act_ref, aq, n);
      double exact = 0, mag = 0;
      for (int64_t i = 0; i < n; ++i) {
        exact += static_cast<double>(wd[i]) * ad[i];
        mag += std::fabs(static_cast<double>(wd[i]) * ad[i]);
      }
      double min_terms = 0;  // sum over blocks of |m_w| * |s_a|
      if (t == DType::Q4_1 || t == DType::Q5_1) {
        const size_t wsize = dtype_info(t).type_size;
        for (int64_t b = 0; b < n / 32; ++b) {
          uint16_t m, s;
          std::memcpy(&m, &wq[static_cast<size_t>(b) * wsize + 2], 2);
          std::memcpy(&s, &aq[static_cast<size_t>(b) * 36 + 2], 2);
          min_terms += std::fabs(static_cast<double>(f16_to_f32(m)) * f16_to_f32(s));
        }
      }
      const double tol = 1e-5 * mag + 1e-30;
      const float r = ref.vec_dot(n, wq.data(), aq.data());
      const float f = fast.vec_dot(n, wq.data(), aq.data());
      EXPECT_NEAR(r, exact, tol + min_terms * std::ldexp(1.0, -9)) << dtype_name(t) << " n=" << n;
      EXPECT_NEAR(f, r, tol) << dtype_name(t) << " n=" << n << " rep=" << rep;
    }
  }
}

// The quantized dot stays close to the float dot of the original vectors: the error is the
// quantization error of both rows, far below the sum of |w a| for these types.
TEST_P(LegacyType, VecDotApproximatesTheFloatDot) {
  const DType t = GetParam();
  const auto& k = type_traits(t);
  const auto& act = type_traits(k.vec_dot_type);
  test::Rng rng(6);
  const int64_t n = 4096;
  const auto w = test::weight_like(rng, n);
  const auto a = test::weight_like(rng, n);
  double exact = 0, mag = 0;
  for (int64_t i = 0; i < n; ++i) {
    exact += static_cast<double>(w[i]) * a[i];
    mag += std::fabs(static_cast<double>(w[i]) * a[i]);
  }
  const float got = k.vec_dot(n, quantize(k, w).data(), quantize(act, a).data());
  // Relative quantization error of the levels: ~1/8 for 4 bits, 1/16 for 5, 1/127 for 8; random
  // errors add in quadrature, so a fraction of that times mag is generous.
  const double rel = t == DType::Q4_0 || t == DType::Q4_1 ? 0.05
                   : t == DType::Q5_0 || t == DType::Q5_1 ? 0.025
                   : t == DType::Q8_0                     ? 0.01
                   : t == DType::BF16                     ? 0.004
                                                          : 1e-4;
  EXPECT_NEAR(got, exact, rel * mag) << dtype_name(t);
}

INSTANTIATE_TEST_SUITE_P(Types, LegacyType, ::testing::ValuesIn(kWeightTypes),
                         [](const auto& param_info) { return std::string(dtype_name(param_info.param)); });

const DType kConvertibleTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0, DType::Q4_1,
                                   DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q8_1};
INSTANTIATE_TEST_SUITE_P(Types, LegacyConversion, ::testing::ValuesIn(kConvertibleTypes),
                         [](const auto& param_info) { return std::string(dtype_name(param_info.param)); });

}  // namespace
}  // namespace ag
