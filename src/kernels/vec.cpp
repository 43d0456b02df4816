#include "kernels/vec.h"

#include "core/cpu_features.h"
#include "core/half.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define AG_HAVE_X86 1
#endif

namespace ag::kernels {

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

void reduce_lanes32_ref(int n, const float* partial, float* out) {
  for (int i = 0; i < n; ++i) {
    float lane[8];
    for (int j = 0; j < 8; ++j) {
      const float k0 = partial[(0 + j) * n + i], k1 = partial[(8 + j) * n + i];
      const float k2 = partial[(16 + j) * n + i], k3 = partial[(24 + j) * n + i];
      lane[j] = (k0 + k2) + (k1 + k3);
    }
    out[i] = ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
  }
}

#ifdef AG_HAVE_X86
// --- AVX2 + FMA + F16C ---------------------------------------------------------------------------
#define AG_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))

// Four 8-lane accumulators reduced as ggml's GGML_F32x8_REDUCE does.
AG_TARGET_AVX2 inline float reduce4(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
  const __m256 x = _mm256_add_ps(_mm256_add_ps(a0, a2), _mm256_add_ps(a1, a3));
  const __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  const __m128 t1 = _mm_hadd_ps(t0, t0);
  return _mm_cvtss_f32(_mm_hadd_ps(t1, t1));
}

AG_TARGET_AVX2 inline __m256 load_f16(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
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
  for (int i = np; i < n; ++i) sum += x[i] * y[i];
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
  for (; i < n; ++i) y[i] += a * x[i];
}

AG_TARGET_AVX2 void axpy_f16_avx2(int n, float a, const uint16_t* x, float* y) {
  const __m256 va = _mm256_set1_ps(a);
  int i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, load_f16(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += a * _cvtsh_ss(x[i]);
}

AG_TARGET_AVX2 void f32_to_f16_avx2(int n, const float* x, uint16_t* y) {
  int i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; ++i) y[i] = f32_to_f16(x[i]);
}

AG_TARGET_AVX2 void reduce_lanes32_avx2(int n, const float* partial, float* out) {
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 lane[8];
    for (int j = 0; j < 8; ++j) {
      const __m256 k0 = _mm256_loadu_ps(partial + (0 + j) * n + i);
      const __m256 k1 = _mm256_loadu_ps(partial + (8 + j) * n + i);
      const __m256 k2 = _mm256_loadu_ps(partial + (16 + j) * n + i);
      const __m256 k3 = _mm256_loadu_ps(partial + (24 + j) * n + i);
      lane[j] = _mm256_add_ps(_mm256_add_ps(k0, k2), _mm256_add_ps(k1, k3));
    }
    const __m256 a = _mm256_add_ps(_mm256_add_ps(lane[0], lane[4]), _mm256_add_ps(lane[1], lane[5]));
    const __m256 b = _mm256_add_ps(_mm256_add_ps(lane[2], lane[6]), _mm256_add_ps(lane[3], lane[7]));
    _mm256_storeu_ps(out + i, _mm256_add_ps(a, b));
  }
  if (i < n) {
    // the last columns: the same arithmetic one column at a time
    for (; i < n; ++i) {
      float lane[8];
      for (int j = 0; j < 8; ++j) {
        const float k0 = partial[(0 + j) * n + i], k1 = partial[(8 + j) * n + i];
        const float k2 = partial[(16 + j) * n + i], k3 = partial[(24 + j) * n + i];
        lane[j] = (k0 + k2) + (k1 + k3);
      }
      out[i] =
          ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
    }
  }
}
#endif

constexpr VecKernels kReference = {dot_f32_ref,    dot_f16_ref,    axpy_f32_ref,
                                   axpy_f16_ref,   f32_to_f16_ref, reduce_lanes32_ref};

}  // namespace

const VecKernels& vec_kernels_reference() { return kReference; }

const VecKernels& vec_kernels() {
#ifdef AG_HAVE_X86
  static const VecKernels avx2 = {dot_f32_avx2,  dot_f16_avx2,    axpy_f32_avx2,
                                  axpy_f16_avx2, f32_to_f16_avx2, reduce_lanes32_avx2};
  static const VecKernels& chosen = cpu_has_avx2_fma() ? avx2 : kReference;
  return chosen;
#else
  return kReference;
#endif
}

}  // namespace ag::kernels
