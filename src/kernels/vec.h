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
  // Rows n_lanes..31 are taken as +0 and not read (attention over fewer than 32 positions writes
  // only the first n_lanes): the same additions, so the same bits as zeroed rows.
  void (*reduce_lanes32)(int n, int n_lanes, const float* partial, float* out);
  // x[i] = exp_poly_f32(x[i] - max) for all n; returns their sum formed as ggml_vec_soft_max_f32
  // forms it over a row padded with -inf to a multiple of 8 (llama.cpp's masked KV row): each group
  // of 8 summed in float in the order of an AVX horizontal add, the group sums added in double.
  double (*softmax_exp_f32)(int n, float* x, float max);
};

// ggml's AVX2 exp (ggml_v_expf, from ARM's optimized routines: a degree-5 polynomial after
// reduction by ln 2, max error ~1.5 ulp) for one lane, computed with the same fused multiply-adds
// so it gives the vector version's bits on any CPU. llama.cpp's attention softmax uses it; expf
// differs from it in the last bit for many inputs, enough to flip an F16 rounding downstream.
float exp_poly_f32(float x);

const VecKernels& vec_kernels();            // fastest for this CPU
const VecKernels& vec_kernels_reference();  // scalar

}  // namespace ag::kernels
