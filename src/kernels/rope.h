#pragma once
// Rotary position embedding as ggml computes it (ggml_rope_ext): per pair i of the n_rot rotated
// dimensions, theta = pos * base^(-2i/n_rot) / freq_factor[i], scaled by freq_scale (linear
// scaling), blended with the unscaled angle over YaRN's correction range when ext_factor != 0.
#include <cstdint>

namespace ag::kernels {

struct RopeParams {
  int n_rot = 0;              // rotated dimensions per head (even)
  float base = 10000.0f;      // frequency base
  float freq_scale = 1.0f;    // 1 / linear scaling factor
  const float* freq_factors = nullptr;  // [n_rot / 2] divisors of the frequencies (Llama 3), or null
  float ext_factor = 0.0f;    // YaRN extrapolation mix (0 = off)
  float attn_factor = 1.0f;   // magnitude scale of cos/sin (YaRN)
  float beta_fast = 32.0f;    // YaRN correction range
  float beta_slow = 1.0f;
  int n_ctx_orig = 0;         // YaRN: the context the model was trained on
};

// cos and sin of each pair's angle at position `pos`: cos_out, sin_out [n_rot / 2].
void rope_cos_sin(const RopeParams& params, int32_t pos, float* cos_out, float* sin_out);

// Rotates n_head heads of x [n_head, head_dim] in place with cos/sin [n_rot / 2].
// neox = false: pairs (x[2i], x[2i+1]); neox = true: pairs (x[i], x[i + n_rot/2]).
// Dimensions past n_rot are left alone. Each rotated value is one fused multiply-add over the other
// product (x0*cos - x1*sin as fma(x0, cos, -(x1*sin))), as ggml's compiled rope computes it.
void rope_apply(float* x, int n_head, int head_dim, int n_rot, bool neox, const float* cos,
                const float* sin);

}  // namespace ag::kernels
