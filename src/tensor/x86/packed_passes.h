#pragma once
// What the SIMD kernels of the packed layout (packed_avx512.cpp, packed_avx2.cpp) share: the block
// layout per type, the weight prefetch distance, and how they walk a matmul (row group by row
// group in [row_begin, row_end), and within a group the activation rows in passes of at most
// kMaxCols, so each packed block is unpacked once per pass).
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "tensor/packed.h"
#include "tensor/quant_blocks.h"

namespace ag::packed_passes {

enum Kind { kQ4_0, kQ5_0, kQ8_0 };

// Weights are read once per token, but the hardware prefetcher alone brings them in as ordinary
// lines that push the activations (re-read for every 16-row group) out of L1: decode ran slower
// the longer the rows (Q4_0, AVX-512, two threads, same bytes: 512 columns 50 GB/s, 2048 44, 5632
// 35). A non-temporal prefetch this far ahead keeps the weights from displacing them: +10-30% in
// the same measurement for every shape (5632 columns: 35 -> 48 GB/s); 4-12 KiB measured alike.
// (Ordinary prefetcht0 at the same distance was 5-12% slower than none.) Q8_0 differs by CPU:
// with twice the weight bytes per activation byte the AVX-512 kernel measured 0-10% slower with
// the prefetch on a Zen 5, while the ymm kernel on an AVX2-only Zen 3 decoded the 0.5B Q8_0 ~4%
// faster with it (ten alternating runs of `bench -n 64 -r 5 --membw`: 48.5-55.0 tok/s, median 80%
// of the bound, against 45.9-52.0 and 75%), so the ymm kernels prefetch every type.
// (For Q4_0 on that Zen 3, 12 KiB ahead and no prefetch were within the noise of 6 KiB: three
// alternating tg64 rounds each.)
inline constexpr size_t kPrefetchBytes = 6 * 1024;

// Bytes of a packed block of type K (tensor/packed.h), the offset that makes its stored values
// unsigned, and the prefetch distance in blocks.
template <Kind K>
struct Layout {
  static constexpr size_t kBlockBytes = K == kQ4_0   ? 2 * kPackRows + kPackRows * 16
                                        : K == kQ5_0 ? 2 * kPackRows + kPackRows * 20
                                                     : 2 * kPackRows + kPackRows * 32;
  static constexpr int kOffset = K == kQ4_0 ? 8 : K == kQ5_0 ? 16 : 128;
  static constexpr size_t kPrefetchBlocks = kPrefetchBytes / kBlockBytes;
};

// One pass: group gw (nb blocks) against activation rows act[0..nc) (blocks of type Act: Q8_0, or
// Q8_K for Q4_K) with block infos info[c] (Q8_0 only), writing y[c][lo..hi) (the group's rows
// lo..hi-1 that are in the range; y[c] points at its row 0).
template <class Act>
struct PassOf {
  const uint8_t* gw;
  int64_t nb;
  int nc;
  const Act* const* act;
  const ActBlockInfo* const* info;
  float* const* y;
  int lo, hi;
};
using Pass = PassOf<BlockQ8_0>;

// block_cols: columns per packed block (32; Q4_K: 256); block_bytes: bytes per block of a group.
template <int kMaxCols, class Act = BlockQ8_0, class RunPass>
inline void for_each_pass(const PackedMatmulArgs& p, size_t block_bytes, RunPass&& run_pass, int64_t block_cols = 32) {
  const int64_t nb = p.n_in / block_cols;
  const size_t group_bytes = static_cast<size_t>(nb) * block_bytes;
  for (int64_t g = p.row_begin / kPackRows; g * kPackRows < p.row_end; ++g) {
    const int64_t row0 = g * kPackRows;
    const auto lo = static_cast<int>(std::max(p.row_begin, row0) - row0);
    const auto hi = static_cast<int>(std::min(p.row_end, row0 + kPackRows) - row0);
    const uint8_t* gw = p.packed + static_cast<size_t>(g) * group_bytes;
    for (int c0 = 0; c0 < p.n_a; c0 += kMaxCols) {
      const int nc = std::min(kMaxCols, p.n_a - c0);
      const Act* act[kMaxCols];
      const ActBlockInfo* info[kMaxCols] = {};
      float* y[kMaxCols];
      for (int c = 0; c < nc; ++c) {
        const auto col = static_cast<size_t>(c0 + c);
        act[c] = reinterpret_cast<const Act*>(p.a + col * p.a_stride);
        if (p.info != nullptr) info[c] = p.info + col * p.info_stride;
        y[c] = p.y + col * p.y_stride + static_cast<size_t>(row0);
      }
      run_pass(PassOf<Act>{gw, nb, nc, act, info, y, lo, hi});
    }
  }
}

}  // namespace ag::packed_passes
