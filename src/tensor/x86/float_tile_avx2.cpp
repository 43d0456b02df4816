#include "tensor/x86/float_tile_avx2.h"

#include "core/half.h"
#include "tensor/packed.h"

#if defined(AUTOGLM_HAVE_X86_FLOAT_TILES)

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>

// Every function carries the target attribute (helpers too, so they inline); the file is compiled
// with -ffp-contract=off, so the scalar tail is the same multiply-then-add wherever it is inlined.
#define AG_FT __attribute__((target("avx2,fma,f16c")))

namespace ag::float_tile {

namespace {

constexpr int kMaxRows = 8;
constexpr int kMaxCols = 3;

// Weight element loaders: 8 elements widened to floats, and one element.
struct F16 {
  AG_FT static __m256 load8(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  AG_FT static float load1(const uint16_t* p) { return _cvtsh_ss(*p); }
};

struct BF16 {
  AG_FT static __m256 load8(const uint16_t* p) {
    const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(raw), 16));
  }
  AG_FT static float load1(const uint16_t* p) { return bf16_to_f32(*p); }
};

// Activations already widened to floats (the tiles)...
struct Widened {
  using T = float;
  AG_FT static __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
  AG_FT static float load1(const float* p) { return *p; }
};
// ... or still in the weight type (vec_dot): the same values, converted on the fly.
template <class W>
struct Narrow {
  using T = uint16_t;
  AG_FT static __m256 load8(const uint16_t* p) { return W::load8(p); }
  AG_FT static float load1(const uint16_t* p) { return W::load1(p); }
};

AG_FT inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// R weight rows x C activation rows in one pass over the n elements; out[c][r] gets the dot.
// Group g of 8 elements of row r is at w[r] + g * step (GGUF rows: step 8; the packed halves: 64,
// and n % 8 == 0). `next`: where the weights of the next pass begin, prefetched as this pass is
// consumed (GGUF rows only: see tile()), or null.
template <class W, class A, int R, int C>
AG_FT void pass(int64_t n, const uint16_t* const* w, int64_t step, const typename A::T* const* a, float* const* out,
                const uint8_t* next) {
  __m256 acc[R][C];
  for (auto& row : acc)
    for (auto& v : row) v = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    if (next != nullptr && (i & 31) == 0) {
      // 4 groups of 8 consume 64 bytes of each of the R rows: fetch as many lines of the next region.
      for (int r = 0; r < R; ++r) _mm_prefetch(reinterpret_cast<const char*>(next + (i / 32 * R + r) * 64), _MM_HINT_T0);
    }
    __m256 av[C];
    for (int c = 0; c < C; ++c) av[c] = A::load8(a[c] + i);
    for (int r = 0; r < R; ++r) {
      const __m256 wv = W::load8(w[r] + i / 8 * step);
      for (int c = 0; c < C; ++c) acc[r][c] = _mm256_fmadd_ps(wv, av[c], acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      float sum = hsum(acc[r][c]);
      for (int64_t j = i; j < n; ++j) sum += W::load1(w[r] + j) * A::load1(a[c] + j);
      out[c][r] = sum;
    }
  }
}

template <class W>
using PassFn = void (*)(int64_t, const uint16_t* const*, int64_t, const float* const*, float* const*, const uint8_t*);

template <class W, int R, int... Cs>
constexpr auto row_of_passes(std::integer_sequence<int, Cs...>) {
  return std::array<PassFn<W>, sizeof...(Cs)>{&pass<W, Widened, R, Cs + 1>...};
}

template <class W, int... Rs>
constexpr auto table_of_passes(std::integer_sequence<int, Rs...>) {
  return std::array<std::array<PassFn<W>, kMaxCols>, sizeof...(Rs)>{
      row_of_passes<W, Rs + 1>(std::make_integer_sequence<int, kMaxCols>{})...};
}

template <class W>
inline constexpr auto kPasses = table_of_passes<W>(std::make_integer_sequence<int, kMaxRows>{});

template <class W>
AG_FT void tile(int64_t n, const void* w, size_t w_stride, int n_w, const void* a, size_t a_stride, int n_a,
                float* y, size_t y_stride, int max_rows, int max_cols) {
  const int rows = std::clamp(max_rows, 1, kMaxRows);
  const int cols = std::clamp(max_cols, 1, kMaxCols);
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const uint8_t*>(a);
  for (int r0 = 0; r0 < n_w; r0 += rows) {
    const int nr = std::min(rows, n_w - r0);
    const uint16_t* wr[kMaxRows];
    for (int r = 0; r < nr; ++r) wr[r] = reinterpret_cast<const uint16_t*>(wb + static_cast<size_t>(r0 + r) * w_stride);
    for (int c0 = 0; c0 < n_a; c0 += cols) {
      const int nc = std::min(cols, n_a - c0);
      const float* ac[kMaxCols];
      float* out[kMaxCols];
      for (int c = 0; c < nc; ++c) {
        ac[c] = reinterpret_cast<const float*>(ab + static_cast<size_t>(c0 + c) * a_stride);
        out[c] = y + static_cast<size_t>(c0 + c) * y_stride + static_cast<size_t>(r0);
      }
      // Decode (one activation row) reads each weight once, from memory: R rows at once are R
      // streams 2n bytes apart, which the hardware prefetchers follow poorly (tg 44 -> 32 tok/s on
      // the 0.5B F16), so the pass also fetches the next pass's region in address order.
      const uint8_t* next = n_a == 1 ? wb + static_cast<size_t>(r0 + nr) * w_stride : nullptr;
      kPasses<W>[static_cast<size_t>(nr - 1)][static_cast<size_t>(nc - 1)](n, wr, 8, ac, out, next);
    }
  }
}

template <class W>
AG_FT float vec_dot(int64_t n, const void* row, const void* act) {
  const auto* w = static_cast<const uint16_t*>(row);
  const auto* a = static_cast<const uint16_t*>(act);
  float y = 0;
  float* out = &y;
  pass<W, Narrow<W>, 1, 1>(n, &w, 8, &a, &out, nullptr);
  return y;
}

// The packed layout (tensor/packed.h, F16x16 / BF16x16): each 8-row half of a group is
// [n_in / 8][8 rows][8 values], so decode reads one half (8 rows, 8 FMA chains) as one sequential
// stream, and prefill reads 4 of its rows against 3 activation rows (64 of each 128 bytes: whole
// cache lines). The outputs are those of the GGUF rows (same operations per output).
template <class W>
AG_FT void packed(const PackedMatmulArgs& p) {
  const int64_t n = p.n_in;
  const size_t half_elems = static_cast<size_t>(8 * n);
  const int rows = p.n_a == 1 ? 8 : 4;
  for (int64_t g = p.row_begin / kPackRows; g * kPackRows < p.row_end; ++g) {
    for (int h = 0; h < 2; ++h) {
      const int64_t half_row0 = g * kPackRows + 8 * h;
      if (half_row0 + 8 <= p.row_begin || half_row0 >= p.row_end) continue;
      const auto* half = reinterpret_cast<const uint16_t*>(p.packed) + static_cast<size_t>(2 * g + h) * half_elems;
      for (int r0 = 0; r0 < 8; r0 += rows) {
        const int64_t o0 = half_row0 + r0;
        if (o0 + rows <= p.row_begin || o0 >= p.row_end) continue;
        const uint16_t* wr[kMaxRows];
        for (int r = 0; r < rows; ++r) wr[r] = half + 8 * (r0 + r);
        for (int c0 = 0; c0 < p.n_a; c0 += kMaxCols) {
          const int nc = std::min(kMaxCols, p.n_a - c0);
          const float* ac[kMaxCols];
          float result[kMaxCols][kMaxRows];
          float* out[kMaxCols];
          for (int c = 0; c < nc; ++c) {
            ac[c] = reinterpret_cast<const float*>(p.a + static_cast<size_t>(c0 + c) * p.a_stride);
            out[c] = result[c];
          }
          kPasses<W>[static_cast<size_t>(rows - 1)][static_cast<size_t>(nc - 1)](n, wr, 64, ac, out, nullptr);
          // Only the rows of [row_begin, row_end): the others belong to another thread's range.
          for (int c = 0; c < nc; ++c)
            for (int r = 0; r < rows; ++r)
              if (o0 + r >= p.row_begin && o0 + r < p.row_end)
                p.y[static_cast<size_t>(c0 + c) * p.y_stride + static_cast<size_t>(o0 + r)] = result[c][r];
        }
      }
    }
  }
}

}  // namespace

void packed_matmul(const PackedMatmulArgs& args) {
  if (args.type == DType::BF16) return packed<BF16>(args);
  packed<F16>(args);
}

float vec_dot_f16(int64_t n, const void* row, const void* act) { return vec_dot<F16>(n, row, act); }
float vec_dot_bf16(int64_t n, const void* row, const void* act) { return vec_dot<BF16>(n, row, act); }

void dot_tile_f16(int64_t n, const void* w, size_t w_stride, int n_w, const void* a, size_t a_stride, int n_a,
                  float* y, size_t y_stride, int max_rows, int max_cols) {
  tile<F16>(n, w, w_stride, n_w, a, a_stride, n_a, y, y_stride, max_rows, max_cols);
}

void dot_tile_bf16(int64_t n, const void* w, size_t w_stride, int n_w, const void* a, size_t a_stride, int n_a,
                   float* y, size_t y_stride, int max_rows, int max_cols) {
  tile<BF16>(n, w, w_stride, n_w, a, a_stride, n_a, y, y_stride, max_rows, max_cols);
}

}  // namespace ag::float_tile

#endif
