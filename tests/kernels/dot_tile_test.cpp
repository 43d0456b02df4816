// The dot tiles behind matmul (tensor/x86/legacy_avx2.h): every output of every tile shape is
// bit-identical to the fast vec_dot and close to the scalar reference, and matmul gives each row
// the same bits whatever the batch size and thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "kernels/matmul.h"
#include "kernels/parallel.h"
#include "tensor/type_traits.h"
#include "tensor/x86/float_tile_avx2.h"
#include "tensor/x86/legacy_avx2.h"

namespace ag::kernels {
namespace {

std::vector<float> random_floats(size_t n, uint64_t seed, float scale) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

std::vector<uint8_t> quantized_weights(DType type, int64_t n_out, int64_t n_in, uint64_t seed) {
  const auto w = random_floats(static_cast<size_t>(n_out * n_in), seed, 0.05f);
  std::vector<uint8_t> q(row_bytes(type, static_cast<uint64_t>(n_in)) * static_cast<size_t>(n_out));
  quantize_weights(type, w.data(), q.data(), n_out, n_in, nullptr);
  return q;
}

std::vector<uint8_t> quantized_activations(int64_t n_rows, int64_t n_in, uint64_t seed) {
  const auto x = random_floats(static_cast<size_t>(n_rows * n_in), seed, 1.0f);
  const size_t rb = row_bytes(DType::Q8_0, static_cast<uint64_t>(n_in));
  std::vector<uint8_t> q(rb * static_cast<size_t>(n_rows));
  for (int64_t r = 0; r < n_rows; ++r)
    type_traits(DType::Q8_0).from_float(x.data() + r * n_in, q.data() + static_cast<size_t>(r) * rb, n_in);
  return q;
}

#if defined(AUTOGLM_HAVE_X86_KERNELS)
using TileFn = void (*)(int64_t, const void*, size_t, int, const void*, size_t, int, float*, size_t,
                        int, int);

TEST(DotTile, EveryShapeMatchesVecDotBitForBit) {
  if (!cpu_has_avx2_fma()) GTEST_SKIP() << "no AVX2+FMA";
  const std::pair<DType, TileFn> cases[] = {{DType::Q4_0, legacy_avx2::dot_tile_q4_0},
                                            {DType::Q5_0, legacy_avx2::dot_tile_q5_0},
                                            {DType::Q8_0, legacy_avx2::dot_tile_q8_0}};
  const int64_t n_in = 352;  // 11 blocks: the pairs of the AVX-512 tiles and a lone last block
  const int max_w = 9, max_a = 7;
  for (const auto& [type, tile] : cases) {
    SCOPED_TRACE(dtype_name(type));
    const auto w = quantized_weights(type, max_w, n_in, 11);
    const auto a = quantized_activations(max_a, n_in, 12);
    const size_t wb = row_bytes(type, n_in), ab = row_bytes(DType::Q8_0, n_in);
    const auto& fast = type_traits(type);
    const auto& ref = type_traits_reference(type);
    // every tile shape (max rows x max cols, 0 and 5 clamped) over ragged edges
    for (const auto& [mr, mc] : std::vector<std::pair<int, int>>{
             {1, 1}, {2, 3}, {3, 1}, {4, 4}, {1, 4}, {4, 2}, {0, 5}}) {
    for (int n_w = 1; n_w <= max_w; ++n_w) {
      for (int n_a = 1; n_a <= max_a; ++n_a) {
        SCOPED_TRACE(testing::Message() << "tile " << mr << "x" << mc);
        const size_t y_stride = static_cast<size_t>(n_w) + 3;
        std::vector<float> y(y_stride * static_cast<size_t>(n_a), -1.0f);
        tile(n_in, w.data(), wb, n_w, a.data(), ab, n_a, y.data(), y_stride, mr, mc);
        for (int c = 0; c < n_a; ++c) {
          for (int r = 0; r < n_w; ++r) {
            const float got = y[static_cast<size_t>(c) * y_stride + static_cast<size_t>(r)];
            const float one = fast.vec_dot(n_in, w.data() + static_cast<size_t>(r) * wb,
                                           a.data() + static_cast<size_t>(c) * ab);
            const float scalar = ref.vec_dot(n_in, w.data() + static_cast<size_t>(r) * wb,
                                             a.data() + static_cast<size_t>(c) * ab);
            ASSERT_EQ(std::memcmp(&got, &one, sizeof(float)), 0)
                << n_w << "x" << n_a << " (" << r << "," << c << "): " << got << " vs " << one;
            EXPECT_NEAR(got, scalar, 1e-4 * (1 + std::abs(scalar)));
          }
          // the padding between rows is left alone
          for (size_t k = static_cast<size_t>(n_w); k < y_stride; ++k)
            EXPECT_EQ(y[static_cast<size_t>(c) * y_stride + k], -1.0f);
        }
      }
    }
    }
  }
}

// The F16 / BF16 tiles take the activations rounded to the type and widened to F32; every output of
// every shape (rows clamped to 1..8, columns to 1..3) is the fast vec_dot's, bit for bit, and close
// to the scalar reference. n_in 203: 25 groups of 8 and a tail of 3.
TEST(DotTile, FloatTilesMatchVecDotBitForBit) {
  if (!cpu_has_avx2_fma()) GTEST_SKIP() << "no AVX2+FMA";
  const std::pair<DType, TileFn> cases[] = {{DType::F16, float_tile::dot_tile_f16},
                                            {DType::BF16, float_tile::dot_tile_bf16}};
  const int64_t n_in = 203;
  const int max_w = 11, max_a = 5;
  for (const auto& [type, tile] : cases) {
    SCOPED_TRACE(dtype_name(type));
    const auto& fast = type_traits(type);
    const auto& ref = type_traits_reference(type);
    const auto w = quantized_weights(type, max_w, n_in, 41);
    const auto x = random_floats(static_cast<size_t>(max_a * n_in), 42, 1.0f);
    const size_t wb = row_bytes(type, n_in);
    std::vector<uint8_t> narrow(wb * max_a);  // the activations in the type, as vec_dot takes them
    std::vector<float> wide(static_cast<size_t>(max_a * n_in));  // and widened, as the tiles do
    for (int c = 0; c < max_a; ++c) {
      fast.from_float(x.data() + c * n_in, narrow.data() + c * wb, n_in);
      fast.to_float(narrow.data() + c * wb, wide.data() + c * n_in, n_in);
    }
    for (const auto& [mr, mc] : std::vector<std::pair<int, int>>{{1, 1}, {8, 1}, {4, 3}, {3, 2}, {0, 9}, {12, 1}}) {
      for (int n_w = 1; n_w <= max_w; ++n_w) {
        for (int n_a = 1; n_a <= max_a; ++n_a) {
          SCOPED_TRACE(testing::Message() << "tile " << mr << "x" << mc << ", " << n_w << "x" << n_a);
          const size_t y_stride = static_cast<size_t>(n_w) + 2;
          std::vector<float> y(y_stride * static_cast<size_t>(n_a), -1.0f);
          tile(n_in, w.data(), wb, n_w, wide.data(), sizeof(float) * n_in, n_a, y.data(), y_stride, mr, mc);
          for (int c = 0; c < n_a; ++c) {
            for (int r = 0; r < n_w; ++r) {
              const float got = y[c * y_stride + r];
              const float one = fast.vec_dot(n_in, w.data() + r * wb, narrow.data() + c * wb);
              const float scalar = ref.vec_dot(n_in, w.data() + r * wb, narrow.data() + c * wb);
              ASSERT_EQ(std::memcmp(&got, &one, sizeof(float)), 0) << "(" << r << "," << c << "): " << got << " vs " << one;
              EXPECT_NEAR(got, scalar, 1e-4 * (1 + std::abs(scalar)));
            }
            for (size_t k = static_cast<size_t>(n_w); k < y_stride; ++k) EXPECT_EQ(y[c * y_stride + k], -1.0f);
          }
        }
      }
    }
  }
}

// vpdpbusd and maddubs + madd give the same int32 lanes, and the AVX-512 tiles keep the ymm code's
// two accumulators side by side, so every instruction set agrees with AVX2 bit for bit (this
// machine has AVX-VNNI and AVX-512 VNNI; elsewhere the missing ones are skipped). Odd block counts
// take the AVX-512 tiles' lone-last-block path.
TEST(DotTile, EveryIsaMatchesAvx2BitForBit) {
  if (!cpu_has_avx2_fma()) GTEST_SKIP() << "no AVX2+FMA";
  using legacy_avx2::TileIsa;
  const int n_w = 13, n_a = 6;
  for (const int64_t n_in : {int64_t{32}, int64_t{4864}, int64_t{4896}}) {  // 1, 152, 153 blocks
    for (DType type : {DType::Q4_0, DType::Q5_0, DType::Q8_0}) {
      SCOPED_TRACE(testing::Message() << dtype_name(type) << " n_in " << n_in);
      const auto w = quantized_weights(type, n_w, n_in, 31);
      const auto a = quantized_activations(n_a, n_in, 32);
      const size_t wb = row_bytes(type, n_in), ab = row_bytes(DType::Q8_0, n_in);
      for (const auto& [mr, mc] : std::vector<std::pair<int, int>>{{1, 1}, {4, 4}, {3, 2}}) {
        std::vector<float> y_avx2(static_cast<size_t>(n_w * n_a));
        legacy_avx2::dot_tile_isa(type, TileIsa::kAvx2, n_in, w.data(), wb, n_w, a.data(), ab, n_a,
                                  y_avx2.data(), n_w, mr, mc);
        for (TileIsa isa : {TileIsa::kAvxVnni, TileIsa::kAvx512Vnni}) {
          if (!legacy_avx2::dot_tile_isa_available(isa)) continue;
          std::vector<float> y(y_avx2.size());
          legacy_avx2::dot_tile_isa(type, isa, n_in, w.data(), wb, n_w, a.data(), ab, n_a, y.data(),
                                    n_w, mr, mc);
          ASSERT_EQ(std::memcmp(y_avx2.data(), y.data(), sizeof(float) * y.size()), 0)
              << legacy_avx2::tile_isa_name(isa) << " " << mr << "x" << mc;
        }
      }
    }
  }
}
#endif

// A row's outputs do not depend on the batch it is in or on the threads (checked for every type
// that matmul handles, tiled or not).
TEST(Matmul, BatchAndThreadInvariant) {
  set_min_parallel_work(0);
  const int64_t n_in = 256, n_out = 45, n_rows = 11;
  const auto x = random_floats(static_cast<size_t>(n_in * n_rows), 21, 1.0f);
  for (DType type : {DType::Q4_0, DType::Q5_0, DType::Q8_0, DType::Q4_1, DType::Q4_K, DType::Q6_K,
                     DType::F16, DType::BF16}) {
    SCOPED_TRACE(dtype_name(type));
    const auto q = quantized_weights(type, n_out, n_in, 22);
    const WeightView view{q.data(), type, n_in, n_out, row_bytes(type, n_in)};
    std::vector<float> all(static_cast<size_t>(n_rows * n_out));
    {
      ThreadPool pool(2);
      MatmulScratch scratch;
      const MatmulJob job{view, all.data(), n_out};
      matmul(pool, scratch, x.data(), n_rows, n_in, {&job, 1});
    }
    for (int threads : {1, 3}) {
      ThreadPool pool(threads);
      MatmulScratch scratch;
      for (int64_t start : {int64_t{0}, int64_t{4}, int64_t{9}}) {
        for (int64_t count : {int64_t{1}, int64_t{2}}) {
          std::vector<float> part(static_cast<size_t>(count * n_out));
          const MatmulJob job{view, part.data(), n_out};
          matmul(pool, scratch, x.data() + start * n_in, count, n_in, {&job, 1});
          for (int64_t i = 0; i < count * n_out; ++i)
            ASSERT_EQ(part[static_cast<size_t>(i)], all[static_cast<size_t>(start * n_out + i)])
                << threads << " threads, rows " << start << "+" << count << ", element " << i;
        }
      }
    }
  }
  set_min_parallel_work(kDefaultMinParallelWork);
}

}  // namespace
}  // namespace ag::kernels
