#pragma once
// Test helpers for the K-quants: random data, and block encoders written from the GGML format
// description (element e -> which byte and bits), independent of the library's packing code. They
// take the *meaning* of a block (one quant per weight, the sub-block scales and mins, the super-
// block factors) so tests can state expected weights from that meaning alone.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "core/half.h"
#include "tensor/kquant_blocks.h"

namespace ag::test {

// Normal values by Box-Muller over std::mt19937's raw output (fully specified by the standard,
// unlike std::normal_distribution), so every platform sees the same numbers.
inline std::vector<float> gaussian(size_t n, uint32_t seed, float stddev = 1.0f) {
  std::mt19937 rng(seed);
  auto uniform = [&] { return (static_cast<double>(rng()) + 0.5) / 4294967296.0; };  // (0, 1)
  std::vector<float> v(n);
  for (auto& x : v) {
    const double r = std::sqrt(-2.0 * std::log(uniform()));
    x = static_cast<float>(stddev * r * std::cos(6.283185307179586 * uniform()));
  }
  return v;
}

// Q2_K: q[e] in [0, 3]; sc[s], m[s] in [0, 15] for s = e / 16.
inline BlockQ2K encode_q2_k(const int* q, const int* sc, const int* m, float d, float dmin) {
  BlockQ2K b{};
  for (int s = 0; s < 16; ++s) b.scales[s] = static_cast<uint8_t>(sc[s] | m[s] << 4);
  for (int e = 0; e < QK_K; ++e) {
    const int half = e / 128, k = (e % 128) / 32, l = e % 32;
    b.qs[32 * half + l] = static_cast<uint8_t>(b.qs[32 * half + l] | q[e] << (2 * k));
  }
  b.d = f32_to_f16(d);
  b.dmin = f32_to_f16(dmin);
  return b;
}

// Q3_K: q[e] in [-4, 3]; sc[s] in [-32, 31] for s = e / 16.
inline BlockQ3K encode_q3_k(const int* q, const int* sc, float d) {
  BlockQ3K b{};
  for (int e = 0; e < QK_K; ++e) {
    const int v = q[e] + 4;
    const int half = e / 128, k = (e % 128) / 32, l = e % 32;
    b.qs[32 * half + l] = static_cast<uint8_t>(b.qs[32 * half + l] | (v & 3) << (2 * k));
    if (v & 4) b.hmask[e % 32] = static_cast<uint8_t>(b.hmask[e % 32] | 1 << (e / 32));
  }
  for (int s = 0; s < 16; ++s) {
    const int u = sc[s] + 32;
    if (s < 8) {
      b.scales[s] = static_cast<uint8_t>(b.scales[s] | (u & 0xF));
    } else {
      b.scales[s - 8] = static_cast<uint8_t>(b.scales[s - 8] | (u & 0xF) << 4);
    }
    b.scales[8 + s % 4] = static_cast<uint8_t>(b.scales[8 + s % 4] | (u >> 4) << (2 * (s / 4)));
  }
  b.d = f32_to_f16(d);
  return b;
}

// The 12-byte 6-bit scale/min packing of Q4_K and Q5_K.
inline void pack_k4_scales(const int* sc, const int* m, uint8_t* out) {
  std::memset(out, 0, K_SCALE_SIZE);
  for (int s = 0; s < 8; ++s) {
    if (s < 4) {
      out[s] = static_cast<uint8_t>(out[s] | sc[s]);
      out[s + 4] = static_cast<uint8_t>(out[s + 4] | m[s]);
    } else {
      out[s + 4] = static_cast<uint8_t>((sc[s] & 0xF) | (m[s] & 0xF) << 4);
      out[s - 4] = static_cast<uint8_t>(out[s - 4] | (sc[s] >> 4) << 6);
      out[s] = static_cast<uint8_t>(out[s] | (m[s] >> 4) << 6);
    }
  }
}

// Q4_K: q[e] in [0, 15]; sc[s], m[s] in [0, 63] for s = e / 32.
inline BlockQ4K encode_q4_k(const int* q, const int* sc, const int* m, float d, float dmin) {
  BlockQ4K b{};
  pack_k4_scales(sc, m, b.scales);
  for (int e = 0; e < QK_K; ++e) {
    const int c = e / 64, r = e % 64;
    uint8_t& byte = b.qs[32 * c + r % 32];
    byte = static_cast<uint8_t>(byte | q[e] << (r < 32 ? 0 : 4));
  }
  b.d = f32_to_f16(d);
  b.dmin = f32_to_f16(dmin);
  return b;
}

// Q5_K: q[e] in [0, 31]; sc[s], m[s] in [0, 63] for s = e / 32.
inline BlockQ5K encode_q5_k(const int* q, const int* sc, const int* m, float d, float dmin) {
  BlockQ5K b{};
  pack_k4_scales(sc, m, b.scales);
  for (int e = 0; e < QK_K; ++e) {
    const int c = e / 64, r = e % 64;
    uint8_t& byte = b.qs[32 * c + r % 32];
    byte = static_cast<uint8_t>(byte | (q[e] & 0xF) << (r < 32 ? 0 : 4));
    if (q[e] & 16) b.qh[r % 32] = static_cast<uint8_t>(b.qh[r % 32] | 1 << (2 * c + r / 32));
  }
  b.d = f32_to_f16(d);
  b.dmin = f32_to_f16(dmin);
  return b;
}

// Q6_K: q[e] in [-32, 31]; sc[s] in [-128, 127] for s = e / 16.
inline BlockQ6K encode_q6_k(const int* q, const int* sc, float d) {
  BlockQ6K b{};
  for (int e = 0; e < QK_K; ++e) {
    const int v = q[e] + 32;
    const int half = e / 128, k = (e % 128) / 32, l = e % 32;
    uint8_t& low = b.ql[64 * half + 32 * (k % 2) + l];
    low = static_cast<uint8_t>(low | (v & 0xF) << (k < 2 ? 0 : 4));
    b.qh[32 * half + l] = static_cast<uint8_t>(b.qh[32 * half + l] | (v >> 4) << (2 * k));
  }
  for (int s = 0; s < 16; ++s) b.scales[s] = static_cast<int8_t>(sc[s]);
  b.d = f32_to_f16(d);
  return b;
}

inline double rmse(const float* a, const float* b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += (static_cast<double>(a[i]) - b[i]) * (a[i] - b[i]);
  return std::sqrt(s / static_cast<double>(n));
}

}  // namespace ag::test
