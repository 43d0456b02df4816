#pragma once
// On-disk layouts of GGML's K-quant "super-blocks" (ggml-common.h): 256 weights per block, split
// into sub-blocks of 16 or 32 that each carry a small integer scale (and min), which is itself
// scaled by one or two F16 super-block factors. The byte layouts are part of the GGUF format, so
// every struct has a static_assert on its size; fields are in file order, little-endian.
#include <cstdint>

namespace ag {

inline constexpr int QK_K = 256;         // weights per super-block
inline constexpr int K_SCALE_SIZE = 12;  // bytes of packed 6-bit scales+mins (Q4_K, Q5_K)

// 2.625 bits per weight. w = d * (scales[s] & 0xF) * q - dmin * (scales[s] >> 4), q in [0, 3],
// for the 16 sub-blocks s of 16 weights.
struct BlockQ2K {
  uint8_t scales[QK_K / 16];  // [16] low nibble: scale, high nibble: min
  uint8_t qs[QK_K / 4];       // [64] 2-bit quants, 4 per byte (see dequantize for the order)
  uint16_t d;                 // F16 super-block scale for the scales
  uint16_t dmin;              // F16 super-block scale for the mins
};
static_assert(sizeof(BlockQ2K) == 84, "block_q2_K layout");

// 3.4375 bits per weight. w = d * (scale6[s] - 32) * (q2 - (hmask bit ? 0 : 4)), 16 sub-blocks of
// 16 weights, 6-bit scales packed in 12 bytes (low nibbles in bytes 0..7, high 2 bits in 8..11).
struct BlockQ3K {
  uint8_t hmask[QK_K / 8];  // [32] high bit of each quant
  uint8_t qs[QK_K / 4];     // [64] low 2 bits of each quant
  uint8_t scales[12];       // 16 packed 6-bit scales
  uint16_t d;               // F16 super-block scale
};
static_assert(sizeof(BlockQ3K) == 110, "block_q3_K layout");

// 4.5 bits per weight. w = d * sc[s] * q - dmin * m[s], q in [0, 15], 8 sub-blocks of 32 weights,
// 6-bit sc/m packed in 12 bytes (get_scale_min_k4).
struct BlockQ4K {
  uint16_t d;                    // F16 super-block scale for the scales
  uint16_t dmin;                 // F16 super-block scale for the mins
  uint8_t scales[K_SCALE_SIZE];  // 8 scales + 8 mins, 6 bits each
  uint8_t qs[QK_K / 2];          // [128] 4-bit quants
};
static_assert(sizeof(BlockQ4K) == 144, "block_q4_K layout");

// 5.5 bits per weight. As Q4_K with a fifth bit per quant in qh: q in [0, 31].
struct BlockQ5K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[K_SCALE_SIZE];
  uint8_t qh[QK_K / 8];  // [32] high bits
  uint8_t qs[QK_K / 2];  // [128] low 4 bits
};
static_assert(sizeof(BlockQ5K) == 176, "block_q5_K layout");

// 6.5625 bits per weight. w = d * scales[s] * (q - 32), q in [0, 63], 16 sub-blocks of 16 weights
// with signed 8-bit scales.
struct BlockQ6K {
  uint8_t ql[QK_K / 2];      // [128] low 4 bits
  uint8_t qh[QK_K / 4];      // [64] high 2 bits
  int8_t scales[QK_K / 16];  // [16]
  uint16_t d;                // F16 super-block scale
};
static_assert(sizeof(BlockQ6K) == 210, "block_q6_K layout");

// Activations for the K-quant dot products: x = d * qs, with the sums of each 16 quants precomputed
// so the "min" terms of Q2_K/Q4_K/Q5_K (and the offsets of Q3_K/Q6_K) cost one multiply per group.
struct BlockQ8K {
  float d;                   // F32 scale (not F16: activations have a wide range)
  int8_t qs[QK_K];           // [256]
  int16_t bsums[QK_K / 16];  // [16] sum of qs[16*j .. 16*j+15]
};
static_assert(sizeof(BlockQ8K) == 292, "block_q8_K layout");

}  // namespace ag
