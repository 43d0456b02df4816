#pragma once
// Scale unpacking shared by the x86 K-quant kernels (plain SSE2, the x86-64 baseline).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace ag::kquant {

// Q4_K / Q5_K: the 12 packed bytes to 8 scales (bytes 0..7) and 8 mins (bytes 8..15), all 6 bits.
inline __m128i unpack_scales_mins_k4(const uint8_t* packed) {
  constexpr uint32_t kmask1 = 0x3f3f3f3f, kmask2 = 0x0f0f0f0f, kmask3 = 0x03030303;
  uint32_t u[4];
  std::memcpy(u, packed, 12);
  u[3] = ((u[2] >> 4) & kmask2) | (((u[1] >> 6) & kmask3) << 4);
  const uint32_t mins_lo = u[1] & kmask1;
  u[1] = (u[2] & kmask2) | (((u[0] >> 6) & kmask3) << 4);
  u[2] = mins_lo;
  u[0] &= kmask1;
  // From registers, not through memory: four 32-bit stores read back as one 128-bit load miss
  // store-to-load forwarding (a stall of a dozen cycles per block, measured 1.3x on Q4_K).
  return _mm_set_epi32(static_cast<int>(u[3]), static_cast<int>(u[2]), static_cast<int>(u[1]),
                       static_cast<int>(u[0]));
}

// Q4_K / Q5_K: sum_j min_j * (bsums[2j] + bsums[2j + 1]) for the 8 mins in int16 lanes 8..15 of
// sc_mins, as 4 int32 partial sums (exact; each min covers two bsums, added pairwise:
// |sum| <= 2 * 16 * 128, no int16 overflow).
__attribute__((target("avx2"))) inline __m128i mins_dot_bsums(__m256i sc_mins,
                                                               const int16_t* bsums16) {
  const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bsums16));
  const __m128i bsum_pairs =
      _mm_hadd_epi16(_mm256_castsi256_si128(bsums), _mm256_extracti128_si256(bsums, 1));
  return _mm_madd_epi16(_mm256_extracti128_si256(sc_mins, 1), bsum_pairs);
}

}  // namespace ag::kquant
