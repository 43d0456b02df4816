#pragma once
// Weight quantization of the float and legacy quant types (the QuantizeWeightsFn entries of the
// registry), as GGML's quantize_q4_0 … quantize_q8_0 do it:
// - without an importance vector: the round-to-nearest reference quantizer (legacy_ref.h), so the
//   bytes equal llama-quantize's without --imatrix;
// - with one ([n_per_row], e.g. mean squared activations per input column): per 32-block scale
//   search (kquant::make_qx_quants for Q4_0/Q5_0, make_qkx3_quants for Q4_1/Q5_1) minimising the error
//   weighted by importance[j] * sqrt(sigma2 + x[j]^2), sigma2 = mean of x^2 over the row.
// Q8_0 and the float types ignore the importance vector (GGML does too: 8 bits leave nothing
// worth searching for).
// src: [n_rows, n_per_row] floats; dst: n_rows * row_bytes(type, n_per_row) bytes; n_per_row a
// multiple of 32 for the quant types.
#include <cstdint>

namespace ag::legacy_quant {

void quantize_f32(const float* src, void* dst, int64_t n_rows, int64_t n_per_row, const float* importance);
void quantize_f16(const float* src, void* dst, int64_t n_rows, int64_t n_per_row, const float* importance);
void quantize_bf16(const float* src, void* dst, int64_t n_rows, int64_t n_per_row, const float* importance);
void quantize_q4_0(const float* src, void* dst, int64_t n_rows, int64_t n_per_row, const float* importance);
void quantize_q4_1(const float* src, void* dst, int64_t n_rows, int64_t n_per_row, const float* importance);
void quantize_q5_0(const float* src, void* dst, int64_t n_rows, int64_t n_per_row, const float* importance);
void quantize_q5_1(const float* src, void* dst, int64_t n_rows, int64_t n_per_row, const float* importance);
void quantize_q8_0(const float* src, void* dst, int64_t n_rows, int64_t n_per_row, const float* importance);

}  // namespace ag::legacy_quant
