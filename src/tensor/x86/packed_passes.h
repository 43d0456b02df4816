#pragma once
// How the SIMD kernels of the packed layout (packed_avx512.cpp, packed_avx2.cpp) walk a matmul:
// row group by row group in [row_begin, row_end), and within a group the activation rows in
// passes of at most kMaxCols, so each packed block is unpacked once per pass.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "tensor/packed.h"
#include "tensor/quant_blocks.h"

namespace ag::packed_passes {

// One pass: group gw (nb blocks) against activation rows act[0..nc) with block infos info[c],
// writing y[c][lo..hi) (the group's rows lo..hi-1 that are in the range; y[c] points at its row 0).
struct Pass {
  const uint8_t* gw;
  int64_t nb;
  int nc;
  const BlockQ8_0* const* act;
  const ActBlockInfo* const* info;
  float* const* y;
  int lo, hi;
};

template <int kMaxCols, class RunPass>
inline void for_each_pass(const PackedMatmulArgs& p, size_t block_bytes, RunPass&& run_pass) {
  const int64_t nb = p.n_in / 32;
  const size_t group_bytes = static_cast<size_t>(nb) * block_bytes;
  for (int64_t g = p.row_begin / kPackRows; g * kPackRows < p.row_end; ++g) {
    const int64_t row0 = g * kPackRows;
    const auto lo = static_cast<int>(std::max(p.row_begin, row0) - row0);
    const auto hi = static_cast<int>(std::min(p.row_end, row0 + kPackRows) - row0);
    const uint8_t* gw = p.packed + static_cast<size_t>(g) * group_bytes;
    for (int c0 = 0; c0 < p.n_a; c0 += kMaxCols) {
      const int nc = std::min(kMaxCols, p.n_a - c0);
      const BlockQ8_0* act[kMaxCols];
      const ActBlockInfo* info[kMaxCols];
      float* y[kMaxCols];
      for (int c = 0; c < nc; ++c) {
        const auto col = static_cast<size_t>(c0 + c);
        act[c] = reinterpret_cast<const BlockQ8_0*>(p.a + col * p.a_stride);
        info[c] = p.info + col * p.info_stride;
        y[c] = p.y + col * p.y_stride + static_cast<size_t>(row0);
      }
      run_pass(Pass{gw, nb, nc, act, info, y, lo, hi});
    }
  }
}

}  // namespace ag::packed_passes
