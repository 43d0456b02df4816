#pragma once
// Weight matrices repacked once at load into row-interleaved blocks ("x16" layouts) for the int8
// dot-product kernels, as llama.cpp repacks Q4_0 into its q4_0x8 layouts.
//
// Why: in GGUF a Q4_0 row is 18-byte blocks one after another, and a kernel that reads one row
// spends most of its instructions on per-row overhead (two f16 scales to convert and broadcast per
// block pair, nibbles to shuffle into place) — decode on a Q4_0 model was compute-bound at half the
// memory bandwidth. Interleaving 16 rows block by block puts the 16 scales of a block side by side
// (one vcvtph2ps gives all 16) and the quants of the 16 rows in the lanes of one zmm register
// (one vpdpbusd adds 4 products into each of 16 rows), and each thread reads one sequential stream.
//
// Layout of a packed matrix of n_out rows x n_in columns: ceil(n_out / 16) groups of 16 rows, each
// group nb = n_in / 32 packed blocks one after another, one packed block per 32 columns:
//   Q4_0x16 (288 bytes, = 16 x 18: the file's size):
//     uint16_t d[16]       f16 scales of rows 0..15
//     uint8_t  qs[4][64]   chunk j, byte 4 * r + t: low nibble = row r, column 8j + t;
//                          high nibble = row r, column 8j + 4 + t (unsigned 0..15, weight + 8)
//   Q5_0x16 (352 bytes, = 16 x 22):
//     uint16_t d[16]
//     uint8_t  qs[4][64]   the low 4 bits of each value, as Q4_0x16 (value = weight + 16)
//     uint8_t  qh[64]      byte 4 * r + t, bit i: bit 4 of row r, column 4i + t (the byte lanes
//                          of the unpacked values: bit i shifted to bit 4 and masked is the high
//                          bit of the 4 columns 4i..4i+3 of every row at once, zmm or ymm)
//   Q8_0x16 (544 bytes, = 16 x 34):
//     uint16_t d[16]
//     uint8_t  qs[8][64]   chunk j, byte 4 * r + t = row r, column 4j + t, as weight + 128
// Rows past n_out (the last group's padding) have scale 0 and value 0.
//   Q4_Kx16 (one block per 256 columns; 2368 bytes, = 16 x 148: the file's 144 plus the 6-bit
//   scales and mins one per byte): each group is its half 0 (rows 0-7) for all blocks, then its
//   half 1; a half block (1184 bytes) of 8 rows r is
//     uint16_t d[8], dmin[8]    the f16 factors of rows 0..7
//     uint8_t  scales[8][8]     [sub-block j][row r], 6-bit
//     uint8_t  mins[8][8]       [sub-block j][row r], 6-bit
//     uint8_t  qs[8][4][32]     sub-block j (columns 32j..32j+31), chunk i, byte 4r + t: low
//                               nibble = column 8i + t, high nibble = 8i + 4 + t (0..15, as the file)
//   and its output, against Q8_K activation rows (the K-quants' vec_dot_type), per block:
//     sumi = sum_j scale_j * (q_j . a_j),  msum = sum_j min_j * (bsums[2j] + bsums[2j + 1])
//     acc = fma(d * d_a, float(sumi), acc); acc_m = fma(dmin * d_a, float(msum), acc_m)
//   and y = acc - acc_m (integer sums exact).
//   Q5_Kx16 (2 x 1440 bytes per block: Q4_Kx16's half block followed by
//     uint8_t  qh[8][32]        sub-block j, byte 4r + t, bit i: bit 4 of column 4i + t (as Q5_0x16)
//   values 0..31, the same output formula).
//   Q6_Kx16 (2 x 1680 bytes per block: the file's size), laid out as Q4_Kx16 (half 0 of all blocks,
//   then half 1); a half block of 8 rows r is
//     uint16_t d[8]             the f16 factors
//     int8_t   scales[16][8]    [sub-block j of 16 columns][row r]
//     uint8_t  ql[8][4][32]     32-column group s: the low 4 bits of the values u = q + 32 (0..63),
//                               as Q4_Kx16's nibbles (chunk i, byte 4r + t: columns 8i + t, 8i + 4 + t)
//     uint8_t  qh[8][2][32]     group s, k: byte 4r + t, bits 2m..2m+1 = the high 2 bits of column
//                               16k + 4m + t
//   and its output, against Q8_K rows, per block: sumi = sum_j scale_j * (u_j . a_j) - 32 * sum_j
//   scale_j * bsums[j]; acc = fma(d * d_a, float(sumi), acc); y = acc.
//   F16x16, BF16x16 (2 bytes per value, as the file): each group is two halves of 8 rows (rows
//   0-7, then 8-15), each half [n_in / 8][8 rows][8 values] — group g of 8 columns of row r of
//   the half at value (8 * g + r) * 8. Padding rows are zeros.
//
// Every output (row o, activation row c) is computed as
//   acc = 0; for each block b: acc = fma(d_w[o][b] * d_a[c][b], float(isum[b]), acc)
// where isum[b] is the exact integer dot product of the block's signed weights and the Q8_0
// activation's int8 values. The scalar reference and the SIMD kernel perform exactly these float
// operations, so they agree bit for bit, and an output does not depend on the rows or activation
// rows it is computed with (batch invariance, as the unpacked dot tiles).
// The float layouts take the activations as F32 rows rounded to the weight type (as matmul's F16 /
// BF16 dot tiles, tensor/x86/float_tile_avx2.h) and compute each output as those tiles do: eight
// float lanes, lane l accumulating fma(w[8g + l], a[8g + l]) over the groups g in order, then
// ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)).
#include <cstddef>
#include <cstdint>
#include <optional>

#include "tensor/dtype.h"

namespace ag {

inline constexpr int kPackRows = 16;

// Whether `type` has a packed layout (Q4_0, Q5_0, Q8_0, Q4_K, Q5_K, Q6_K, F16, BF16).
bool has_packed_layout(DType type);

// The SIMD kernels of the packed layout, all giving packed_matmul_ref's bits:
// - kAvx512Vnni: zmm, all 16 rows of a block per register, vpdpbusd (Q4_0, Q5_0, Q8_0);
// - kAvxVnni: ymm, rows 0-7 and 8-15 in two registers, vpdpbusd (Q4_0, Q5_0, Q8_0);
// - kAvx2: ymm, vpmaddubsw + vpmaddwd (Q4_0, Q5_0, Q8_0, Q4_K, Q5_K, Q6_K); FMA (F16, BF16).
enum class PackedIsa { kAvx2, kAvxVnni, kAvx512Vnni };
const char* packed_isa_name(PackedIsa isa);  // "avx2", "avxvnni", "avx512vnni"
// Whether this CPU runs `isa`'s kernel for `type` (AUTOGLM_FORCE_SCALAR=1 and AUTOGLM_MAX_ISA,
// read by core/cpu_features, take instruction sets away).
bool packed_kernel_available(PackedIsa isa, DType type);
// The fastest packed kernel this CPU has for `type`, if any. Models pack a matrix only when there
// is one: the packed scalar reference is for tests.
std::optional<PackedIsa> best_packed_isa(DType type);
inline bool packed_kernels_available(DType type) { return best_packed_isa(type).has_value(); }
// Bytes of the packed form of an n_out x n_in matrix (n_in a multiple of 32; K-quants: of 256).
size_t packed_bytes(DType type, int64_t n_in, int64_t n_out);

// Packs row groups [group_begin, group_end) of the GGUF matrix `src` (n_out rows of row_bytes)
// into `dst`, the start of the whole packed matrix. Groups are independent: threads may pack
// disjoint ranges.
void pack_groups(DType type, const uint8_t* src, size_t row_bytes, int64_t n_in, int64_t n_out,
                 int64_t group_begin, int64_t group_end, uint8_t* dst);

// Per-block facts of a Q8_0 activation row the kernels need besides its values: the scale as a
// float and the sum of its 32 values (the offset correction: sum((u - off) * a) = sum(u * a) -
// off * sum(a)). One per block, computed once per matmul.
struct ActBlockInfo {
  float d;
  int32_t sum;
};
void act_block_info(const void* q8_0_row, int64_t n_in, ActBlockInfo* info);

// y[c * y_stride + o] for rows o in [row_begin, row_end) and activation rows c < n_a of the packed
// matrix `packed` (n_in columns) against Q8_0 activation rows a + c * a_stride, whose block
// infos are info + c * info_stride (K-quants: Q8_K rows; F16 / BF16: F32 rows rounded to the type;
// info unused for both). Only outputs in the row range are written.
struct PackedMatmulArgs {
  DType type;
  const uint8_t* packed;
  int64_t n_in;
  int64_t row_begin, row_end;
  const uint8_t* a;
  size_t a_stride;
  const ActBlockInfo* info;
  size_t info_stride;  // in ActBlockInfo
  int n_a;
  float* y;
  size_t y_stride;
};
// The fastest kernel this CPU has for args.type (the scalar reference where there is none).
void packed_matmul(const PackedMatmulArgs& args);
// `isa`'s kernel (tests and benchmarks; only where packed_kernel_available(isa, args.type)).
void packed_matmul_on(PackedIsa isa, const PackedMatmulArgs& args);
// The scalar reference: same float operations, same bits.
void packed_matmul_ref(const PackedMatmulArgs& args);

}  // namespace ag
