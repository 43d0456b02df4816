// Kernels against naive formulas: vector ops (fast vs scalar reference), rms_norm, softmax, rope,
// matmul over every path, and paged attention.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <tuple>
#include <cmath>
#include <cstring>
#include <random>
#include <thread>

#include "core/cpu_features.h"
#include "core/half.h"
#include "core/thread_pool.h"
#include "kernels/attention.h"
#include "kernels/elementwise.h"
#include "kernels/matmul.h"
#include "kernels/parallel.h"
#include "kernels/rope.h"
#include "kernels/row_ranges.h"
#include "kernels/vec.h"
#include "kv/kv_cache.h"
#include "tensor/type_traits.h"

namespace ag::kernels {
namespace {

std::vector<float> random_floats(size_t n, uint64_t seed, float scale = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

std::vector<uint16_t> to_f16(const std::vector<float>& v) {
  std::vector<uint16_t> h(v.size());
  for (size_t i = 0; i < v.size(); ++i) h[i] = f32_to_f16(v[i]);
  return h;
}

TEST(Vec, FastMatchesReference) {
  const VecKernels& fast = vec_kernels();
  const VecKernels& ref = vec_kernels_reference();
  for (int n : {1, 7, 8, 31, 32, 33, 64, 100, 128, 257}) {
    SCOPED_TRACE(n);
    const auto x = random_floats(static_cast<size_t>(n), 1), y = random_floats(static_cast<size_t>(n), 2);
    const auto xh = to_f16(x), yh = to_f16(y);
    double exact = 0, exact_h = 0;
    for (int i = 0; i < n; ++i) {
      exact += static_cast<double>(x[i]) * y[i];
      exact_h += static_cast<double>(f16_to_f32(xh[i])) * f16_to_f32(yh[i]);
    }
    const double tol = 1e-5 * n;
    EXPECT_NEAR(fast.dot_f32(n, x.data(), y.data()), exact, tol);
    EXPECT_NEAR(ref.dot_f32(n, x.data(), y.data()), exact, tol);
    EXPECT_NEAR(fast.dot_f16(n, xh.data(), yh.data()), exact_h, tol);
    EXPECT_NEAR(ref.dot_f16(n, xh.data(), yh.data()), exact_h, tol);

    std::vector<float> a(y), b(y);
    fast.axpy_f32(n, 0.7f, x.data(), a.data());
    ref.axpy_f32(n, 0.7f, x.data(), b.data());
    for (int i = 0; i < n; ++i) EXPECT_NEAR(a[i], b[i], 1e-6);
    a = y;
    b = y;
    fast.axpy_f16(n, -1.3f, xh.data(), a.data());
    ref.axpy_f16(n, -1.3f, xh.data(), b.data());
    for (int i = 0; i < n; ++i) EXPECT_NEAR(a[i], b[i], 1e-6);

    std::vector<uint16_t> h1(static_cast<size_t>(n)), h2(static_cast<size_t>(n));
    fast.f32_to_f16(n, x.data(), h1.data());
    ref.f32_to_f16(n, x.data(), h2.data());
    EXPECT_EQ(h1, h2);  // both round to nearest even

    const auto partial = random_floats(32 * static_cast<size_t>(n), 3);
    std::vector<float> r1(static_cast<size_t>(n)), r2(static_cast<size_t>(n));
    fast.reduce_lanes32(n, 32, partial.data(), r1.data());
    ref.reduce_lanes32(n, 32, partial.data(), r2.data());
    EXPECT_EQ(r1, r2);  // the same additions in the same order
    // Fewer written lanes: the rows past them are neither read nor needed (the same bits as
    // zeroed rows).
    for (int n_lanes : {1, 7, 17, 31}) {
      auto zeroed = partial;
      std::fill(zeroed.begin() + n_lanes * n, zeroed.end(), 0.0f);
      auto garbage = partial;  // rows past n_lanes hold other values: must not be read
      std::vector<float> want(static_cast<size_t>(n)), got_fast(want.size()), got_ref(want.size());
      ref.reduce_lanes32(n, 32, zeroed.data(), want.data());
      fast.reduce_lanes32(n, n_lanes, garbage.data(), got_fast.data());
      ref.reduce_lanes32(n, n_lanes, garbage.data(), got_ref.data());
      EXPECT_EQ(got_fast, want) << n_lanes;
      EXPECT_EQ(got_ref, want) << n_lanes;
    }
    for (int i = 0; i < n; ++i) {
      double s = 0;
      for (int l = 0; l < 32; ++l) s += partial[static_cast<size_t>(l * n + i)];
      EXPECT_NEAR(r1[static_cast<size_t>(i)], s, 1e-4);
    }

    // softmax with ggml's vector exp: the AVX2 lanes and the scalar emulation give the same bits
    const auto big = random_floats(static_cast<size_t>(n), 4, 8.0f);
    std::vector<float> s1(big), s2(big);
    const float max = *std::max_element(big.begin(), big.end());
    const double sum1 = fast.softmax_exp_f32(n, s1.data(), max);
    const double sum2 = ref.softmax_exp_f32(n, s2.data(), max);
    EXPECT_EQ(0, std::memcmp(s1.data(), s2.data(), s1.size() * sizeof(float)));
    EXPECT_EQ(sum1, sum2);
    double exact_sum = 0;
    for (int i = 0; i < n; ++i) {
      const double e = std::exp(static_cast<double>(big[i] - max));  // the same float argument
      exact_sum += e;
      EXPECT_NEAR(s1[static_cast<size_t>(i)], e, 1e-6 * e + 1e-30);
    }
    EXPECT_NEAR(sum1, exact_sum, 1e-6 * exact_sum);
  }
}

// exp_poly_f32 is ggml_v_expf: within 2 ulp of exp everywhere in range, exact at 0, 0 and inf past
// the ends, NaN through.
TEST(Vec, ExpPoly) {
  EXPECT_EQ(exp_poly_f32(0.0f), 1.0f);
  EXPECT_EQ(exp_poly_f32(-INFINITY), 0.0f);
  EXPECT_EQ(exp_poly_f32(-200.0f), 0.0f);
  EXPECT_EQ(exp_poly_f32(INFINITY), INFINITY);
  EXPECT_EQ(exp_poly_f32(100.0f), INFINITY);
  EXPECT_TRUE(std::isnan(exp_poly_f32(NAN)));
  int n_differ = 0;
  for (float x = -103.0f; x < 88.0f; x += 0.0137f) {
    const double e = std::exp(static_cast<double>(x));
    const float got = exp_poly_f32(x);
    // ulp of the result (subnormal results below 2^-126 have a fixed ulp)
    const double ulp = std::max(std::ldexp(1.0, std::ilogb(e) - 23), std::ldexp(1.0, -149));
    ASSERT_LE(std::abs(got - e), 2 * ulp) << x;
    n_differ += got != std::exp(x);
  }
  // it is not the C library's expf: they disagree in the last bit for a good share of inputs
  EXPECT_GT(n_differ, 100);
}

TEST(Elementwise, RmsNormSiluSoftmax) {
  const auto x = random_floats(48, 4), w = random_floats(48, 5);
  std::vector<float> y(48);
  rms_norm(x.data(), w.data(), y.data(), 48, 1e-6f);
  double ss = 0;
  for (float v : x) ss += static_cast<double>(v) * v;
  const double scale = 1.0 / std::sqrt(ss / 48 + 1e-6);
  for (int i = 0; i < 48; ++i) EXPECT_NEAR(y[i], x[i] * scale * w[i], 1e-5);

  std::vector<float> g = {-3.0f, -0.5f, 0.0f, 0.5f, 4.0f}, u = {1.0f, 2.0f, 3.0f, -1.0f, 0.5f};
  const auto g0 = g;
  silu_mul(g.data(), u.data(), 5);
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(g[i], g0[i] / (1 + std::exp(-g0[i])) * u[i], 1e-6);

  std::vector<float> s = {1.0f, 2.0f, 3.0f, 1000.0f};
  softmax_inplace(s.data(), 3);
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  EXPECT_NEAR(s[2], std::exp(3.0) / z, 1e-6);
  EXPECT_NEAR(s[0] + s[1] + s[2], 1.0, 1e-6);
}

TEST(Rope, NormalAndNeoxPairing) {
  RopeParams p;
  p.n_rot = 8;
  p.base = 10000.0f;
  std::vector<float> cs(4), sn(4);
  const int pos = 5;
  rope_cos_sin(p, pos, cs.data(), sn.data());
  for (int i = 0; i < 4; ++i) {
    const double theta = pos * std::pow(10000.0, -2.0 * i / 8);
    EXPECT_NEAR(cs[static_cast<size_t>(i)], std::cos(theta), 1e-5);
    EXPECT_NEAR(sn[static_cast<size_t>(i)], std::sin(theta), 1e-5);
  }
  // head_dim 10, rotary on the first 8: the last 2 dims stay
  const auto x = random_floats(20, 6);
  auto normal = x, neox = x;
  rope_apply(normal.data(), 2, 10, 8, false, cs.data(), sn.data());
  rope_apply(neox.data(), 2, 10, 8, true, cs.data(), sn.data());
  for (int h = 0; h < 2; ++h) {
    const float* in = x.data() + h * 10;
    for (int i = 0; i < 4; ++i) {
      const float c = cs[static_cast<size_t>(i)], s = sn[static_cast<size_t>(i)];
      EXPECT_NEAR(normal[h * 10 + 2 * i], in[2 * i] * c - in[2 * i + 1] * s, 1e-6);
      EXPECT_NEAR(normal[h * 10 + 2 * i + 1], in[2 * i] * s + in[2 * i + 1] * c, 1e-6);
      EXPECT_NEAR(neox[h * 10 + i], in[i] * c - in[i + 4] * s, 1e-6);
      EXPECT_NEAR(neox[h * 10 + i + 4], in[i] * s + in[i + 4] * c, 1e-6);
    }
    for (int i = 8; i < 10; ++i) {
      EXPECT_EQ(normal[h * 10 + i], in[i]);
      EXPECT_EQ(neox[h * 10 + i], in[i]);
    }
  }
}

TEST(Rope, LinearScalingAndFrequencyFactors) {
  RopeParams p;
  p.n_rot = 4;
  p.freq_scale = 0.25f;
  const float ff[2] = {1.0f, 8.0f};
  p.freq_factors = ff;
  std::vector<float> cs(2), sn(2);
  rope_cos_sin(p, 100, cs.data(), sn.data());
  EXPECT_NEAR(cs[0], std::cos(100 * 0.25), 1e-5);
  EXPECT_NEAR(sn[1], std::sin(100 * 0.01 / 8 * 0.25), 1e-5);
}

// Every unit is taken exactly once, each thread's own range front to back, whoever steals.
TEST(RowRanges, EveryUnitOnceOwnersFrontToBack) {
  RowRanges ranges;
  for (int n_threads : {1, 2, 3, 5}) {
    for (int64_t n_units : {0, 1, 7, 64, 1001}) {
      for (int64_t chunk : {1, 3, 16}) {
        SCOPED_TRACE(::testing::Message() << n_threads << " threads, " << n_units << " units, chunk " << chunk);
        ranges.reset(n_units, n_threads);
        std::vector<std::atomic<int>> taken(static_cast<size_t>(n_units));
        std::vector<std::vector<std::pair<int64_t, int64_t>>> own(static_cast<size_t>(n_threads));
        std::vector<std::thread> threads;
        for (int t = 0; t < n_threads; ++t)
          threads.emplace_back([&, t] {
            int64_t begin = 0, end = 0;
            while (ranges.next(t, chunk, begin, end)) {
              EXPECT_LT(begin, end);
              for (int64_t u = begin; u < end; ++u) taken[static_cast<size_t>(u)].fetch_add(1);
              const int64_t lo = n_units * t / n_threads, hi = n_units * (t + 1) / n_threads;
              if (begin >= lo && end <= hi) {
                own[static_cast<size_t>(t)].push_back({begin, end});
                EXPECT_LE(end - begin, std::max(chunk, (hi - lo) / 4));
              } else {
                EXPECT_LE(end - begin, chunk);  // stolen
              }
            }
          });
        for (auto& th : threads) th.join();
        for (int64_t u = 0; u < n_units; ++u) EXPECT_EQ(taken[static_cast<size_t>(u)].load(), 1) << u;
        // A thread's chunks of its own range that it took from the front follow one another.
        for (const auto& chunks : own)
          for (size_t i = 1; i < chunks.size(); ++i)
            if (chunks[i].first > chunks[i - 1].first) {
              EXPECT_GE(chunks[i].first, chunks[i - 1].second);
            }
        // Nothing is left for anyone once they are all done.
        int64_t b = 0, e = 0;
        EXPECT_FALSE(ranges.next(0, chunk, b, e));
      }
    }
  }
  // One thread alone takes its own range first, then the others' from their backs.
  ranges.reset(8, 2);
  std::vector<std::pair<int64_t, int64_t>> order;
  int64_t b = 0, e = 0;
  while (ranges.next(0, 2, b, e)) order.push_back({b, e});
  const std::vector<std::pair<int64_t, int64_t>> expected = {{0, 2}, {2, 4}, {6, 8}, {4, 6}};
  EXPECT_EQ(order, expected);
  // An owner claims a quarter of what is left of its range, never less than the chunk: few
  // claims (each a locked instruction) while the tail stays chunk-sized for thieves.
  ranges.reset(100, 2);
  std::vector<int64_t> sizes;
  while (ranges.next(0, 2, b, e) && e <= 50) sizes.push_back(e - b);
  const std::vector<int64_t> expected_sizes = {12, 9, 7, 5, 4, 3, 2, 2, 2, 2, 2};
  EXPECT_EQ(sizes, expected_sizes);
}

TEST(Matmul, EveryWeightTypeMatchesDequantizedDot) {
  set_min_parallel_work(0);  // through the pool even at this size
  ThreadPool pool(3);
  MatmulScratch scratch;
  const int64_t n_in = 256, n_out = 37, n_rows = 5;
  const auto w = random_floats(static_cast<size_t>(n_in * n_out), 7, 0.1f);
  const auto x = random_floats(static_cast<size_t>(n_in * n_rows), 8);
  for (DType type : {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_1,
                     DType::Q5_0, DType::Q5_1, DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K,
                     DType::Q6_K}) {
    SCOPED_TRACE(dtype_name(type));
    std::vector<uint8_t> q(row_bytes(type, n_in) * n_out);
    quantize_weights(type, w.data(), q.data(), n_out, n_in, nullptr);
    std::vector<float> deq(w.size());
    type_traits(type).to_float(q.data(), deq.data(), static_cast<int64_t>(deq.size()));
    WeightView view{q.data(), type, n_in, n_out, row_bytes(type, n_in)};
    // two jobs sharing the input, the second writing into a wider output
    std::vector<float> y1(static_cast<size_t>(n_rows * n_out)), y2(static_cast<size_t>(n_rows * 50));
    const MatmulJob jobs[2] = {{view, y1.data(), n_out}, {view, y2.data(), 50}};
    matmul(pool, scratch, x.data(), n_rows, n_in, jobs);
    for (int64_t r = 0; r < n_rows; ++r)
      for (int64_t o = 0; o < n_out; ++o) {
        double exact = 0;
        for (int64_t i = 0; i < n_in; ++i) exact += deq[o * n_in + i] * x[r * n_in + i];
        // activations are rounded to 8 bits (Q8) or half precision: relative to the row norm
        const double tol = type == DType::F32 ? 1e-4 : 0.05;
        EXPECT_NEAR(y1[r * n_out + o], exact, tol) << r << "," << o;
        EXPECT_EQ(y1[r * n_out + o], y2[r * 50 + o]);
      }
    // one row alone gives the same bits as inside the batch
    std::vector<float> single(static_cast<size_t>(n_out));
    const MatmulJob one{view, single.data(), n_out};
    matmul(pool, scratch, x.data() + 3 * n_in, 1, n_in, {&one, 1});
    for (int64_t o = 0; o < n_out; ++o) EXPECT_EQ(single[o], y1[3 * n_out + o]);
    std::vector<float> row(static_cast<size_t>(n_in));
    get_row(view, 4, row.data());
    for (int64_t i = 0; i < n_in; ++i) EXPECT_EQ(row[i], deq[4 * n_in + i]);
  }
  set_min_parallel_work(kDefaultMinParallelWork);
}

// With an F16 cache and head_dim a multiple of 8, attention takes a fused path (each K row
// converted once per GQA group, no call per position and head); it must give the bits of the
// generic path, which this test spells out with the vector kernels. Dims below 32 (stories260K: 8)
// and between multiples of 32 (80) take dot_f16's double tail.
TEST(Attention, FusedF16PathMatchesVecKernelsBitForBit) {
  const VecKernels& vk = vec_kernels();
  for (const auto& [n_head, n_head_kv, head_dim] : {std::tuple{8, 2, 64}, {14, 2, 64}, {4, 4, 128}, {8, 1, 32}, {8, 4, 8}, {4, 2, 24}, {6, 3, 80}}) {
    SCOPED_TRACE(::testing::Message() << n_head << " heads, " << n_head_kv << " kv heads, dim " << head_dim);
    HParams hp;
    hp.n_layer = 1;
    hp.n_head = n_head;
    hp.n_head_kv = n_head_kv;
    hp.head_dim = head_dim;
    const int block = 16, n_pos = 300, kv_width = n_head_kv * head_dim, q_width = n_head * head_dim;
    KvCache kv(hp, 20, block, DType::F16);
    const std::vector<int32_t> table = {2, 0, 3, 19, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 1};
    const auto k = random_floats(static_cast<size_t>(n_pos * kv_width), 21);
    const auto v = random_floats(static_cast<size_t>(n_pos * kv_width), 22);
    for (int t = 0; t < n_pos; ++t) {
      auto* kd = reinterpret_cast<uint16_t*>(kv.k_slot(0, table[static_cast<size_t>(t / block)], t % block));
      auto* vd = reinterpret_cast<uint16_t*>(kv.v_slot(0, table[static_cast<size_t>(t / block)], t % block));
      for (int i = 0; i < kv_width; ++i) {
        kd[i] = f32_to_f16(k[static_cast<size_t>(t * kv_width + i)]);
        vd[i] = f32_to_f16(v[static_cast<size_t>(t * kv_width + i)]);
      }
    }
    const std::vector<int32_t> positions = {299, 0, 31, 32, 150, 4, 17};
    const std::vector<int32_t> seq_index(positions.size(), 0);
    const std::vector<std::vector<int32_t>> tables = {table};
    // large logits, so that a score off by one ulp shows in the F16-rounded weights
    const auto q = random_floats(positions.size() * static_cast<size_t>(q_width), 23, 8.0f);
    std::vector<float> out(q.size());
    AttentionArgs a;
    a.q = q.data();
    a.out = out.data();
    a.n_rows = static_cast<int64_t>(positions.size());
    a.positions = positions.data();
    a.seq_index = seq_index.data();
    a.block_tables = &tables;
    a.n_head = n_head;
    a.scale = 0.125f;
    ThreadPool pool(2);
    AttentionScratch scratch;
    attention(pool, scratch, kv, a);

    ASSERT_EQ(detail::fused_f16_applies(kv), cpu_has_avx2_fma());
    const int group = n_head / n_head_kv;
    for (size_t r = 0; r < positions.size(); ++r) {
      const int n = positions[r] + 1;
      std::vector<float> fused_scores(static_cast<size_t>(group * n));
      for (int h = 0; h < n_head; ++h) {
        const int kvh = h / group;
        std::vector<uint16_t> qh(static_cast<size_t>(head_dim));
        vk.f32_to_f16(head_dim, q.data() + r * static_cast<size_t>(q_width) + static_cast<size_t>(h * head_dim), qh.data());
        std::vector<float> s(static_cast<size_t>(n));
        for (int t = 0; t < n; ++t) {
          const auto* kt = reinterpret_cast<const uint16_t*>(
              kv.k_slot(0, table[static_cast<size_t>(t / block)], t % block)) + kvh * head_dim;
          s[static_cast<size_t>(t)] = vk.dot_f16(head_dim, qh.data(), kt) * a.scale;
        }
        // The scores themselves (the F16 rounding of the weights would hide an ulp here).
        if (detail::fused_f16_applies(kv)) {
          if (h % group == 0) detail::fused_f16_scores(kv, a, static_cast<int64_t>(r), kvh, fused_scores.data());
          for (int t = 0; t < n; ++t)
            ASSERT_EQ(std::bit_cast<uint32_t>(fused_scores[static_cast<size_t>((h % group) * n + t)]),
                      std::bit_cast<uint32_t>(s[static_cast<size_t>(t)]))
                << "score row " << r << " head " << h << " position " << t;
        }
        const float mx = *std::max_element(s.begin(), s.end());
        const float inv = static_cast<float>(1.0 / vk.softmax_exp_f32(n, s.data(), mx));
        for (float& x : s) x *= inv;
        std::vector<uint16_t> p(static_cast<size_t>(n));
        vk.f32_to_f16(n, s.data(), p.data());
        std::vector<float> partial(32 * static_cast<size_t>(head_dim), 0.0f), expected(static_cast<size_t>(head_dim));
        for (int t = 0; t < n; ++t) {
          const auto* vt = reinterpret_cast<const uint16_t*>(
              kv.v_slot(0, table[static_cast<size_t>(t / block)], t % block)) + kvh * head_dim;
          vk.axpy_f16(head_dim, f16_to_f32(p[static_cast<size_t>(t)]), vt, partial.data() + (t & 31) * head_dim);
        }
        vk.reduce_lanes32(head_dim, 32, partial.data(), expected.data());
        for (int i = 0; i < head_dim; ++i)
          ASSERT_EQ(std::bit_cast<uint32_t>(out[r * static_cast<size_t>(q_width) + static_cast<size_t>(h * head_dim + i)]),
                    std::bit_cast<uint32_t>(expected[static_cast<size_t>(i)]))
              << "row " << r << " head " << h << " dim " << i;
      }
    }
  }
}

// Attention over a paged cache against a direct softmax(q·K)·V over the same (rounded) values.
TEST(Attention, PagedMatchesDirect) {
  HParams hp;
  hp.n_layer = 1;
  hp.n_head = 4;
  hp.n_head_kv = 2;
  hp.head_dim = 40;  // a SIMD part and a tail
  for (DType type : {DType::F32, DType::F16}) {
    SCOPED_TRACE(dtype_name(type));
    const int block = 3, n_pos = 11;
    KvCache kv(hp, 8, block, type);
    const std::vector<int32_t> table = {5, 0, 7, 2};  // scrambled physical blocks
    const auto k = random_floats(static_cast<size_t>(n_pos * 80), 9);
    const auto v = random_floats(static_cast<size_t>(n_pos * 80), 10);
    auto stored = [&](float f) { return type == DType::F16 ? f16_to_f32(f32_to_f16(f)) : f; };
    for (int t = 0; t < n_pos; ++t) {
      uint8_t* kd = kv.k_slot(0, table[static_cast<size_t>(t / block)], t % block);
      uint8_t* vd = kv.v_slot(0, table[static_cast<size_t>(t / block)], t % block);
      for (int i = 0; i < 80; ++i) {
        if (type == DType::F16) {
          reinterpret_cast<uint16_t*>(kd)[i] = f32_to_f16(k[static_cast<size_t>(t * 80 + i)]);
          reinterpret_cast<uint16_t*>(vd)[i] = f32_to_f16(v[static_cast<size_t>(t * 80 + i)]);
        } else {
          reinterpret_cast<float*>(kd)[i] = k[static_cast<size_t>(t * 80 + i)];
          reinterpret_cast<float*>(vd)[i] = v[static_cast<size_t>(t * 80 + i)];
        }
      }
    }
    const std::vector<int32_t> positions = {10, 3, 0};
    const std::vector<int32_t> seq_index = {0, 0, 0};
    const std::vector<std::vector<int32_t>> tables = {table};
    const auto q = random_floats(3 * 160, 11);
    std::vector<float> out(3 * 160);
    AttentionArgs a;
    a.q = q.data();
    a.out = out.data();
    a.n_rows = 3;
    a.positions = positions.data();
    a.seq_index = seq_index.data();
    a.block_tables = &tables;
    a.n_head = 4;
    a.scale = 0.2f;
    ThreadPool pool(2);
    AttentionScratch scratch;
    set_min_parallel_work(0);
    attention(pool, scratch, kv, a);
    set_min_parallel_work(kDefaultMinParallelWork);
    for (int r = 0; r < 3; ++r)
      for (int h = 0; h < 4; ++h) {
        const int kvh = h / 2;
        std::vector<double> p(static_cast<size_t>(positions[static_cast<size_t>(r)]) + 1);
        double mx = -1e300, sum = 0;
        for (size_t t = 0; t < p.size(); ++t) {
          double d = 0;
          for (int i = 0; i < 40; ++i)
            d += static_cast<double>(stored(q[static_cast<size_t>(r * 160 + h * 40 + i)])) *
                 stored(k[t * 80 + static_cast<size_t>(kvh * 40 + i)]);
          p[t] = d * 0.2;
          mx = std::max(mx, p[t]);
        }
        for (double& x : p) sum += (x = std::exp(x - mx));
        for (int i = 0; i < 40; ++i) {
          double o = 0;
          for (size_t t = 0; t < p.size(); ++t)
            o += p[t] / sum * stored(v[t * 80 + static_cast<size_t>(kvh * 40 + i)]);
          // F16: the attention weights are also rounded to half precision (as llama.cpp does)
          EXPECT_NEAR(out[static_cast<size_t>(r * 160 + h * 40 + i)], o,
                      type == DType::F16 ? 2e-3 : 1e-5);
        }
      }
  }
}

}  // namespace
}  // namespace ag::kernels
