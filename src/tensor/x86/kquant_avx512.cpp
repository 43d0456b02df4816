// AVX-512 (BW + VNNI) dot products of the K-quants (Q4_K, Q6_K), for the CPUs the packed kernels
// run on.
//
// Why a second x86 version: the AVX2 Q6_K dot product is compute-bound on two threads (TinyLlama
// Q4_0's Q6_K output matrix streamed at 30 GB/s while the packed Q4_0 matrices ran at 47), so the
// largest single matrix of many Q4_0 and Q4_K_M files ran at two thirds of the memory speed.
// Here 64 weights are unpacked per instruction instead of 32, and vpdpwssd folds the sub-block
// scale product and the sum into one instruction.
//
// Arithmetic: as the AVX2 version, the quants are widened to unsigned bytes (Q6_K's -32 folded out
// and corrected with the Q8_K block sums), multiplied with the signed activation bytes by maddubs
// (16-bit pair sums, no overflow: 63 * 128 * 2 < 32767) and weighted by the int16 sub-block scales
// exactly in 32 bits; only the per-block scale product and the final sum are float, so results
// differ from the scalar reference only in float summation order.
#include "tensor/x86/kquant_avx512.h"

#if defined(AUTOGLM_HAVE_KQUANT_AVX512)

#include <immintrin.h>

#include "core/half.h"
#include "tensor/kquant_blocks.h"
#include "tensor/x86/kquant_scales.h"
#include "tensor/x86/avx512_target.h"

AG_512_DIAGNOSTICS_BEGIN

namespace ag::kquant::avx512 {

namespace {

// Lane k (of 32 int16 lanes) of the scale vector for the 64 weights [64 * part, 64 * part + 64) of a
// 128-weight half: maddubs lane k holds weights 2k, 2k + 1, which lie in sub-block 4 * part + k / 8
// of the half.
AG_512 inline __m512i sub_block_scale_index(int first_sub_block) {
  alignas(64) int16_t idx[32];
  for (int k = 0; k < 32; ++k) idx[k] = static_cast<int16_t>(first_sub_block + k / 8);
  return _mm512_load_si512(idx);
}

// Q4_K: lane k (of 32 int16 lanes) takes scale `first` for k < 16 and `second` above: one
// register holds the quants of two 32-weight sub-blocks, 16 maddubs lanes each.
AG_512 inline __m512i two_sub_block_index(int first, int second) {
  return _mm512_inserti64x4(_mm512_set1_epi16(static_cast<int16_t>(first)),
                            _mm256_set1_epi16(static_cast<int16_t>(second)), 1);
}

AG_512 inline __m512i load_two_halves(const int8_t* lo, const int8_t* hi) {
  return _mm512_inserti64x4(
      _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(lo))),
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(hi)), 1);
}

}  // namespace

AG_512 float vec_dot_q4_k_q8_k(int64_t n, const void* row, const void* act) {
  const auto* x = static_cast<const BlockQ4K*>(row);
  const auto* y = static_cast<const BlockQ8K*>(act);
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  // 64 bytes of qs hold four sub-blocks of the half h: low nibbles of bytes 0..31 / 32..63 are
  // sub-blocks 4h / 4h + 2, high nibbles 4h + 1 / 4h + 3.
  const __m512i scale_index[4] = {two_sub_block_index(0, 2), two_sub_block_index(1, 3),
                                  two_sub_block_index(4, 6), two_sub_block_index(5, 7)};
  __m512 acc = _mm512_setzero_ps();
  __m128 acc_m = _mm_setzero_ps();
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const float d = y[i].d * _cvtsh_ss(x[i].d);
    const float dmin = -y[i].d * _cvtsh_ss(x[i].dmin);
    // int16 lanes 0..7: the sub-block scales, 8..15: the mins
    const __m256i sc_mins = _mm256_cvtepu8_epi16(unpack_scales_mins_k4(x[i].scales));
    const __m128i prod_m = mins_dot_bsums(sc_mins, y[i].bsums);
    acc_m = _mm_fmadd_ps(_mm_set1_ps(dmin), _mm_cvtepi32_ps(prod_m), acc_m);

    const __m512i scales = _mm512_castsi256_si512(sc_mins);
    __m512i sumi = _mm512_setzero_si512();
    for (int half = 0; half < 2; ++half) {
      const __m512i q4 = _mm512_loadu_si512(x[i].qs + 64 * half);
      const __m512i lo = _mm512_and_si512(q4, m4);
      const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(q4, 4), m4);
      const int8_t* a = y[i].qs + 128 * half;
      const __m512i p_lo = _mm512_maddubs_epi16(lo, load_two_halves(a, a + 64));
      const __m512i p_hi = _mm512_maddubs_epi16(hi, load_two_halves(a + 32, a + 96));
      sumi = _mm512_dpwssd_epi32(sumi, p_lo,
                                 _mm512_permutexvar_epi16(scale_index[2 * half], scales));
      sumi = _mm512_dpwssd_epi32(sumi, p_hi,
                                 _mm512_permutexvar_epi16(scale_index[2 * half + 1], scales));
    }
    acc = _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(sumi), acc);
  }
  const __m128 m = _mm_add_ps(acc_m, _mm_movehl_ps(acc_m, acc_m));
  return _mm512_reduce_add_ps(acc) + _mm_cvtss_f32(_mm_add_ss(m, _mm_movehdup_ps(m)));
}

AG_512 float vec_dot_q6_k_q8_k(int64_t n, const void* row, const void* act) {
  const auto* x = static_cast<const BlockQ6K*>(row);
  const auto* y = static_cast<const BlockQ8K*>(act);
  const __m512i m4 = _mm512_set1_epi8(0x0F);
  const __m512i m2_4 = _mm512_set1_epi8(0x30);
  // qh byte l carries bits 4-5 of four weights: l (bits 0-1), l + 32 (2-3), l + 64 (4-5),
  // l + 96 (6-7) of the half. With qh in both 256-bit halves of a register, one variable shift
  // per half moves the right pair to bits 4-5: left by 4 / 2 for the low nibbles (weights 0..63),
  // right by 0 / 2 for the high nibbles (64..127).
  const __m512i shift_lo = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
  const __m512i shift_hi = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(2), 1);
  const __m512i scale_index[4] = {sub_block_scale_index(0), sub_block_scale_index(4),
                                  sub_block_scale_index(8), sub_block_scale_index(12)};
  __m512 acc = _mm512_setzero_ps();
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const float d = y[i].d * _cvtsh_ss(x[i].d);
    const __m256i sc16 =
        _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x[i].scales)));
    // The quants are stored as q + 32 in [0, 63]: subtract 32 * sum_j s_j * bsums_j.
    const __m256i offset = _mm256_madd_epi16(
        sc16, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[i].bsums)));
    const __m512i scales = _mm512_castsi256_si512(sc16);
    __m512i sumi = _mm512_castsi256_si512(_mm256_sub_epi32(_mm256_setzero_si256(),
                                                           _mm256_slli_epi32(offset, 5)));
    sumi = _mm512_inserti64x4(sumi, _mm256_setzero_si256(), 1);
    for (int half = 0; half < 2; ++half) {
      const __m512i ql = _mm512_loadu_si512(x[i].ql + 64 * half);
      const __m512i qh = _mm512_broadcast_i64x4(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].qh + 32 * half)));
      // weights 0..63 and 64..127 of the half, as unsigned 0..63
      const __m512i lo = _mm512_ternarylogic_epi32(_mm512_and_si512(ql, m4),
                                                   _mm512_sllv_epi16(qh, shift_lo), m2_4, 0xF8);
      const __m512i hi = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4),
                                                   _mm512_srlv_epi16(qh, shift_hi), m2_4, 0xF8);
      const int8_t* a = y[i].qs + 128 * half;
      const __m512i p_lo = _mm512_maddubs_epi16(lo, _mm512_loadu_si512(a));
      const __m512i p_hi = _mm512_maddubs_epi16(hi, _mm512_loadu_si512(a + 64));
      sumi = _mm512_dpwssd_epi32(sumi, p_lo,
                                 _mm512_permutexvar_epi16(scale_index[2 * half], scales));
      sumi = _mm512_dpwssd_epi32(sumi, p_hi,
                                 _mm512_permutexvar_epi16(scale_index[2 * half + 1], scales));
    }
    acc = _mm512_fmadd_ps(_mm512_set1_ps(d), _mm512_cvtepi32_ps(sumi), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

}  // namespace ag::kquant::avx512

AG_512_DIAGNOSTICS_END

#endif  // AUTOGLM_HAVE_KQUANT_AVX512
