#pragma once
// AVX-512 VNNI kernel of the packed (16-row interleaved) Q4_0 / Q5_0 / Q8_0 matrices: see tensor/packed.h
// for the layout and the arithmetic it must reproduce bit for bit. Compiled per function with
// __attribute__((target)); call through ag::packed_matmul_on().
#include "tensor/packed.h"

#if defined(__x86_64__)
#define AUTOGLM_HAVE_PACKED_AVX512 1

namespace ag::packed_avx512 {

void matmul(const PackedMatmulArgs& args);

}  // namespace ag::packed_avx512

#endif
