#include "tensor/x86/legacy_avx2.h"

#if defined(AUTOGLM_HAVE_X86_KERNELS)

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "core/check.h"
#include "core/cpu_features.h"
#include "core/half.h"
#include "tensor/legacy_ref.h"
#include "tensor/quant_blocks.h"
#include "tensor/x86/avx512_target.h"

// Every function that uses AVX2/FMA/F16C intrinsics carries this attribute (helpers included, so
// they inline); nothing here is compiled with global -mavx2.
#define AG_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace ag::legacy_avx2 {

namespace {

AG_AVX2 inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

AG_AVX2 inline float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

AG_AVX2 inline int hsum_i32(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(s);
}

AG_AVX2 inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

// 16 bytes of packed nibbles -> 32 bytes in 0..15 in element order: byte j is the low nibble of
// qs[j], byte 16 + j its high nibble.
AG_AVX2 inline __m256i unpack_nibbles(const uint8_t* qs) {
  const __m128i packed = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// The little-endian u32 at `bits` -> 32 bytes, byte i = 0xFF where bit i is set, else 0.
AG_AVX2 inline __m256i expand_bits(const uint8_t* bits) {
  int32_t word;
  std::memcpy(&word, bits, sizeof(word));
  // Byte i of the result looks at source byte i / 8 (shuffles stay inside 128-bit lanes, and
  // both lanes hold the broadcast word, so lane 1 uses indices 2 and 3).
  const __m256i pick = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,  //
                                        2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32(word), pick);
  const __m256i bit = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  return _mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit);
}

// 32 unsigned bytes times 32 signed bytes -> 8 lanes of 4-product sums, as floats. Exact: each
// pair sum fits int16 without saturation for the ranges used here (|u| <= 128, |s| <= 127).
AG_AVX2 inline __m256 dot_u8_i8(__m256i u, __m256i s) {
  const __m256i pairs = _mm256_maddubs_epi16(u, s);
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

// The fifth bits of a Q5 block as 0x10 bytes, or (for Q5_0) as the -16 offset folded in:
// nibble | 0xF0 is nibble - 16 in two's complement.
AG_AVX2 inline __m256i q5_0_values(const BlockQ5_0& b) {
  const __m256i high = _mm256_andnot_si256(expand_bits(b.qh), _mm256_set1_epi8(static_cast<char>(0xF0)));
  return _mm256_or_si256(unpack_nibbles(b.qs), high);
}
AG_AVX2 inline __m256i q5_1_values(const BlockQ5_1& b) {
  const __m256i high = _mm256_and_si256(expand_bits(b.qh), _mm256_set1_epi8(0x10));
  return _mm256_or_si256(unpack_nibbles(b.qs), high);
}

AG_AVX2 inline __m256i load_i8x32(const int8_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// Writes 32 signed bytes as floats q * d (+ m when kWithMin): the same single rounding per
// operation as the scalar reference.
template <bool kWithMin>
AG_AVX2 inline void store_scaled(__m256i q, float d, float m, float* dst) {
  const __m128i lo = _mm256_castsi256_si128(q);
  const __m128i hi = _mm256_extracti128_si256(q, 1);
  const __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
  const __m256 vd = _mm256_set1_ps(d);
  const __m256 vm = _mm256_set1_ps(m);
  for (int k = 0; k < 4; ++k) {
    __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(parts[k])), vd);
    if constexpr (kWithMin) v = _mm256_add_ps(v, vm);
    _mm256_storeu_ps(dst + 8 * k, v);
  }
}

// roundf() of 8 lanes, exactly (half away from zero): truncate, then step away from zero when
// the dropped fraction (computed exactly) is at least one half. NaN lanes become 0; the result
// is clamped to the int8 range.
AG_AVX2 inline __m256i round_to_i32_clamped(__m256 v) {
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m256 frac = _mm256_andnot_ps(sign_bit, _mm256_sub_ps(v, t));
  const __m256 away = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
  const __m256 step = _mm256_or_ps(_mm256_and_ps(v, sign_bit), _mm256_set1_ps(1.0f));
  __m256 r = _mm256_add_ps(t, _mm256_and_ps(away, step));
  r = _mm256_and_ps(r, _mm256_cmp_ps(v, v, _CMP_ORD_Q));
  r = _mm256_min_ps(_mm256_max_ps(r, _mm256_set1_ps(-128.0f)), _mm256_set1_ps(127.0f));
  return _mm256_cvtps_epi32(r);
}

// One 32-element block to Q8 (d = amax / 127, q = roundf(x / d)); returns d and the sum of q.
AG_AVX2 inline float quantize_q8_block(const float* x, int8_t* qs, int* sum) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  __m256 v[4];
  __m256 amax = _mm256_setzero_ps();
  for (int k = 0; k < 4; ++k) {
    v[k] = _mm256_loadu_ps(x + 8 * k);
    // max_ps returns its second operand when either is NaN: NaN elements are skipped, as in
    // the scalar std::max(amax, |x|).
    amax = _mm256_max_ps(_mm256_and_ps(v[k], abs_mask), amax);
  }
  const float d = hmax(amax) / 127;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  const __m256 vid = _mm256_set1_ps(id);
  __m256i q[4];
  for (int k = 0; k < 4; ++k) q[k] = round_to_i32_clamped(_mm256_mul_ps(v[k], vid));
  *sum = hsum_i32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
  // Saturating packs interleave the 128-bit lanes; the permute restores element order.
  const __m256i q16a = _mm256_packs_epi32(q[0], q[1]);
  const __m256i q16b = _mm256_packs_epi32(q[2], q[3]);
  const __m256i q8 = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(q16a, q16b),
                                                 _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs), q8);
  return d;
}

// (_cvtss_sh is a compound-literal macro in clang, which -Wpedantic rejects.)
AG_AVX2 inline uint16_t float_to_half(float f) {
  const __m128i h = _mm_cvtps_ph(_mm_set_ss(f), _MM_FROUND_TO_NEAREST_INT);
  return static_cast<uint16_t>(_mm_cvtsi128_si32(h) & 0xFFFF);
}

AG_AVX2 inline __m256 load_bf16x8(const uint16_t* p) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(raw), 16));
}

AG_AVX2 inline __m256 load_f16x8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

}  // namespace

// ---------------------------------------------------------------- to_float

AG_AVX2 void to_float_f16(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const uint16_t*>(src);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load_f16x8(x + i));
  for (; i < n; ++i) dst[i] = f16_to_f32(x[i]);
}

AG_AVX2 void to_float_bf16(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const uint16_t*>(src);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, load_bf16x8(x + i));
  for (; i < n; ++i) dst[i] = bf16_to_f32(x[i]);
}

AG_AVX2 void to_float_q4_0(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ4_0*>(src);
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    const __m256i q = _mm256_sub_epi8(unpack_nibbles(x[i].qs), _mm256_set1_epi8(8));
    store_scaled<false>(q, half_to_float(x[i].d), 0.0f, dst + i * kQK4_0);
  }
}

AG_AVX2 void to_float_q4_1(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ4_1*>(src);
  for (int64_t i = 0; i < n / kQK4_1; ++i) {
    store_scaled<true>(unpack_nibbles(x[i].qs), half_to_float(x[i].d), half_to_float(x[i].m),
                       dst + i * kQK4_1);
  }
}

AG_AVX2 void to_float_q5_0(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ5_0*>(src);
  for (int64_t i = 0; i < n / kQK5_0; ++i)
    store_scaled<false>(q5_0_values(x[i]), half_to_float(x[i].d), 0.0f, dst + i * kQK5_0);
}

AG_AVX2 void to_float_q5_1(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ5_1*>(src);
  for (int64_t i = 0; i < n / kQK5_1; ++i) {
    store_scaled<true>(q5_1_values(x[i]), half_to_float(x[i].d), half_to_float(x[i].m),
                       dst + i * kQK5_1);
  }
}

AG_AVX2 void to_float_q8_0(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ8_0*>(src);
  for (int64_t i = 0; i < n / kQK8_0; ++i)
    store_scaled<false>(load_i8x32(x[i].qs), half_to_float(x[i].d), 0.0f, dst + i * kQK8_0);
}

AG_AVX2 void to_float_q8_1(const void* src, float* dst, int64_t n) {
  const auto* x = static_cast<const BlockQ8_1*>(src);
  for (int64_t i = 0; i < n / kQK8_1; ++i)
    store_scaled<false>(load_i8x32(x[i].qs), half_to_float(x[i].d), 0.0f, dst + i * kQK8_1);
}

// ---------------------------------------------------------------- from_float

AG_AVX2 void from_float_f16(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<uint16_t*>(dst);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), h);
  }
  for (; i < n; ++i) y[i] = f32_to_f16(src[i]);
}

AG_AVX2 void from_float_bf16(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<uint16_t*>(dst);
  int64_t i = 0;
  // Same integer recipe as f32_to_bf16: add 0x7fff plus the lowest kept bit (round to nearest
  // even), keep the top 16 bits; NaN keeps its top bits and is made quiet.
  const __m256i abs_mask = _mm256_set1_epi32(0x7fffffff);
  const __m256i inf_bits = _mm256_set1_epi32(0x7f800000);
  for (; i + 16 <= n; i += 16) {
    __m256i out[2];
    for (int k = 0; k < 2; ++k) {
      const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 8 * k));
      const __m256i is_nan = _mm256_cmpgt_epi32(_mm256_and_si256(x, abs_mask), inf_bits);
      const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
      const __m256i bias = _mm256_add_epi32(_mm256_set1_epi32(0x7fff), lsb);
      const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(x, bias), 16);
      const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(64));
      out[k] = _mm256_blendv_epi8(rounded, quiet, is_nan);
    }
    // Values are 0..65535, so the unsigned saturating pack is exact; it interleaves the lanes.
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(out[0], out[1]),
                                                    _MM_SHUFFLE(3, 1, 2, 0));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), packed);
  }
  for (; i < n; ++i) y[i] = f32_to_bf16(src[i]);
}

AG_AVX2 void from_float_q8_0(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_0*>(dst);
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    int sum;
    const float d = quantize_q8_block(src + i * kQK8_0, y[i].qs, &sum);
    y[i].d = float_to_half(d);
  }
}

AG_AVX2 void from_float_q8_1(const float* src, void* dst, int64_t n) {
  auto* y = static_cast<BlockQ8_1*>(dst);
  for (int64_t i = 0; i < n / kQK8_1; ++i) {
    int sum;
    const float d = quantize_q8_block(src + i * kQK8_1, y[i].qs, &sum);
    y[i].d = float_to_half(d);
    y[i].s = float_to_half(static_cast<float>(sum) * d);
  }
}

// ---------------------------------------------------------------- vec_dot

AG_AVX2 float vec_dot_f32(int64_t n, const void* row, const void* act) {
  const auto* x = static_cast<const float*>(row);
  const auto* y = static_cast<const float*>(act);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (int k = 0; k < 4; ++k)
      acc[k] = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8 * k), _mm256_loadu_ps(y + i + 8 * k), acc[k]);
  }
  for (; i + 8 <= n; i += 8) acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), acc[0]);
  float sum = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; i < n; ++i) sum += x[i] * y[i];
  return sum;
}

// Q4_1 and Q5_1 share one loop: per block, the integer products of the two blocks' values (exact,
// 8 lanes) times d_w * d_a, accumulated with FMA; two blocks per iteration into two accumulators
// keep two FMA chains in flight. They add m_w * s_a per block, where s_a = d_a * sum(q_a) is
// stored in the Q8_1 activation block.
namespace {

struct DotQ4_1 {
  using W = BlockQ4_1;
  using A = BlockQ8_1;
  AG_AVX2 static __m256 products(const W& w, const A& a) {
    return dot_u8_i8(unpack_nibbles(w.qs), load_i8x32(a.qs));
  }
};

struct DotQ5_1 {
  using W = BlockQ5_1;
  using A = BlockQ8_1;
  AG_AVX2 static __m256 products(const W& w, const A& a) {
    return dot_u8_i8(q5_1_values(w), load_i8x32(a.qs));
  }
};

template <class K>
AG_AVX2 inline __m256 dot_block(const typename K::W& w, const typename K::A& a, __m256 acc,
                                float* mins) {
  *mins += half_to_float(w.m) * half_to_float(a.s);
  const __m256 d = _mm256_set1_ps(half_to_float(w.d) * half_to_float(a.d));
  return _mm256_fmadd_ps(d, K::products(w, a), acc);
}

template <class K>
AG_AVX2 inline float dot_row(int64_t n, const void* row, const void* act) {
  const auto* w = static_cast<const typename K::W*>(row);
  const auto* a = static_cast<const typename K::A*>(act);
  const int64_t nb = n / 32;
  __m256 acc0 = _mm256_setzero_ps();
  __m256 acc1 = _mm256_setzero_ps();
  float mins = 0;
  int64_t ib = 0;
  for (; ib + 2 <= nb; ib += 2) {
    acc0 = dot_block<K>(w[ib], a[ib], acc0, &mins);
    acc1 = dot_block<K>(w[ib + 1], a[ib + 1], acc1, &mins);
  }
  if (ib < nb) acc0 = dot_block<K>(w[ib], a[ib], acc0, &mins);
  return hsum(_mm256_add_ps(acc0, acc1)) + mins;
}

// ---------------------------------------------------------------- dot tiles (Q4_0, Q5_0, Q8_0)
//
// R weight rows against C activation rows (Q8_0) per pass over the blocks: each weight block is
// unpacked once for the C activations and each activation block loaded once for the R rows.
// Every output (r, c) has its own two accumulators and sees exactly this sequence per block b:
//   isum = the 8 int32 lanes of sum over 4 products (w value * a value), exact
//   acc[b % 2] = fma(float(d_w) * float(d_a), float(isum), acc[b % 2])
// and ends as hsum(acc[0] + acc[1]). Nothing depends on R, C or the neighbours, so every tile shape (and
// vec_dot, the 1 x 1 tile) gives bit-identical results: the batch invariance matmul relies on.
//
// Q4_0 and Q5_0 values are used unsigned (nibble, or nibble + 16 * high bit) with maddubs, and the
// offset (8 or 16) is taken back in integers: isum = madd(maddubs(u, a)) - offset * sum4(a), with
// sum4(a) computed once per activation block. That is exactly sum((u - offset) * a) per lane,
// two instructions cheaper per block than moving signs around. Q8_0 weights are signed: the sign
// of w moves onto a (valid while no value is -128, which the Q8 quantizers never produce).

// One R x C tile instantiation: (n, w, w_stride, a, a_stride, y, y_stride).
using TileFn = void (*)(int64_t, const uint8_t*, size_t, const uint8_t*, size_t, float*, size_t);

// Cuts an n_w x n_a request into tiles of at most max_rows x max_cols (both clamped to 1..4) and
// runs table[rows - 1][cols - 1] on each: the same for every ISA, only the table differs.
inline void run_tiles(const TileFn (&table)[4][4], int64_t n, const void* w_in, size_t w_stride,
                      int n_w, const void* a_in, size_t a_stride, int n_a, float* y,
                      size_t y_stride, int max_rows, int max_cols) {
  const auto* w = static_cast<const uint8_t*>(w_in);
  const auto* a = static_cast<const uint8_t*>(a_in);
  max_rows = std::clamp(max_rows, 1, 4);
  max_cols = std::clamp(max_cols, 1, 4);
  for (int c0 = 0; c0 < n_a; c0 += max_cols) {
    const int nc = std::min(max_cols, n_a - c0);
    for (int r0 = 0; r0 < n_w; r0 += max_rows) {
      const int nr = std::min(max_rows, n_w - r0);
      table[nr - 1][nc - 1](n, w + static_cast<size_t>(r0) * w_stride, w_stride,
                            a + static_cast<size_t>(c0) * a_stride, a_stride,
                            y + static_cast<size_t>(c0) * y_stride + static_cast<size_t>(r0),
                            y_stride);
    }
  }
}

struct TileQ4_0 {
  using W = BlockQ4_0;
  static constexpr int kOffset = 8;
  AG_AVX2 static __m256i values(const W& w) { return unpack_nibbles(w.qs); }
};

struct TileQ5_0 {
  using W = BlockQ5_0;
  static constexpr int kOffset = 16;
  AG_AVX2 static __m256i values(const W& w) {
    const __m256i high = _mm256_and_si256(expand_bits(w.qh), _mm256_set1_epi8(0x10));
    return _mm256_or_si256(unpack_nibbles(w.qs), high);
  }
};

struct TileQ8_0 {
  using W = BlockQ8_0;
  static constexpr int kOffset = 0;  // signed values
  AG_AVX2 static __m256i values(const W& w) { return load_i8x32(w.qs); }
};

#define AG_TILE_NS tile_avx2
#define AG_TILE_TARGET AG_AVX2
#define AG_TILE_VNNI 0
#include "tensor/x86/dot_tile_body.h"
#undef AG_TILE_NS
#undef AG_TILE_TARGET
#undef AG_TILE_VNNI

#define AG_TILE_NS tile_vnni
#define AG_TILE_TARGET __attribute__((target("avx2,fma,f16c,avxvnni")))
#define AG_TILE_VNNI 1
#include "tensor/x86/dot_tile_body.h"
#undef AG_TILE_NS
#undef AG_TILE_TARGET
#undef AG_TILE_VNNI

// ---- AVX-512 VNNI tiles ----------------------------------------------------------------------
// A zmm register holds blocks b (low 256 bits) and b + 1 (high 256 bits) for an even b, so its
// accumulator is the ymm code's `even` and `odd` side by side: every float lane sees the same
// operations in the same order (fmadd(dw * da, float(isum), acc)), and the end is the same
// hsum(even + odd). A lone last block updates the low half only (masked FMA). The int32 lanes are
// the same exact sums as the ymm code's: every type uses unsigned values with an offset taken back
// in integers (Q8_0 too: w + 128 as unsigned, minus 128 * sum4(a)), one vpdpbusd per output.
AG_512_DIAGNOSTICS_BEGIN

namespace tile_512 {

inline constexpr uintptr_t kPrefetchBytes = 4096;  // as the ymm tiles (dot_tile_body.h)

// [f16 d0 x 8 | f16 d1 x 8] as floats: the broadcast scales of a block pair.
// Both halves converted at once (lanes 0, 1 of an xmm), then spread by one permute.
AG_512 inline __m512 scale_pair(uint16_t d0, uint16_t d1) {
  const __m128 f = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(d0 | (static_cast<uint32_t>(d1) << 16))));
  return _mm512_permutexvar_ps(_mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0),
                               _mm512_castps128_ps512(f));
}

AG_512 inline __m512i join(__m256i lo, __m256i hi) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

// The unsigned values of one weight block (in the low half) and of a block pair, with the offset
// that turns them back into the signed weights.
template <class K>
struct Values512;

template <>
struct Values512<TileQ4_0> {
  static constexpr int kOffset = 8;
  AG_512 static __m512i one(const BlockQ4_0& w) { return _mm512_zextsi256_si512(unpack_nibbles(w.qs)); }
  AG_512 static __m512i pair(const BlockQ4_0* w) {
    // [qs0 | qs1] -> [qs0, qs1, qs0 >> 4, qs1 >> 4] -> 128-bit lanes reordered to
    // [qs0, qs0 >> 4, qs1, qs1 >> 4] -> masked to nibbles: each half is unpack_nibbles' layout.
    const __m256i p = _mm256_loadu2_m128i(reinterpret_cast<const __m128i*>(w[1].qs),
                                          reinterpret_cast<const __m128i*>(w[0].qs));
    const __m512i z = join(p, _mm256_srli_epi16(p, 4));
    return _mm512_and_si512(_mm512_shuffle_i64x2(z, z, _MM_SHUFFLE(3, 1, 2, 0)),
                            _mm512_set1_epi8(0x0F));
  }
};

template <>
struct Values512<TileQ5_0> {
  static constexpr int kOffset = 16;
  AG_512 static __m512i one(const BlockQ5_0& w) { return _mm512_zextsi256_si512(TileQ5_0::values(w)); }
  AG_512 static __m512i pair(const BlockQ5_0* w) {
    return join(TileQ5_0::values(w[0]), TileQ5_0::values(w[1]));
  }
};

template <>
struct Values512<TileQ8_0> {
  static constexpr int kOffset = 128;  // w + 128 in 0..255 (w = -128 included)
  AG_512 static __m512i one(const BlockQ8_0& w) {
    return _mm512_zextsi256_si512(_mm256_xor_si256(load_i8x32(w.qs), _mm256_set1_epi8(static_cast<char>(0x80))));
  }
  AG_512 static __m512i pair(const BlockQ8_0* w) {
    return _mm512_xor_si512(join(load_i8x32(w[0].qs), load_i8x32(w[1].qs)),
                            _mm512_set1_epi8(static_cast<char>(0x80)));
  }
};

// Blocks b and b + 1 (kPair) or block b alone (low half) of every output of the tile.
template <class K, int R, int C, bool kPair>
AG_512 inline void dot_tile_step(const typename K::W* const* wr, const BlockQ8_0* const* ac,
                                 int64_t b, __m512 (&acc)[R][C]) {
  using V = Values512<K>;
  const __m512i offset = _mm512_set1_epi8(static_cast<char>(V::kOffset));
  __m512i av[C];
  __m512i corr[C];  // -offset * sum4(a): the vpdpbusd starting value
  __m512 da[C];
  for (int c = 0; c < C; ++c) {
    if constexpr (kPair) {
      av[c] = join(load_i8x32(ac[c][b].qs), load_i8x32(ac[c][b + 1].qs));
      da[c] = scale_pair(ac[c][b].d, ac[c][b + 1].d);
    } else {
      av[c] = _mm512_zextsi256_si512(load_i8x32(ac[c][b].qs));
      da[c] = scale_pair(ac[c][b].d, ac[c][b].d);
    }
    corr[c] = _mm512_sub_epi32(_mm512_setzero_si512(),
                               _mm512_dpbusd_epi32(_mm512_setzero_si512(), offset, av[c]));
  }
  for (int r = 0; r < R; ++r) {
    const typename K::W* w = wr[r] + b;
    const __m512 dw = kPair ? scale_pair(w[0].d, w[1].d) : scale_pair(w[0].d, w[0].d);
    const __m512i v = kPair ? V::pair(w) : V::one(w[0]);
    for (int c = 0; c < C; ++c) {
      const __m512 x = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(corr[c], v, av[c]));
      if constexpr (kPair) {
        acc[r][c] = _mm512_fmadd_ps(_mm512_mul_ps(dw, da[c]), x, acc[r][c]);
      } else {
        acc[r][c] = _mm512_mask3_fmadd_ps(_mm512_mul_ps(dw, da[c]), x, acc[r][c], 0x00FF);
      }
    }
  }
}

template <class K, int R, int C>
AG_512 void dot_tile(int64_t n, const uint8_t* w, size_t w_stride, const uint8_t* a,
                     size_t a_stride, float* y, size_t y_stride) {
  using W = typename K::W;
  const int64_t nb = n / 32;
  __m512 acc[R][C];  // [even block lanes | odd block lanes]
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
  const W* wr[R];
  for (int r = 0; r < R; ++r) wr[r] = reinterpret_cast<const W*>(w + static_cast<size_t>(r) * w_stride);
  const BlockQ8_0* ac[C];
  for (int c = 0; c < C; ++c)
    ac[c] = reinterpret_cast<const BlockQ8_0*>(a + static_cast<size_t>(c) * a_stride);
  // Weight prefetches a few tiles ahead, as the ymm tiles (see dot_tile_body.h).
  const uintptr_t tile_bytes = static_cast<uintptr_t>(R) * w_stride;
  const uintptr_t ahead =
      w_stride == 0 ? 0 : tile_bytes * std::max<uintptr_t>(2, (kPrefetchBytes + tile_bytes - 1) / tile_bytes);
  uintptr_t next[R];
  for (int r = 0; r < R; ++r) next[r] = reinterpret_cast<uintptr_t>(wr[r]) + ahead;
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) {
    for (int r = 0; r < R; ++r)
      _mm_prefetch(reinterpret_cast<const char*>(next[r] + static_cast<uintptr_t>(b) * sizeof(W)), _MM_HINT_T0);
    dot_tile_step<K, R, C, true>(wr, ac, b, acc);
  }
  if (b < nb) dot_tile_step<K, R, C, false>(wr, ac, b, acc);
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      const __m256 even = _mm512_castps512_ps256(acc[r][c]);
      const __m256 odd = _mm512_extractf32x8_ps(acc[r][c], 1);
      y[static_cast<size_t>(c) * y_stride + static_cast<size_t>(r)] = hsum(_mm256_add_ps(even, odd));
    }
  }
}

template <class K>
AG_512 void dot_tiles(int64_t n, const void* w, size_t w_stride, int n_w, const void* a,
                      size_t a_stride, int n_a, float* y, size_t y_stride, int max_rows,
                      int max_cols) {
  static constexpr TileFn kTable[4][4] = {
      {dot_tile<K, 1, 1>, dot_tile<K, 1, 2>, dot_tile<K, 1, 3>, dot_tile<K, 1, 4>},
      {dot_tile<K, 2, 1>, dot_tile<K, 2, 2>, dot_tile<K, 2, 3>, dot_tile<K, 2, 4>},
      {dot_tile<K, 3, 1>, dot_tile<K, 3, 2>, dot_tile<K, 3, 3>, dot_tile<K, 3, 4>},
      {dot_tile<K, 4, 1>, dot_tile<K, 4, 2>, dot_tile<K, 4, 3>, dot_tile<K, 4, 4>},
  };
  run_tiles(kTable, n, w, w_stride, n_w, a, a_stride, n_a, y, y_stride, max_rows, max_cols);
}

}  // namespace tile_512

AG_512_DIAGNOSTICS_END

// The instruction sets this CPU has (read once; AUTOGLM_FORCE_SCALAR=1 clears them with the rest).
bool use_vnni() {
  static const bool vnni = cpu_features().avxvnni;
  return vnni;
}
bool use_avx512_vnni() {
  static const bool avx512 = [] {
    const auto& f = cpu_features();
    return f.avx512f && f.avx512bw && f.avx512vnni;
  }();
  return avx512;
}
TileIsa best_tile_isa() {
  static const TileIsa isa = use_avx512_vnni() ? TileIsa::kAvx512Vnni
                             : use_vnni()      ? TileIsa::kAvxVnni
                                               : TileIsa::kAvx2;
  return isa;
}

template <class K>
AG_AVX2 float vec_dot_tile(int64_t n, const void* row, const void* act) {
  float y;
  if (use_vnni()) {
    tile_vnni::dot_tile<K, 1, 1>(n, static_cast<const uint8_t*>(row), 0,
                                 static_cast<const uint8_t*>(act), 0, &y, 0);
  } else {
    tile_avx2::dot_tile<K, 1, 1>(n, static_cast<const uint8_t*>(row), 0,
                                 static_cast<const uint8_t*>(act), 0, &y, 0);
  }
  return y;
}

template <class K>
AG_AVX2 void dot_tiles_dispatch(TileIsa isa, int64_t n, const void* w, size_t w_stride, int n_w,
                                const void* a, size_t a_stride, int n_a, float* y,
                                size_t y_stride, int max_rows, int max_cols) {
  switch (isa) {
    case TileIsa::kAvx512Vnni:
      return tile_512::dot_tiles<K>(n, w, w_stride, n_w, a, a_stride, n_a, y, y_stride, max_rows,
                                    max_cols);
    case TileIsa::kAvxVnni:
      return tile_vnni::dot_tiles<K>(n, w, w_stride, n_w, a, a_stride, n_a, y, y_stride, max_rows,
                                     max_cols);
    case TileIsa::kAvx2:
      return tile_avx2::dot_tiles<K>(n, w, w_stride, n_w, a, a_stride, n_a, y, y_stride, max_rows,
                                     max_cols);
  }
}

}  // namespace

AG_AVX2 float vec_dot_q4_0(int64_t n, const void* row, const void* act) {
  return vec_dot_tile<TileQ4_0>(n, row, act);
}
AG_AVX2 float vec_dot_q4_1(int64_t n, const void* row, const void* act) {
  return dot_row<DotQ4_1>(n, row, act);
}
AG_AVX2 float vec_dot_q5_0(int64_t n, const void* row, const void* act) {
  return vec_dot_tile<TileQ5_0>(n, row, act);
}
AG_AVX2 float vec_dot_q5_1(int64_t n, const void* row, const void* act) {
  return dot_row<DotQ5_1>(n, row, act);
}
AG_AVX2 float vec_dot_q8_0(int64_t n, const void* row, const void* act) {
  return vec_dot_tile<TileQ8_0>(n, row, act);
}

AG_AVX2 void dot_tile_q4_0(int64_t n, const void* w, size_t w_stride, int n_w, const void* a,
                           size_t a_stride, int n_a, float* y, size_t y_stride, int max_rows,
                           int max_cols) {
  dot_tiles_dispatch<TileQ4_0>(best_tile_isa(), n, w, w_stride, n_w, a, a_stride, n_a, y,
                               y_stride, max_rows, max_cols);
}
AG_AVX2 void dot_tile_q5_0(int64_t n, const void* w, size_t w_stride, int n_w, const void* a,
                           size_t a_stride, int n_a, float* y, size_t y_stride, int max_rows,
                           int max_cols) {
  dot_tiles_dispatch<TileQ5_0>(best_tile_isa(), n, w, w_stride, n_w, a, a_stride, n_a, y,
                               y_stride, max_rows, max_cols);
}
AG_AVX2 void dot_tile_q8_0(int64_t n, const void* w, size_t w_stride, int n_w, const void* a,
                           size_t a_stride, int n_a, float* y, size_t y_stride, int max_rows,
                           int max_cols) {
  dot_tiles_dispatch<TileQ8_0>(best_tile_isa(), n, w, w_stride, n_w, a, a_stride, n_a, y,
                               y_stride, max_rows, max_cols);
}

bool dot_tile_isa_available(TileIsa isa) {
  switch (isa) {
    case TileIsa::kAvx2: return cpu_has_avx2_fma();
    case TileIsa::kAvxVnni: return cpu_has_avx2_fma() && use_vnni();
    case TileIsa::kAvx512Vnni: return cpu_has_avx2_fma() && use_avx512_vnni();
  }
  return false;
}

const char* tile_isa_name(TileIsa isa) {
  switch (isa) {
    case TileIsa::kAvx2: return "avx2";
    case TileIsa::kAvxVnni: return "avxvnni";
    case TileIsa::kAvx512Vnni: return "avx512vnni";
  }
  return "?";
}

void dot_tile_isa(DType type, TileIsa isa, int64_t n, const void* w, size_t w_stride, int n_w,
                  const void* a, size_t a_stride, int n_a, float* y, size_t y_stride, int max_rows,
                  int max_cols) {
  AG_CHECK(dot_tile_isa_available(isa), "dot tiles on %s requested on a CPU without it",
           tile_isa_name(isa));
  switch (type) {
    case DType::Q4_0:
      return dot_tiles_dispatch<TileQ4_0>(isa, n, w, w_stride, n_w, a, a_stride, n_a, y, y_stride,
                                          max_rows, max_cols);
    case DType::Q5_0:
      return dot_tiles_dispatch<TileQ5_0>(isa, n, w, w_stride, n_w, a, a_stride, n_a, y, y_stride,
                                          max_rows, max_cols);
    case DType::Q8_0:
      return dot_tiles_dispatch<TileQ8_0>(isa, n, w, w_stride, n_w, a, a_stride, n_a, y, y_stride,
                                          max_rows, max_cols);
    default:
      AG_CHECK(false, "no dot tile for this type");
  }
}

}  // namespace ag::legacy_avx2

#endif  // AUTOGLM_HAVE_X86_KERNELS
