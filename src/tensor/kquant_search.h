#pragma once
// Scale searches of GGML's K-quant quantizers (ggml-quants.c). Each one picks, for a small group
// of values, the integer levels L and the scale (and min) that minimise a weighted squared or
// absolute error, instead of plain round-to-nearest from the max. The searches are what make a
// 4-bit K-quant model close to its float original, so they follow GGML's arithmetic closely: the
// KL divergence of our quantized models is compared with llama.cpp's.
#include <cstdint>
#include <cstring>

namespace ag::kquant {

// Round to nearest, ties to even, with GGML's float trick (valid for |x| <= 4194303); the same
// result as lrintf in the default rounding mode, but branch-free and bit-identical to GGML.
inline int nearest_int(float x) {
  const float v = x + 12582912.0f;  // 1.5 * 2^23: puts the integer in the low mantissa bits
  int32_t i;
  std::memcpy(&i, &v, sizeof(i));
  return (i & 0x007fffff) - 0x00400000;
}

// Symmetric levels L[i] - nmax in [-nmax, nmax-1] with one scale (returned); the sign of the
// scale follows the value of largest magnitude so that value gets the extra level -nmax.
// Error weights: `weights` when given, else x^2 (GGML's rmse_type 1). Tries 18 scales around
// nmax/max and keeps the least-squares optimum of the best one.
float make_qx_quants(int n, int nmax, const float* x, int8_t* L, const float* weights);

// Q3_K's search without importance: start from round-to-nearest and move single levels while
// the x^2-weighted error falls (at most 5 passes). L[i] in [0, 2*nmax-1]; returns the scale.
float make_q3_quants(int n, int nmax, const float* x, int8_t* L, bool do_rmse);

// Asymmetric levels L[i] in [0, nmax] with scale and min: x ≈ scale * L - the_min (the_min >= 0).
// Tries nstep+1 scales (nmax + rmin + rdelta*is) / (max - min) and, for each, the weighted least-
// squares scale and min; keeps the one of least weighted error (|diff| when use_mad, else diff^2).
// Laux: scratch of n bytes. make_qkx2 needs weights; make_qkx3 uses x^2 when weights is null and
// guards against a min that lands at or beyond max.
float make_qkx2_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                       float* the_min, uint8_t* Laux, float rmin, float rdelta, int nstep,
                       bool use_mad);
float make_qkx3_quants(int n, int nmax, const float* x, const float* weights, uint8_t* L,
                       float* the_min, uint8_t* Laux, float rmin, float rdelta, int nstep,
                       bool use_mad);

// Non-negative levels L[i] in [0, nmax] for non-negative x (sub-block scales and mins of a super-
// block), weighted by quant_weights; returns the super-block scale.
float make_qp_quants(int n, int nmax, const float* x, uint8_t* L, const float* quant_weights);

}  // namespace ag::kquant
