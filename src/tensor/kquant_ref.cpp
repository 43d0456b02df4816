// Scalar reference kernels of the K-quants: dequantization, Q8_K activations and the dot products.
// Layouts and arithmetic follow GGML's ggml-quants.c (dequantize_row_*, quantize_row_q8_K_ref)
// and ggml-cpu/quants.c (ggml_vec_dot_*_q8_K_generic).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/half.h"
#include "tensor/kquant.h"
#include "tensor/kquant_search.h"

namespace ag::kquant {

void unpack_q3_k_scales(const uint8_t* packed, int8_t* scales) {
  // Bytes 0..7 hold the low 4 bits (scales 0..7 in the low nibbles, 8..15 in the high nibbles);
  // bytes 8..11 hold the high 2 bits: scale j uses bits 2*(j/4) of byte 8 + j%4.
  for (int j = 0; j < 16; ++j) {
    const int low = j < 8 ? packed[j] & 0xF : packed[j - 8] >> 4;
    const int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
    scales[j] = static_cast<int8_t>((low | high << 4) - 32);
  }
}

// ---- dequantization ----
// Element order inside a block (shared by Q2_K and Q3_K): the 256 quants are two halves of 128;
// in half h, byte l (0..31) of qs[32h .. 32h+31] holds elements 128h + l + 32k in bits 2k..2k+1.

void dequantize_q2_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ2K*>(src);
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const BlockQ2K& b = blocks[i];
    const float d = f16_to_f32(b.d);
    const float dmin = f16_to_f32(b.dmin);
    const uint8_t* q = b.qs;
    int is = 0;
    for (int half = 0; half < 2; ++half) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int part = 0; part < 2; ++part) {  // 16 quants per scale
          const uint8_t sc = b.scales[is++];
          const float dl = d * (sc & 0xF);
          const float ml = dmin * (sc >> 4);
          for (int l = 0; l < 16; ++l) *dst++ = dl * ((q[16 * part + l] >> shift) & 3) - ml;
        }
      }
      q += 32;
    }
  }
}

void dequantize_q3_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ3K*>(src);
  int8_t scales[16];
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const BlockQ3K& b = blocks[i];
    const float d_all = f16_to_f32(b.d);
    unpack_q3_k_scales(b.scales, scales);
    const uint8_t* q = b.qs;
    const uint8_t* hm = b.hmask;
    uint8_t m = 1;  // hmask bit of the current 32 quants
    int is = 0;
    for (int half = 0; half < 2; ++half) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int part = 0; part < 2; ++part) {
          const float dl = d_all * scales[is++];
          for (int l = 16 * part; l < 16 * part + 16; ++l) {
            const int v = ((q[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4);
            *dst++ = dl * v;
          }
        }
        m = static_cast<uint8_t>(m << 1);
      }
      q += 32;
    }
  }
}

// Q4_K / Q5_K: four chunks of 64 elements; byte l of chunk c holds element 64c + l in its low
// nibble (sub-block 2c) and element 64c + 32 + l in its high nibble (sub-block 2c + 1). Q5_K's
// fifth bit of those elements is bit 2c / 2c+1 of qh[l].
void dequantize_q4_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ4K*>(src);
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const BlockQ4K& b = blocks[i];
    const float d = f16_to_f32(b.d);
    const float dmin = f16_to_f32(b.dmin);
    const uint8_t* q = b.qs;
    for (int c = 0; c < 4; ++c) {
      uint8_t sc, m;
      get_scale_min_k4(2 * c, b.scales, &sc, &m);
      const float d1 = d * sc, m1 = dmin * m;
      get_scale_min_k4(2 * c + 1, b.scales, &sc, &m);
      const float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; ++l) *dst++ = d1 * (q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *dst++ = d2 * (q[l] >> 4) - m2;
      q += 32;
    }
  }
}

void dequantize_q5_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ5K*>(src);
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const BlockQ5K& b = blocks[i];
    const float d = f16_to_f32(b.d);
    const float dmin = f16_to_f32(b.dmin);
    const uint8_t* ql = b.qs;
    const uint8_t* qh = b.qh;
    uint8_t u1 = 1, u2 = 2;
    for (int c = 0; c < 4; ++c) {
      uint8_t sc, m;
      get_scale_min_k4(2 * c, b.scales, &sc, &m);
      const float d1 = d * sc, m1 = dmin * m;
      get_scale_min_k4(2 * c + 1, b.scales, &sc, &m);
      const float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; ++l) *dst++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *dst++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
      ql += 32;
      u1 = static_cast<uint8_t>(u1 << 2);
      u2 = static_cast<uint8_t>(u2 << 2);
    }
  }
}

// Q6_K: two halves of 128; in half h, for l in 0..31: ql[64h + l] low/high nibble -> elements
// l / l+64, ql[64h + 32 + l] low/high -> l+32 / l+96, and qh[32h + l] bits 0-1, 2-3, 4-5, 6-7 are
// the high bits of elements l, l+32, l+64, l+96. Scale of element e: scales[e / 16].
void dequantize_q6_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ6K*>(src);
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const BlockQ6K& b = blocks[i];
    const float d = f16_to_f32(b.d);
    const uint8_t* ql = b.ql;
    const uint8_t* qh = b.qh;
    const int8_t* sc = b.scales;
    for (int half = 0; half < 2; ++half) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | ((qh[l] >> 0) & 3) << 4) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | ((qh[l] >> 2) & 3) << 4) - 32;
        const int q3 = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
        const int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
        dst[l + 0] = d * sc[is + 0] * q1;
        dst[l + 32] = d * sc[is + 2] * q2;
        dst[l + 64] = d * sc[is + 4] * q3;
        dst[l + 96] = d * sc[is + 6] * q4;
      }
      dst += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
}

void dequantize_q8_k(const void* src, float* dst, int64_t n) {
  const auto* blocks = static_cast<const BlockQ8K*>(src);
  for (int64_t i = 0; i < n / QK_K; ++i) {
    for (int j = 0; j < QK_K; ++j) *dst++ = blocks[i].d * blocks[i].qs[j];
  }
}

// ---- activations ----

void quantize_q8_k(const float* src, void* dst, int64_t n) {
  auto* blocks = static_cast<BlockQ8K*>(dst);
  for (int64_t i = 0; i < n / QK_K; ++i, src += QK_K) {
    BlockQ8K& b = blocks[i];
    float max = 0;
    float amax = 0;
    for (int j = 0; j < QK_K; ++j) {
      const float ax = std::fabs(src[j]);
      if (ax > amax) {
        amax = ax;
        max = src[j];
      }
    }
    if (amax == 0) {
      std::memset(&b, 0, sizeof(b));
      continue;
    }
    // -127 rather than -128 (as GGML since IQ2_XXS): keeps every quant in [-127, 127] so the
    // AVX2 sign trick (maddubs of |q8| with signed weights) cannot overflow.
    const float iscale = -127.f / max;
    for (int j = 0; j < QK_K; ++j) {
      b.qs[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * src[j])));
    }
    for (int j = 0; j < QK_K / 16; ++j) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += b.qs[16 * j + l];
      b.bsums[j] = static_cast<int16_t>(sum);
    }
    b.d = 1 / iscale;
  }
}

// ---- dot products ----

float vec_dot_q2_k_q8_k(int64_t n, const void* row, const void* act) {
  const auto* x = static_cast<const BlockQ2K*>(row);
  const auto* y = static_cast<const BlockQ8K*>(act);
  float sumf = 0;
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const uint8_t* q2 = x[i].qs;
    const int8_t* q8 = y[i].qs;
    const uint8_t* sc = x[i].scales;
    int summs = 0;  // the mins meet the activations only through their 16-sums
    for (int j = 0; j < 16; ++j) summs += y[i].bsums[j] * (sc[j] >> 4);
    const float dall = y[i].d * f16_to_f32(x[i].d);
    const float dmin = y[i].d * f16_to_f32(x[i].dmin);
    int isum = 0;
    int is = 0;
    for (int half = 0; half < 2; ++half) {
      for (int shift = 0; shift < 8; shift += 2) {
        int d = sc[is++] & 0xF;
        int isuml = 0;
        for (int l = 0; l < 16; ++l) isuml += q8[l] * ((q2[l] >> shift) & 3);
        isum += d * isuml;
        d = sc[is++] & 0xF;
        isuml = 0;
        for (int l = 16; l < 32; ++l) isuml += q8[l] * ((q2[l] >> shift) & 3);
        isum += d * isuml;
        q8 += 32;
      }
      q2 += 32;
    }
    sumf += dall * isum - dmin * summs;
  }
  return sumf;
}

namespace {
// The common tail of the Q3_K..Q6_K generic dots: signed quants a[256] (already offset), one scale
// per `group` elements, products accumulated in 8 int32 lanes, then scaled into 8 float lanes.
template <int kGroup>
inline void accumulate_scaled(const int8_t* a, const int8_t* q8, const int* scales,
                              int32_t* aux32) {
  int16_t aux16[8];
  for (int j = 0; j < QK_K / kGroup; ++j) {
    const int scale = scales[j];
    for (int k = 0; k < kGroup / 8; ++k) {
      for (int l = 0; l < 8; ++l) aux16[l] = static_cast<int16_t>(q8[l] * a[l]);
      for (int l = 0; l < 8; ++l) aux32[l] += scale * aux16[l];
      q8 += 8;
      a += 8;
    }
  }
}
}  // namespace

float vec_dot_q3_k_q8_k(int64_t n, const void* row, const void* act) {
  const auto* x = static_cast<const BlockQ3K*>(row);
  const auto* y = static_cast<const BlockQ8K*>(act);
  int8_t aux8[QK_K];
  float sums[8] = {};
  int8_t scales8[16];
  int scales[16];
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const uint8_t* q3 = x[i].qs;
    const uint8_t* hm = x[i].hmask;
    int8_t* a = aux8;
    uint8_t m = 1;
    for (int half = 0; half < 2; ++half) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int l = 0; l < 32; ++l) {
          a[l] = static_cast<int8_t>(((q3[l] >> shift) & 3) - (hm[l] & m ? 0 : 4));
        }
        a += 32;
        m = static_cast<uint8_t>(m << 1);
      }
      q3 += 32;
    }
    unpack_q3_k_scales(x[i].scales, scales8);
    for (int j = 0; j < 16; ++j) scales[j] = scales8[j];
    int32_t aux32[8] = {};
    accumulate_scaled<16>(aux8, y[i].qs, scales, aux32);
    const float d = f16_to_f32(x[i].d) * y[i].d;
    for (int l = 0; l < 8; ++l) sums[l] += d * aux32[l];
  }
  float sumf = 0;
  for (int l = 0; l < 8; ++l) sumf += sums[l];
  return sumf;
}

namespace {
// Q4_K and Q5_K share everything but the fifth bit.
template <bool kFiveBit, typename Block>
float vec_dot_q45_k(int64_t n, const Block* x, const BlockQ8K* y) {
  int8_t aux8[QK_K];
  float sums[8] = {};
  float sumf = 0;
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const uint8_t* q4 = x[i].qs;
    int8_t* a = aux8;
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) a[l] = static_cast<int8_t>(q4[l] & 0xF);
      for (int l = 0; l < 32; ++l) a[l + 32] = static_cast<int8_t>(q4[l] >> 4);
      if constexpr (kFiveBit) {
        const uint8_t* qh = x[i].qh;
        for (int l = 0; l < 32; ++l)
          a[l] = static_cast<int8_t>(a[l] + ((qh[l] >> (2 * c)) & 1) * 16);
        for (int l = 0; l < 32; ++l) {
          a[l + 32] = static_cast<int8_t>(a[l + 32] + ((qh[l] >> (2 * c + 1)) & 1) * 16);
        }
      }
      a += 64;
      q4 += 32;
    }
    int scales[8];
    int sumi = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      get_scale_min_k4(j, x[i].scales, &sc, &m);
      scales[j] = sc;
      sumi += (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]) * m;
    }
    int32_t aux32[8] = {};
    accumulate_scaled<32>(aux8, y[i].qs, scales, aux32);
    const float d = f16_to_f32(x[i].d) * y[i].d;
    for (int l = 0; l < 8; ++l) sums[l] += d * aux32[l];
    const float dmin = f16_to_f32(x[i].dmin) * y[i].d;
    sumf -= dmin * sumi;
  }
  for (int l = 0; l < 8; ++l) sumf += sums[l];
  return sumf;
}
}  // namespace

float vec_dot_q4_k_q8_k(int64_t n, const void* row, const void* act) {
  return vec_dot_q45_k<false>(n, static_cast<const BlockQ4K*>(row),
                              static_cast<const BlockQ8K*>(act));
}

float vec_dot_q5_k_q8_k(int64_t n, const void* row, const void* act) {
  return vec_dot_q45_k<true>(n, static_cast<const BlockQ5K*>(row),
                             static_cast<const BlockQ8K*>(act));
}

float vec_dot_q6_k_q8_k(int64_t n, const void* row, const void* act) {
  const auto* x = static_cast<const BlockQ6K*>(row);
  const auto* y = static_cast<const BlockQ8K*>(act);
  int8_t aux8[QK_K];
  float sums[8] = {};
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const uint8_t* ql = x[i].ql;
    const uint8_t* qh = x[i].qh;
    int8_t* a = aux8;
    for (int half = 0; half < 2; ++half) {
      for (int l = 0; l < 32; ++l) {
        a[l + 0] = static_cast<int8_t>(((ql[l] & 0xF) | ((qh[l] >> 0) & 3) << 4) - 32);
        a[l + 32] = static_cast<int8_t>(((ql[l + 32] & 0xF) | ((qh[l] >> 2) & 3) << 4) - 32);
        a[l + 64] = static_cast<int8_t>(((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32);
        a[l + 96] = static_cast<int8_t>(((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32);
      }
      a += 128;
      ql += 64;
      qh += 32;
    }
    int scales[16];
    for (int j = 0; j < 16; ++j) scales[j] = x[i].scales[j];
    int32_t aux32[8] = {};
    accumulate_scaled<16>(aux8, y[i].qs, scales, aux32);
    const float d = f16_to_f32(x[i].d) * y[i].d;
    for (int l = 0; l < 8; ++l) sums[l] += d * aux32[l];
  }
  float sumf = 0;
  for (int l = 0; l < 8; ++l) sumf += sums[l];
  return sumf;
}

}  // namespace ag::kquant
