// K-quant kernels: AVX2 against the scalar reference, and the dot products against the math they
// stand for (the dot of the dequantized weights with the dequantized activations).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "core/half.h"
#include "kquant_test_util.h"
#include "tensor/kquant.h"
#include "tensor/type_traits.h"
#include "tensor/x86/kquant_avx512.h"

namespace ag {
namespace {

using DotFn = float (*)(int64_t, const void*, const void*);
using DequantFn = void (*)(const void*, float*, int64_t);

struct KCase {
  DType type;
  DotFn dot_avx2;
  DequantFn dequant_avx2;  // null: the reference is used on every CPU
  int64_t n;
  DotFn dot_avx512 = nullptr;  // null: no AVX-512 version, AVX2 runs there too
};

std::string case_name(const ::testing::TestParamInfo<KCase>& info) {
  return std::string(dtype_name(info.param.type)) + "_n" + std::to_string(info.param.n);
}

std::vector<KCase> all_cases() {
  std::vector<KCase> cases;
  const struct {
    DType type;
    DotFn dot;
    DequantFn dequant;
    DotFn dot_avx512 = nullptr;
  } types[] = {
      {DType::Q2_K, kquant::avx2::vec_dot_q2_k_q8_k, nullptr},
      {DType::Q3_K, kquant::avx2::vec_dot_q3_k_q8_k, nullptr},
      {DType::Q4_K, kquant::avx2::vec_dot_q4_k_q8_k, kquant::avx2::dequantize_q4_k,
#if defined(AUTOGLM_HAVE_KQUANT_AVX512)
       kquant::avx512::vec_dot_q4_k_q8_k
#endif
      },
      {DType::Q5_K, kquant::avx2::vec_dot_q5_k_q8_k, kquant::avx2::dequantize_q5_k},
      {DType::Q6_K, kquant::avx2::vec_dot_q6_k_q8_k, kquant::avx2::dequantize_q6_k,
#if defined(AUTOGLM_HAVE_KQUANT_AVX512)
       kquant::avx512::vec_dot_q6_k_q8_k
#endif
      },
  };
  for (const auto& t : types) {
    for (int64_t n : {256, 512, 4096}) cases.push_back({t.type, t.dot, t.dequant, n, t.dot_avx512});
  }
  return cases;
}

class KQuantKernels : public ::testing::TestWithParam<KCase> {
 protected:
  std::mt19937 rng{42};

  // Weight rows of two kinds: quantized from normal data (realistic), and random bytes with
  // sane F16 factors, which reach every quant value and scale (e.g. Q6_K's -32 and -128).
  std::vector<uint8_t> weights(bool random_bytes) {
    const DType t = GetParam().type;
    const int64_t n = GetParam().n;
    std::vector<uint8_t> w(row_bytes(t, n));
    if (!random_bytes) {
      const auto x = test::gaussian(static_cast<size_t>(n), rng(), 0.05f);
      quantize_weights(t, x.data(), w.data(), 1, n, nullptr);
      return w;
    }
    for (auto& b : w) b = static_cast<uint8_t>(rng());
    const size_t block = dtype_info(t).type_size;
    for (size_t off = 0; off < w.size(); off += block) {
      auto set_f16 = [&](size_t at) {
        const uint16_t h = f32_to_f16(test::gaussian(1, rng(), 0.01f)[0]);
        std::memcpy(&w[off + at], &h, 2);
      };
      switch (t) {
        case DType::Q2_K:
          set_f16(80);
          set_f16(82);
          break;
        case DType::Q3_K:
          set_f16(108);
          break;
        case DType::Q4_K:
        case DType::Q5_K:
          set_f16(0);
          set_f16(2);
          break;
        case DType::Q6_K:
          set_f16(208);
          break;
        default:
          ADD_FAILURE();
      }
    }
    return w;
  }

  // Activations: Q8_K from normal data, or random quants in [-127, 127] with matching bsums.
  std::vector<BlockQ8K> activations(bool random_quants) {
    const int64_t n = GetParam().n;
    std::vector<BlockQ8K> a(static_cast<size_t>(n / QK_K));
    if (!random_quants) {
      const auto x = test::gaussian(static_cast<size_t>(n), rng(), 3.0f);
      type_traits(DType::Q8_K).from_float(x.data(), a.data(), n);
      return a;
    }
    for (auto& b : a) {
      b.d = test::gaussian(1, rng(), 0.1f)[0];
      for (int j = 0; j < 16; ++j) {
        int sum = 0;
        for (int l = 0; l < 16; ++l) {
          b.qs[16 * j + l] = static_cast<int8_t>(static_cast<int>(rng() % 255) - 127);
          sum += b.qs[16 * j + l];
        }
        b.bsums[j] = static_cast<int16_t>(sum);
      }
    }
    return a;
  }

  // Exact dot of the dequantized vectors, and sum of |w_i * a_i| (the scale of rounding errors).
  void exact_dot(const std::vector<uint8_t>& w, const std::vector<BlockQ8K>& a, double* dot,
                 double* magnitude) {
    const int64_t n = GetParam().n;
    std::vector<float> wf(static_cast<size_t>(n)), af(static_cast<size_t>(n));
    type_traits_reference(GetParam().type).to_float(w.data(), wf.data(), n);
    type_traits_reference(DType::Q8_K).to_float(a.data(), af.data(), n);
    *dot = 0;
    *magnitude = 0;
    for (int64_t i = 0; i < n; ++i) {
      *dot += static_cast<double>(wf[i]) * af[i];
      *magnitude += std::fabs(static_cast<double>(wf[i]) * af[i]);
    }
  }
};

// Tolerance of a float dot product relative to sum |w_i a_i|. Both kernels compute the integer
// sums of each block exactly; what remains is float rounding of the per-block scale products
// (d_w * d_a, one rounding each), of the mins term, and of summing at most 8 lanes x n/256
// blocks (128 terms at n = 4096), each rounding <= 2^-24 of a partial sum. The scale and min
// parts of a weight can each be up to ~2x |w| (they cancel), so sum |terms| <= ~3 sum |w a|:
// 3 * 130 * 6e-8 ~ 2.3e-5. 4e-5 leaves a margin and is still far below any layout or scale
// mistake, which changes the result by whole quantization steps.
constexpr double kDotRelTol = 4e-5;

TEST_P(KQuantKernels, ReferenceDotMatchesDequantizedMath) {
  const DType t = GetParam().type;
  for (int rep = 0; rep < 4; ++rep) {
    const auto w = weights(rep % 2 == 1);
    const auto a = activations(rep >= 2);
    double dot, magnitude;
    exact_dot(w, a, &dot, &magnitude);
    const float got = type_traits_reference(t).vec_dot(GetParam().n, w.data(), a.data());
    EXPECT_NEAR(got, dot, kDotRelTol * magnitude + 1e-30) << "rep " << rep;
  }
}

TEST_P(KQuantKernels, FastDotMatchesReference) {
  if (!cpu_has_avx2_fma()) GTEST_SKIP() << "no AVX2+FMA on this CPU";
  const DType t = GetParam().type;
  const bool avx512 = GetParam().dot_avx512 != nullptr && cpu_has_avx512_vnni();
  EXPECT_EQ(type_traits(t).vec_dot, avx512 ? GetParam().dot_avx512 : GetParam().dot_avx2);
  for (DotFn fast_dot : {GetParam().dot_avx2, avx512 ? GetParam().dot_avx512 : nullptr}) {
    if (fast_dot == nullptr) continue;
    SCOPED_TRACE(fast_dot == GetParam().dot_avx2 ? "avx2" : "avx512");
    for (int rep = 0; rep < 6; ++rep) {
      const auto w = weights(rep % 2 == 1);
      const auto a = activations(rep >= 3);
      double dot, magnitude;
      exact_dot(w, a, &dot, &magnitude);
      const float ref = type_traits_reference(t).vec_dot(GetParam().n, w.data(), a.data());
      const float fast = fast_dot(GetParam().n, w.data(), a.data());
      EXPECT_NEAR(fast, ref, kDotRelTol * magnitude + 1e-30) << "rep " << rep;
      EXPECT_NEAR(fast, dot, kDotRelTol * magnitude + 1e-30) << "rep " << rep;
    }
  }
}

TEST_P(KQuantKernels, FastDequantizeIsIdentical) {
  if (!GetParam().dequant_avx2) GTEST_SKIP() << "no AVX2 dequantizer for this type";
  if (!cpu_has_avx2_fma()) GTEST_SKIP() << "no AVX2+FMA on this CPU";
  const DType t = GetParam().type;
  const int64_t n = GetParam().n;
  EXPECT_EQ(type_traits(t).to_float, GetParam().dequant_avx2);
  for (int rep = 0; rep < 4; ++rep) {
    const auto w = weights(rep % 2 == 1);
    std::vector<float> ref(static_cast<size_t>(n)), fast(static_cast<size_t>(n));
    type_traits_reference(t).to_float(w.data(), ref.data(), n);
    GetParam().dequant_avx2(w.data(), fast.data(), n);
    ASSERT_EQ(0, std::memcmp(ref.data(), fast.data(), ref.size() * sizeof(float))) << rep;
  }
}

TEST_P(KQuantKernels, DotOfZerosIsZero) {
  const DType t = GetParam().type;
  const int64_t n = GetParam().n;
  std::vector<float> zeros(static_cast<size_t>(n), 0.0f);
  std::vector<uint8_t> w(row_bytes(t, n));
  quantize_weights(t, zeros.data(), w.data(), 1, n, nullptr);
  std::vector<float> back(static_cast<size_t>(n), 1.0f);
  type_traits(t).to_float(w.data(), back.data(), n);
  for (float v : back) ASSERT_EQ(v, 0.0f);
  const auto a = activations(false);
  EXPECT_EQ(type_traits(t).vec_dot(n, w.data(), a.data()), 0.0f);
  EXPECT_EQ(type_traits_reference(t).vec_dot(n, w.data(), a.data()), 0.0f);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, KQuantKernels, ::testing::ValuesIn(all_cases()), case_name);

TEST(KQuantActivations, Q8KRoundTrip) {
  for (int64_t n : {256, 512, 4096}) {
    const auto x = test::gaussian(static_cast<size_t>(n), 7, 2.0f);
    std::vector<BlockQ8K> q(static_cast<size_t>(n / QK_K));
    type_traits(DType::Q8_K).from_float(x.data(), q.data(), n);
    std::vector<float> back(static_cast<size_t>(n));
    type_traits(DType::Q8_K).to_float(q.data(), back.data(), n);
    for (int64_t b = 0; b < n / QK_K; ++b) {
      const float step = std::fabs(q[b].d);
      int extreme = 0;
      for (int j = 0; j < QK_K; ++j) {
        const int64_t i = b * QK_K + j;
        ASSERT_LE(std::fabs(back[i] - x[i]), 0.5f * step * 1.0001f) << i;
        extreme = std::max(extreme, std::abs(static_cast<int>(q[b].qs[j])));
      }
      EXPECT_EQ(extreme, 127);  // the largest magnitude uses the full range
      for (int g = 0; g < 16; ++g) {
        int sum = 0;
        for (int l = 0; l < 16; ++l) sum += q[b].qs[16 * g + l];
        ASSERT_EQ(q[b].bsums[g], sum);
      }
    }
  }
}

}  // namespace
}  // namespace ag
