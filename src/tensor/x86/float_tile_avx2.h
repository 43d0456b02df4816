#pragma once
// F16 and BF16 weights on AVX2 + FMA + F16C: the dot tiles behind matmul, and the vec_dots
// registered as the two types' fast kernels, with one summation order for both.
//
// Per output: one 8-lane float accumulator takes fma(w[i..i+8), a[i..i+8)) for each whole group of
// 8 elements in order, then its lanes are summed (hsum: upper half onto lower, then pairs), then
// the n % 8 last products are added one by one. Every output has its own accumulator, so a tile of
// any shape gives each output exactly the vec_dot result (the tests check it bit for bit) and
// matmul's rows do not depend on the batch or the threads.
//
// Why tiles: with one vec_dot per output, each 8 multiply-adds cost two F16->F32 conversions (the
// weights and the activation) and a prefill ran at ~38% of the FMA peak. A tile converts each
// weight vector once for up to 3 activation rows, which matmul hands over already widened to F32
// (rounded to F16 / BF16 first, as ggml rounds activations to the weight type: the values are those
// vec_dot sees, so the results are identical); the activation loads fold into the FMAs.
#include <cstddef>
#include <cstdint>

#include "tensor/packed.h"

#if defined(__x86_64__) || defined(__i386__)
#define AUTOGLM_HAVE_X86_FLOAT_TILES 1

namespace ag::float_tile {

// row: n weights; act: n activations of the same type (F16, resp. BF16).
float vec_dot_f16(int64_t n, const void* row, const void* act);
float vec_dot_bf16(int64_t n, const void* row, const void* act);

// y[c * y_stride + r] = vec_dot(n, w + r * w_stride, a_c) for r < n_w, c < n_a, where a_c, at
// a + c * a_stride (bytes), holds n floats that are exactly F16 (resp. BF16) values widened to F32.
// Each pass over the row covers up to max_rows x max_cols outputs (rows clamped to 1..8, columns
// to 1..3): decode takes 8 x 1 (eight FMA chains in flight), prefill 4 x 3 (12 accumulators, 4
// weight vectors converted per 12 FMAs).
void dot_tile_f16(int64_t n, const void* w, size_t w_stride, int n_w, const void* a, size_t a_stride,
                  int n_a, float* y, size_t y_stride, int max_rows, int max_cols);
void dot_tile_bf16(int64_t n, const void* w, size_t w_stride, int n_w, const void* a, size_t a_stride,
                   int n_a, float* y, size_t y_stride, int max_rows, int max_cols);

// The packed F16x16 / BF16x16 matrices (tensor/packed.h): args.a holds widened activation rows
// as the tiles take them (args.info is unused). Each output equals the tiles' for its GGUF row.
void packed_matmul(const PackedMatmulArgs& args);

}  // namespace ag::float_tile

#endif
