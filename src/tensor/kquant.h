#pragma once
// Internal kernels of the K-quant family (Q2_K … Q6_K and the Q8_K activations). Callers outside
// src/tensor use them through type_traits() / quantize_weights(); tests call them directly.
// Every n is a count of elements and a multiple of QK_K (256).
#include <cstdint>

#include "tensor/kquant_blocks.h"

namespace ag::kquant {

// ---- scalar reference (kquant_ref.cpp) ----

void dequantize_q2_k(const void* src, float* dst, int64_t n);
void dequantize_q3_k(const void* src, float* dst, int64_t n);
void dequantize_q4_k(const void* src, float* dst, int64_t n);
void dequantize_q5_k(const void* src, float* dst, int64_t n);
void dequantize_q6_k(const void* src, float* dst, int64_t n);
void dequantize_q8_k(const void* src, float* dst, int64_t n);

// Activations: GGML's quantize_row_q8_K_ref (scale from the value of largest magnitude, -127/max,
// round to nearest even, bsums of each 16).
void quantize_q8_k(const float* src, void* dst, int64_t n);

// Dot products of a weight row with a Q8_K activation row, accumulated like GGML's *_generic
// versions: exact integer sums per block, then float scale products.
float vec_dot_q2_k_q8_k(int64_t n, const void* row, const void* act);
float vec_dot_q3_k_q8_k(int64_t n, const void* row, const void* act);
float vec_dot_q4_k_q8_k(int64_t n, const void* row, const void* act);
float vec_dot_q5_k_q8_k(int64_t n, const void* row, const void* act);
float vec_dot_q6_k_q8_k(int64_t n, const void* row, const void* act);

// ---- weight quantizers (kquant_quantize.cpp) ----

// GGML's quantize_row_qN_K_ref: the scale search without an importance matrix. Deterministic;
// this is what `from_float` does for these types and what quantize_weights uses without imatrix.
void quantize_row_q2_k(const float* src, void* dst, int64_t n);
void quantize_row_q3_k(const float* src, void* dst, int64_t n);
void quantize_row_q4_k(const float* src, void* dst, int64_t n);
void quantize_row_q5_k(const float* src, void* dst, int64_t n);
void quantize_row_q6_k(const float* src, void* dst, int64_t n);

// GGML's quantize_qN_K: src [n_rows, n_per_row]; importance [n_per_row] or null. With an
// importance matrix the importance-weighted searches (make_qkx3 / make_qp / weighted make_qx)
// run per row; without, the rows go through quantize_row_qN_k.
void quantize_q2_k(const float* src, void* dst, int64_t n_rows, int64_t n_per_row,
                   const float* importance);
void quantize_q3_k(const float* src, void* dst, int64_t n_rows, int64_t n_per_row,
                   const float* importance);
void quantize_q4_k(const float* src, void* dst, int64_t n_rows, int64_t n_per_row,
                   const float* importance);
void quantize_q5_k(const float* src, void* dst, int64_t n_rows, int64_t n_per_row,
                   const float* importance);
void quantize_q6_k(const float* src, void* dst, int64_t n_rows, int64_t n_per_row,
                   const float* importance);

// Unpacks sub-block j (0..7) of the 12-byte scales of Q4_K/Q5_K into its 6-bit scale and min.
inline void get_scale_min_k4(int j, const uint8_t* q, uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = q[j] & 63;
    *min = q[j + 4] & 63;
  } else {
    *scale = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *min = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// Unpacks the 16 signed 6-bit scales of a Q3_K block (already minus 32).
void unpack_q3_k_scales(const uint8_t* packed, int8_t* scales);

// ---- AVX2 + FMA + F16C (x86/kquant_avx2.cpp); only call when cpu_has_avx2_fma() ----
namespace avx2 {
float vec_dot_q2_k_q8_k(int64_t n, const void* row, const void* act);
float vec_dot_q3_k_q8_k(int64_t n, const void* row, const void* act);
float vec_dot_q4_k_q8_k(int64_t n, const void* row, const void* act);
float vec_dot_q5_k_q8_k(int64_t n, const void* row, const void* act);
float vec_dot_q6_k_q8_k(int64_t n, const void* row, const void* act);
// Bit-identical to the reference dequantizers (same products, no fused multiply-add).
void dequantize_q4_k(const void* src, float* dst, int64_t n);
void dequantize_q5_k(const void* src, float* dst, int64_t n);
void dequantize_q6_k(const void* src, float* dst, int64_t n);
}  // namespace avx2

}  // namespace ag::kquant
