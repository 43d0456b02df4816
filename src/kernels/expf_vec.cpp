#include "kernels/expf_vec.h"

#include <cmath>
#include <cstdint>

#include "core/cpu_features.h"
#include "tensor/x86/avx512_target.h"  // AG_512_DIAGNOSTICS_*

#if defined(__x86_64__)
#include <immintrin.h>
#define AG_EXPF_512 __attribute__((target("avx2,fma,avx512f")))
#define AG_EXPF_AVX2 __attribute__((target("avx2,fma")))
#endif

AG_512_DIAGNOSTICS_BEGIN

namespace ag::kernels {

namespace {

// The scalar forms (tails, special inputs): exactly silu_mul's expression.
inline float silu_mul_one(float g, float u) { return g / (1.0f + std::exp(-g)) * u; }

#if defined(__x86_64__)
// glibc's constants (sysdeps/ieee754/flt-32/e_exp2f_data.c, N = 32): the table holds
// asuint64(2^(i/32)) - (i << 47), so adding k << 47 to entry k % 32 gives 2^(k/32) whole.
alignas(64) constexpr uint64_t kExp2Table[32] = {
    0x3ff0000000000000, 0x3fefd9b0d3158574, 0x3fefb5586cf9890f, 0x3fef9301d0125b51,
    0x3fef72b83c7d517b, 0x3fef54873168b9aa, 0x3fef387a6e756238, 0x3fef1e9df51fdee1,
    0x3fef06fe0a31b715, 0x3feef1a7373aa9cb, 0x3feedea64c123422, 0x3feece086061892d,
    0x3feebfdad5362a27, 0x3feeb42b569d4f82, 0x3feeab07dd485429, 0x3feea47eb03a5585,
    0x3feea09e667f3bcd, 0x3fee9f75e8ec5f74, 0x3feea11473eb0187, 0x3feea589994cce13,
    0x3feeace5422aa0db, 0x3feeb737b0cdc5e5, 0x3feec49182a3f090, 0x3feed503b23e255d,
    0x3feee89f995ad3ad, 0x3feeff76f2fb5e47, 0x3fef199bdd85529c, 0x3fef3720dcef9069,
    0x3fef5818dcfba487, 0x3fef7c97337b9b5f, 0x3fefa4afa2a490da, 0x3fefd0765b6e4540,
};
constexpr double kInvLn2N = 0x1.71547652b82fep+0 * 32;  // 32 / ln 2
constexpr double kShift = 0x1.8p+52;                    // rounds to an integer when added
constexpr double kC0 = 0x1.c6af84b912394p-5 / 32 / 32 / 32;
constexpr double kC1 = 0x1.ebfce50fac4f3p-3 / 32 / 32;
constexpr double kC2 = 0x1.62e42ff0c52d6p-1 / 32;

// exp of 8 doubles (each an exactly converted float) rounded to float, as __expf_fma does.
AG_EXPF_512 inline __m256 exp8(__m512d x) {
  const __m512d inv_ln2n = _mm512_set1_pd(kInvLn2N), shift = _mm512_set1_pd(kShift);
  const __m512d k_shifted = _mm512_fmadd_pd(inv_ln2n, x, shift);
  const __m512i ki = _mm512_castpd_si512(k_shifted);
  const __m512d kd = _mm512_sub_pd(k_shifted, shift);
  const __m512d r = _mm512_fmsub_pd(inv_ln2n, x, kd);
  // table[ki % 32]: bits 0-3 pick one of 16 entries from a register pair, bit 4 the pair
  const auto* t = reinterpret_cast<const double*>(kExp2Table);
  const __m512d lo = _mm512_permutex2var_pd(_mm512_load_pd(t), ki, _mm512_load_pd(t + 8));
  const __m512d hi = _mm512_permutex2var_pd(_mm512_load_pd(t + 16), ki, _mm512_load_pd(t + 24));
  const __mmask8 upper = _mm512_test_epi64_mask(ki, _mm512_set1_epi64(16));
  const __m512i entry = _mm512_castpd_si512(_mm512_mask_blend_pd(upper, lo, hi));
  const __m512d s = _mm512_castsi512_pd(_mm512_add_epi64(entry, _mm512_slli_epi64(ki, 47)));
  const __m512d z = _mm512_fmadd_pd(_mm512_set1_pd(kC0), r, _mm512_set1_pd(kC1));
  const __m512d r2 = _mm512_mul_pd(r, r);
  __m512d y = _mm512_fmadd_pd(r, _mm512_set1_pd(kC2), _mm512_set1_pd(1.0));
  y = _mm512_fmadd_pd(z, r2, y);
  return _mm512_cvtpd_ps(_mm512_mul_pd(y, s));
}

// exp of 16 floats; false (nothing computed) when a lane needs glibc's special-case path:
// |x| >= 88 (top 12 bits of the float above 0x42a) or NaN.
AG_EXPF_512 inline bool exp16(__m512 x, __m512& out) {
  const __m512i top = _mm512_and_si512(_mm512_srli_epi32(_mm512_castps_si512(x), 20),
                                       _mm512_set1_epi32(0x7ff));
  if (_mm512_cmpgt_epi32_mask(top, _mm512_set1_epi32(0x42a)) != 0) return false;
  const __m256 lo = exp8(_mm512_cvtps_pd(_mm512_castps512_ps256(x)));
  const __m256 hi = exp8(_mm512_cvtps_pd(
      _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1))));
  out = _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo)),
                                            _mm256_castps_pd(hi), 1));
  return true;
}

AG_EXPF_512 void expf_16s(const float* x, float* y, int n) {
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    __m512 e;
    if (exp16(_mm512_loadu_ps(x + i), e)) {
      _mm512_storeu_ps(y + i, e);
    } else {
      for (int j = i; j < i + 16; ++j) y[j] = std::exp(x[j]);
    }
  }
  for (; i < n; ++i) y[i] = std::exp(x[i]);
}

AG_EXPF_512 void silu_mul_16s(float* gate, const float* up, int n) {
  const __m512i sign = _mm512_set1_epi32(INT32_MIN);
  const __m512 one = _mm512_set1_ps(1.0f);
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 g = _mm512_loadu_ps(gate + i);
    __m512 e;
    if (exp16(_mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(g), sign)), e)) {
      const __m512 silu = _mm512_div_ps(g, _mm512_add_ps(one, e));
      _mm512_storeu_ps(gate + i, _mm512_mul_ps(silu, _mm512_loadu_ps(up + i)));
    } else {
      for (int j = i; j < i + 16; ++j) gate[j] = silu_mul_one(gate[j], up[j]);
    }
  }
  for (; i < n; ++i) gate[i] = silu_mul_one(gate[i], up[i]);
}

// The same operations on 4 doubles per register; the table entry by a 64-bit gather.
AG_EXPF_AVX2 inline __m128 exp4(__m256d x) {
  const __m256d inv_ln2n = _mm256_set1_pd(kInvLn2N), shift = _mm256_set1_pd(kShift);
  const __m256d k_shifted = _mm256_fmadd_pd(inv_ln2n, x, shift);
  const __m256i ki = _mm256_castpd_si256(k_shifted);
  const __m256d kd = _mm256_sub_pd(k_shifted, shift);
  const __m256d r = _mm256_fmsub_pd(inv_ln2n, x, kd);
  const __m256i entry = _mm256_i64gather_epi64(reinterpret_cast<const long long*>(kExp2Table),
                                               _mm256_and_si256(ki, _mm256_set1_epi64x(31)), 8);
  const __m256d s = _mm256_castsi256_pd(_mm256_add_epi64(entry, _mm256_slli_epi64(ki, 47)));
  const __m256d z = _mm256_fmadd_pd(_mm256_set1_pd(kC0), r, _mm256_set1_pd(kC1));
  const __m256d r2 = _mm256_mul_pd(r, r);
  __m256d y = _mm256_fmadd_pd(r, _mm256_set1_pd(kC2), _mm256_set1_pd(1.0));
  y = _mm256_fmadd_pd(z, r2, y);
  return _mm256_cvtpd_ps(_mm256_mul_pd(y, s));
}

// exp of 8 floats; false (nothing computed) when a lane needs the special-case path.
AG_EXPF_AVX2 inline bool exp8_floats(__m256 x, __m256& out) {
  const __m256i top = _mm256_and_si256(_mm256_srli_epi32(_mm256_castps_si256(x), 20),
                                       _mm256_set1_epi32(0x7ff));
  if (_mm256_movemask_epi8(_mm256_cmpgt_epi32(top, _mm256_set1_epi32(0x42a))) != 0) return false;
  const __m128 lo = exp4(_mm256_cvtps_pd(_mm256_castps256_ps128(x)));
  const __m128 hi = exp4(_mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)));
  out = _mm256_set_m128(hi, lo);
  return true;
}

AG_EXPF_AVX2 void expf_8s(const float* x, float* y, int n) {
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 e;
    if (exp8_floats(_mm256_loadu_ps(x + i), e)) {
      _mm256_storeu_ps(y + i, e);
    } else {
      for (int j = i; j < i + 8; ++j) y[j] = std::exp(x[j]);
    }
  }
  for (; i < n; ++i) y[i] = std::exp(x[i]);
}

AG_EXPF_AVX2 void silu_mul_8s(float* gate, const float* up, int n) {
  const __m256 sign = _mm256_castsi256_ps(_mm256_set1_epi32(INT32_MIN));
  const __m256 one = _mm256_set1_ps(1.0f);
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 g = _mm256_loadu_ps(gate + i);
    __m256 e;
    if (exp8_floats(_mm256_xor_ps(g, sign), e)) {
      const __m256 silu = _mm256_div_ps(g, _mm256_add_ps(one, e));
      _mm256_storeu_ps(gate + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
    } else {
      for (int j = i; j < i + 8; ++j) gate[j] = silu_mul_one(gate[j], up[j]);
    }
  }
  for (; i < n; ++i) gate[i] = silu_mul_one(gate[i], up[i]);
}
#endif

}  // namespace

bool expf_isa_available(ExpfIsa isa) {
#if defined(__x86_64__)
  static const bool avx2 = cpu_has_avx2_fma();
  static const bool avx512 = avx2 && cpu_features().avx512f;
  return isa == ExpfIsa::kAvx512 ? avx512 : avx2;
#else
  (void)isa;
  return false;
#endif
}

bool expf_vec_available() { return expf_isa_available(ExpfIsa::kAvx2); }

ExpfIsa best_expf_isa() {
  return expf_isa_available(ExpfIsa::kAvx512) ? ExpfIsa::kAvx512 : ExpfIsa::kAvx2;
}

void expf_vec(ExpfIsa isa, const float* x, float* y, int n) {
#if defined(__x86_64__)
  if (expf_isa_available(isa)) return isa == ExpfIsa::kAvx512 ? expf_16s(x, y, n) : expf_8s(x, y, n);
#endif
  for (int i = 0; i < n; ++i) y[i] = std::exp(x[i]);
}

void silu_mul_vec(ExpfIsa isa, float* gate, const float* up, int n) {
#if defined(__x86_64__)
  if (expf_isa_available(isa))
    return isa == ExpfIsa::kAvx512 ? silu_mul_16s(gate, up, n) : silu_mul_8s(gate, up, n);
#endif
  for (int i = 0; i < n; ++i) gate[i] = silu_mul_one(gate[i], up[i]);
}

}  // namespace ag::kernels

AG_512_DIAGNOSTICS_END
