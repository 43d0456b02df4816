// AVX2 + FMA kernels of the K-quants. Only the functions carry the target attribute (the file is
// compiled for the baseline ISA), so nothing AVX2 can leak into code that runs before dispatch.
//
// Dot products: the weight quants are widened to unsigned bytes (offsets such as Q3_K's -4 and
// Q6_K's -32 are folded out and corrected with the Q8_K block sums), multiplied with the signed
// activation bytes by maddubs (16-bit pair sums, no overflow: 63 * 127 * 2 < 32767), weighted by
// the sub-block scales with madd (32-bit) and summed exactly per block; only the final scale
// products are float. They differ from the scalar references only in float summation order.
#include <immintrin.h>

#include <cstring>

#include "core/half.h"
#include "tensor/kquant.h"
#include "tensor/x86/kquant_scales.h"

#define AG_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace ag::kquant::avx2 {

namespace {

AG_TARGET_AVX2 inline float hsum(__m256 x) {
  __m128 r = _mm_add_ps(_mm256_extractf128_ps(x, 1), _mm256_castps256_ps128(x));
  r = _mm_add_ps(r, _mm_movehl_ps(r, r));
  r = _mm_add_ss(r, _mm_movehdup_ps(r));
  return _mm_cvtss_f32(r);
}

AG_TARGET_AVX2 inline float hsum(__m128 r) {
  r = _mm_add_ps(r, _mm_movehl_ps(r, r));
  r = _mm_add_ss(r, _mm_movehdup_ps(r));
  return _mm_cvtss_f32(r);
}

AG_TARGET_AVX2 inline __m256i load32(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

// A shuffle that copies 16-bit element k of each 128-bit lane to the whole lane.
AG_TARGET_AVX2 inline __m256i broadcast_i16_mask(int k) {
  return _mm256_set1_epi16(static_cast<int16_t>((2 * k + 1) << 8 | 2 * k));
}

// For the 16-weight sub-blocks (Q2_K, Q3_K, Q6_K): 16 int16 scales arranged as
// [s0 s2 … s14 | s1 s3 … s15], so that broadcast_i16_mask(g) yields s[2g] in the low lane and
// s[2g+1] in the high lane: the scales of the two halves of the 32 weights of group g, matching
// maddubs' output (pair sums of elements 0..15 in the low lane, 16..31 in the high lane).
AG_TARGET_AVX2 inline __m256i even_odd_scales(__m128i scales_i8) {
  const __m128i even_odd = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
  return _mm256_cvtepi8_epi16(_mm_shuffle_epi8(scales_i8, even_odd));
}

// Q3_K: the 12 packed bytes to 16 signed scales (minus 32 already), with four 32-bit operations
// instead of a loop: low nibbles from bytes 0..7, high 2 bits from bytes 8..11.
inline __m128i unpack_q3_k_scales_fast(const uint8_t* packed) {
  constexpr uint32_t kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
  uint32_t a[4];
  std::memcpy(a, packed, 12);
  const uint32_t high = a[2];
  a[2] = ((a[0] >> 4) & kmask2) | (((high >> 4) & kmask1) << 4);
  a[3] = ((a[1] >> 4) & kmask2) | (((high >> 6) & kmask1) << 4);
  a[0] = (a[0] & kmask2) | (((high >> 0) & kmask1) << 4);
  a[1] = (a[1] & kmask2) | (((high >> 2) & kmask1) << 4);
  __m128i r;
  std::memcpy(&r, a, 16);
  return _mm_sub_epi8(r, _mm_set1_epi8(32));
}

}  // namespace

AG_TARGET_AVX2 float vec_dot_q2_k_q8_k(int64_t n, const void* row, const void* act) {
  const auto* x = static_cast<const BlockQ2K*>(row);
  const auto* y = static_cast<const BlockQ8K*>(act);
  const __m256i m3 = _mm256_set1_epi8(3);
  const __m128i m4 = _mm_set1_epi8(0xF);
  __m256 acc = _mm256_setzero_ps();
  __m128 acc_m = _mm_setzero_ps();
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const float dall = y[i].d * _cvtsh_ss(x[i].d);
    const float dmin = -y[i].d * _cvtsh_ss(x[i].dmin);
    const __m128i sc_m = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[i].scales));
    // mins: sum_j m_j * bsums_j
    const __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc_m, 4), m4));
    const __m256i prod_m = _mm256_madd_epi16(mins, load32(y[i].bsums));
    const __m128i pm =
        _mm_add_epi32(_mm256_castsi256_si128(prod_m), _mm256_extracti128_si256(prod_m, 1));
    acc_m = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(pm), acc_m);

    const __m256i scales = even_odd_scales(_mm_and_si128(sc_m, m4));
    __m256i sumi = _mm256_setzero_si256();
    for (int half = 0; half < 2; ++half) {
      __m256i q2 = load32(x[i].qs + 32 * half);
      for (int k = 0; k < 4; ++k) {
        const __m256i v = _mm256_and_si256(q2, m3);
        q2 = _mm256_srli_epi16(q2, 2);
        const __m256i q8 = load32(y[i].qs + 128 * half + 32 * k);
        const __m256i p16 = _mm256_maddubs_epi16(v, q8);
        const __m256i sc = _mm256_shuffle_epi8(scales, broadcast_i16_mask(4 * half + k));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(sc, p16));
      }
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(dall), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum(acc) + hsum(acc_m);
}

AG_TARGET_AVX2 float vec_dot_q3_k_q8_k(int64_t n, const void* row, const void* act) {
  const auto* x = static_cast<const BlockQ3K*>(row);
  const auto* y = static_cast<const BlockQ8K*>(act);
  const __m256i m3 = _mm256_set1_epi8(3);
  const __m256i m1 = _mm256_set1_epi8(1);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const float d = y[i].d * _cvtsh_ss(x[i].d);
    const __m128i sc_i8 = unpack_q3_k_scales_fast(x[i].scales);
    // The quants are stored as v = q + 4 in [0, 7]: subtract 4 * sum_j s_j * bsums_j.
    const __m256i offset = _mm256_madd_epi16(_mm256_cvtepi8_epi16(sc_i8), load32(y[i].bsums));
    const __m256i scales = even_odd_scales(sc_i8);
    // Bit g of hmask[l] is the high bit of element 32 g + l: shift one bit down per group.
    __m256i hbits = load32(x[i].hmask);
    __m256i sumi = _mm256_setzero_si256();
    for (int half = 0; half < 2; ++half) {
      __m256i q3 = load32(x[i].qs + 32 * half);
      for (int k = 0; k < 4; ++k) {
        const __m256i high = _mm256_slli_epi16(_mm256_and_si256(hbits, m1), 2);
        hbits = _mm256_srli_epi16(hbits, 1);
        const __m256i v = _mm256_or_si256(_mm256_and_si256(q3, m3), high);
        q3 = _mm256_srli_epi16(q3, 2);
        const __m256i q8 = load32(y[i].qs + 128 * half + 32 * k);
        const __m256i p16 = _mm256_maddubs_epi16(v, q8);
        const __m256i sc = _mm256_shuffle_epi8(scales, broadcast_i16_mask(4 * half + k));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(sc, p16));
      }
    }
    sumi = _mm256_sub_epi32(sumi, _mm256_slli_epi32(offset, 2));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum(acc);
}

namespace {
// Q4_K and Q5_K: 32-weight sub-blocks, one scale per 32 bytes of activations.
template <bool kFiveBit, typename Block>
AG_TARGET_AVX2 inline float vec_dot_q45_k(int64_t n, const Block* x, const BlockQ8K* y) {
  const __m256i m4 = _mm256_set1_epi8(0xF);
  const __m256i m1 = _mm256_set1_epi8(1);
  __m256 acc = _mm256_setzero_ps();
  __m128 acc_m = _mm_setzero_ps();
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const float d = y[i].d * _cvtsh_ss(x[i].d);
    const float dmin = -y[i].d * _cvtsh_ss(x[i].dmin);
    const __m256i sc_mins = _mm256_cvtepu8_epi16(unpack_scales_mins_k4(x[i].scales));
    const __m128i prod_m = mins_dot_bsums(sc_mins, y[i].bsums);
    acc_m = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(prod_m), acc_m);

    const __m256i scales = _mm256_broadcastsi128_si256(_mm256_castsi256_si128(sc_mins));
    [[maybe_unused]] __m256i hbits = _mm256_setzero_si256();
    if constexpr (kFiveBit) hbits = load32(x[i].qh);
    __m256i sumi = _mm256_setzero_si256();
    for (int c = 0; c < 4; ++c) {
      const __m256i q4 = load32(x[i].qs + 32 * c);
      __m256i lo = _mm256_and_si256(q4, m4);
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);
      if constexpr (kFiveBit) {
        lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(hbits, m1), 4));
        hbits = _mm256_srli_epi16(hbits, 1);
        hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(hbits, m1), 4));
        hbits = _mm256_srli_epi16(hbits, 1);
      }
      const __m256i p_lo = _mm256_maddubs_epi16(lo, load32(y[i].qs + 64 * c));
      const __m256i p_hi = _mm256_maddubs_epi16(hi, load32(y[i].qs + 64 * c + 32));
      const __m256i sc_lo = _mm256_shuffle_epi8(scales, broadcast_i16_mask(2 * c));
      const __m256i sc_hi = _mm256_shuffle_epi8(scales, broadcast_i16_mask(2 * c + 1));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(sc_lo, p_lo));
      sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(sc_hi, p_hi));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum(acc) + hsum(acc_m);
}
}  // namespace

AG_TARGET_AVX2 float vec_dot_q4_k_q8_k(int64_t n, const void* row, const void* act) {
  return vec_dot_q45_k<false>(n, static_cast<const BlockQ4K*>(row),
                              static_cast<const BlockQ8K*>(act));
}

AG_TARGET_AVX2 float vec_dot_q5_k_q8_k(int64_t n, const void* row, const void* act) {
  return vec_dot_q45_k<true>(n, static_cast<const BlockQ5K*>(row),
                             static_cast<const BlockQ8K*>(act));
}

AG_TARGET_AVX2 float vec_dot_q6_k_q8_k(int64_t n, const void* row, const void* act) {
  const auto* x = static_cast<const BlockQ6K*>(row);
  const auto* y = static_cast<const BlockQ8K*>(act);
  const __m256i m4 = _mm256_set1_epi8(0xF);
  const __m256i m2 = _mm256_set1_epi8(0x03);
  const __m256i m2_4 = _mm256_set1_epi8(0x30);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const float d = y[i].d * _cvtsh_ss(x[i].d);
    const __m128i sc_i8 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x[i].scales));
    // The quants are stored as q + 32 in [0, 63]: subtract 32 * sum_j s_j * bsums_j.
    const __m256i offset = _mm256_madd_epi16(_mm256_cvtepi8_epi16(sc_i8), load32(y[i].bsums));
    const __m256i scales = even_odd_scales(sc_i8);
    __m256i sumi = _mm256_setzero_si256();
    for (int half = 0; half < 2; ++half) {
      const __m256i ql_a = load32(x[i].ql + 64 * half);
      const __m256i ql_b = load32(x[i].ql + 64 * half + 32);
      const __m256i qh = load32(x[i].qh + 32 * half);
      const __m256i v[4] = {
          _mm256_or_si256(_mm256_and_si256(ql_a, m4),
                          _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4)),
          _mm256_or_si256(_mm256_and_si256(ql_b, m4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql_a, 4), m4),
                          _mm256_and_si256(qh, m2_4)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql_b, 4), m4),
                          _mm256_and_si256(_mm256_srli_epi16(qh, 2), m2_4)),
      };
      for (int k = 0; k < 4; ++k) {
        const __m256i p16 = _mm256_maddubs_epi16(v[k], load32(y[i].qs + 128 * half + 32 * k));
        const __m256i sc = _mm256_shuffle_epi8(scales, broadcast_i16_mask(4 * half + k));
        sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(sc, p16));
      }
    }
    sumi = _mm256_sub_epi32(sumi, _mm256_slli_epi32(offset, 5));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(sumi), acc);
  }
  return hsum(acc);
}

// ---- dequantization: the reference's products in the reference's order (mul, then sub) ----

namespace {
// 8 unsigned bytes to 8 floats.
AG_TARGET_AVX2 inline __m256 u8x8_to_float(__m128i bytes) {
  return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes));
}

// out[0..31] = d * q[0..31] - m for 32 quants already widened to bytes.
AG_TARGET_AVX2 inline void store_affine32(__m256i q, float d, float m, float* out) {
  const __m256 vd = _mm256_set1_ps(d);
  const __m256 vm = _mm256_set1_ps(m);
  const __m128i lo = _mm256_castsi256_si128(q);
  const __m128i hi = _mm256_extracti128_si256(q, 1);
  _mm256_storeu_ps(out + 0, _mm256_sub_ps(_mm256_mul_ps(vd, u8x8_to_float(lo)), vm));
  _mm256_storeu_ps(out + 8,
                   _mm256_sub_ps(_mm256_mul_ps(vd, u8x8_to_float(_mm_srli_si128(lo, 8))), vm));
  _mm256_storeu_ps(out + 16, _mm256_sub_ps(_mm256_mul_ps(vd, u8x8_to_float(hi)), vm));
  _mm256_storeu_ps(out + 24,
                   _mm256_sub_ps(_mm256_mul_ps(vd, u8x8_to_float(_mm_srli_si128(hi, 8))), vm));
}

template <bool kFiveBit, typename Block>
AG_TARGET_AVX2 inline void dequantize_q45_k(const Block* x, float* dst, int64_t n) {
  const __m256i m4 = _mm256_set1_epi8(0xF);
  const __m256i m1 = _mm256_set1_epi8(1);
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const float d = f16_to_f32(x[i].d);
    const float dmin = f16_to_f32(x[i].dmin);
    [[maybe_unused]] __m256i hbits = _mm256_setzero_si256();
    if constexpr (kFiveBit) hbits = load32(x[i].qh);
    for (int c = 0; c < 4; ++c) {
      uint8_t sc, m;
      get_scale_min_k4(2 * c, x[i].scales, &sc, &m);
      const float d1 = d * sc, m1v = dmin * m;
      get_scale_min_k4(2 * c + 1, x[i].scales, &sc, &m);
      const float d2 = d * sc, m2v = dmin * m;
      const __m256i q4 = load32(x[i].qs + 32 * c);
      __m256i lo = _mm256_and_si256(q4, m4);
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);
      if constexpr (kFiveBit) {
        lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(hbits, m1), 4));
        hbits = _mm256_srli_epi16(hbits, 1);
        hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(hbits, m1), 4));
        hbits = _mm256_srli_epi16(hbits, 1);
      }
      store_affine32(lo, d1, m1v, dst);
      store_affine32(hi, d2, m2v, dst + 32);
      dst += 64;
    }
  }
}
}  // namespace

AG_TARGET_AVX2 void dequantize_q4_k(const void* src, float* dst, int64_t n) {
  dequantize_q45_k<false>(static_cast<const BlockQ4K*>(src), dst, n);
}

AG_TARGET_AVX2 void dequantize_q5_k(const void* src, float* dst, int64_t n) {
  dequantize_q45_k<true>(static_cast<const BlockQ5K*>(src), dst, n);
}

AG_TARGET_AVX2 void dequantize_q6_k(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ6K*>(src);
  const __m256i m4 = _mm256_set1_epi8(0xF);
  const __m256i m2 = _mm256_set1_epi8(0x03);
  const __m256i m2_4 = _mm256_set1_epi8(0x30);
  const __m256i off = _mm256_set1_epi8(32);
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const float d = f16_to_f32(x[i].d);
    for (int half = 0; half < 2; ++half) {
      const __m256i ql_a = load32(x[i].ql + 64 * half);
      const __m256i ql_b = load32(x[i].ql + 64 * half + 32);
      const __m256i qh = load32(x[i].qh + 32 * half);
      const __m256i v[4] = {
          _mm256_or_si256(_mm256_and_si256(ql_a, m4),
                          _mm256_slli_epi16(_mm256_and_si256(qh, m2), 4)),
          _mm256_or_si256(_mm256_and_si256(ql_b, m4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m2), 4)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql_a, 4), m4),
                          _mm256_and_si256(qh, m2_4)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql_b, 4), m4),
                          _mm256_and_si256(_mm256_srli_epi16(qh, 2), m2_4)),
      };
      for (int k = 0; k < 4; ++k) {
        const __m256i q = _mm256_sub_epi8(v[k], off);  // [-32, 31]
        const int is = 8 * half + 2 * k;               // scale of elements 0..15 of this group
        for (int part = 0; part < 2; ++part) {
          const __m256 ds = _mm256_set1_ps(d * x[i].scales[is + part]);
          const __m128i q16 =
              part == 0 ? _mm256_castsi256_si128(q) : _mm256_extracti128_si256(q, 1);
          const __m256 f0 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q16));
          const __m256 f1 = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(q16, 8)));
          _mm256_storeu_ps(dst + 32 * k + 16 * part, _mm256_mul_ps(ds, f0));
          _mm256_storeu_ps(dst + 32 * k + 16 * part + 8, _mm256_mul_ps(ds, f1));
        }
      }
      dst += 128;
    }
  }
}

}  // namespace ag::kquant::avx2
