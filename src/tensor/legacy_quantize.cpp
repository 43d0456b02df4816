#include "tensor/legacy_quantize.h"

#include <cmath>

#include "core/half.h"
#include "tensor/legacy_ref.h"
#include "tensor/quant_blocks.h"
#include "tensor/kquant_search.h"  // GGML's scale searches, shared with the K-quants

namespace ag::legacy_quant {

namespace {

// Per-element weights of one 32-block for the scale search: importance scaled by the element's
// magnitude relative to the row (GGML: qw[j] * sqrt(sigma2 + x[j]^2)).
void block_weights(const float* x, const float* importance, float sigma2, float* weight) {
  for (int j = 0; j < 32; ++j) weight[j] = importance[j] * std::sqrt(sigma2 + x[j] * x[j]);
}

float mean_square(const float* x, int64_t n) {
  float sum = 0;
  for (int64_t j = 0; j < n; ++j) sum += x[j] * x[j];
  return sum / static_cast<float>(n);
}

// Symmetric types: levels L in 0..2*nmax-1 around nmax, one scale per block.
template <class Block, int kNmax>
void quantize_row_symmetric(const float* x, Block* y, int64_t n_per_row, const float* importance) {
  const float sigma2 = mean_square(x, n_per_row);
  for (int64_t ib = 0; ib < n_per_row / 32; ++ib) {
    const float* xb = x + 32 * ib;
    float weight[32];
    block_weights(xb, importance + 32 * ib, sigma2, weight);
    int8_t L[32];
    const float d = kquant::make_qx_quants(32, kNmax, xb, L, weight);
    y[ib].d = f32_to_f16(d);
    uint8_t levels[32];
    for (int j = 0; j < 32; ++j) levels[j] = static_cast<uint8_t>(L[j]);
    if constexpr (kNmax == 8) {
      pack_nibbles(levels, y[ib].qs);
    } else {
      pack_q5(levels, y[ib].qs, y[ib].qh);
    }
  }
}

// Types with a min: levels L in 0..nmax, value = L * d + m with m = -the_min <= 0.
template <class Block, int kNmax>
void quantize_row_with_min(const float* x, Block* y, int64_t n_per_row, const float* importance) {
  const float sigma2 = mean_square(x, n_per_row);
  for (int64_t ib = 0; ib < n_per_row / 32; ++ib) {
    const float* xb = x + 32 * ib;
    float weight[32];
    block_weights(xb, importance + 32 * ib, sigma2, weight);
    uint8_t L[32];
    uint8_t Laux[32];
    float the_min = 0;
    const float d = kquant::make_qkx3_quants(32, kNmax, xb, weight, L, &the_min, Laux, -0.9f, 0.05f, 36, false);
    y[ib].d = f32_to_f16(d);
    y[ib].m = f32_to_f16(-the_min);
    if constexpr (kNmax == 15) {
      pack_nibbles(L, y[ib].qs);
    } else {
      pack_q5(L, y[ib].qs, y[ib].qh);
    }
  }
}

using RowFn = void (*)(const float* src, void* dst, int64_t n);

// Rows are independent; without importance the whole matrix is one long run of blocks.
template <class Block, class ImportanceRowFn>
void quantize_rows(const float* src, void* dst, int64_t n_rows, int64_t n_per_row,
                   const float* importance, RowFn rtn, ImportanceRowFn with_importance) {
  if (importance == nullptr) {
    rtn(src, dst, n_rows * n_per_row);
    return;
  }
  auto* out = static_cast<Block*>(dst);
  const int64_t blocks_per_row = n_per_row / 32;
  for (int64_t r = 0; r < n_rows; ++r)
    with_importance(src + r * n_per_row, out + r * blocks_per_row, n_per_row, importance);
}

}  // namespace

void quantize_f32(const float* src, void* dst, int64_t n_rows, int64_t n_per_row, const float*) {
  legacy_ref::from_float_f32(src, dst, n_rows * n_per_row);
}

void quantize_f16(const float* src, void* dst, int64_t n_rows, int64_t n_per_row, const float*) {
  legacy_ref::from_float_f16(src, dst, n_rows * n_per_row);
}

void quantize_bf16(const float* src, void* dst, int64_t n_rows, int64_t n_per_row, const float*) {
  legacy_ref::from_float_bf16(src, dst, n_rows * n_per_row);
}

void quantize_q4_0(const float* src, void* dst, int64_t n_rows, int64_t n_per_row, const float* importance) {
  quantize_rows<BlockQ4_0>(src, dst, n_rows, n_per_row, importance, legacy_ref::from_float_q4_0,
                           quantize_row_symmetric<BlockQ4_0, 8>);
}

void quantize_q4_1(const float* src, void* dst, int64_t n_rows, int64_t n_per_row, const float* importance) {
  quantize_rows<BlockQ4_1>(src, dst, n_rows, n_per_row, importance, legacy_ref::from_float_q4_1,
                           quantize_row_with_min<BlockQ4_1, 15>);
}

void quantize_q5_0(const float* src, void* dst, int64_t n_rows, int64_t n_per_row, const float* importance) {
  quantize_rows<BlockQ5_0>(src, dst, n_rows, n_per_row, importance, legacy_ref::from_float_q5_0,
                           quantize_row_symmetric<BlockQ5_0, 16>);
}

void quantize_q5_1(const float* src, void* dst, int64_t n_rows, int64_t n_per_row, const float* importance) {
  quantize_rows<BlockQ5_1>(src, dst, n_rows, n_per_row, importance, legacy_ref::from_float_q5_1,
                           quantize_row_with_min<BlockQ5_1, 31>);
}

void quantize_q8_0(const float* src, void* dst, int64_t n_rows, int64_t n_per_row, const float*) {
  legacy_ref::from_float_q8_0(src, dst, n_rows * n_per_row);
}

}  // namespace ag::legacy_quant
