#pragma once
// AVX-512 (F, BW) + VNNI dot products of the K-quants (x86/kquant_avx512.cpp). Compiled per
// function with __attribute__((target)); call only when cpu_has_avx512_vnni().
#include <cstdint>

#if defined(__x86_64__)
#define AUTOGLM_HAVE_KQUANT_AVX512 1

namespace ag::kquant::avx512 {

float vec_dot_q4_k_q8_k(int64_t n, const void* row, const void* act);
float vec_dot_q6_k_q8_k(int64_t n, const void* row, const void* act);

}  // namespace ag::kquant::avx512

#endif
