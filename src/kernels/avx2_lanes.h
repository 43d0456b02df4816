#pragma once
// AVX2 building blocks shared by the vector kernels (vec.cpp) and the fused attention path
// (attention.cpp), so both sum in exactly the same lane order (ggml's).
#if defined(__x86_64__)
#include <immintrin.h>

#include <cstdint>

#define AG_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace ag::kernels::avx2 {

// Four 8-lane accumulators reduced as ggml's GGML_F32x8_REDUCE does.
AG_TARGET_AVX2 inline float reduce4(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
  const __m256 x = _mm256_add_ps(_mm256_add_ps(a0, a2), _mm256_add_ps(a1, a3));
  const __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
  const __m128 t1 = _mm_hadd_ps(t0, t0);
  return _mm_cvtss_f32(_mm_hadd_ps(t1, t1));
}

// 8 IEEE halves to floats.
AG_TARGET_AVX2 inline __m256 load_f16(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

}  // namespace ag::kernels::avx2

#endif
