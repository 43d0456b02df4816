#include "tensor/legacy_ref.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "tensor/quant_blocks.h"

namespace ag::legacy_ref {

namespace {

// GGML converts `x * id + 8.5f` (and similar) to an integer by truncation, then clamps from above.
// For finite blocks the value is always in range; clamping first keeps garbage input (inf, NaN,
// values near FLT_MAX) away from an undefined float -> int conversion.
inline int trunc_clamped(float v, int lo, int hi) {
  if (!(v >= static_cast<float>(lo))) return lo;  // also NaN
  if (v >= static_cast<float>(hi)) return hi;
  return static_cast<int>(v);
}

// roundf (half away from zero) to int8, as GGML's Q8 quantizers store it; NaN -> 0 (only from
// non-finite input).
inline int8_t round_to_i8(float v) {
  if (!(v == v)) return 0;
  const float r = std::round(v);
  return static_cast<int8_t>(std::clamp(r, -128.0f, 127.0f));
}

inline uint32_t load_qh(const uint8_t* qh) {
  uint32_t v;
  std::memcpy(&v, qh, sizeof(v));
  return v;  // little-endian hosts only, as GGML assumes
}

// The block's element of largest magnitude, with its sign (GGML keeps the first one found).
inline float signed_absmax(const float* x, int n) {
  float amax = 0.0f;
  float max = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

}  // namespace

// ---------------------------------------------------------------- to_float

void to_float_f32(const void* src, float* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void to_float_f16(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(x[i]);
}

void to_float_bf16(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const uint16_t*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(x[i]);
}

void to_float_q4_0(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ4_0*>(src);
  for (int64_t i = 0; i < n / kQK4_0; ++i, dst += kQK4_0) {
    const float d = f16_to_f32(x[i].d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      dst[j] = static_cast<float>((x[i].qs[j] & 0x0F) - 8) * d;
      dst[j + kQK4_0 / 2] = static_cast<float>((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}

void to_float_q4_1(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ4_1*>(src);
  for (int64_t i = 0; i < n / kQK4_1; ++i, dst += kQK4_1) {
    const float d = f16_to_f32(x[i].d);
    const float m = f16_to_f32(x[i].m);
    for (int j = 0; j < kQK4_1 / 2; ++j) {
      dst[j] = static_cast<float>(x[i].qs[j] & 0x0F) * d + m;
      dst[j + kQK4_1 / 2] = static_cast<float>(x[i].qs[j] >> 4) * d + m;
    }
  }
}

void to_float_q5_0(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ5_0*>(src);
  for (int64_t i = 0; i < n / kQK5_0; ++i, dst += kQK5_0) {
    const float d = f16_to_f32(x[i].d);
    const uint32_t qh = load_qh(x[i].qh);
    for (int j = 0; j < kQK5_0 / 2; ++j) {
      const int h0 = static_cast<int>((qh >> j) << 4 & 0x10);
      const int h1 = static_cast<int>((qh >> (j + 12)) & 0x10);
      dst[j] = static_cast<float>(((x[i].qs[j] & 0x0F) | h0) - 16) * d;
      dst[j + kQK5_0 / 2] = static_cast<float>(((x[i].qs[j] >> 4) | h1) - 16) * d;
    }
  }
}

void to_float_q5_1(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ5_1*>(src);
  for (int64_t i = 0; i < n / kQK5_1; ++i, dst += kQK5_1) {
    const float d = f16_to_f32(x[i].d);
    const float m = f16_to_f32(x[i].m);
    const uint32_t qh = load_qh(x[i].qh);
    for (int j = 0; j < kQK5_1 / 2; ++j) {
      const int h0 = static_cast<int>((qh >> j) << 4 & 0x10);
      const int h1 = static_cast<int>((qh >> (j + 12)) & 0x10);
      dst[j] = static_cast<float>((x[i].qs[j] & 0x0F) | h0) * d + m;
      dst[j + kQK5_1 / 2] = static_cast<float>((x[i].qs[j] >> 4) | h1) * d + m;
    }
  }
}

void to_float_q8_0(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ8_0*>(src);
  for (int64_t i = 0; i < n / kQK8_0; ++i, dst += kQK8_0) {
    const float d = f16_to_f32(x[i].d);
    for (int j = 0; j < kQK8_0; ++j) dst[j] = static_cast<float>(x[i].qs[j]) * d;
  }
}

void to_float_q8_1(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ8_1*>(src);
  for (int64_t i = 0; i < n / kQK8_1; ++i, dst += kQK8_1) {
    const float d = f16_to_f32(x[i].d);
    for (int j = 0; j < kQK8_1; ++j) dst[j] = static_cast<float>(x[i].qs[j]) * d;
  }
}

// ---------------------------------------------------------------- from_float

void from_float_f32(const float* src, void* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void from_float_f16(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) y[i] = f32_to_f16(src[i]);
}

void from_float_bf16(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) y[i] = f32_to_bf16(src[i]);
}

void from_float_q4_0(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ4_0*>(dst);
  for (int64_t i = 0; i < n / kQK4_0; ++i, src += kQK4_0) {
    // The largest magnitude maps to -8, the side with one more level.
    const float d = signed_absmax(src, kQK4_0) / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      const float x0 = src[j] * id;
      const float x1 = src[j + kQK4_0 / 2] * id;
      const int q0 = trunc_clamped(x0 + 8.5f, 0, 15);
      const int q1 = trunc_clamped(x1 + 8.5f, 0, 15);
      y[i].qs[j] = static_cast<uint8_t>(q0 | q1 << 4);
    }
  }
}

void from_float_q4_1(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ4_1*>(dst);
  for (int64_t i = 0; i < n / kQK4_1; ++i, src += kQK4_1) {
    float min = src[0];
    float max = src[0];
    for (int j = 1; j < kQK4_1; ++j) {
      if (src[j] < min) min = src[j];
      if (src[j] > max) max = src[j];
    }
    const float d = (max - min) / 15;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    y[i].m = f32_to_f16(min);
    for (int j = 0; j < kQK4_1 / 2; ++j) {
      const float x0 = (src[j] - min) * id;
      const float x1 = (src[j + kQK4_1 / 2] - min) * id;
      const int q0 = trunc_clamped(x0 + 0.5f, 0, 15);
      const int q1 = trunc_clamped(x1 + 0.5f, 0, 15);
      y[i].qs[j] = static_cast<uint8_t>(q0 | q1 << 4);
    }
  }
}

void from_float_q5_0(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ5_0*>(dst);
  for (int64_t i = 0; i < n / kQK5_0; ++i, src += kQK5_0) {
    const float d = signed_absmax(src, kQK5_0) / -16;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    uint8_t q[kQK5_0];
    for (int j = 0; j < kQK5_0; ++j) {
      const float x0 = src[j] * id;
      q[j] = static_cast<uint8_t>(trunc_clamped(x0 + 16.5f, 0, 31));
    }
    pack_q5(q, y[i].qs, y[i].qh);
  }
}

void from_float_q5_1(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ5_1*>(dst);
  for (int64_t i = 0; i < n / kQK5_1; ++i, src += kQK5_1) {
    float min = src[0];
    float max = src[0];
    for (int j = 1; j < kQK5_1; ++j) {
      if (src[j] < min) min = src[j];
      if (src[j] > max) max = src[j];
    }
    const float d = (max - min) / 31;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    y[i].m = f32_to_f16(min);
    uint8_t q[kQK5_1];
    for (int j = 0; j < kQK5_1; ++j) {
      const float x0 = (src[j] - min) * id;
      q[j] = static_cast<uint8_t>(trunc_clamped(x0 + 0.5f, 0, 31));
    }
    pack_q5(q, y[i].qs, y[i].qh);
  }
}

void from_float_q8_0(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / kQK8_0; ++i, src += kQK8_0) {
    float amax = 0.0f;
    for (int j = 0; j < kQK8_0; ++j) amax = std::max(amax, std::fabs(src[j]));
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    for (int j = 0; j < kQK8_0; ++j) y[i].qs[j] = round_to_i8(src[j] * id);
  }
}

void from_float_q8_1(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_1*>(dst);
  for (int64_t i = 0; i < n / kQK8_1; ++i, src += kQK8_1) {
    float amax = 0.0f;
    for (int j = 0; j < kQK8_1; ++j) amax = std::max(amax, std::fabs(src[j]));
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    int sum = 0;
    for (int j = 0; j < kQK8_1; ++j) {
      y[i].qs[j] = round_to_i8(src[j] * id);
      sum += y[i].qs[j];
    }
    y[i].s = f32_to_f16(static_cast<float>(sum) * d);
  }
}

// ---------------------------------------------------------------- vec_dot

float vec_dot_f32(int64_t n, const void* row, const void* act) {
  const auto* x = static_cast<const float*>(row);
  const auto* y = static_cast<const float*>(act);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * y[i]);
  return static_cast<float>(sum);
}

float vec_dot_f16(int64_t n, const void* row, const void* act) {
  const auto* x = static_cast<const uint16_t*>(row);
  const auto* y = static_cast<const uint16_t*>(act);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(f16_to_f32(x[i]) * f16_to_f32(y[i]));
  return static_cast<float>(sum);
}

float vec_dot_bf16(int64_t n, const void* row, const void* act) {
  const auto* x = static_cast<const uint16_t*>(row);
  const auto* y = static_cast<const uint16_t*>(act);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(bf16_to_f32(x[i]) * bf16_to_f32(y[i]));
  return static_cast<float>(sum);
}

float vec_dot_q4_0(int64_t n, const void* row, const void* act) {
  const auto* x = static_cast<const BlockQ4_0*>(row);
  const auto* y = static_cast<const BlockQ8_0*>(act);
  float sum = 0;
  for (int64_t ib = 0; ib < n / kQK4_0; ++ib) {
    int sumi0 = 0;
    int sumi1 = 0;
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      sumi0 += ((x[ib].qs[j] & 0x0F) - 8) * y[ib].qs[j];
      sumi1 += ((x[ib].qs[j] >> 4) - 8) * y[ib].qs[j + kQK4_0 / 2];
    }
    sum += static_cast<float>(sumi0 + sumi1) * f16_to_f32(x[ib].d) * f16_to_f32(y[ib].d);
  }
  return sum;
}

float vec_dot_q4_1(int64_t n, const void* row, const void* act) {
  const auto* x = static_cast<const BlockQ4_1*>(row);
  const auto* y = static_cast<const BlockQ8_1*>(act);
  float sum = 0;
  for (int64_t ib = 0; ib < n / kQK4_1; ++ib) {
    int sumi0 = 0;
    int sumi1 = 0;
    for (int j = 0; j < kQK4_1 / 2; ++j) {
      sumi0 += (x[ib].qs[j] & 0x0F) * y[ib].qs[j];
      sumi1 += (x[ib].qs[j] >> 4) * y[ib].qs[j + kQK4_1 / 2];
    }
    // sum_i (q_i d + m) * a_i = d * d_a * sum_i q_i qa_i + m * s_a
    sum += f16_to_f32(x[ib].d) * f16_to_f32(y[ib].d) * static_cast<float>(sumi0 + sumi1) +
           f16_to_f32(x[ib].m) * f16_to_f32(y[ib].s);
  }
  return sum;
}

float vec_dot_q5_0(int64_t n, const void* row, const void* act) {
  const auto* x = static_cast<const BlockQ5_0*>(row);
  const auto* y = static_cast<const BlockQ8_0*>(act);
  float sum = 0;
  for (int64_t ib = 0; ib < n / kQK5_0; ++ib) {
    const uint32_t qh = load_qh(x[ib].qh);
    int sumi0 = 0;
    int sumi1 = 0;
    for (int j = 0; j < kQK5_0 / 2; ++j) {
      const int h0 = static_cast<int>((qh >> j) << 4 & 0x10);
      const int h1 = static_cast<int>((qh >> (j + 12)) & 0x10);
      sumi0 += (((x[ib].qs[j] & 0x0F) | h0) - 16) * y[ib].qs[j];
      sumi1 += (((x[ib].qs[j] >> 4) | h1) - 16) * y[ib].qs[j + kQK5_0 / 2];
    }
    sum += f16_to_f32(x[ib].d) * f16_to_f32(y[ib].d) * static_cast<float>(sumi0 + sumi1);
  }
  return sum;
}

float vec_dot_q5_1(int64_t n, const void* row, const void* act) {
  const auto* x = static_cast<const BlockQ5_1*>(row);
  const auto* y = static_cast<const BlockQ8_1*>(act);
  float sum = 0;
  for (int64_t ib = 0; ib < n / kQK5_1; ++ib) {
    const uint32_t qh = load_qh(x[ib].qh);
    int sumi0 = 0;
    int sumi1 = 0;
    for (int j = 0; j < kQK5_1 / 2; ++j) {
      const int h0 = static_cast<int>((qh >> j) << 4 & 0x10);
      const int h1 = static_cast<int>((qh >> (j + 12)) & 0x10);
      sumi0 += ((x[ib].qs[j] & 0x0F) | h0) * y[ib].qs[j];
      sumi1 += ((x[ib].qs[j] >> 4) | h1) * y[ib].qs[j + kQK5_1 / 2];
    }
    sum += f16_to_f32(x[ib].d) * f16_to_f32(y[ib].d) * static_cast<float>(sumi0 + sumi1) +
           f16_to_f32(x[ib].m) * f16_to_f32(y[ib].s);
  }
  return sum;
}

float vec_dot_q8_0(int64_t n, const void* row, const void* act) {
  const auto* x = static_cast<const BlockQ8_0*>(row);
  const auto* y = static_cast<const BlockQ8_0*>(act);
  float sum = 0;
  for (int64_t ib = 0; ib < n / kQK8_0; ++ib) {
    int sumi = 0;
    for (int j = 0; j < kQK8_0; ++j) sumi += x[ib].qs[j] * y[ib].qs[j];
    sum += static_cast<float>(sumi) * (f16_to_f32(x[ib].d) * f16_to_f32(y[ib].d));
  }
  return sum;
}

}  // namespace ag::legacy_ref
