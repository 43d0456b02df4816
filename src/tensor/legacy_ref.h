#pragma once
// Scalar reference kernels of the float and legacy quant types (F32, F16, BF16, Q4_0, Q4_1, Q5_0,
// Q5_1, Q8_0, Q8_1), written to match GGML's reference code operation for operation: the same
// quantizer rounding (quantize_row_*_ref), the same per-block float accumulation in the dots.
// The fast kernels (x86/legacy_avx2.h) are tested against these.
//
// n is a number of elements, a multiple of the block size (32 for the quant types, any n for the
// float types); rows are packed arrays of blocks (quant_blocks.h).
#include <cstdint>

namespace ag::legacy_ref {

// Dequantize: n elements of the type -> n floats.
void to_float_f32(const void* src, float* dst, int64_t n);
void to_float_f16(const void* src, float* dst, int64_t n);
void to_float_bf16(const void* src, float* dst, int64_t n);
void to_float_q4_0(const void* src, float* dst, int64_t n);
void to_float_q4_1(const void* src, float* dst, int64_t n);
void to_float_q5_0(const void* src, float* dst, int64_t n);
void to_float_q5_1(const void* src, float* dst, int64_t n);
void to_float_q8_0(const void* src, float* dst, int64_t n);
void to_float_q8_1(const void* src, float* dst, int64_t n);

// Round-to-nearest quantization (GGML quantize_row_*_ref): n floats -> n elements of the type.
// F16/BF16 round to nearest even.
void from_float_f32(const float* src, void* dst, int64_t n);
void from_float_f16(const float* src, void* dst, int64_t n);
void from_float_bf16(const float* src, void* dst, int64_t n);
void from_float_q4_0(const float* src, void* dst, int64_t n);
void from_float_q4_1(const float* src, void* dst, int64_t n);
void from_float_q5_0(const float* src, void* dst, int64_t n);
void from_float_q5_1(const float* src, void* dst, int64_t n);
void from_float_q8_0(const float* src, void* dst, int64_t n);
void from_float_q8_1(const float* src, void* dst, int64_t n);

// Dot products of a weight row with an activation row of its vec_dot_type. The float types
// accumulate in double (as GGML's scalar code does); the quant types sum integers per block and
// accumulate the scaled block sums in float.
float vec_dot_f32(int64_t n, const void* row, const void* act);   // act: F32
float vec_dot_f16(int64_t n, const void* row, const void* act);   // act: F16
float vec_dot_bf16(int64_t n, const void* row, const void* act);  // act: BF16
float vec_dot_q4_0(int64_t n, const void* row, const void* act);  // act: Q8_0
float vec_dot_q4_1(int64_t n, const void* row, const void* act);  // act: Q8_1
float vec_dot_q5_0(int64_t n, const void* row, const void* act);  // act: Q8_0
float vec_dot_q5_1(int64_t n, const void* row, const void* act);  // act: Q8_1
float vec_dot_q8_0(int64_t n, const void* row, const void* act);  // act: Q8_0

}  // namespace ag::legacy_ref
