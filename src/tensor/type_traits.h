#pragma once
// Per-type kernels: dequantize, quantize and the dot product used by every matmul.
//
// Like llama.cpp, a weight row is never dequantized for a dot product: the activation row is
// quantized once per block to `vec_dot_type` (Q8_0 for Q4_0/Q5_0/Q8_0, Q8_1 for Q4_1/Q5_1, Q8_K for
// the K-quants, F16/BF16/F32 for the float types) and the dot runs in integer arithmetic.
// Each type has a scalar reference (type_traits_reference) and, where the CPU allows, an
// AVX2+FMA version chosen once at start-up (type_traits). Tests compare the two.
#include <cstdint>

#include "tensor/dtype.h"

namespace ag {

struct TypeTraits {
  DType type;
  DType vec_dot_type;
  // Dequantizes n elements (n a multiple of the block size) to floats.
  void (*to_float)(const void* src, float* dst, int64_t n);
  // Quantizes n floats quickly (round-to-nearest per block): used for activations.
  void (*from_float)(const float* src, void* dst, int64_t n);
  // Dot product of n elements: a row of this type with a row of vec_dot_type.
  float (*vec_dot)(int64_t n, const void* row, const void* act);
};

const TypeTraits& type_traits(DType type);            // fastest for this CPU; type must be computable
const TypeTraits& type_traits_reference(DType type);  // scalar reference
bool has_type_traits(DType type);                     // computable weight type or activation type

// Quantizes weights with a search for scales/mins that minimises the (importance-weighted) squared
// error, as llama.cpp's quantizers do; `importance` is [n_per_row] or null.
// src: [n_rows, n_per_row] floats; dst: n_rows * row_bytes(type, n_per_row) bytes.
void quantize_weights(DType type, const float* src, void* dst, int64_t n_rows, int64_t n_per_row,
                      const float* importance);

}  // namespace ag
