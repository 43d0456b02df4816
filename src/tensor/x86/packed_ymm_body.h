// The loops of the packed ymm kernels (see packed_avx2.cpp), included twice by packed_avx2.cpp:
// once for AVX2 (maddubs + madd) and once for AVX-VNNI (vpdpbusd), with AG_PY_NS, AG_PY_TARGET and
// AG_PY_VNNI defined — so the AVX2 functions are compiled without AVX-VNNI enabled and cannot pick
// up its instructions. Not a standalone header: it relies on the definitions of packed_avx2.cpp.
// NOLINTBEGIN(llvm-header-guard)

namespace AG_PY_NS {

inline constexpr bool kVnni = AG_PY_VNNI != 0;

// Activation rows per pass over a row group: each unpacked half block serves this many. With one
// pass per half (see half_pass), 4 accumulators, 8 unpacked values and the broadcasts fit the 16 ymm
// registers (AVX2 Q8_0, which needs |w| too, goes chunk by chunk: q8_0_isums).
inline constexpr int kMaxCols = 4;

// The 4 int8 activation values at p in every int32 lane (one vpbroadcastd from memory).
AG_PY_TARGET inline __m256i broadcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return _mm256_set1_epi32(v);
}

// One half (8 rows) of one packed block: v[i] holds columns 4i..4i+3 of the 8 rows (Q4_0, Q5_0:
// the unsigned values; Q8_0: the signed weights for AVX2, the unsigned stored values for VNNI).
template <Kind K>
struct Half {
  __m256i v[8];
};

// Bit 4 of v[i]'s values (Q5_0), from the qh byte lanes of tensor/packed.h: bit i moved to bit 4
// by a 16-bit shift (bits that cross between the two bytes of a lane land below bit 4 on a left
// shift and above it on a right shift by at most 3, and are masked off).
AG_PY_TARGET inline __m256i q5_bit4(__m256i qh, int i) {
  const __m256i moved = i <= 4 ? _mm256_slli_epi16(qh, 4 - i) : _mm256_srli_epi16(qh, i - 4);
  return _mm256_and_si256(moved, _mm256_set1_epi8(0x10));
}

template <Kind K>
AG_PY_TARGET inline void unpack(const uint8_t* qs, int h, Half<K>& out) {
  if constexpr (K == kQ4_0 || K == kQ5_0) {
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    for (int j = 0; j < 4; ++j) {
      const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 64 * j + 32 * h));
      out.v[2 * j] = _mm256_and_si256(raw, low4);
      out.v[2 * j + 1] = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4);
    }
    if constexpr (K == kQ5_0) {
      const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 4 * 64 + 32 * h));
      for (int i = 0; i < 8; ++i) out.v[i] = _mm256_or_si256(out.v[i], q5_bit4(qh, i));
    }
  } else {
    for (int j = 0; j < 8; ++j) {
      const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 64 * j + 32 * h));
      out.v[j] = kVnni ? raw : _mm256_xor_si256(raw, _mm256_set1_epi8(static_cast<char>(0x80)));
    }
  }
}

// The exact int32 dot products of the half's 8 rows with activation block q (block sum `sum`).
template <Kind K>
AG_PY_TARGET inline __m256i block_isum(const Half<K>& w, const int8_t* q, int32_t sum) {
#if AG_PY_VNNI
  // Two independent chains of four vpdpbusd; their int32 sum is exact.
  __m256i s0 = _mm256_set1_epi32(-Layout<K>::kOffset * sum);
  __m256i s1 = _mm256_setzero_si256();
  for (int i = 0; i < 8; i += 2) {
    s0 = _mm256_dpbusd_avx_epi32(s0, w.v[i], broadcast4(q + 4 * i));
    s1 = _mm256_dpbusd_avx_epi32(s1, w.v[i + 1], broadcast4(q + 4 * i + 4));
  }
  return _mm256_add_epi32(s0, s1);
#else
  if constexpr (K == kQ4_0) {
    __m256i p[8];
    for (int i = 0; i < 8; ++i) p[i] = _mm256_maddubs_epi16(w.v[i], broadcast4(q + 4 * i));
    // A tree of int16 adds (exact: see the bounds in packed_avx2.cpp), then pairs to int32.
    const __m256i s = _mm256_add_epi16(_mm256_add_epi16(_mm256_add_epi16(p[0], p[1]), _mm256_add_epi16(p[2], p[3])),
                                       _mm256_add_epi16(_mm256_add_epi16(p[4], p[5]), _mm256_add_epi16(p[6], p[7])));
    return _mm256_add_epi32(_mm256_madd_epi16(s, _mm256_set1_epi16(1)),
                            _mm256_set1_epi32(-Layout<K>::kOffset * sum));
  } else if constexpr (K == kQ5_0) {
    __m256i p[8];
    for (int i = 0; i < 8; ++i) p[i] = _mm256_maddubs_epi16(w.v[i], broadcast4(q + 4 * i));
    // Two int16 sums of 4 pairs each (exact), each to int32.
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i s0 = _mm256_add_epi16(_mm256_add_epi16(p[0], p[1]), _mm256_add_epi16(p[2], p[3]));
    const __m256i s1 = _mm256_add_epi16(_mm256_add_epi16(p[4], p[5]), _mm256_add_epi16(p[6], p[7]));
    return _mm256_add_epi32(_mm256_add_epi32(_mm256_madd_epi16(s0, ones), _mm256_madd_epi16(s1, ones)),
                            _mm256_set1_epi32(-Layout<K>::kOffset * sum));
  } else {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i s[8];
    for (int i = 0; i < 8; ++i) {
      const __m256i a = _mm256_sign_epi8(broadcast4(q + 4 * i), w.v[i]);
      s[i] = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_abs_epi8(w.v[i]), a), ones);
    }
    return _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(s[0], s[1]), _mm256_add_epi32(s[2], s[3])),
                            _mm256_add_epi32(_mm256_add_epi32(s[4], s[5]), _mm256_add_epi32(s[6], s[7])));
  }
#endif
}

#if !AG_PY_VNNI
// A running sum of the chunk-by-chunk loops below, materialized after each chunk: without it GCC
// regroups the integer adds into one tree over all chunks, which hoists every multiply ahead of
// the adds and spills them (tensor_bench packed/q8_0/avx2/128 read 126 stack accesses in the loop;
// the chunk order is what keeps the registers free). An empty asm statement, no instruction.
AG_PY_TARGET inline void keep_in_register(__m256i& v) { asm("" : "+x"(v)); }

// AVX2 Q8_0's block_isum for C activation rows at once, chunk by chunk: each 4-column chunk's
// signed weights and their absolute values serve the C rows before the next chunk is loaded, so
// only the C sums, one chunk and one broadcast are live. Unpacking the half first (Half) kept 8
// values live across the rows and spilled with C = 4 (tensor_bench packed/q8_0/avx2/128 on a Zen 5:
// 51-54 -> 61-62 G multiply-adds/s; with keep_in_register, on a Zen 3: 53 -> 56).
// The same exact int32 lanes as block_isum.
template <int C>
AG_PY_TARGET inline void q8_0_isums(const uint8_t* qs, int h, const BlockQ8_0* const* act, int64_t b,
                                    __m256i (&out)[C]) {
  const __m256i ones = _mm256_set1_epi16(1);
  for (int c = 0; c < C; ++c) out[c] = _mm256_setzero_si256();
  for (int i = 0; i < 8; ++i) {
    const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 64 * i + 32 * h));
    const __m256i w = _mm256_xor_si256(raw, _mm256_set1_epi8(static_cast<char>(0x80)));
    const __m256i abs_w = _mm256_abs_epi8(w);
    for (int c = 0; c < C; ++c) {
      const __m256i a = _mm256_sign_epi8(broadcast4(act[c][b].qs + 4 * i), w);
      out[c] = _mm256_add_epi32(out[c], _mm256_madd_epi16(_mm256_maddubs_epi16(abs_w, a), ones));
      keep_in_register(out[c]);
    }
  }
}

// AVX2 Q4_0's and Q5_0's block_isum for C activation rows at once, chunk by chunk like q8_0_isums:
// each raw 32-byte vector is split into its two nibble halves (Q5_0: with their 5th bits), which
// serve the C rows before the next is loaded, so only the C sums, two unpacked values and a
// broadcast are live and the float accumulators stay in registers (the unpack-first order of
// block_isum spilled them with C = 4: tensor_bench packed/q4_0/avx2/128 70 -> 81 G multiply-adds/s
// on a Zen 3). The offset is taken back from the block sum broadcast from memory (a shift and a
// subtract instead of a scalar multiply and a register broadcast). The same exact int32 lanes as
// block_isum: Q4_0 sums its 8 pairs in int16 (every partial sum within their absolute total,
// 30720), Q5_0 two int16 sums of 4 pairs (31744).
template <Kind K, int C>
AG_PY_TARGET inline void q4_isums(const uint8_t* qs, int h, const BlockQ8_0* const* act, const ActBlockInfo* const* info,
                                  int64_t b, __m256i (&out)[C]) {
  static_assert(K == kQ4_0 || K == kQ5_0);
  const __m256i low4 = _mm256_set1_epi8(0x0F);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i qh = _mm256_setzero_si256();
  if constexpr (K == kQ5_0) qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 4 * 64 + 32 * h));
  __m256i s[C];
  for (int j = 0; j < 4; ++j) {
    const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs + 64 * j + 32 * h));
    __m256i first4 = _mm256_and_si256(raw, low4);                       // v[2j] of unpack
    __m256i last4 = _mm256_and_si256(_mm256_srli_epi16(raw, 4), low4);  // v[2j + 1]
    if constexpr (K == kQ5_0) {
      first4 = _mm256_or_si256(first4, q5_bit4(qh, 2 * j));
      last4 = _mm256_or_si256(last4, q5_bit4(qh, 2 * j + 1));
    }
    for (int c = 0; c < C; ++c) {
      const int8_t* q = act[c][b].qs + 8 * j;
      const __m256i pair = _mm256_add_epi16(_mm256_maddubs_epi16(first4, broadcast4(q)),
                                            _mm256_maddubs_epi16(last4, broadcast4(q + 4)));
      const bool first = K == kQ5_0 ? j % 2 == 0 : j == 0;
      s[c] = first ? pair : _mm256_add_epi16(s[c], pair);
      keep_in_register(s[c]);
      if constexpr (K == kQ5_0) {
        if (j == 1) out[c] = _mm256_madd_epi16(s[c], ones);
      }
    }
  }
  constexpr int kShift = K == kQ4_0 ? 3 : 4;  // log2 of the offset
  static_assert(1 << kShift == Layout<K>::kOffset);
  for (int c = 0; c < C; ++c) {
    __m256i total = _mm256_madd_epi16(s[c], ones);
    if constexpr (K == kQ5_0) total = _mm256_add_epi32(out[c], total);
    out[c] = _mm256_sub_epi32(total, _mm256_slli_epi32(_mm256_set1_epi32(info[c][b].sum), kShift));
  }
}
#endif

// Rows 8h .. 8h+7 of the group at gw against activation rows act[0..C): acc[c] lane r is output
// (row 8h + r, activation c), stored where lo <= 8h + r < hi. Exactly the float operations of
// packed_matmul_ref, in its order. Decode (C = 1) runs both halves in one pass over the blocks
// (each cache line is read once from memory); with several activation rows each half has its own
// pass, so only C accumulators and one half's 8 unpacked values are live (16 ymm registers), and
// the second pass finds the group's lines in L1 or L2.
template <Kind K, int C, int kHalves>
AG_PY_TARGET inline void half_pass(const packed_passes::Pass& pass, int h0) {
  using L = Layout<K>;
  const uint8_t* gw = pass.gw;
  const int64_t nb = pass.nb;
  const BlockQ8_0* const* act = pass.act;
  const ActBlockInfo* const* info = pass.info;
  __m256 acc[kHalves][C];
  for (auto& half : acc)
    for (auto& a : half) a = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = gw + static_cast<size_t>(b) * L::kBlockBytes;
    if (h0 == 0) {  // every type on AVX2 (packed_passes.h)
      for (size_t line = 0; line < L::kBlockBytes; line += 64)
        _mm_prefetch(reinterpret_cast<const char*>(blk + L::kPrefetchBlocks * L::kBlockBytes + line), _MM_HINT_NTA);
    }
    for (int i = 0; i < kHalves; ++i) {
      const int h = h0 + i;
      const __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + 16 * h)));
      if constexpr (!kVnni && C > 1) {
#if !AG_PY_VNNI
        __m256i isum[C];
        if constexpr (K == kQ8_0)
          q8_0_isums<C>(blk + 2 * kPackRows, h, act, b, isum);
        else
          q4_isums<K, C>(blk + 2 * kPackRows, h, act, info, b, isum);
        for (int c = 0; c < C; ++c)
          acc[i][c] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(info[c][b].d)), _mm256_cvtepi32_ps(isum[c]),
                                      acc[i][c]);
#endif
      } else {
        Half<K> w;
        unpack<K>(blk + 2 * kPackRows, h, w);
        for (int c = 0; c < C; ++c) {
          const __m256 x = _mm256_cvtepi32_ps(block_isum<K>(w, act[c][b].qs, info[c][b].sum));
          acc[i][c] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_set1_ps(info[c][b].d)), x, acc[i][c]);
        }
      }
    }
  }
  for (int i = 0; i < kHalves; ++i) {
    // Lanes of rows in [lo, hi): all bits set where lo <= 8h + lane < hi.
    const __m256i row = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(8 * (h0 + i)));
    const __m256i mask = _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(pass.lo), row),
                                             _mm256_cmpgt_epi32(_mm256_set1_epi32(pass.hi), row));
    for (int c = 0; c < C; ++c) _mm256_maskstore_ps(pass.y[c] + 8 * (h0 + i), mask, acc[i][c]);
  }
}

template <Kind K, int C>
AG_PY_TARGET void group_pass(const packed_passes::Pass& pass) {
  if constexpr (C == 1) {
    half_pass<K, 1, 2>(pass, 0);
  } else {
    half_pass<K, C, 1>(pass, 0);
    half_pass<K, C, 1>(pass, 1);
  }
}

using GroupFn = void (*)(const packed_passes::Pass&);

template <Kind K>
AG_PY_TARGET void matmul_typed(const PackedMatmulArgs& p) {
  static constexpr GroupFn kByCols[4] = {group_pass<K, 1>, group_pass<K, 2>, group_pass<K, 3>, group_pass<K, 4>};
  packed_passes::for_each_pass<kMaxCols>(p, Layout<K>::kBlockBytes,
                                         [](const packed_passes::Pass& pass) { kByCols[pass.nc - 1](pass); });
}

}  // namespace AG_PY_NS

// NOLINTEND(llvm-header-guard)
