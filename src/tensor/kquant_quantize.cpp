// Weight quantizers of the K-quants, after GGML's quantize_row_qN_K_ref (no importance matrix) and
// quantize_row_qN_K_impl (importance-weighted). The two-level structure is the same for all:
// (1) search a scale (and min) per sub-block of 16 or 32 weights, (2) quantize those sub-block
// scales themselves to 4, 6 or 8 bits against one F16 super-block scale, (3) re-quantize every
// weight against the scale it will really be decoded with, (4) pack the bits.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/check.h"
#include "core/half.h"
#include "tensor/kquant.h"
#include "tensor/kquant_search.h"

namespace ag::kquant {

namespace {

constexpr float kGroupMaxEps = 1e-15f;

// Q2_K / Q3_K bit order: byte l of each 32-byte half holds elements l, l+32, l+64, l+96 of that
// half.
void pack_2bit(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < QK_K; j += 128) {
    for (int l = 0; l < 32; ++l) {
      qs[j / 4 + l] = static_cast<uint8_t>(L[j + l] | L[j + l + 32] << 2 | L[j + l + 64] << 4 |
                                           L[j + l + 96] << 6);
    }
  }
}

// Inverse of get_scale_min_k4: 6-bit scale and min of sub-block j into the 12 packed bytes (which
// must start zeroed).
void set_scale_min_k4(int j, uint8_t ls, uint8_t lm, uint8_t* scales) {
  if (j < 4) {
    scales[j] = ls;
    scales[j + 4] = lm;
  } else {
    scales[j + 4] = static_cast<uint8_t>((ls & 0xF) | (lm & 0xF) << 4);
    scales[j - 4] = static_cast<uint8_t>(scales[j - 4] | (ls >> 4) << 6);
    scales[j] = static_cast<uint8_t>(scales[j] | (lm >> 4) << 6);
  }
}

// Inverse of unpack_q3_k_scales for 6-bit values l in [0, 63] (= scale + 32).
void pack_q3_k_scales(const int* l6, uint8_t* packed) {
  std::memset(packed, 0, 12);
  for (int j = 0; j < 16; ++j) {
    const int l = l6[j];
    if (j < 8) {
      packed[j] = static_cast<uint8_t>(l & 0xF);
    } else {
      packed[j - 8] = static_cast<uint8_t>(packed[j - 8] | (l & 0xF) << 4);
    }
    packed[j % 4 + 8] = static_cast<uint8_t>(packed[j % 4 + 8] | (l >> 4) << (2 * (j / 4)));
  }
}

// ---------------------------------------------------------------- Q2_K

// Steps (3)-(4) shared by both Q2_K quantizers: re-level against the stored scales, then pack.
void finish_q2_k(const float* x, uint8_t* L, BlockQ2K& y) {
  const float dm = f16_to_f32(y.d);
  const float mm = f16_to_f32(y.dmin);
  for (int j = 0; j < QK_K / 16; ++j) {
    const float d = dm * (y.scales[j] & 0xF);
    if (!d) continue;
    const float m = mm * (y.scales[j] >> 4);
    for (int ii = 0; ii < 16; ++ii) {
      L[16 * j + ii] =
          static_cast<uint8_t>(std::clamp(nearest_int((x[16 * j + ii] + m) / d), 0, 3));
    }
  }
  pack_2bit(L, y.qs);
}

void quantize_block_q2_k(const float* x, BlockQ2K& y) {
  uint8_t L[QK_K];
  uint8_t Laux[16];
  float weights[16];
  float mins[QK_K / 16];
  float scales[QK_K / 16];
  const float q4scale = 15.f;

  float max_scale = 0;  // the min is subtracted, so scales are never negative
  float max_min = 0;
  for (int j = 0; j < QK_K / 16; ++j) {
    for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
    scales[j] = make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f,
                                 0.1f, 15, true);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  if (max_scale > 0) {
    const float iscale = q4scale / max_scale;
    for (int j = 0; j < QK_K / 16; ++j)
      y.scales[j] = static_cast<uint8_t>(nearest_int(iscale * scales[j]));
    y.d = f32_to_f16(max_scale / q4scale);
  } else {
    std::memset(y.scales, 0, sizeof(y.scales));
    y.d = f32_to_f16(0.f);
  }
  if (max_min > 0) {
    const float iscale = q4scale / max_min;
    for (int j = 0; j < QK_K / 16; ++j) {
      y.scales[j] = static_cast<uint8_t>(y.scales[j] | nearest_int(iscale * mins[j]) << 4);
    }
    y.dmin = f32_to_f16(max_min / q4scale);
  } else {
    y.dmin = f32_to_f16(0.f);
  }
  finish_q2_k(x, L, y);
}

void quantize_block_q2_k_weighted(const float* x, BlockQ2K& y, const float* qw) {
  uint8_t L[QK_K];
  uint8_t Laux[16];
  float mins[QK_K / 16];
  float scales[QK_K / 16];
  float sw[QK_K / 16] = {};
  float weight[16];
  uint8_t Ls[QK_K / 16], Lm[QK_K / 16];

  float sumx2 = 0;
  for (int j = 0; j < QK_K; ++j) sumx2 += x[j] * x[j];
  const float sigma2 = sumx2 / QK_K;
  for (int j = 0; j < QK_K / 16; ++j) {
    for (int l = 0; l < 16; ++l) {
      weight[l] = qw[16 * j + l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
    }
    for (int l = 0; l < 16; ++l) sw[j] += weight[l];
    scales[j] = make_qkx3_quants(16, 3, x + 16 * j, weight, L + 16 * j, &mins[j], Laux, -0.9f,
                                 0.05f, 36, false);
  }
  const float dm = make_qp_quants(QK_K / 16, 15, scales, Ls, sw);
  const float mm = make_qp_quants(QK_K / 16, 15, mins, Lm, sw);
  y.d = f32_to_f16(dm);
  y.dmin = f32_to_f16(mm);
  for (int j = 0; j < QK_K / 16; ++j) y.scales[j] = static_cast<uint8_t>(Ls[j] | Lm[j] << 4);
  finish_q2_k(x, L, y);
}

// ---------------------------------------------------------------- Q3_K

void finish_q3_k(const float* x, int8_t* L, BlockQ3K& y) {
  int8_t sc[16];
  unpack_q3_k_scales(y.scales, sc);
  for (int j = 0; j < QK_K / 16; ++j) {
    const float d = f16_to_f32(y.d) * sc[j];
    if (!d) continue;
    for (int ii = 0; ii < 16; ++ii) {
      const int l = std::clamp(nearest_int(x[16 * j + ii] / d), -4, 3);
      L[16 * j + ii] = static_cast<int8_t>(l + 4);
    }
  }
  // The high bit of quant j goes to hmask[j % 32], bit j / 32; the low 2 bits are packed as Q2_K.
  std::memset(y.hmask, 0, sizeof(y.hmask));
  uint8_t low[QK_K];
  for (int j = 0; j < QK_K; ++j) {
    int l = L[j];
    if (l > 3) {
      y.hmask[j % 32] = static_cast<uint8_t>(y.hmask[j % 32] | 1 << (j / 32));
      l -= 4;
    }
    low[j] = static_cast<uint8_t>(l);
  }
  pack_2bit(low, y.qs);
}

void quantize_block_q3_k(const float* x, BlockQ3K& y) {
  int8_t L[QK_K];
  float scales[QK_K / 16];
  float max_scale = 0;
  float amax = 0;
  for (int j = 0; j < QK_K / 16; ++j) {
    scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j, true);
    const float scale = std::fabs(scales[j]);
    if (scale > amax) {
      amax = scale;
      max_scale = scales[j];
    }
  }
  if (max_scale) {
    const float iscale = -32.f / max_scale;
    int l6[16];
    for (int j = 0; j < QK_K / 16; ++j) {
      // GGML stores nearest_int in an int8_t before clamping; scales are within |max_scale| so
      // the value is already in [-32, 32] and the clamp only trims +32.
      l6[j] = std::clamp(nearest_int(iscale * scales[j]), -32, 31) + 32;
    }
    pack_q3_k_scales(l6, y.scales);
    y.d = f32_to_f16(1 / iscale);
  } else {
    std::memset(y.scales, 0, sizeof(y.scales));
    y.d = f32_to_f16(0.f);
  }
  finish_q3_k(x, L, y);
}

void quantize_block_q3_k_weighted(const float* x, BlockQ3K& y, const float* qw) {
  int8_t L[QK_K];
  float scales[QK_K / 16];
  float weight[16];
  float sw[QK_K / 16];
  int8_t Ls[QK_K / 16];

  float sumx2 = 0;
  for (int j = 0; j < QK_K; ++j) sumx2 += x[j] * x[j];
  const float sigma2 = 2 * sumx2 / QK_K;
  for (int j = 0; j < QK_K / 16; ++j) {
    for (int l = 0; l < 16; ++l) {
      weight[l] = qw[16 * j + l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
    }
    float sumw = 0;
    for (int l = 0; l < 16; ++l) sumw += weight[l];
    sw[j] = sumw;
    scales[j] = make_qx_quants(16, 4, x + 16 * j, L + 16 * j, weight);
  }
  const float d_block = make_qx_quants(QK_K / 16, 32, scales, Ls, sw);
  int l6[16];
  for (int j = 0; j < QK_K / 16; ++j) l6[j] = Ls[j];
  pack_q3_k_scales(l6, y.scales);
  y.d = f32_to_f16(d_block);
  finish_q3_k(x, L, y);
}

// ---------------------------------------------------------------- Q4_K / Q5_K

// Steps (3)-(4) for Q4_K (nmax 15) and Q5_K (nmax 31).
template <int kNmax>
void relevel_q45_k(const float* x, uint16_t d16, uint16_t dmin16, const uint8_t* packed,
                   uint8_t* L) {
  for (int j = 0; j < QK_K / 32; ++j) {
    uint8_t sc, m;
    get_scale_min_k4(j, packed, &sc, &m);
    const float d = f16_to_f32(d16) * sc;
    if (!d) continue;
    const float dm = f16_to_f32(dmin16) * m;
    for (int ii = 0; ii < 32; ++ii) {
      L[32 * j + ii] =
          static_cast<uint8_t>(std::clamp(nearest_int((x[32 * j + ii] + dm) / d), 0, kNmax));
    }
  }
}

void pack_q4_k(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < QK_K; j += 64) {
    for (int l = 0; l < 32; ++l) qs[l] = static_cast<uint8_t>(L[j + l] | L[j + l + 32] << 4);
    qs += 32;
  }
}

void pack_q5_k(const uint8_t* L, uint8_t* qs, uint8_t* qh) {
  std::memset(qh, 0, QK_K / 8);
  uint8_t m1 = 1, m2 = 2;
  for (int c = 0; c < QK_K; c += 64) {
    for (int j = 0; j < 32; ++j) {
      int l1 = L[c + j];
      if (l1 > 15) {
        l1 -= 16;
        qh[j] = static_cast<uint8_t>(qh[j] | m1);
      }
      int l2 = L[c + j + 32];
      if (l2 > 15) {
        l2 -= 16;
        qh[j] = static_cast<uint8_t>(qh[j] | m2);
      }
      qs[j] = static_cast<uint8_t>(l1 | l2 << 4);
    }
    m1 = static_cast<uint8_t>(m1 << 2);
    m2 = static_cast<uint8_t>(m2 << 2);
    qs += 32;
  }
}

// Steps (1)-(2) without importance: make_qkx2 per sub-block with weights av_x + |x|, then the
// scales and mins to 6 bits by round-to-nearest against their maxima. Writes d, dmin, scales.
template <int kNmax>
void search_q45_k(const float* x, uint8_t* L, uint16_t& d16, uint16_t& dmin16, uint8_t* packed,
                  float rmin, int nstep) {
  uint8_t Laux[32];
  float weights[32];
  float mins[QK_K / 32];
  float scales[QK_K / 32];
  float max_scale = 0;
  float max_min = 0;
  for (int j = 0; j < QK_K / 32; ++j) {
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
    scales[j] = make_qkx2_quants(32, kNmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, rmin,
                                 0.1f, nstep, false);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  std::memset(packed, 0, K_SCALE_SIZE);
  for (int j = 0; j < QK_K / 32; ++j) {
    // GGML converts to uint8_t before MIN(63, .): nearest_int is in [0, 63] here anyway.
    const auto ls = static_cast<uint8_t>(std::min(63, nearest_int(inv_scale * scales[j])));
    const auto lm = static_cast<uint8_t>(std::min(63, nearest_int(inv_min * mins[j])));
    set_scale_min_k4(j, ls, lm, packed);
  }
  d16 = f32_to_f16(max_scale / 63.f);
  dmin16 = f32_to_f16(max_min / 63.f);
}

// Steps (1)-(2) with importance: weights qw * sqrt(sigma2 + x^2), make_qkx3 per sub-block, then
// make_qp for the 6-bit scales and mins weighted by each sub-block's total weight.
template <int kNmax>
void search_q45_k_weighted(const float* x, const float* qw, uint8_t* L, uint16_t& d16,
                           uint16_t& dmin16, uint8_t* packed) {
  uint8_t Laux[32];
  uint8_t Ls[QK_K / 32];
  uint8_t Lm[QK_K / 32];
  float weights[32];
  float sw[QK_K / 32];
  float mins[QK_K / 32];
  float scales[QK_K / 32];
  float sum_x2 = 0;
  for (int l = 0; l < QK_K; ++l) sum_x2 += x[l] * x[l];
  const float sigma2 = 2 * sum_x2 / QK_K;
  for (int j = 0; j < QK_K / 32; ++j) {
    for (int l = 0; l < 32; ++l) {
      weights[l] = qw[32 * j + l] * std::sqrt(sigma2 + x[32 * j + l] * x[32 * j + l]);
    }
    float sumw = 0;
    for (int l = 0; l < 32; ++l) sumw += weights[l];
    sw[j] = sumw;
    scales[j] = make_qkx3_quants(32, kNmax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, -0.9f,
                                 0.05f, 36, false);
  }
  const float d_block = make_qp_quants(QK_K / 32, 63, scales, Ls, sw);
  const float m_block = make_qp_quants(QK_K / 32, 63, mins, Lm, sw);
  std::memset(packed, 0, K_SCALE_SIZE);
  for (int j = 0; j < QK_K / 32; ++j) {
    set_scale_min_k4(j, std::min<uint8_t>(63, Ls[j]), std::min<uint8_t>(63, Lm[j]), packed);
  }
  d16 = f32_to_f16(d_block);
  dmin16 = f32_to_f16(m_block);
}

void quantize_block_q4_k(const float* x, BlockQ4K& y, const float* qw) {
  uint8_t L[QK_K];
  if (qw) {
    search_q45_k_weighted<15>(x, qw, L, y.d, y.dmin, y.scales);
  } else {
    search_q45_k<15>(x, L, y.d, y.dmin, y.scales, -1.f, 20);
  }
  relevel_q45_k<15>(x, y.d, y.dmin, y.scales, L);
  pack_q4_k(L, y.qs);
}

void quantize_block_q5_k(const float* x, BlockQ5K& y, const float* qw) {
  uint8_t L[QK_K];
  if (qw) {
    search_q45_k_weighted<31>(x, qw, L, y.d, y.dmin, y.scales);
  } else {
    search_q45_k<31>(x, L, y.d, y.dmin, y.scales, -0.5f, 15);
  }
  relevel_q45_k<31>(x, y.d, y.dmin, y.scales, L);
  pack_q5_k(L, y.qs, y.qh);
}

// ---------------------------------------------------------------- Q6_K

// qw null: weights x^2 (the reference quantizer); else the importance itself, as GGML does.
void quantize_block_q6_k(const float* x, BlockQ6K& y, const float* qw) {
  int8_t L[QK_K];
  float scales[QK_K / 16];
  float max_scale = 0;
  float max_abs_scale = 0;
  for (int ib = 0; ib < QK_K / 16; ++ib) {
    const float scale =
        make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, qw ? qw + 16 * ib : nullptr);
    scales[ib] = scale;
    const float abs_scale = std::fabs(scale);
    if (abs_scale > max_abs_scale) {
      max_abs_scale = abs_scale;
      max_scale = scale;
    }
  }
  if (max_abs_scale < kGroupMaxEps) {
    std::memset(&y, 0, sizeof(y));
    return;
  }
  const float iscale = -128.f / max_scale;
  y.d = f32_to_f16(1 / iscale);
  for (int ib = 0; ib < QK_K / 16; ++ib) {
    y.scales[ib] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[ib])));
  }
  for (int j = 0; j < QK_K / 16; ++j) {
    const float d = f16_to_f32(y.d) * y.scales[j];
    if (!d) continue;
    for (int ii = 0; ii < 16; ++ii) {
      const int l = std::clamp(nearest_int(x[16 * j + ii] / d), -32, 31);
      L[16 * j + ii] = static_cast<int8_t>(l + 32);
    }
  }
  uint8_t* ql = y.ql;
  uint8_t* qh = y.qh;
  for (int j = 0; j < QK_K; j += 128) {
    for (int l = 0; l < 32; ++l) {
      const int q1 = L[j + l + 0] & 0xF;
      const int q2 = L[j + l + 32] & 0xF;
      const int q3 = L[j + l + 64] & 0xF;
      const int q4 = L[j + l + 96] & 0xF;
      ql[l + 0] = static_cast<uint8_t>(q1 | q3 << 4);
      ql[l + 32] = static_cast<uint8_t>(q2 | q4 << 4);
      qh[l] = static_cast<uint8_t>((L[j + l] >> 4) | (L[j + l + 32] >> 4) << 2 |
                                   (L[j + l + 64] >> 4) << 4 | (L[j + l + 96] >> 4) << 6);
    }
    ql += 64;
    qh += 32;
  }
}

void check_shape(int64_t n_per_row) {
  AG_CHECK(n_per_row > 0 && n_per_row % QK_K == 0, "K-quant row of %lld elements",
           static_cast<long long>(n_per_row));
}

}  // namespace

// ---------------------------------------------------------------- row quantizers (no importance)

void quantize_row_q2_k(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ2K*>(dst);
  for (int64_t i = 0; i < n / QK_K; ++i) quantize_block_q2_k(src + i * QK_K, y[i]);
}

void quantize_row_q3_k(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ3K*>(dst);
  for (int64_t i = 0; i < n / QK_K; ++i) quantize_block_q3_k(src + i * QK_K, y[i]);
}

void quantize_row_q4_k(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ4K*>(dst);
  for (int64_t i = 0; i < n / QK_K; ++i) quantize_block_q4_k(src + i * QK_K, y[i], nullptr);
}

void quantize_row_q5_k(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ5K*>(dst);
  for (int64_t i = 0; i < n / QK_K; ++i) quantize_block_q5_k(src + i * QK_K, y[i], nullptr);
}

void quantize_row_q6_k(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ6K*>(dst);
  for (int64_t i = 0; i < n / QK_K; ++i) quantize_block_q6_k(src + i * QK_K, y[i], nullptr);
}

// ---------------------------------------------------------------- weight matrices

// The importance vector is per column, so block i of every row uses importance[256 i .. 256 i +
// 255].
template <typename Block, typename BlockFn>
static void quantize_rows(const float* src, void* dst, int64_t n_rows, int64_t n_per_row,
                          BlockFn&& quantize_block) {
  check_shape(n_per_row);
  const int64_t nb = n_per_row / QK_K;
  auto* y = static_cast<Block*>(dst);
  for (int64_t r = 0; r < n_rows; ++r) {
    for (int64_t i = 0; i < nb; ++i)
      quantize_block(src + r * n_per_row + i * QK_K, y[r * nb + i], i);
  }
}

void quantize_q2_k(const float* src, void* dst, int64_t n_rows, int64_t n_per_row,
                   const float* importance) {
  quantize_rows<BlockQ2K>(src, dst, n_rows, n_per_row, [&](const float* x, BlockQ2K& y, int64_t i) {
    if (importance) {
      quantize_block_q2_k_weighted(x, y, importance + i * QK_K);
    } else {
      quantize_block_q2_k(x, y);
    }
  });
}

void quantize_q3_k(const float* src, void* dst, int64_t n_rows, int64_t n_per_row,
                   const float* importance) {
  quantize_rows<BlockQ3K>(src, dst, n_rows, n_per_row, [&](const float* x, BlockQ3K& y, int64_t i) {
    if (importance) {
      quantize_block_q3_k_weighted(x, y, importance + i * QK_K);
    } else {
      quantize_block_q3_k(x, y);
    }
  });
}

void quantize_q4_k(const float* src, void* dst, int64_t n_rows, int64_t n_per_row,
                   const float* importance) {
  quantize_rows<BlockQ4K>(src, dst, n_rows, n_per_row, [&](const float* x, BlockQ4K& y, int64_t i) {
    quantize_block_q4_k(x, y, importance ? importance + i * QK_K : nullptr);
  });
}

void quantize_q5_k(const float* src, void* dst, int64_t n_rows, int64_t n_per_row,
                   const float* importance) {
  quantize_rows<BlockQ5K>(src, dst, n_rows, n_per_row, [&](const float* x, BlockQ5K& y, int64_t i) {
    quantize_block_q5_k(x, y, importance ? importance + i * QK_K : nullptr);
  });
}

void quantize_q6_k(const float* src, void* dst, int64_t n_rows, int64_t n_per_row,
                   const float* importance) {
  quantize_rows<BlockQ6K>(src, dst, n_rows, n_per_row, [&](const float* x, BlockQ6K& y, int64_t i) {
    quantize_block_q6_k(x, y, importance ? importance + i * QK_K : nullptr);
  });
}

}  // namespace ag::kquant
