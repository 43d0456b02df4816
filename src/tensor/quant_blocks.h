#pragma once
// On-disk block layouts of the legacy GGML quant types (ggml-common.h), byte for byte: a GGUF
// tensor of one of these types is an array of these structs. Scales (d), mins (m) and sums (s) are
// IEEE half floats stored as their bits (convert with f16_to_f32 from core/half.h).
//
// Element order inside a 32-element block: qs[j] holds element j in its LOW nibble and element
// j + 16 in its HIGH nibble (j = 0..15). For the 5-bit types, bit i of the little-endian u32 qh is
// the fifth bit of element i.
#include <cstdint>

namespace ag {

inline constexpr int kQK4_0 = 32;  // elements per block
inline constexpr int kQK4_1 = 32;
inline constexpr int kQK5_0 = 32;
inline constexpr int kQK5_1 = 32;
inline constexpr int kQK8_0 = 32;
inline constexpr int kQK8_1 = 32;

// x = (q - 8) * d, q in 0..15
struct BlockQ4_0 {
  uint16_t d;                // f16 scale
  uint8_t qs[kQK4_0 / 2];    // nibbles
};
static_assert(sizeof(BlockQ4_0) == 18, "block_q4_0 is 18 bytes in GGML");

// x = q * d + m, q in 0..15
struct BlockQ4_1 {
  uint16_t d;                // f16 scale
  uint16_t m;                // f16 min
  uint8_t qs[kQK4_1 / 2];    // nibbles
};
static_assert(sizeof(BlockQ4_1) == 20, "block_q4_1 is 20 bytes in GGML");

// x = (q - 16) * d, q in 0..31
struct BlockQ5_0 {
  uint16_t d;                // f16 scale
  uint8_t qh[4];             // fifth bits, a little-endian u32 (bytes: the struct is 2-aligned)
  uint8_t qs[kQK5_0 / 2];    // low four bits, nibbles
};
static_assert(sizeof(BlockQ5_0) == 22, "block_q5_0 is 22 bytes in GGML");

// x = q * d + m, q in 0..31
struct BlockQ5_1 {
  uint16_t d;                // f16 scale
  uint16_t m;                // f16 min
  uint8_t qh[4];             // fifth bits, a little-endian u32
  uint8_t qs[kQK5_1 / 2];    // low four bits, nibbles
};
static_assert(sizeof(BlockQ5_1) == 24, "block_q5_1 is 24 bytes in GGML");

// x = q * d, q in -128..127 (the quantizer produces -127..127)
struct BlockQ8_0 {
  uint16_t d;                // f16 scale
  int8_t qs[kQK8_0];
};
static_assert(sizeof(BlockQ8_0) == 34, "block_q8_0 is 34 bytes in GGML");

// Activation type for Q4_1/Q5_1: x = q * d, and s = d * sum(qs) lets the dot product apply the
// weight's min without touching the elements again.
struct BlockQ8_1 {
  uint16_t d;                // f16 scale
  uint16_t s;                // f16: d * sum(qs)
  int8_t qs[kQK8_1];
};
static_assert(sizeof(BlockQ8_1) == 36, "block_q8_1 is 36 bytes in GGML");

// Packs 32 levels (0..15) into qs: element j low, element j + 16 high.
inline void pack_nibbles(const uint8_t* levels, uint8_t* qs) {
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>(levels[j] | levels[j + 16] << 4);
}

// Packs 32 five-bit levels (0..31) into a Q5 block's qs and qh (qh as little-endian bytes).
inline void pack_q5(const uint8_t* levels, uint8_t* qs, uint8_t* qh) {
  uint32_t bits = 0;
  for (int j = 0; j < 16; ++j) {
    qs[j] = static_cast<uint8_t>((levels[j] & 0x0F) | (levels[j + 16] & 0x0F) << 4);
    bits |= static_cast<uint32_t>(levels[j] >> 4 & 1) << j;
    bits |= static_cast<uint32_t>(levels[j + 16] >> 4 & 1) << (j + 16);
  }
  for (int k = 0; k < 4; ++k) qh[k] = static_cast<uint8_t>(bits >> (8 * k));
}

}  // namespace ag
