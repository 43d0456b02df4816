// The loops of the dot tiles (see legacy_avx2.cpp), included twice by legacy_avx2.cpp: once for
// AVX2 (maddubs + madd) and once for AVX-VNNI (vpdpbusd), with AG_TILE_NS, AG_TILE_TARGET and
// AG_TILE_VNNI defined. Both give the same int32 lanes (exact sums of the same four products per
// lane; the ranges never saturate maddubs), hence bit-identical outputs.
// Not a standalone header: it relies on the block types and helpers of legacy_avx2.cpp.
// NOLINTBEGIN(llvm-header-guard)

namespace AG_TILE_NS {

// How far ahead the weight prefetches run (bytes; rounded up to whole tiles, two at least). Decode
// speed on this VM's noise could not tell 2, 4 and 8 KiB apart; without prefetches it halves.
inline constexpr uintptr_t kPrefetchBytes = 4096;

// One block of the tile: adds block b's products into acc[r][c].
template <class K, int R, int C>
AG_TILE_TARGET inline void dot_tile_block(const typename K::W* const* wr, const BlockQ8_0* const* ac,
                                   int64_t b, __m256 (&acc)[R][C]) {
  const __m256i ones = _mm256_set1_epi16(1);
  (void)ones;
  __m256i av[C];
  __m256i corr[C];  // AVX2: offset * sum4(a); VNNI: its negation, the dpbusd starting value
  __m256 da[C];  // broadcast: the scale product below is one vector multiply per output
  for (int c = 0; c < C; ++c) {
    av[c] = load_i8x32(ac[c][b].qs);
    da[c] = _mm256_set1_ps(half_to_float(ac[c][b].d));
    if constexpr (K::kOffset != 0) {
      const __m256i offset = _mm256_set1_epi8(static_cast<char>(K::kOffset));
#if AG_TILE_VNNI
      corr[c] = _mm256_sub_epi32(_mm256_setzero_si256(),
                                 _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), offset, av[c]));
#else
      corr[c] = _mm256_madd_epi16(_mm256_maddubs_epi16(offset, av[c]), ones);
#endif
    }
  }
  for (int r = 0; r < R; ++r) {
    const auto& wb = wr[r][b];
    const __m256 dw = _mm256_set1_ps(half_to_float(wb.d));
    const __m256i v = K::values(wb);
    if constexpr (K::kOffset != 0) {
      for (int c = 0; c < C; ++c) {
#if AG_TILE_VNNI
        const __m256i isum = _mm256_dpbusd_avx_epi32(corr[c], v, av[c]);
#else
        const __m256i isum =
            _mm256_sub_epi32(_mm256_madd_epi16(_mm256_maddubs_epi16(v, av[c]), ones), corr[c]);
#endif
        acc[r][c] = _mm256_fmadd_ps(_mm256_mul_ps(dw, da[c]), _mm256_cvtepi32_ps(isum), acc[r][c]);
      }
    } else {
      const __m256i abs_w = _mm256_sign_epi8(v, v);
      for (int c = 0; c < C; ++c) {
#if AG_TILE_VNNI
        const __m256i isum =
            _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), abs_w, _mm256_sign_epi8(av[c], v));
#else
        const __m256i isum =
            _mm256_madd_epi16(_mm256_maddubs_epi16(abs_w, _mm256_sign_epi8(av[c], v)), ones);
#endif
        acc[r][c] = _mm256_fmadd_ps(_mm256_mul_ps(dw, da[c]), _mm256_cvtepi32_ps(isum), acc[r][c]);
      }
    }
  }
}

// Two accumulators per output (even and odd blocks) keep two FMA chains in flight even for a
// 1 x 1 tile, whose single chain would otherwise cap it at one block per FMA latency.
template <class K, int R, int C>
AG_TILE_TARGET inline void dot_tile(int64_t n, const uint8_t* w, size_t w_stride, const uint8_t* a,
                             size_t a_stride, float* y, size_t y_stride) {
  using W = typename K::W;
  const int64_t nb = n / 32;
  __m256 even[R][C], odd[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) even[r][c] = odd[r][c] = _mm256_setzero_ps();
  const W* wr[R];
  for (int r = 0; r < R; ++r) wr[r] = reinterpret_cast<const W*>(w + static_cast<size_t>(r) * w_stride);
  const BlockQ8_0* ac[C];
  for (int c = 0; c < C; ++c)
    ac[c] = reinterpret_cast<const BlockQ8_0*>(a + static_cast<size_t>(c) * a_stride);
  // The rows of the next tiles (r + R, r + 2R ...) follow these in memory. Decode reads each weight
  // once, and a row is short (1 KiB for 2048 Q4_0 inputs), too short for the hardware prefetcher
  // to ramp up on R interleaved streams: ask for the bytes a few tiles ahead (kPrefetchBytes, two
  // tiles at least) at the offsets being read now. Addresses are integers until the prefetch (they
  // may pass the matrix's end, and a prefetch never faults); w_stride is 0 for a lone vec_dot.
  const uintptr_t tile_bytes = static_cast<uintptr_t>(R) * w_stride;
  const uintptr_t ahead =
      w_stride == 0 ? 0 : tile_bytes * std::max<uintptr_t>(2, (kPrefetchBytes + tile_bytes - 1) / tile_bytes);
  uintptr_t next[R];
  for (int r = 0; r < R; ++r) next[r] = reinterpret_cast<uintptr_t>(wr[r]) + ahead;
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) {
    for (int r = 0; r < R; ++r)
      _mm_prefetch(reinterpret_cast<const char*>(next[r] + static_cast<uintptr_t>(b) * sizeof(W)), _MM_HINT_T0);
    dot_tile_block<K, R, C>(wr, ac, b, even);
    dot_tile_block<K, R, C>(wr, ac, b + 1, odd);
  }
  if (b < nb) dot_tile_block<K, R, C>(wr, ac, b, even);
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c)
      y[static_cast<size_t>(c) * y_stride + static_cast<size_t>(r)] =
          hsum(_mm256_add_ps(even[r][c], odd[r][c]));
}

// Runtime (n_w, n_a) -> the instantiation; larger requests are cut into tiles of at most
// max_rows x max_cols (both in 1..4).
template <class K>
AG_TILE_TARGET void dot_tiles(int64_t n, const void* w, size_t w_stride, int n_w, const void* a,
                              size_t a_stride, int n_a, float* y, size_t y_stride, int max_rows,
                              int max_cols) {
  static constexpr TileFn kTable[4][4] = {
      {dot_tile<K, 1, 1>, dot_tile<K, 1, 2>, dot_tile<K, 1, 3>, dot_tile<K, 1, 4>},
      {dot_tile<K, 2, 1>, dot_tile<K, 2, 2>, dot_tile<K, 2, 3>, dot_tile<K, 2, 4>},
      {dot_tile<K, 3, 1>, dot_tile<K, 3, 2>, dot_tile<K, 3, 3>, dot_tile<K, 3, 4>},
      {dot_tile<K, 4, 1>, dot_tile<K, 4, 2>, dot_tile<K, 4, 3>, dot_tile<K, 4, 4>},
  };
  run_tiles(kTable, n, w, w_stride, n_w, a, a_stride, n_a, y, y_stride, max_rows, max_cols);
}

}  // namespace AG_TILE_NS

// NOLINTEND(llvm-header-guard)
