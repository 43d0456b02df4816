// The AVX2 kernels of packed Q4_K, Q5_K and Q6_K matrices (Q4_Kx16, Q5_Kx16, Q6_Kx16: tensor/packed.h),
// reproducing packed_matmul_ref's integer sums and float operations bit for bit.
//
// Why: a GGUF Q4_K row interleaves per 256 columns the two f16 factors, twelve bytes of 6-bit
// scales and mins and the nibbles; the per-row dot product spends a third of its instructions on
// unpacking those (scalar bit moves, 8 shuffles to broadcast the scales) and read 15-21 GB/s in L2
// on one AVX2 thread — below the memory bandwidth, so Q4_K models decoded at ~52% of the bound.
// Packed, a half block holds 8 rows' factors, scales and mins side by side, in the byte lanes the
// kernel uses: the scales of a sub-block are one 8-byte load for 8 rows, the nibbles unpack as
// Q4_0x16's.
//
// Q4_K integer bounds (all exact): a sub-block's 32 products per row, in int16 after the 8 maddubs of
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

// Q6_K: values u = q + 32 in 0..63 (low 4 bits as Q4_K's nibbles, the 2 high bits in their own
// bytes), so a maddubs pair is at most 2 * 63 * 128 = 16128 and two pairs add up in int16 (32256):
// each 16-column sub-block is two int16 sums, each scaled by one vpmaddwd with the signed 8-bit
// scale; the offset (-32 * sum_j scale_j * bsums[j]) by vpmaddwd on scale pairs.

#define AG_Q4K_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace ag::packed_avx2 {

namespace {

// Half-block offsets (tensor/packed.h, Q4_Kx16 and Q6_Kx16).
constexpr size_t kD = 0, kDmin = 16, kScales = 32, kMins = 96, kQs = 160;
constexpr size_t kHalfBytes = 1184;
constexpr size_t kQ5Qh = 1184, kQ5HalfBytes = 1440;  // Q5_Kx16: Q4_Kx16's half block, then the 5th bits
constexpr size_t kQ6Scales = 16, kQ6Ql = 144, kQ6Qh = 1168;
constexpr size_t kQ6HalfBytes = 1680;
constexpr int kMaxCols = 4;  // activation rows per pass (sums, unpacked values, scales: 16 ymm)

AG_Q4K_AVX2 inline __m256i broadcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return _mm256_set1_epi32(v);
}

AG_Q4K_AVX2 inline __m128i load8(const uint8_t* p) {
  return _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
}

// The NTA prefetch of the half block kPrefetchBytes ahead (see packed_passes.h).
AG_Q4K_AVX2 inline void prefetch_ahead(const uint8_t* hb, size_t bytes) {
  for (size_t line = 0; line < bytes; line += 64)
    _mm_prefetch(reinterpret_cast<const char*>(hb + packed_passes::kPrefetchBytes + line), _MM_HINT_NTA);
}

// Nibble chunk i of a 32-column group (tensor/packed.h): first4 = columns 8i..8i+3 of 8 rows,
// last4 = columns 8i+4..8i+7.
AG_Q4K_AVX2 inline void unpack_chunk(const uint8_t* chunks, int i, __m256i& first4, __m256i& last4) {
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(chunks + 32 * i));
  first4 = _mm256_and_si256(raw, low4);
  last4 = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4);
}

// A running sum of the chunk-by-chunk loops, materialized after each chunk: without it GCC
// regroups the integer adds into one tree over all chunks, which hoists every multiply ahead of the
// adds and spills them (the order that unpacked a whole sub-block first spilled as well, 8 values
// and C sums live). An empty asm statement, no instruction.
AG_Q4K_AVX2 inline void keep_in_register(__m256i& v) { asm("" : "+x"(v)); }

// y[8h + r] = v[r] for the rows 8h + r in [lo, hi).
AG_Q4K_AVX2 inline void store_half(float* y, int h, int lo, int hi, __m256 v) {
  const __m256i row = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(8 * h));
  const __m256i mask = _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(lo), row),
                                           _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), row));
  _mm256_maskstore_ps(y + 8 * h, mask, v);
}

// Bit 4 of v[i]'s values (Q5_K) from the sub-block's byte lanes (byte 4r + t, bit i): bit i moved
// to bit 4 by a 16-bit shift (bits crossing between the lane's bytes are masked off), as Q5_0x16.
AG_Q4K_AVX2 inline __m256i bit4(__m256i qh, int i) {
  const __m256i moved = i <= 4 ? _mm256_slli_epi16(qh, 4 - i) : _mm256_srli_epi16(qh, i - 4);
  return _mm256_and_si256(moved, _mm256_set1_epi8(0x10));
}

// Rows 8h .. 8h+7 of the group whose half h starts at `half` (nb half blocks) against activation
// rows act[0..C); y[c] points at the group's row 0; rows [lo, hi) are stored. kFive: Q5_K (values
// 0..31: a maddubs pair up to 2 * 31 * 128 = 7936, so two int16 sums of 4 pairs per sub-block).
template <bool kFive, int C>
AG_Q4K_AVX2 void half_pass(const uint8_t* half, int64_t nb, int h, const BlockQ8K* const* act, float* const* y,
                           int lo, int hi) {
  constexpr size_t kBytes = kFive ? kQ5HalfBytes : kHalfBytes;
  __m256 acc[C], acc_m[C];
  for (int c = 0; c < C; ++c) acc[c] = acc_m[c] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* hb = half + static_cast<size_t>(b) * kBytes;
    prefetch_ahead(hb, kBytes);
    __m256i sumi[C];
    for (int c = 0; c < C; ++c) sumi[c] = _mm256_setzero_si256();
    for (int j = 0; j < 8; ++j) {
      const uint8_t* qs = hb + kQs + 128 * static_cast<size_t>(j);
      __m256i qh = _mm256_setzero_si256();
      if constexpr (kFive) qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(hb + kQ5Qh + 32 * static_cast<size_t>(j)));
      // The sub-block's scale of each row in both int16 halves of its lane.
      __m256i scale = _mm256_cvtepu8_epi32(load8(hb + kScales + 8 * static_cast<size_t>(j)));
      scale = _mm256_or_si256(scale, _mm256_slli_epi32(scale, 16));
      // Chunk by chunk (chunk i: columns 8i..8i+7 as two nibble halves), each serving the C rows
      // before the next is unpacked: see keep_in_register.
      __m256i s16[C];
      for (int i = 0; i < 4; ++i) {
        __m256i first4, last4;  // columns 8i..8i+3 and 8i+4..8i+7
        unpack_chunk(qs, i, first4, last4);
        if constexpr (kFive) {
          first4 = _mm256_or_si256(first4, bit4(qh, 2 * i));
          last4 = _mm256_or_si256(last4, bit4(qh, 2 * i + 1));
        }
        for (int c = 0; c < C; ++c) {
          const int8_t* a = act[c][b].qs + 32 * j + 8 * i;
          const __m256i pair = _mm256_add_epi16(_mm256_maddubs_epi16(first4, broadcast4(a)),
                                                _mm256_maddubs_epi16(last4, broadcast4(a + 4)));
          // Q4_K: the 8 pairs of the sub-block in one int16 sum; Q5_K: two sums of 4 pairs.
          const bool first = kFive ? i % 2 == 0 : i == 0;
          s16[c] = first ? pair : _mm256_add_epi16(s16[c], pair);
          keep_in_register(s16[c]);
          if (i == 3 || (kFive && i == 1)) sumi[c] = _mm256_add_epi32(sumi[c], _mm256_madd_epi16(s16[c], scale));
        }
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
  for (int c = 0; c < C; ++c) store_half(y[c], h, lo, hi, _mm256_sub_ps(acc[c], acc_m[c]));
}

// Bits 4-5 of v[4k + m]'s bytes from Q6_Kx16's high-bit bytes qh_k (bits 2m, 2m + 1): a 16-bit
// shift moves them (bits crossing between the lane's two bytes land outside bits 4-5).
AG_Q4K_AVX2 inline __m256i q6_high(__m256i qh, int m) {
  const __m256i moved = m == 0   ? _mm256_slli_epi16(qh, 4)
                        : m == 1 ? _mm256_slli_epi16(qh, 2)
                        : m == 2 ? qh
                                 : _mm256_srli_epi16(qh, 2);
  return _mm256_and_si256(moved, _mm256_set1_epi8(0x30));
}

// The 8-bit signed value at p[r] of each row r in both int16 halves of its lane.
AG_Q4K_AVX2 inline __m256i scale_both_halves(const uint8_t* p) {
  const __m128i s = load8(p);
  return _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(s, s));
}

// As half_pass, for Q6_Kx16 (half blocks of kQ6HalfBytes).
template <int C>
AG_Q4K_AVX2 void q6_half_pass(const uint8_t* half, int64_t nb, int h, const BlockQ8K* const* act, float* const* y,
                              int lo, int hi) {
  __m256 acc[C];
  for (int c = 0; c < C; ++c) acc[c] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* hb = half + static_cast<size_t>(b) * kQ6HalfBytes;
    prefetch_ahead(hb, kQ6HalfBytes);
    __m256i sumi[C];
    for (int c = 0; c < C; ++c) sumi[c] = _mm256_setzero_si256();
    for (int s = 0; s < 8; ++s) {  // 32 columns: sub-blocks 2s (chunks 0-1) and 2s + 1 (chunks 2-3)
      const uint8_t* ql = hb + kQ6Ql + 128 * static_cast<size_t>(s);
      const uint8_t* qh = hb + kQ6Qh + 64 * static_cast<size_t>(s);
      const __m256i high[2] = {_mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh)),
                               _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qh + 32))};
      const __m256i scale0 = scale_both_halves(hb + kQ6Scales + 16 * static_cast<size_t>(s));
      const __m256i scale1 = scale_both_halves(hb + kQ6Scales + 16 * static_cast<size_t>(s) + 8);
      // Chunk by chunk (chunk i: columns 8i..8i+7, v[2i] and v[2i + 1] of the high-bit layout),
      // each serving the C rows before the next is unpacked: see keep_in_register.
      for (int i = 0; i < 4; ++i) {
        __m256i first4, last4;  // columns 8i..8i+3 and 8i+4..8i+7
        unpack_chunk(ql, i, first4, last4);
        first4 = _mm256_or_si256(first4, q6_high(high[i / 2], (2 * i) % 4));
        last4 = _mm256_or_si256(last4, q6_high(high[i / 2], (2 * i) % 4 + 1));
        for (int c = 0; c < C; ++c) {
          const int8_t* a = act[c][b].qs + 32 * s + 8 * i;
          const __m256i pair = _mm256_add_epi16(_mm256_maddubs_epi16(first4, broadcast4(a)),
                                                _mm256_maddubs_epi16(last4, broadcast4(a + 4)));
          sumi[c] = _mm256_add_epi32(sumi[c], _mm256_madd_epi16(pair, i < 2 ? scale0 : scale1));
          keep_in_register(sumi[c]);
        }
      }
    }
    // (scale_2p, scale_2p+1) of each row as an int16 pair, against (bsums[2p], bsums[2p+1]).
    __m256i scale_pairs[8];
    for (int pair = 0; pair < 8; ++pair) {
      const uint8_t* sc = hb + kQ6Scales + 16 * static_cast<size_t>(pair);
      scale_pairs[pair] = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(load8(sc), load8(sc + 8)));
    }
    const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(hb + kD)));
    for (int c = 0; c < C; ++c) {
      const BlockQ8K& a = act[c][b];
      __m256i offset = _mm256_setzero_si256();
      for (int pair = 0; pair < 8; ++pair) {
        int32_t sums;
        std::memcpy(&sums, a.bsums + 2 * pair, sizeof sums);
        offset = _mm256_add_epi32(offset, _mm256_madd_epi16(scale_pairs[pair], _mm256_set1_epi32(sums)));
      }
      const __m256i total = _mm256_sub_epi32(sumi[c], _mm256_slli_epi32(offset, 5));
      acc[c] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(a.d)), _mm256_cvtepi32_ps(total), acc[c]);
    }
  }
  for (int c = 0; c < C; ++c) store_half(y[c], h, lo, hi, acc[c]);
}

using HalfPassFn = void (*)(const uint8_t*, int64_t, int, const BlockQ8K* const*, float* const*, int, int);
constexpr HalfPassFn kByCols[kMaxCols] = {half_pass<false, 1>, half_pass<false, 2>, half_pass<false, 3>,
                                          half_pass<false, 4>};
constexpr HalfPassFn kQ5ByCols[kMaxCols] = {half_pass<true, 1>, half_pass<true, 2>, half_pass<true, 3>,
                                            half_pass<true, 4>};
constexpr HalfPassFn kQ6ByCols[kMaxCols] = {q6_half_pass<1>, q6_half_pass<2>, q6_half_pass<3>, q6_half_pass<4>};

// Both halves of each group (half 0 of all its blocks, then half 1: half_bytes per block).
template <const HalfPassFn* kFns>
AG_Q4K_AVX2 void kquant_matmul(const PackedMatmulArgs& args, size_t half_bytes) {
  packed_passes::for_each_pass<kMaxCols, BlockQ8K>(
      args, 2 * half_bytes,
      [half_bytes](const packed_passes::PassOf<BlockQ8K>& pass) {
        for (int h = 0; h < 2; ++h) {
          if (pass.hi <= 8 * h || pass.lo >= 8 * (h + 1)) continue;  // no row of this half in the range
          kFns[pass.nc - 1](pass.gw + static_cast<size_t>(h * pass.nb) * half_bytes, pass.nb, h, pass.act, pass.y,
                            pass.lo, pass.hi);
        }
      },
      QK_K);
}

}  // namespace

AG_Q4K_AVX2 void matmul_q4_k(const PackedMatmulArgs& args) { kquant_matmul<kByCols>(args, kHalfBytes); }

AG_Q4K_AVX2 void matmul_q5_k(const PackedMatmulArgs& args) { kquant_matmul<kQ5ByCols>(args, kQ5HalfBytes); }

AG_Q4K_AVX2 void matmul_q6_k(const PackedMatmulArgs& args) { kquant_matmul<kQ6ByCols>(args, kQ6HalfBytes); }

}  // namespace ag::packed_avx2

#endif  // AUTOGLM_HAVE_PACKED_AVX2
