#include "kernels/vec.h"

#include <bit>
#include <cmath>
#include <cstring>

#include "core/cpu_features.h"
#include "core/half.h"

#include "kernels/avx2_lanes.h"

#if defined(__x86_64__)
#define AG_HAVE_X86 1
#endif

namespace ag::kernels {

// The steps of ggml_v_expf, one lane: n = round(x / ln2) by the 1.5 * 2^23 shift trick, b = x - n ln2
// with ln2 in two parts, exp(b) - 1 by a polynomial in b, then 2^n * (1 + p) with 2^n built in the
// exponent bits; |n| > 126 scales in two steps (or saturates to 0 / inf past 192).
float exp_poly_f32(float x) {
  constexpr float kShift = 0x1.8p23f;
  const float z = std::fma(x, 0x1.715476p+0f, kShift);
  const float n = z - kShift;
  const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
  const uint32_t e = std::bit_cast<uint32_t>(z) << 23;
  const float k = std::bit_cast<float>(e + std::bit_cast<uint32_t>(1.0f));
  const float u = b * b;
  const float p = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u,
                                    std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                           u, 0x1.ffffecp-1f * b);
  if (!(std::fabs(n) > 126.0f)) return std::fma(p, k, k);
  const uint32_t g = n <= 0.0f ? 0x82000000u : 0u;
  const float s1 = std::bit_cast<float>(g + 0x7f000000u);
  const float s2 = std::bit_cast<float>(e - g);
  if (std::fabs(n) > 192.0f) return s1 * s1;
  return std::fma(s2, p, s2) * s1;
}

namespace {

// --- scalar reference: plain sequential sums -----------------------------------------------------

float dot_f32_ref(int n, const float* x, const float* y) {
  float sum = 0.0f;
  for (int i = 0; i < n; ++i) sum += x[i] * y[i];
  return sum;
}

float dot_f16_ref(int n, const uint16_t* x, const uint16_t* y) {
  double sum = 0.0;  // products of halves are exact in float
  for (int i = 0; i < n; ++i) sum += f16_to_f32(x[i]) * f16_to_f32(y[i]);
  return static_cast<float>(sum);
}

void axpy_f32_ref(int n, float a, const float* x, float* y) {
  for (int i = 0; i < n; ++i) y[i] += a * x[i];
}

void axpy_f16_ref(int n, float a, const uint16_t* x, float* y) {
  for (int i = 0; i < n; ++i) y[i] += a * f16_to_f32(x[i]);
}

void f32_to_f16_ref(int n, const float* x, uint16_t* y) {
  for (int i = 0; i < n; ++i) y[i] = f32_to_f16(x[i]);
}

// Column i of reduce_lanes32: the 32 lanes (rows past n_lanes read as 0) added in the order of the
// AVX2 version's registers. Also that version's tail, so both give the same bits.
float reduce_lanes32_column(int n, int n_lanes, const float* partial, int i) {
  const auto row = [&](int l) { return l < n_lanes ? partial[l * n + i] : 0.0f; };
  float lane[8];
  for (int j = 0; j < 8; ++j) lane[j] = (row(0 + j) + row(16 + j)) + (row(8 + j) + row(24 + j));
  return ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
}

void reduce_lanes32_ref(int n, int n_lanes, const float* partial, float* out) {
  for (int i = 0; i < n; ++i) out[i] = reduce_lanes32_column(n, n_lanes, partial, i);
}

// Sum of 8 floats as _mm256 -> _mm128 add, movehl add, movehdup add_ss (ggml's softmax).
float hsum8_movehl(const float* v) {
  const float a0 = v[0] + v[4], a1 = v[1] + v[5], a2 = v[2] + v[6], a3 = v[3] + v[7];
  return (a0 + a2) + (a1 + a3);
}

double softmax_exp_f32_ref(int n, float* x, float max) {
  double sum = 0.0;
  for (int i0 = 0; i0 < n; i0 += 8) {
    float group[8] = {};  // padding lanes are exp(-inf) = 0
    for (int j = 0; j < 8 && i0 + j < n; ++j) group[j] = x[i0 + j] = exp_poly_f32(x[i0 + j] - max);
    sum += hsum8_movehl(group);
  }
  return sum;
}

#ifdef AG_HAVE_X86
// --- AVX2 + FMA + F16C ---------------------------------------------------------------------------
using avx2::load_f16;
using avx2::reduce4;

// exp_poly_f32 on 8 lanes (the same operations, so the same bits).
AG_TARGET_AVX2 inline __m256 exp_poly_avx2(__m256 x) {
  const __m256 shift = _mm256_set1_ps(0x1.8p23f);
  const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), shift);
  const __m256 n = _mm256_sub_ps(z, shift);
  const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                    _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
  const __m256i e = _mm256_slli_epi32(_mm256_castps_si256(z), 23);
  const __m256 k = _mm256_castsi256_ps(_mm256_add_epi32(e, _mm256_set1_epi32(0x3f800000)));
  const __m256 abs_n = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), n);
  const __m256 big = _mm256_cmp_ps(abs_n, _mm256_set1_ps(126.0f), _CMP_GT_OQ);
  const __m256 u = _mm256_mul_ps(b, b);
  const __m256 p = _mm256_fmadd_ps(
      _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)),
                      u,
                      _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
      u, _mm256_mul_ps(_mm256_set1_ps(0x1.ffffecp-1f), b));
  const __m256 normal = _mm256_fmadd_ps(p, k, k);
  if (_mm256_movemask_ps(big) == 0) return normal;
  const __m256i g = _mm256_and_si256(
      _mm256_castps_si256(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ)),
      _mm256_set1_epi32(static_cast<int>(0x82000000u)));
  const __m256 s1 = _mm256_castsi256_ps(_mm256_add_epi32(g, _mm256_set1_epi32(0x7f000000)));
  const __m256 s2 = _mm256_castsi256_ps(_mm256_sub_epi32(e, g));
  const __m256 huge = _mm256_cmp_ps(abs_n, _mm256_set1_ps(192.0f), _CMP_GT_OQ);
  const __m256 scaled = _mm256_mul_ps(_mm256_fmadd_ps(s2, p, s2), s1);
  const __m256 r = _mm256_blendv_ps(normal, scaled, big);
  return _mm256_blendv_ps(r, _mm256_mul_ps(s1, s1), huge);
}

AG_TARGET_AVX2 inline float hsum8_movehl_avx2(__m256 v) {
  __m128 t = _mm_add_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
  t = _mm_add_ps(t, _mm_movehl_ps(t, t));
  t = _mm_add_ss(t, _mm_movehdup_ps(t));
  return _mm_cvtss_f32(t);
}

AG_TARGET_AVX2 double softmax_exp_f32_avx2(int n, float* x, float max) {
  const __m256 vmax = _mm256_set1_ps(max);
  double sum = 0.0;
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 e = exp_poly_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), vmax));
    _mm256_storeu_ps(x + i, e);
    sum += hsum8_movehl_avx2(e);
  }
  if (i < n) {
    alignas(32) float tail[8];
    for (int j = 0; j < 8; ++j) tail[j] = i + j < n ? x[i + j] : -INFINITY;
    const __m256 e = exp_poly_avx2(_mm256_sub_ps(_mm256_load_ps(tail), vmax));
    _mm256_store_ps(tail, e);
    std::memcpy(x + i, tail, sizeof(float) * static_cast<size_t>(n - i));
    sum += hsum8_movehl_avx2(e);
  }
  return sum;
}

AG_TARGET_AVX2 float dot_f32_avx2(int n, const float* x, const float* y) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  const int np = n & ~31;
  for (int i = 0; i < np; i += 32) {
    a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
    a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);
    a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16), a2);
    a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24), a3);
  }
  float sum = reduce4(a0, a1, a2, a3);
  // ggml's C tail `sumf += x[i]*y[i]` is contracted to an FMA when built with -march=native
  for (int i = np; i < n; ++i) sum = std::fma(x[i], y[i], sum);
  return sum;
}

AG_TARGET_AVX2 float dot_f16_avx2(int n, const uint16_t* x, const uint16_t* y) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  const int np = n & ~31;
  for (int i = 0; i < np; i += 32) {
    a0 = _mm256_fmadd_ps(load_f16(x + i), load_f16(y + i), a0);
    a1 = _mm256_fmadd_ps(load_f16(x + i + 8), load_f16(y + i + 8), a1);
    a2 = _mm256_fmadd_ps(load_f16(x + i + 16), load_f16(y + i + 16), a2);
    a3 = _mm256_fmadd_ps(load_f16(x + i + 24), load_f16(y + i + 24), a3);
  }
  double sum = reduce4(a0, a1, a2, a3);  // the tail in double, as ggml does
  for (int i = np; i < n; ++i) sum += _cvtsh_ss(x[i]) * _cvtsh_ss(y[i]);
  return static_cast<float>(sum);
}

AG_TARGET_AVX2 void axpy_f32_avx2(int n, float a, const float* x, float* y) {
  const __m256 va = _mm256_set1_ps(a);
  int i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] = std::fma(a, x[i], y[i]);  // each element as the vector lanes
}

AG_TARGET_AVX2 void axpy_f16_avx2(int n, float a, const uint16_t* x, float* y) {
  const __m256 va = _mm256_set1_ps(a);
  int i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, load_f16(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] = std::fma(a, _cvtsh_ss(x[i]), y[i]);
}

AG_TARGET_AVX2 void f32_to_f16_avx2(int n, const float* x, uint16_t* y) {
  int i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; ++i) y[i] = f32_to_f16(x[i]);
}

// Row l of partial at column i, or zeros past the written rows.
AG_TARGET_AVX2 inline __m256 lane_row(const float* partial, int n, int n_lanes, int l, int i) {
  return l < n_lanes ? _mm256_loadu_ps(partial + l * n + i) : _mm256_setzero_ps();
}

AG_TARGET_AVX2 void reduce_lanes32_avx2(int n, int n_lanes, const float* partial, float* out) {
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 lane[8];
    for (int j = 0; j < 8; ++j) {
      const __m256 k0 = lane_row(partial, n, n_lanes, 0 + j, i);
      const __m256 k1 = lane_row(partial, n, n_lanes, 8 + j, i);
      const __m256 k2 = lane_row(partial, n, n_lanes, 16 + j, i);
      const __m256 k3 = lane_row(partial, n, n_lanes, 24 + j, i);
      lane[j] = _mm256_add_ps(_mm256_add_ps(k0, k2), _mm256_add_ps(k1, k3));
    }
    const __m256 a = _mm256_add_ps(_mm256_add_ps(lane[0], lane[4]), _mm256_add_ps(lane[1], lane[5]));
    const __m256 b = _mm256_add_ps(_mm256_add_ps(lane[2], lane[6]), _mm256_add_ps(lane[3], lane[7]));
    _mm256_storeu_ps(out + i, _mm256_add_ps(a, b));
  }
  for (; i < n; ++i) out[i] = reduce_lanes32_column(n, n_lanes, partial, i);  // the last columns
}
#endif

constexpr VecKernels kReference = {dot_f32_ref,        dot_f16_ref,    axpy_f32_ref,
                                   axpy_f16_ref,       f32_to_f16_ref, reduce_lanes32_ref,
                                   softmax_exp_f32_ref};

}  // namespace

const VecKernels& vec_kernels_reference() { return kReference; }

const VecKernels& vec_kernels() {
#ifdef AG_HAVE_X86
  static const VecKernels avx2 = {dot_f32_avx2,        dot_f16_avx2,    axpy_f32_avx2,
                                  axpy_f16_avx2,       f32_to_f16_avx2, reduce_lanes32_avx2,
                                  softmax_exp_f32_avx2};
  static const VecKernels& chosen = cpu_has_avx2_fma() ? avx2 : kReference;
  return chosen;
#else
  return kReference;
#endif
}

}  // namespace ag::kernels
