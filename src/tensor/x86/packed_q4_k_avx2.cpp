// The AVX2 kernel of packed Q4_K matrices (Q4_Kx16, tensor/packed.h), reproducing
// packed_matmul_ref's integer sums and float operations bit for bit.
//
// Why: a GGUF Q4_K row interleaves per 256 columns the two f16 factors, twelve bytes of 6-bit
// scales and mins and the nibbles; the per-row dot product spends a third of its instructions on
// unpacking those (scalar bit moves, 8 shuffles to broadcast the scales) and read 15-21 GB/s in L2
// on one AVX2 thread — below the memory bandwidth, so Q4_K models decoded at ~52% of the bound.
// Packed, a half block holds 8 rows' factors, scales and mins side by side, in the byte lanes the
// kernel uses: the scales of a sub-block are one 8-byte load for 8 rows, the nibbles unpack as
// Q4_0x16's.
//
// Integer bounds (all exact): a sub-block's 32 products per row, in int16 after the 8 maddubs of
// u4 x s8 (pairs at most 2 * 15 * 128 = 3840, 8 pairs 30720 < 32767), times its 6-bit scale by
// one vpmaddwd (int32: 63 * 61440 per row at most); the mins against the sums of the activation
// sub-blocks (each at most 32 * 128 = 4096 in int16) by vpmaddwd on (min_2p, min_2p+1) pairs.
#include "tensor/x86/packed_avx2.h"

#if defined(AUTOGLM_HAVE_PACKED_AVX2)

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "tensor/kquant_blocks.h"
#include "tensor/x86/packed_passes.h"

#define AG_Q4K_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace ag::packed_avx2 {

namespace {

// Half-block offsets (tensor/packed.h, Q4_Kx16).
constexpr size_t kD = 0, kDmin = 16, kScales = 32, kMins = 96, kQs = 160;
constexpr size_t kHalfBytes = 1184;
constexpr int kMaxCols = 4;  // activation rows per pass (sums, unpacked values, scales: 16 ymm)

AG_Q4K_AVX2 inline __m256i broadcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return _mm256_set1_epi32(v);
}

AG_Q4K_AVX2 inline __m128i load8(const uint8_t* p) {
  return _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
}

// Rows 8h .. 8h+7 of the group whose half h starts at `half` (nb half blocks of kHalfBytes)
// against activation rows act[0..C); y[c] points at the group's row 0; rows [lo, hi) are stored.
template <int C>
AG_Q4K_AVX2 void half_pass(const uint8_t* half, int64_t nb, int h, const BlockQ8K* const* act, float* const* y,
                           int lo, int hi) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  __m256 acc[C], acc_m[C];
  for (int c = 0; c < C; ++c) acc[c] = acc_m[c] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* hb = half + static_cast<size_t>(b) * kHalfBytes;
    for (size_t line = 0; line < kHalfBytes; line += 64)
      _mm_prefetch(reinterpret_cast<const char*>(hb + packed_passes::kPrefetchBytes + line), _MM_HINT_NTA);
    __m256i sumi[C];
    for (int c = 0; c < C; ++c) sumi[c] = _mm256_setzero_si256();
    for (int j = 0; j < 8; ++j) {
      const uint8_t* qs = hb + kQs + 128 * static_cast<size_t>(j);
      __m256i v[8];  // v[i]: columns 4i..4i+3 of sub-block j, 8 rows
      for (int i = 0; i < 4; ++i) {
        const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 32 * i));
        v[2 * i] = _mm256_and_si256(raw, low4);
        v[2 * i + 1] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4);
      }
      // The sub-block's scale of each row in both int16 halves of its lane.
      __m256i scale = _mm256_cvtepu8_epi32(load8(hb + kScales + 8 * static_cast<size_t>(j)));
      scale = _mm256_or_si256(scale, _mm256_slli_epi32(scale, 16));
      for (int c = 0; c < C; ++c) {
        const int8_t* a = act[c][b].qs + 32 * j;
        __m256i p[8];
        for (int i = 0; i < 8; ++i) p[i] = _mm256_maddubs_epi16(v[i], broadcast4(a + 4 * i));
        const __m256i s = _mm256_add_epi16(_mm256_add_epi16(_mm256_add_epi16(p[0], p[1]), _mm256_add_epi16(p[2], p[3])),
                                           _mm256_add_epi16(_mm256_add_epi16(p[4], p[5]), _mm256_add_epi16(p[6], p[7])));
        sumi[c] = _mm256_add_epi32(sumi[c], _mm256_madd_epi16(s, scale));
      }
    }
    // (min_2p, min_2p+1) of each row as an int16 pair.
    __m256i min_pairs[4];
    for (int pair = 0; pair < 4; ++pair) {
      const uint8_t* m = hb + kMins + 16 * static_cast<size_t>(pair);
      min_pairs[pair] = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(load8(m), load8(m + 8)));
    }
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(hb + kD)));
    const __m256 dminw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(hb + kDmin)));
    for (int c = 0; c < C; ++c) {
      const BlockQ8K& a = act[c][b];
      const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.bsums));
      // int16 lane j: the sum of sub-block j's 32 activations.
      const __m128i sub_sums = _mm_hadd_epi16(_mm256_castsi256_si128(bsums), _mm256_extracti128_si256(bsums, 1));
      __m256i msum = _mm256_madd_epi16(min_pairs[0], _mm256_broadcastd_epi32(sub_sums));
      msum = _mm256_add_epi32(msum, _mm256_madd_epi16(min_pairs[1], _mm256_broadcastd_epi32(_mm_srli_si128(sub_sums, 4))));
      msum = _mm256_add_epi32(msum, _mm256_madd_epi16(min_pairs[2], _mm256_broadcastd_epi32(_mm_srli_si128(sub_sums, 8))));
      msum = _mm256_add_epi32(msum, _mm256_madd_epi16(min_pairs[3], _mm256_broadcastd_epi32(_mm_srli_si128(sub_sums, 12))));
      const __m256 da = _mm256_set1_ps(a.d);
      acc[c] = _mm256_fmadd_ps(_mm256_mul_ps(dw, da), _mm256_cvtepi32_ps(sumi[c]), acc[c]);
      acc_m[c] = _mm256_fmadd_ps(_mm256_mul_ps(dminw, da), _mm256_cvtepi32_ps(msum), acc_m[c]);
    }
  }
  const __m256i row = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(8 * h));
  const __m256i mask = _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(lo), row),
                                           _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), row));
  for (int c = 0; c < C; ++c) _mm256_maskstore_ps(y[c] + 8 * h, mask, _mm256_sub_ps(acc[c], acc_m[c]));
}

using HalfPassFn = void (*)(const uint8_t*, int64_t, int, const BlockQ8K* const*, float* const*, int, int);
constexpr HalfPassFn kByCols[kMaxCols] = {half_pass<1>, half_pass<2>, half_pass<3>, half_pass<4>};

}  // namespace

AG_Q4K_AVX2 void matmul_q4_k(const PackedMatmulArgs& args) {
  packed_passes::for_each_pass<kMaxCols, BlockQ8K>(
      args, 2 * kHalfBytes,
      [](const packed_passes::PassOf<BlockQ8K>& pass) {
        for (int h = 0; h < 2; ++h) {
          if (pass.hi <= 8 * h || pass.lo >= 8 * (h + 1)) continue;  // no row of this half in the range
          kByCols[pass.nc - 1](pass.gw + static_cast<size_t>(h * pass.nb) * kHalfBytes, pass.nb, h, pass.act, pass.y,
                               pass.lo, pass.hi);
        }
      },
      QK_K);
}

}  // namespace ag::packed_avx2

#endif  // AUTOGLM_HAVE_PACKED_AVX2
