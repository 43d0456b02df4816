#include "kernels/rope.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/cpu_features.h"

namespace ag::kernels {

namespace {

// The dimension index whose wavelength makes n_rotations turns over the original context.
float yarn_corr_dim(int n_rot, int n_ctx_orig, float n_rotations, float base) {
  return static_cast<float>(n_rot) *
         std::log(static_cast<float>(n_ctx_orig) / (n_rotations * 2.0f * std::numbers::pi_v<float>)) /
         (2.0f * std::log(base));
}

}  // namespace

void rope_cos_sin(const RopeParams& p, int32_t pos, float* cos_out, float* sin_out) {
  const int n_pairs = p.n_rot / 2;
  const float theta_scale = std::pow(p.base, -2.0f / static_cast<float>(p.n_rot));
  float corr_low = 0.0f, corr_high = 0.0f;
  float mscale = p.attn_factor;
  if (p.ext_factor != 0.0f) {
    corr_low = std::max(0.0f, std::floor(yarn_corr_dim(p.n_rot, p.n_ctx_orig, p.beta_fast, p.base)));
    corr_high = std::min(static_cast<float>(p.n_rot - 1),
                         std::ceil(yarn_corr_dim(p.n_rot, p.n_ctx_orig, p.beta_slow, p.base)));
    mscale *= 1.0f + 0.1f * std::log(1.0f / p.freq_scale);
  }
  // Like ggml, the angle is advanced by repeated multiplication rather than pow per pair.
  float theta_base = static_cast<float>(pos);
  for (int i = 0; i < n_pairs; ++i) {
    const float ff = p.freq_factors != nullptr ? p.freq_factors[i] : 1.0f;
    const float theta_extrap = theta_base / ff;
    const float theta_interp = p.freq_scale * theta_extrap;
    float theta = theta_interp;
    if (p.ext_factor != 0.0f) {
      const float y = (static_cast<float>(i) - corr_low) / std::max(0.001f, corr_high - corr_low);
      const float ramp = (1.0f - std::min(1.0f, std::max(0.0f, y))) * p.ext_factor;
      theta = theta_interp * (1.0f - ramp) + theta_extrap * ramp;
    }
    cos_out[i] = std::cos(theta) * mscale;
    sin_out[i] = std::sin(theta) * mscale;
    theta_base *= theta_scale;
  }
}

namespace {

// ggml's rope is C compiled with FMA available, where the compiler contracts
// x0*cos - x1*sin and x0*sin + x1*cos into one fused multiply-add each (the first product fused).
// Doing the same moves our stories260K logprobs closer to llama.cpp's (max |d| 8.9e-4 -> 4.2e-4).
// std::fma gives those bits on any CPU; the AVX2 copy only lets the compiler inline it.
inline void rope_apply_body(float* x, int n_head, int head_dim, int n_rot, bool neox,
                            const float* cos, const float* sin) {
  const int n_pairs = n_rot / 2;
  for (int h = 0; h < n_head; ++h) {
    float* v = x + static_cast<int64_t>(h) * head_dim;
    for (int i = 0; i < n_pairs; ++i) {
      const int a = neox ? i : 2 * i;
      const int b = neox ? i + n_pairs : 2 * i + 1;
      const float x0 = v[a], x1 = v[b];
      v[a] = std::fma(x0, cos[i], -(x1 * sin[i]));
      v[b] = std::fma(x0, sin[i], x1 * cos[i]);
    }
  }
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma"))) void rope_apply_fma(float* x, int n_head, int head_dim,
                                                        int n_rot, bool neox, const float* cos,
                                                        const float* sin) {
  rope_apply_body(x, n_head, head_dim, n_rot, neox, cos, sin);
}
#endif

}  // namespace

void rope_apply(float* x, int n_head, int head_dim, int n_rot, bool neox, const float* cos,
                const float* sin) {
#if defined(__x86_64__)
  static const bool fma = cpu_has_avx2_fma();
  if (fma) return rope_apply_fma(x, n_head, head_dim, n_rot, neox, cos, sin);
#endif
  rope_apply_body(x, n_head, head_dim, n_rot, neox, cos, sin);
}

}  // namespace ag::kernels
