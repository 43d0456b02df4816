#include "tensor/x86/packed_avx512.h"

#if defined(AUTOGLM_HAVE_PACKED_AVX512)

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "tensor/quant_blocks.h"
#include "tensor/x86/packed_passes.h"
#include "tensor/x86/avx512_target.h"

AG_512_DIAGNOSTICS_BEGIN

namespace ag::packed_avx512 {

namespace {

using packed_passes::Kind;
using packed_passes::Layout;
using packed_passes::kQ4_0;
using packed_passes::kQ5_0;
using packed_passes::kQ8_0;

// Activation rows per pass over a row group's blocks: each packed block is unpacked once for up
// to this many rows (16 accumulators' worth of registers stay free for the unpacked values).
constexpr int kMaxCols = 8;

// The 4 int8 activation values at p in every int32 lane (vpdpbusd's embedded broadcast).
AG_512 inline __m512i broadcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return _mm512_set1_epi32(v);
}

// low | (shifted & bit4) in one vpternlogd (A | (B & C) is 0xF0 | (0xCC & 0xAA) = 0xF8).
AG_512 inline __m512i with_bit4(__m512i low, __m512i shifted, __m512i bit4) {
  return _mm512_ternarylogic_epi32(low, shifted, bit4, 0xF8);
}

// Rows g*16 .. g*16+15 (the group at gw) against activation rows act[0..C): acc[c] lane r is
// output (row r, activation c). Exactly the float operations of packed_matmul_ref, in its order.
template <Kind K, int C>
AG_512 void group_pass(const packed_passes::Pass& pass) {
  using L = Layout<K>;
  const uint8_t* gw = pass.gw;
  const int64_t nb = pass.nb;
  const BlockQ8_0* const* act = pass.act;
  const ActBlockInfo* const* info = pass.info;
  __m512 acc[C];
  for (int c = 0; c < C; ++c) acc[c] = _mm512_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = gw + static_cast<size_t>(b) * L::kBlockBytes;
    // The block kPrefetchBytes ahead, fetched as non-temporal (see packed_passes.h).
    if constexpr (K != kQ8_0) {
      for (size_t line = 0; line < L::kBlockBytes; line += 64)
        _mm_prefetch(
            reinterpret_cast<const char*>(blk + L::kPrefetchBlocks * L::kBlockBytes + line),
            _MM_HINT_NTA);
    }
    const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk)));
    // v[i]: the unsigned values of columns 4i .. 4i+3 of the 16 rows (4 bytes per row lane).
    __m512i v[8];
    const uint8_t* qs = blk + 2 * kPackRows;
    if constexpr (K == kQ4_0) {
      // The high nibbles stay in place (16x their value, at most 240: still a u8 operand of
      // vpdpbusd): their chain s1 is divided by 16 once per block instead of shifting 4
      // registers, 3 of the loop's ~26 vector operations fewer. Two decode threads on the
      // 2-vCPU VM compute little more than one (FMA probe 75 vs 80 GFLOP/s), so this loop's
      // instructions matter; measured +0.6% (within noise) in decode_bench's in-process A/B
      // with the order of the two variants alternated (a fixed order favoured the second by 1-3%).
      const __m512i low4 = _mm512_set1_epi8(0x0F), high4 = _mm512_set1_epi8(static_cast<char>(0xF0));
      for (int j = 0; j < 4; ++j) {
        const __m512i raw = _mm512_loadu_si512(qs + 64 * j);
        v[2 * j] = _mm512_and_si512(raw, low4);
        v[2 * j + 1] = _mm512_and_si512(raw, high4);
      }
    } else if constexpr (K == kQ5_0) {
      const __m512i low4 = _mm512_set1_epi8(0x0F);
      for (int j = 0; j < 4; ++j) {
        const __m512i raw = _mm512_loadu_si512(qs + 64 * j);
        v[2 * j] = _mm512_and_si512(raw, low4);
        v[2 * j + 1] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), low4);
      }
      // bit 4 of each value: bit i of the qh byte lanes, moved to bit 4 (16-bit shifts: bits that
      // cross between the two bytes of a lane land below bit 4 on a left shift and above it on a
      // right shift by at most 3, and are masked off)
      const __m512i qh = _mm512_loadu_si512(qs + 4 * 64), bit4 = _mm512_set1_epi8(0x10);
      v[0] = with_bit4(v[0], _mm512_slli_epi16(qh, 4), bit4);
      v[1] = with_bit4(v[1], _mm512_slli_epi16(qh, 3), bit4);
      v[2] = with_bit4(v[2], _mm512_slli_epi16(qh, 2), bit4);
      v[3] = with_bit4(v[3], _mm512_slli_epi16(qh, 1), bit4);
      v[4] = with_bit4(v[4], qh, bit4);
      v[5] = with_bit4(v[5], _mm512_srli_epi16(qh, 1), bit4);
      v[6] = with_bit4(v[6], _mm512_srli_epi16(qh, 2), bit4);
      v[7] = with_bit4(v[7], _mm512_srli_epi16(qh, 3), bit4);
    } else {
      for (int j = 0; j < 8; ++j) v[j] = _mm512_loadu_si512(qs + 64 * j);
    }
    for (int c = 0; c < C; ++c) {
      const int8_t* q = act[c][b].qs;
      // Two independent chains of four vpdpbusd; their int32 sum is exact.
      __m512i s0 = _mm512_set1_epi32(-L::kOffset * info[c][b].sum);
      __m512i s1 = _mm512_setzero_si512();
      s0 = _mm512_dpbusd_epi32(s0, v[0], broadcast4(q + 0));
      s1 = _mm512_dpbusd_epi32(s1, v[1], broadcast4(q + 4));
      s0 = _mm512_dpbusd_epi32(s0, v[2], broadcast4(q + 8));
      s1 = _mm512_dpbusd_epi32(s1, v[3], broadcast4(q + 12));
      s0 = _mm512_dpbusd_epi32(s0, v[4], broadcast4(q + 16));
      s1 = _mm512_dpbusd_epi32(s1, v[5], broadcast4(q + 20));
      s0 = _mm512_dpbusd_epi32(s0, v[6], broadcast4(q + 24));
      s1 = _mm512_dpbusd_epi32(s1, v[7], broadcast4(q + 28));
      // (for Q4_0, s1 is an exact multiple of 16: the shift divides exactly)
      if constexpr (K == kQ4_0) s1 = _mm512_srai_epi32(s1, 4);
      const __m512 x = _mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1));
      acc[c] = _mm512_fmadd_ps(_mm512_mul_ps(dw, _mm512_set1_ps(info[c][b].d)), x, acc[c]);
    }
  }
  const auto store_mask = static_cast<__mmask16>(((1u << pass.hi) - 1u) & ~((1u << pass.lo) - 1u));
  for (int c = 0; c < C; ++c) _mm512_mask_storeu_ps(pass.y[c], store_mask, acc[c]);
}

using GroupFn = void (*)(const packed_passes::Pass&);

template <Kind K>
AG_512 void matmul_typed(const PackedMatmulArgs& p) {
  static constexpr GroupFn kByCols[kMaxCols] = {
      group_pass<K, 1>, group_pass<K, 2>, group_pass<K, 3>, group_pass<K, 4>,
      group_pass<K, 5>, group_pass<K, 6>, group_pass<K, 7>, group_pass<K, 8>,
  };
  packed_passes::for_each_pass<kMaxCols>(p, Layout<K>::kBlockBytes,
                                         [](const packed_passes::Pass& pass) { kByCols[pass.nc - 1](pass); });
}

}  // namespace

void matmul(const PackedMatmulArgs& args) {
  switch (args.type) {
    case DType::Q4_0: return matmul_typed<kQ4_0>(args);
    case DType::Q5_0: return matmul_typed<kQ5_0>(args);
    default: return matmul_typed<kQ8_0>(args);
  }
}

}  // namespace ag::packed_avx512

AG_512_DIAGNOSTICS_END

#endif  // AUTOGLM_HAVE_PACKED_AVX512
