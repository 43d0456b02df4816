#pragma once
// AVX2 and AVX-VNNI (ymm) kernels of the packed (16-row interleaved) Q4_0 / Q5_0 / Q8_0 matrices: see
// tensor/packed.h for the layout and the arithmetic they reproduce bit for bit. Compiled per
// function with __attribute__((target)); call through ag::packed_matmul_on().
#include "tensor/packed.h"

#if defined(__x86_64__)
#define AUTOGLM_HAVE_PACKED_AVX2 1

namespace ag::packed_avx2 {

// Whether these kernels handle `type` (Q4_0, Q5_0, Q8_0).
bool has_kernel(DType type);
// Needs AVX2 + FMA + F16C.
void matmul(const PackedMatmulArgs& args);
// Needs AVX2 + FMA + F16C + AVX-VNNI.
void matmul_vnni(const PackedMatmulArgs& args);
// Q4_Kx16 / Q5_Kx16 / Q6_Kx16 against Q8_K activation rows (packed_kquant_avx2.cpp). Need AVX2 +
// FMA + F16C.
void matmul_q4_k(const PackedMatmulArgs& args);
void matmul_q5_k(const PackedMatmulArgs& args);
void matmul_q6_k(const PackedMatmulArgs& args);

}  // namespace ag::packed_avx2

#endif
