#pragma once
// Small vector kernels of attention and the element-wise ops: a scalar reference for each and an
// AVX2+FMA+F16C version chosen once at start-up (AUTOGLM_FORCE_SCALAR=1 forces the reference).
// Each function's summation order depends only on n, never on the caller, so results are
// reproducible run to run and batch to batch.
//
// The AVX2 dot products sum in the order of ggml's CPU vec_dot_f32 / vec_dot_f16 (four 8-lane
// accumulators over 32-element steps, reduced pairwise, the tail added last), the order llama.cpp
// uses in attention. Matching it keeps our logits within ~1e-5 of llama.cpp's on F32 models
// instead of drifting wherever an F16 rounding of an attention input lands the other way.
#include <cstdint>

namespace ag::kernels {

struct VecKernels {
  float (*dot_f32)(int n, const float* x, const float* y);        // sum x[i] * y[i]
  float (*dot_f16)(int n, const uint16_t* x, const uint16_t* y);  // both IEEE half
  void (*axpy_f32)(int n, float a, const float* x, float* y);     // y[i] += a * x[i]
  void (*axpy_f16)(int n, float a, const uint16_t* x, float* y);
  void (*f32_to_f16)(int n, const float* x, uint16_t* y);         // round to nearest even
  // out[i] = sum over the 32 rows of partial [32][n] in the order of a 32-lane reduction:
  // lanes (k, j) = row 8k + j; ((k0 + k2) + (k1 + k3)), then j: ((j0+j4)+(j1+j5))+((j2+j6)+(j3+j7)).
  void (*reduce_lanes32)(int n, const float* partial, float* out);
};

const VecKernels& vec_kernels();            // fastest for this CPU
const VecKernels& vec_kernels_reference();  // scalar

}  // namespace ag::kernels
