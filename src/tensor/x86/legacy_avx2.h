#pragma once
// AVX2 + FMA + F16C kernels of the float and legacy quant types. Same contracts as the
// references in tensor/legacy_ref.h, with these guarantees (checked by tests/tensor):
// - to_float is bit-identical to the reference (each element is one int->float conversion, one
//   multiply and, for the types with a min, one add: no fused operations);
// - from_float is byte-identical to the reference for every non-NaN input (F16 NaNs keep F16C's
//   payload; Q8_0/Q8_1 agree even on NaN and inf);
// - vec_dot sums the same integer block products, but accumulates the scaled block sums in eight
//   float lanes with FMA, so it differs from the reference by float rounding only;
// - the dot tiles give exactly the vec_dot result for every output.
// Only call these when cpu_has_avx2_fma() is true. Compiled per function with
// __attribute__((target)), so the rest of the binary keeps the baseline ISA.
#include <cstddef>
#include <cstdint>

#include "tensor/dtype.h"

#if defined(__x86_64__) || defined(__i386__)
#define AUTOGLM_HAVE_X86_KERNELS 1

namespace ag::legacy_avx2 {

void to_float_f16(const void* src, float* dst, int64_t n);
void to_float_bf16(const void* src, float* dst, int64_t n);
void to_float_q4_0(const void* src, float* dst, int64_t n);
void to_float_q4_1(const void* src, float* dst, int64_t n);
void to_float_q5_0(const void* src, float* dst, int64_t n);
void to_float_q5_1(const void* src, float* dst, int64_t n);
void to_float_q8_0(const void* src, float* dst, int64_t n);
void to_float_q8_1(const void* src, float* dst, int64_t n);

void from_float_f16(const float* src, void* dst, int64_t n);
void from_float_bf16(const float* src, void* dst, int64_t n);
void from_float_q8_0(const float* src, void* dst, int64_t n);
void from_float_q8_1(const float* src, void* dst, int64_t n);

float vec_dot_f32(int64_t n, const void* row, const void* act);
float vec_dot_q4_0(int64_t n, const void* row, const void* act);
float vec_dot_q4_1(int64_t n, const void* row, const void* act);
float vec_dot_q5_0(int64_t n, const void* row, const void* act);
float vec_dot_q5_1(int64_t n, const void* row, const void* act);
float vec_dot_q8_0(int64_t n, const void* row, const void* act);

// Dot tiles of the Q8_0-activation types: y[c * y_stride + r] = vec_dot(n, w + r * w_stride,
// a + c * a_stride) for r < n_w, c < n_a, bit-identical to the vec_dot above whatever n_w and
// n_a (each output has its own accumulators and the same per-block arithmetic). Each pass over the
// blocks covers up to max_rows x max_cols outputs (each in 1..4), so weight blocks are unpacked
// once per max_cols activation rows and activation blocks loaded once per max_rows weight rows.
void dot_tile_q4_0(int64_t n, const void* w, size_t w_stride, int n_w, const void* a,
                   size_t a_stride, int n_a, float* y, size_t y_stride, int max_rows, int max_cols);
void dot_tile_q5_0(int64_t n, const void* w, size_t w_stride, int n_w, const void* a,
                   size_t a_stride, int n_a, float* y, size_t y_stride, int max_rows, int max_cols);
void dot_tile_q8_0(int64_t n, const void* w, size_t w_stride, int n_w, const void* a,
                   size_t a_stride, int n_a, float* y, size_t y_stride, int max_rows, int max_cols);

// The tiles run on the best of three instruction sets this CPU has, all giving the same bits:
// - kAvx512Vnni (avx512f + avx512bw + avx512vnni): zmm registers hold two consecutive blocks (the
//   even block in the low half, the odd one in the high half: the two accumulators of the ymm
//   code side by side), vpdpbusd on 64 bytes; twice the work per instruction and 32 registers, so
//   the 4 x 4 tile's 16 accumulators no longer spill;
// - kAvxVnni: ymm vpdpbusd; kAvx2: maddubs + madd. Same exact int32 lanes as vpdpbusd.
// The vec_dots above use the ymm code (kAvxVnni or kAvx2). For tests and benchmarks: run a tile of
// `type` (Q4_0, Q5_0, Q8_0) on a chosen instruction set (only where dot_tile_isa_available()).
enum class TileIsa { kAvx2, kAvxVnni, kAvx512Vnni };
bool dot_tile_isa_available(TileIsa isa);
const char* tile_isa_name(TileIsa isa);  // "avx2", "avxvnni", "avx512vnni"
void dot_tile_isa(DType type, TileIsa isa, int64_t n, const void* w, size_t w_stride, int n_w,
                  const void* a, size_t a_stride, int n_a, float* y, size_t y_stride, int max_rows,
                  int max_cols);

}  // namespace ag::legacy_avx2

#endif
