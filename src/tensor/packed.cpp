#include "tensor/packed.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <string>

#include "core/check.h"
#include "core/cpu_features.h"
#include "core/half.h"
#include "tensor/kquant.h"
#include "tensor/kquant_blocks.h"
#include "tensor/quant_blocks.h"
#include "tensor/x86/float_tile_avx2.h"
#include "tensor/x86/packed_avx2.h"
#include "tensor/x86/packed_avx512.h"

namespace ag {

namespace {

constexpr int64_t kBlock = 32;  // columns per packed block (the Q4_0 / Q8_0 block size)

// Bytes of one packed block of 16 rows: 16 f16 scales, then the quants.
size_t packed_block_bytes(DType type) {
  switch (type) {
    case DType::Q4_0: return 2 * kPackRows + kPackRows * 16;
    case DType::Q5_0: return 2 * kPackRows + kPackRows * 16 + kPackRows * 4;
    default: return 2 * kPackRows + kPackRows * 32;
  }
}

// Offset that makes the stored values unsigned (weight + offset).
int value_offset(DType type) {
  return type == DType::Q4_0 ? 8 : type == DType::Q5_0 ? 16 : 128;
}

// The unsigned stored value of row r, column k of packed block `blk`.
int stored_value(DType type, const uint8_t* blk, int r, int k) {
  const uint8_t* qs = blk + 2 * kPackRows;
  if (type == DType::Q8_0) return qs[(k / 4) * 64 + 4 * r + k % 4];
  const int j = k / 8, t = k % 8;
  const uint8_t byte = qs[j * 64 + 4 * r + t % 4];
  const int low = t < 4 ? (byte & 0x0F) : (byte >> 4);
  if (type == DType::Q4_0) return low;
  const uint8_t qh = qs[4 * 64 + 4 * r + k % 4];  // Q5_0: the high bits after the nibbles
  return low | ((qh >> (k / 4)) & 1) << 4;
}

bool is_float_layout(DType type) { return type == DType::F16 || type == DType::BF16; }

// Q4_Kx16 (packed.h): half blocks of 8 rows, half 0 of a group for all its blocks, then half 1.
constexpr size_t kQ4KHalfBytes = 1184;
constexpr size_t kQ4KScales = 32, kQ4KMins = 96, kQ4KQs = 160;

constexpr size_t kQ5KQh = 1184, kQ5KHalfBytes = 1440;  // Q5_Kx16: Q4_Kx16's half block + the 5th bits
constexpr size_t kQ6KHalfBytes = 1680;
constexpr size_t kQ6KScales = 16, kQ6KQl = 144, kQ6KQh = 1168;

bool is_k_layout(DType type) { return type == DType::Q4_K || type == DType::Q5_K || type == DType::Q6_K; }
size_t k_half_bytes(DType type) {
  return type == DType::Q4_K ? kQ4KHalfBytes : type == DType::Q5_K ? kQ5KHalfBytes : kQ6KHalfBytes;
}

// Half h of block b of group g (K layouts: half 0 of all a group's blocks, then half 1).
template <class Byte>
Byte* k_half(Byte* packed, DType type, int64_t nb, int64_t g, int64_t h, int64_t b) {
  return packed + static_cast<size_t>((2 * g + h) * nb + b) * k_half_bytes(type);
}

// The stored values (q + 32, 0..63) of a GGUF Q6_K block, in column order.
void q6_k_file_values(const BlockQ6K& blk, uint8_t (&u)[QK_K]) {
  for (int n = 0; n < 2; ++n) {
    for (int l = 0; l < 32; ++l) {
      const uint8_t ql0 = blk.ql[64 * n + l], ql1 = blk.ql[64 * n + l + 32], qh = blk.qh[32 * n + l];
      u[128 * n + l] = static_cast<uint8_t>((ql0 & 0x0F) | (qh & 3) << 4);
      u[128 * n + l + 32] = static_cast<uint8_t>((ql1 & 0x0F) | ((qh >> 2) & 3) << 4);
      u[128 * n + l + 64] = static_cast<uint8_t>((ql0 >> 4) | ((qh >> 4) & 3) << 4);
      u[128 * n + l + 96] = static_cast<uint8_t>((ql1 >> 4) | ((qh >> 6) & 3) << 4);
    }
  }
}

// Row r's 32 values g[0..32) (low 4 bits used) as the nibble chunks of a packed half block:
// chunk i, byte 4r + t = columns 8i + t (low nibble) and 8i + 4 + t (high).
void put_nibbles(uint8_t* chunks, int r, const uint8_t* g) {
  for (int i = 0; i < 4; ++i)
    for (int t = 0; t < 4; ++t)
      chunks[32 * i + 4 * r + t] = static_cast<uint8_t>((g[8 * i + t] & 0x0F) | (g[8 * i + 4 + t] & 0x0F) << 4);
}

// Column k (0..31) of the 32-column group s of row r in a Q6_Kx16 half block.
int q6_k_packed_value(const uint8_t* half, int s, int r, int k) {
  const int i = k / 4, t = k % 4;  // value register i, byte t of the row's lane
  const uint8_t low_byte = half[kQ6KQl + 128 * s + 32 * (i / 2) + 4 * r + t];
  const int low = i % 2 == 0 ? low_byte & 0x0F : low_byte >> 4;
  const uint8_t high_byte = half[kQ6KQh + 64 * s + 32 * (i / 4) + 4 * r + t];
  return low | ((high_byte >> (2 * (i % 4))) & 3) << 4;
}

// Calls fill(half, r, block) with the GGUF block of every real row r of every half block of groups
// [group_begin, group_end) of a K layout; padding rows stay all zero (factors, scales, values).
template <class Block, class Fill>
void pack_k_halves(DType type, const uint8_t* src, size_t row_bytes, int64_t n_in, int64_t n_out,
                   int64_t group_begin, int64_t group_end, uint8_t* dst, Fill fill) {
  const int64_t nb = n_in / QK_K;
  for (int64_t g = group_begin; g < group_end; ++g) {
    for (int64_t h = 0; h < 2; ++h) {
      for (int64_t b = 0; b < nb; ++b) {
        uint8_t* half = k_half(dst, type, nb, g, h, b);
        std::memset(half, 0, k_half_bytes(type));
        for (int r = 0; r < 8; ++r) {
          const int64_t row = g * kPackRows + 8 * h + r;
          if (row < n_out) fill(half, r, reinterpret_cast<const Block*>(src + static_cast<size_t>(row) * row_bytes)[b]);
        }
      }
    }
  }
}

void pack_q6_k(const uint8_t* src, size_t row_bytes, int64_t n_in, int64_t n_out, int64_t group_begin,
               int64_t group_end, uint8_t* dst) {
  pack_k_halves<BlockQ6K>(DType::Q6_K, src, row_bytes, n_in, n_out, group_begin, group_end, dst,
                          [](uint8_t* half, int r, const BlockQ6K& blk) {
    std::memcpy(half + 2 * r, &blk.d, 2);
    for (int j = 0; j < 16; ++j) half[kQ6KScales + 8 * j + r] = static_cast<uint8_t>(blk.scales[j]);
    uint8_t u[QK_K];
    q6_k_file_values(blk, u);
    for (int s = 0; s < 8; ++s) {
      const uint8_t* g = u + 32 * s;
      put_nibbles(half + kQ6KQl + 128 * s, r, g);
      // qh chunk k, byte 4r + t, bits 2m..2m+1: the high bits of column 16k + 4m + t.
      for (int k = 0; k < 2; ++k)
        for (int t = 0; t < 4; ++t)
          half[kQ6KQh + 64 * s + 32 * k + 4 * r + t] =
              static_cast<uint8_t>((g[16 * k + t] >> 4) | (g[16 * k + 4 + t] >> 4) << 2 | (g[16 * k + 8 + t] >> 4) << 4 |
                                   (g[16 * k + 12 + t] >> 4) << 6);
    }
  });
}

// The reference of a K layout: y = dot(half_of, nb, r, act) for every output, half_of(b) being
// block b's half block holding the output's row (row r in it).
template <class Dot>
void k_matmul_ref(const PackedMatmulArgs& p, Dot dot) {
  const int64_t nb = p.n_in / QK_K;
  for (int64_t o = p.row_begin; o < p.row_end; ++o) {
    const int64_t g = o / kPackRows, h = o % kPackRows / 8;
    const auto half_of = [&](int64_t b) { return k_half(p.packed, p.type, nb, g, h, b); };
    for (int c = 0; c < p.n_a; ++c) {
      const auto* act = reinterpret_cast<const BlockQ8K*>(p.a + static_cast<size_t>(c) * p.a_stride);
      p.y[static_cast<size_t>(c) * p.y_stride + static_cast<size_t>(o)] = dot(half_of, nb, static_cast<int>(o % 8), act);
    }
  }
}

void q6_k_matmul_ref(const PackedMatmulArgs& p) {
  k_matmul_ref(p, [](const auto& half_of, int64_t nb, int r, const BlockQ8K* act) {
    float acc = 0;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* half = half_of(b);
      uint16_t d;
      std::memcpy(&d, half + 2 * r, 2);
      int32_t sumi = 0, offset = 0;
      for (int j = 0; j < 16; ++j) {
        const int scale = static_cast<int8_t>(half[kQ6KScales + 8 * j + r]);
        int32_t dot = 0;
        for (int k = 0; k < 16; ++k) dot += q6_k_packed_value(half, j / 2, r, 16 * (j % 2) + k) * act[b].qs[16 * j + k];
        sumi += scale * dot;
        offset += scale * act[b].bsums[j];
      }
      acc = std::fma(f16_to_f32(d) * act[b].d, static_cast<float>(sumi - 32 * offset), acc);
    }
    return acc;
  });
}

// Q4_K and Q5_K (kFive: the 5th bits after the half block, byte 4r + t of sub-block j, bit i: bit
// 4 of column 4i + t).
template <bool kFive, class Block>
void pack_q45_k(const uint8_t* src, size_t row_bytes, int64_t n_in, int64_t n_out, int64_t group_begin,
                int64_t group_end, uint8_t* dst) {
  pack_k_halves<Block>(kFive ? DType::Q5_K : DType::Q4_K, src, row_bytes, n_in, n_out, group_begin, group_end, dst,
                       [](uint8_t* half, int r, const Block& blk) {
    std::memcpy(half + 2 * r, &blk.d, 2);
    std::memcpy(half + 16 + 2 * r, &blk.dmin, 2);
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      kquant::get_scale_min_k4(j, blk.scales, &sc, &m);
      half[kQ4KScales + 8 * j + r] = sc;
      half[kQ4KMins + 8 * j + r] = m;
      // File: sub-blocks 2c and 2c + 1 are the low and high nibbles of qs[32c .. 32c + 31]; Q5_K's
      // bit 4 of column l of sub-block j is bit j of qh[l].
      uint8_t g[32];
      for (int k = 0; k < 32; ++k) g[k] = j % 2 == 0 ? blk.qs[32 * (j / 2) + k] : blk.qs[32 * (j / 2) + k] >> 4;
      put_nibbles(half + kQ4KQs + 128 * j, r, g);
      if constexpr (kFive) {
        for (int t = 0; t < 4; ++t) {
          uint8_t bits = 0;
          for (int i = 0; i < 8; ++i) bits |= static_cast<uint8_t>(((blk.qh[4 * i + t] >> j) & 1) << i);
          half[kQ5KQh + 32 * j + 4 * r + t] = bits;
        }
      }
    }
  });
}

// Q4_K and Q5_K (the 5th bit after the half block).
void q45_k_matmul_ref(const PackedMatmulArgs& p) {
  const bool five = p.type == DType::Q5_K;
  k_matmul_ref(p, [five](const auto& half_of, int64_t nb, int r, const BlockQ8K* act) {
    float acc = 0, acc_m = 0;
    for (int64_t b = 0; b < nb; ++b) {
      const uint8_t* half = half_of(b);
      uint16_t d, dmin;
      std::memcpy(&d, half + 2 * r, 2);
      std::memcpy(&dmin, half + 16 + 2 * r, 2);
      int32_t sumi = 0, msum = 0;
      for (int j = 0; j < 8; ++j) {
        int32_t dot = 0;
        for (int k = 0; k < 32; ++k) {
          const uint8_t byte = half[kQ4KQs + 128 * j + 32 * (k / 8) + 4 * r + k % 4];
          const int high = five ? ((half[kQ5KQh + 32 * j + 4 * r + k % 4] >> (k / 4)) & 1) << 4 : 0;
          dot += ((k % 8 < 4 ? byte & 0x0F : byte >> 4) | high) * act[b].qs[32 * j + k];
        }
        sumi += half[kQ4KScales + 8 * j + r] * dot;
        msum += half[kQ4KMins + 8 * j + r] * (act[b].bsums[2 * j] + act[b].bsums[2 * j + 1]);
      }
      acc = std::fma(f16_to_f32(d) * act[b].d, static_cast<float>(sumi), acc);
      acc_m = std::fma(f16_to_f32(dmin) * act[b].d, static_cast<float>(msum), acc_m);
    }
    return acc - acc_m;
  });
}

float float_value(DType type, uint16_t v) { return type == DType::F16 ? f16_to_f32(v) : bf16_to_f32(v); }

// F16x16 / BF16x16: outputs of the group's rows in [row_begin, row_end), in the eight-lane order
// of packed.h.
void float_matmul_ref(const PackedMatmulArgs& p) {
  const auto* packed = reinterpret_cast<const uint16_t*>(p.packed);
  const int64_t steps = p.n_in / 8;
  for (int64_t o = p.row_begin; o < p.row_end; ++o) {
    const int64_t g = o / kPackRows, h = o % kPackRows / 8, r = o % 8;
    const uint16_t* half = packed + static_cast<size_t>((2 * g + h) * 8 * p.n_in);
    for (int c = 0; c < p.n_a; ++c) {
      const auto* a = reinterpret_cast<const float*>(p.a + static_cast<size_t>(c) * p.a_stride);
      float lane[8] = {};
      for (int64_t s = 0; s < steps; ++s)
        for (int l = 0; l < 8; ++l)
          lane[l] = std::fma(float_value(p.type, half[(8 * s + r) * 8 + l]), a[8 * s + l], lane[l]);
      p.y[static_cast<size_t>(c) * p.y_stride + static_cast<size_t>(o)] =
          ((lane[0] + lane[4]) + (lane[2] + lane[6])) + ((lane[1] + lane[5]) + (lane[3] + lane[7]));
    }
  }
}

}  // namespace

bool has_packed_layout(DType type) {
  return type == DType::Q4_0 || type == DType::Q5_0 || type == DType::Q8_0 || is_k_layout(type) ||
         is_float_layout(type);
}

const char* packed_isa_name(PackedIsa isa) {
  switch (isa) {
    case PackedIsa::kAvx2: return "avx2";
    case PackedIsa::kAvxVnni: return "avxvnni";
    case PackedIsa::kAvx512Vnni: return "avx512vnni";
  }
  return "?";
}

bool packed_kernel_available(PackedIsa isa, DType type) {
  if (!has_packed_layout(type)) return false;
  if (is_float_layout(type) || is_k_layout(type)) {  // one kernel each: AVX2 (+ FMA, F16C)
#if defined(AUTOGLM_HAVE_X86_FLOAT_TILES) && defined(AUTOGLM_HAVE_PACKED_AVX2)
    return isa == PackedIsa::kAvx2 && cpu_has_avx2_fma();
#else
    return false;
#endif
  }
  switch (isa) {
    case PackedIsa::kAvx512Vnni:
#if defined(AUTOGLM_HAVE_PACKED_AVX512)
      return cpu_has_avx512_vnni();
#else
      return false;
#endif
    case PackedIsa::kAvxVnni:
    case PackedIsa::kAvx2:
#if defined(AUTOGLM_HAVE_PACKED_AVX2)
      return packed_avx2::has_kernel(type) && cpu_has_avx2_fma() &&
             (isa == PackedIsa::kAvx2 || cpu_features().avxvnni);
#else
      return false;
#endif
  }
  return false;
}

std::optional<PackedIsa> best_packed_isa(DType type) {
  for (PackedIsa isa : {PackedIsa::kAvx512Vnni, PackedIsa::kAvxVnni, PackedIsa::kAvx2})
    if (packed_kernel_available(isa, type)) return isa;
  return std::nullopt;
}

size_t packed_bytes(DType type, int64_t n_in, int64_t n_out) {
  AG_CHECK(has_packed_layout(type), "no packed layout for %s", std::string(dtype_name(type)).c_str());
  const int64_t groups = (n_out + kPackRows - 1) / kPackRows;
  if (is_float_layout(type)) return static_cast<size_t>(groups * kPackRows * n_in) * sizeof(uint16_t);
  if (is_k_layout(type)) return static_cast<size_t>(groups * 2 * (n_in / QK_K)) * k_half_bytes(type);
  return static_cast<size_t>(groups * (n_in / kBlock)) * packed_block_bytes(type);
}

// Each packed chunk is 4-byte row lanes, so a row's part of a block moves as 32-bit words (the
// byte order inside a word is the column order in both layouts).
void pack_groups(DType type, const uint8_t* src, size_t row_bytes, int64_t n_in, int64_t n_out,
                 int64_t group_begin, int64_t group_end, uint8_t* dst) {
  AG_CHECK(has_packed_layout(type) && n_in % kBlock == 0, "cannot pack %s rows of %lld",
           std::string(dtype_name(type)).c_str(), static_cast<long long>(n_in));
  if (is_k_layout(type)) {
    AG_CHECK(n_in % QK_K == 0, "cannot pack %s rows of %lld", std::string(dtype_name(type)).c_str(),
             static_cast<long long>(n_in));
    if (type == DType::Q4_K) return pack_q45_k<false, BlockQ4K>(src, row_bytes, n_in, n_out, group_begin, group_end, dst);
    if (type == DType::Q5_K) return pack_q45_k<true, BlockQ5K>(src, row_bytes, n_in, n_out, group_begin, group_end, dst);
    return pack_q6_k(src, row_bytes, n_in, n_out, group_begin, group_end, dst);
  }
  if (is_float_layout(type)) {
    // 8 values (16 bytes) at a time from row 8h + r of the group to (8 * step + r) * 8 of half h.
    auto* out = reinterpret_cast<uint16_t*>(dst);
    for (int64_t g = group_begin; g < group_end; ++g) {
      for (int64_t h = 0; h < 2; ++h) {
        uint16_t* half = out + static_cast<size_t>((2 * g + h) * 8 * n_in);
        for (int r = 0; r < 8; ++r) {
          const int64_t row = g * kPackRows + 8 * h + r;
          const uint8_t* src_row = src + static_cast<size_t>(row) * row_bytes;
          for (int64_t s = 0; s < n_in / 8; ++s) {
            uint16_t* to = half + static_cast<size_t>((8 * s + r) * 8);
            if (row < n_out) {
              std::memcpy(to, src_row + static_cast<size_t>(16 * s), 16);
            } else {
              std::memset(to, 0, 16);
            }
          }
        }
      }
    }
    return;
  }
  const int64_t nb = n_in / kBlock;
  const size_t bb = packed_block_bytes(type);
  auto load32 = [](const uint8_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
  };
  auto store32 = [](uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); };
  constexpr uint32_t kLow = 0x0F0F0F0Fu, kHigh = 0xF0F0F0F0u;
  for (int64_t g = group_begin; g < group_end; ++g) {
    for (int64_t b = 0; b < nb; ++b) {
      uint8_t* out = dst + static_cast<size_t>(g * nb + b) * bb;
      uint8_t* qs = out + 2 * kPackRows;
      uint8_t* qh = qs + 4 * 64;  // Q5_0's high bits
      for (int r = 0; r < kPackRows; ++r) {
        const int64_t row = g * kPackRows + r;
        uint8_t* lane = qs + 4 * r;
        if (row >= n_out) {  // padding: scale 0, values 0 (stored as the offset)
          std::memset(out + 2 * r, 0, 2);
          // value 16 is 0 in the nibbles plus a high bit
          const uint32_t zero = type == DType::Q4_0 ? 0x88888888u : type == DType::Q5_0 ? 0u : 0x80808080u;
          for (int j = 0; j < (type == DType::Q8_0 ? 8 : 4); ++j) store32(lane + 64 * j, zero);
          if (type == DType::Q5_0) std::memset(qh + 4 * r, 0xFF, 4);
          continue;
        }
        const size_t block_bytes = type == DType::Q4_0   ? sizeof(BlockQ4_0)
                                   : type == DType::Q5_0 ? sizeof(BlockQ5_0)
                                                         : sizeof(BlockQ8_0);
        const uint8_t* blk = src + static_cast<size_t>(row) * row_bytes + static_cast<size_t>(b) * block_bytes;
        std::memcpy(out + 2 * r, blk, 2);  // the f16 scale
        const uint8_t* q = blk + 2;
        if (type == DType::Q5_0) {
          // File: uint32 qh (bit k: bit 4 of column k), then the nibbles as Q4_0.
          const uint32_t high = load32(q);
          for (int t = 0; t < 4; ++t) {
            uint8_t lane_bits = 0;
            for (int i = 0; i < 8; ++i) lane_bits |= static_cast<uint8_t>(((high >> (4 * i + t)) & 1) << i);
            qh[4 * r + t] = lane_bits;
          }
          q += 4;
        }
        if (type != DType::Q8_0) {
          // File: byte i holds column i (low nibble) and column i + 16 (high), both as w + 8.
          // Chunk j holds columns 8j..8j+3 (low nibbles) and 8j+4..8j+7 (high nibbles).
          const uint32_t a = load32(q), b4 = load32(q + 4), c = load32(q + 8), d = load32(q + 12);
          store32(lane + 0, (a & kLow) | ((b4 & kLow) << 4));
          store32(lane + 64, (c & kLow) | ((d & kLow) << 4));
          store32(lane + 128, ((a >> 4) & kLow) | (b4 & kHigh));
          store32(lane + 192, ((c >> 4) & kLow) | (d & kHigh));
        } else {
          for (int j = 0; j < 8; ++j) store32(lane + 64 * j, load32(q + 4 * j) ^ 0x80808080u);
        }
      }
    }
  }
}

void act_block_info(const void* q8_0_row, int64_t n_in, ActBlockInfo* info) {
  const auto* blocks = static_cast<const BlockQ8_0*>(q8_0_row);
  for (int64_t b = 0; b < n_in / kBlock; ++b) {
    int32_t sum = 0;
    for (int k = 0; k < kBlock; ++k) sum += blocks[b].qs[k];
    info[b] = {f16_to_f32(blocks[b].d), sum};
  }
}

void packed_matmul_ref(const PackedMatmulArgs& p) {
  if (is_float_layout(p.type)) return float_matmul_ref(p);
  if (p.type == DType::Q4_K || p.type == DType::Q5_K) return q45_k_matmul_ref(p);
  if (p.type == DType::Q6_K) return q6_k_matmul_ref(p);
  const int64_t nb = p.n_in / kBlock;
  const size_t bb = packed_block_bytes(p.type);
  const int offset = value_offset(p.type);
  for (int64_t g = p.row_begin / kPackRows; g * kPackRows < p.row_end; ++g) {
    for (int c = 0; c < p.n_a; ++c) {
      const auto* act = reinterpret_cast<const BlockQ8_0*>(p.a + static_cast<size_t>(c) * p.a_stride);
      const ActBlockInfo* info = p.info + static_cast<size_t>(c) * p.info_stride;
      float acc[kPackRows] = {};
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* blk = p.packed + static_cast<size_t>(g * nb + b) * bb;
        uint16_t d[kPackRows];
        std::memcpy(d, blk, sizeof d);
        for (int r = 0; r < kPackRows; ++r) {
          int32_t isum = -offset * info[b].sum;
          for (int k = 0; k < kBlock; ++k) isum += stored_value(p.type, blk, r, k) * act[b].qs[k];
          acc[r] = std::fma(f16_to_f32(d[r]) * info[b].d, static_cast<float>(isum), acc[r]);
        }
      }
      for (int r = 0; r < kPackRows; ++r) {
        const int64_t o = g * kPackRows + r;
        if (o >= p.row_begin && o < p.row_end) p.y[static_cast<size_t>(c) * p.y_stride + static_cast<size_t>(o)] = acc[r];
      }
    }
  }
}

void packed_matmul_on(PackedIsa isa, const PackedMatmulArgs& args) {
  AG_CHECK(packed_kernel_available(isa, args.type), "no %s packed kernel for %s on this CPU",
           packed_isa_name(isa), std::string(dtype_name(args.type)).c_str());
  switch (isa) {
#if defined(AUTOGLM_HAVE_PACKED_AVX512)
    case PackedIsa::kAvx512Vnni: return packed_avx512::matmul(args);
#endif
#if defined(AUTOGLM_HAVE_PACKED_AVX2)
    case PackedIsa::kAvxVnni: return packed_avx2::matmul_vnni(args);
    case PackedIsa::kAvx2:
#if defined(AUTOGLM_HAVE_X86_FLOAT_TILES)
      if (is_float_layout(args.type)) return float_tile::packed_matmul(args);
#endif
      if (args.type == DType::Q4_K) return packed_avx2::matmul_q4_k(args);
      if (args.type == DType::Q5_K) return packed_avx2::matmul_q5_k(args);
      if (args.type == DType::Q6_K) return packed_avx2::matmul_q6_k(args);
      return packed_avx2::matmul(args);
#endif
    default: break;
  }
}

void packed_matmul(const PackedMatmulArgs& args) {
  // Read once per type: a matmul is called hundreds of times per token.
  static const auto best = [] {
    std::array<std::optional<PackedIsa>, 64> by_type{};
    for (uint32_t id = 0; id < by_type.size(); ++id) {
      const auto info = dtype_info(id);
      if (info && has_packed_layout(info->type)) by_type[id] = best_packed_isa(info->type);
    }
    return by_type;
  }();
  const auto id = static_cast<uint32_t>(args.type);
  const std::optional<PackedIsa> isa = id < best.size() ? best[id] : std::nullopt;
  if (isa) return packed_matmul_on(*isa, args);
  packed_matmul_ref(args);
}

}  // namespace ag
