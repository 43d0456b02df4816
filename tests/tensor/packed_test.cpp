// Packed (16-row interleaved) Q4_0 / Q5_0 / Q8_0 / F16 / BF16 matrices: the scalar reference equals
// the unpacked reference dot products up to float rounding (F16 / BF16: the fast vec_dot bit for
// bit), and the SIMD kernel equals the scalar reference bit for bit for any row range and batch
// width.
#include "tensor/packed.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <tuple>
#include <vector>

#include "tensor/quant_blocks.h"
#include "tensor/type_traits.h"
#include "test_rng.h"

namespace ag {
namespace {

class PackedMatmul : public ::testing::TestWithParam<DType> {};

struct Problem {
  int64_t n_in, n_out;
  int n_a;
  std::vector<uint8_t> w;       // GGUF rows
  std::vector<uint8_t> packed;
  std::vector<uint8_t> a;       // Q8_0 activation rows (F16 / BF16: F32 rows rounded to the type)
  std::vector<uint8_t> narrow;  // F16 / BF16: the same activations in the type, for vec_dot
  std::vector<ActBlockInfo> info;
  size_t w_row, a_row;
};

bool is_float(DType type) { return type == DType::F16 || type == DType::BF16; }
bool is_k_quant(DType type) { return type == DType::Q4_K || type == DType::Q5_K || type == DType::Q6_K; }

// n_in columns (K-quants: rounded up to whole 256-column blocks).
Problem make_problem(DType type, int64_t n_in, int64_t n_out, int n_a, uint64_t seed) {
  if (is_k_quant(type)) n_in = (n_in + 255) / 256 * 256;
  test::Rng rng(seed);
  Problem p{n_in, n_out, n_a, {}, {}, {}, {}, {}, 0, 0};
  const auto& tt = type_traits_reference(type);
  p.w_row = row_bytes(type, static_cast<uint64_t>(n_in));
  p.w.resize(p.w_row * static_cast<size_t>(n_out));
  for (int64_t r = 0; r < n_out; ++r) {
    const auto x = test::weight_like(rng, n_in);
    tt.from_float(x.data(), p.w.data() + static_cast<size_t>(r) * p.w_row, n_in);
  }
  p.packed.resize(packed_bytes(type, n_in, n_out));
  const int64_t groups = (n_out + kPackRows - 1) / kPackRows;
  pack_groups(type, p.w.data(), p.w_row, n_in, n_out, 0, groups, p.packed.data());
  if (is_float(type)) {
    const size_t nb = row_bytes(type, static_cast<uint64_t>(n_in));
    p.a_row = sizeof(float) * static_cast<size_t>(n_in);
    p.a.resize(p.a_row * static_cast<size_t>(n_a));
    p.narrow.resize(nb * static_cast<size_t>(n_a));
    for (int c = 0; c < n_a; ++c) {
      std::vector<float> x(static_cast<size_t>(n_in));
      for (auto& v : x) v = rng.normal();
      tt.from_float(x.data(), p.narrow.data() + static_cast<size_t>(c) * nb, n_in);
      tt.to_float(p.narrow.data() + static_cast<size_t>(c) * nb,
                  reinterpret_cast<float*>(p.a.data() + static_cast<size_t>(c) * p.a_row), n_in);
    }
    return p;
  }
  if (is_k_quant(type)) {  // Q8_K activations: their blocks carry the scale and the sums
    const auto& q8k = type_traits_reference(DType::Q8_K);
    p.a_row = row_bytes(DType::Q8_K, static_cast<uint64_t>(n_in));
    p.a.resize(p.a_row * static_cast<size_t>(n_a));
    for (int c = 0; c < n_a; ++c) {
      std::vector<float> x(static_cast<size_t>(n_in));
      for (auto& v : x) v = rng.normal();
      q8k.from_float(x.data(), p.a.data() + static_cast<size_t>(c) * p.a_row, n_in);
    }
    return p;
  }
  const auto& q8 = type_traits_reference(DType::Q8_0);
  p.a_row = row_bytes(DType::Q8_0, static_cast<uint64_t>(n_in));
  p.a.resize(p.a_row * static_cast<size_t>(n_a));
  p.info.resize(static_cast<size_t>(n_in / 32 * n_a));
  for (int c = 0; c < n_a; ++c) {
    std::vector<float> x(static_cast<size_t>(n_in));
    for (auto& v : x) v = rng.normal();
    uint8_t* row = p.a.data() + static_cast<size_t>(c) * p.a_row;
    q8.from_float(x.data(), row, n_in);
    act_block_info(row, n_in, p.info.data() + static_cast<size_t>(c * n_in / 32));
  }
  return p;
}

PackedMatmulArgs args_for(DType type, const Problem& p, int64_t row_begin, int64_t row_end,
                          std::vector<float>& y) {
  y.assign(static_cast<size_t>(p.n_out * p.n_a), -12345.0f);
  return {type, p.packed.data(), p.n_in, row_begin, row_end, p.a.data(), p.a_row,
          p.info.data(), static_cast<size_t>(p.n_in / 32), p.n_a, y.data(),
          static_cast<size_t>(p.n_out)};
}

TEST_P(PackedMatmul, ReferenceEqualsUnpackedDotProducts) {
  const DType type = GetParam();
  const Problem p = make_problem(type, 256, 40, 3, 1);
  std::vector<float> y;
  packed_matmul_ref(args_for(type, p, 0, p.n_out, y));
  const auto vec_dot = type_traits_reference(type).vec_dot;
  const size_t narrow_row = row_bytes(type, static_cast<uint64_t>(p.n_in));
  for (int c = 0; c < p.n_a; ++c) {
    const uint8_t* act = is_float(type) ? p.narrow.data() + static_cast<size_t>(c) * narrow_row
                                        : p.a.data() + static_cast<size_t>(c) * p.a_row;
    for (int64_t o = 0; o < p.n_out; ++o) {
      const uint8_t* row = p.w.data() + static_cast<size_t>(o) * p.w_row;
      const float want = vec_dot(p.n_in, row, act);
      const float got = y[static_cast<size_t>(c * p.n_out + o)];
      // The K-quants subtract the mins' sum from the scales' (terms of hundreds for a result near
      // 0 here): the two summation orders differ by up to ~1e-6 of those terms.
      const float tolerance = is_k_quant(type) ? 2e-4f : 1e-5f;
      EXPECT_NEAR(got, want, tolerance * (1.0f + std::fabs(want))) << "row " << o << " col " << c;
      // The float layouts compute exactly what the fast vec_dot (the dot tiles' order) gives.
      if (is_float(type) && type_traits(type).vec_dot != vec_dot) {
        const float fast = type_traits(type).vec_dot(p.n_in, row, act);
        EXPECT_EQ(0, std::memcmp(&got, &fast, sizeof got)) << o << " " << c;
      }
    }
  }
}

// Every kernel this CPU has (AVX-512 VNNI, AVX-VNNI, AVX2), not only the fastest, against the
// reference: an AVX-512 machine checks the kernels of the CPUs without it too.
class PackedKernel : public ::testing::TestWithParam<std::tuple<DType, PackedIsa>> {};

TEST_P(PackedKernel, BitIdenticalToReferenceForAnyRangeAndWidth) {
  const auto [type, isa] = GetParam();
  if (!packed_kernel_available(isa, type)) GTEST_SKIP() << "this CPU has no " << packed_isa_name(isa) << " kernel for " << dtype_name(type);
  // 19 activation rows: passes of 8, 8 and 3 (zmm) or 4 x 4 and 3 (ymm);
  // 70 rows: four full groups and a padded one; ranges that start and end inside a group's halves.
  const Problem p = make_problem(type, 320, 70, 19, 2);
  const std::pair<int64_t, int64_t> ranges[] = {{0, 70}, {0, 16}, {5, 37}, {48, 70}, {69, 70}, {10, 13}, {3, 9}};
  for (const auto& [lo, hi] : ranges) {
    std::vector<float> want, got;
    packed_matmul_ref(args_for(type, p, lo, hi, want));
    packed_matmul_on(isa, args_for(type, p, lo, hi, got));
    ASSERT_EQ(0, std::memcmp(want.data(), got.data(), want.size() * sizeof(float)))
        << dtype_name(type) << " on " << packed_isa_name(isa) << " rows [" << lo << ", " << hi << ")";
    for (int c = 0; c < p.n_a; ++c) {  // outside the range nothing is written
      for (int64_t o = 0; o < p.n_out; ++o) {
        if (o < lo || o >= hi) {
          ASSERT_EQ(got[static_cast<size_t>(c * p.n_out + o)], -12345.0f) << o << " " << c;
        }
      }
    }
  }
}

// The extremes of the integer ranges the kernels rely on: every weight at its most negative and
// most positive value, activations at +-127 (Q8_0's quantizers never give -128), so the AVX2
// kernels' int16 sums are at their bounds (Q4_0: 8 x 2 x 15 x 127 in one int16; Q8_0:
// 2 x 128 x 127 per pair).
// The legacy types' kernels, whose int16 sums are sized to their ranges.
class PackedLegacyKernel : public ::testing::TestWithParam<std::tuple<DType, PackedIsa>> {};

TEST_P(PackedLegacyKernel, ExtremeValuesStayExact) {
  const auto [type, isa] = GetParam();
  if (!packed_kernel_available(isa, type)) GTEST_SKIP() << "this CPU has no " << packed_isa_name(isa) << " kernel for " << dtype_name(type);
  Problem p = make_problem(type, 128, 32, 5, 4);
  // Weights: stored values 0 (= -offset) in the first 16 rows, the maximum in the others.
  const int64_t groups = (p.n_out + kPackRows - 1) / kPackRows;
  const size_t block_bytes = p.packed.size() / static_cast<size_t>(groups * p.n_in / 32);
  for (size_t blk = 0; blk * block_bytes < p.packed.size(); ++blk) {
    uint8_t* qs = p.packed.data() + blk * block_bytes + 2 * kPackRows;
    const bool high = (blk / static_cast<size_t>(p.n_in / 32)) % 2 == 1;
    const size_t value_bytes = type == DType::Q5_0 ? 4 * 64 + 64 : type == DType::Q4_0 ? 4 * 64 : 8 * 64;
    std::memset(qs, high ? 0xFF : 0x00, value_bytes);
  }
  // Activations: +127 and -127 alternating in pairs, and all -127 in the last row.
  for (int c = 0; c < p.n_a; ++c) {
    auto* blocks = reinterpret_cast<BlockQ8_0*>(p.a.data() + static_cast<size_t>(c) * p.a_row);
    for (int64_t b = 0; b < p.n_in / 32; ++b)
      for (int k = 0; k < 32; ++k) blocks[b].qs[k] = static_cast<int8_t>(c == p.n_a - 1 || (k / 2 + c) % 2 ? -127 : 127);
    act_block_info(blocks, p.n_in, p.info.data() + static_cast<size_t>(c * p.n_in / 32));
  }
  std::vector<float> want, got;
  packed_matmul_ref(args_for(type, p, 0, p.n_out, want));
  packed_matmul_on(isa, args_for(type, p, 0, p.n_out, got));
  EXPECT_EQ(0, std::memcmp(want.data(), got.data(), want.size() * sizeof(float)))
      << dtype_name(type) << " on " << packed_isa_name(isa);
}

TEST_P(PackedMatmul, OutputDoesNotDependOnTheBatch) {
  const DType type = GetParam();
  const Problem p = make_problem(type, 128, 32, 11, 3);
  std::vector<float> all;
  packed_matmul(args_for(type, p, 0, p.n_out, all));
  for (int c = 0; c < p.n_a; ++c) {
    Problem one = p;  // activation row c alone
    one.n_a = 1;
    one.a.assign(p.a.begin() + static_cast<ptrdiff_t>(c * p.a_row),
                 p.a.begin() + static_cast<ptrdiff_t>((c + 1) * p.a_row));
    if (!p.info.empty()) one.info.assign(p.info.begin() + c * p.n_in / 32, p.info.begin() + (c + 1) * p.n_in / 32);
    std::vector<float> y;
    packed_matmul(args_for(type, one, 0, one.n_out, y));
    EXPECT_EQ(0, std::memcmp(y.data(), all.data() + c * p.n_out, y.size() * sizeof(float))) << c;
  }
}

TEST(PackedLayout, SizesMatchTheFile) {
  EXPECT_EQ(packed_bytes(DType::Q4_0, 896, 4864), row_bytes(DType::Q4_0, 896) * 4864);
  EXPECT_EQ(packed_bytes(DType::Q8_0, 896, 151936), row_bytes(DType::Q8_0, 896) * 151936);
  EXPECT_EQ(packed_bytes(DType::Q4_0, 64, 17), row_bytes(DType::Q4_0, 64) * 32);  // padded group
  EXPECT_EQ(packed_bytes(DType::Q5_0, 896, 4864), row_bytes(DType::Q5_0, 896) * 4864);
  EXPECT_EQ(packed_bytes(DType::F16, 896, 4864), row_bytes(DType::F16, 896) * 4864);
  EXPECT_EQ(packed_bytes(DType::BF16, 64, 17), row_bytes(DType::BF16, 64) * 32);  // padded group
  EXPECT_EQ(packed_bytes(DType::Q4_K, 2048, 5632), (row_bytes(DType::Q4_K, 2048) + 4 * 8) * 5632);
  EXPECT_EQ(packed_bytes(DType::Q6_K, 4864, 896), row_bytes(DType::Q6_K, 4864) * 896);
  EXPECT_EQ(packed_bytes(DType::Q5_K, 2048, 32), (row_bytes(DType::Q5_K, 2048) + 4 * 8) * 32);
  EXPECT_FALSE(has_packed_layout(DType::Q3_K));
}

INSTANTIATE_TEST_SUITE_P(
    TypesAndIsas, PackedKernel,
    ::testing::Combine(::testing::Values(DType::Q4_0, DType::Q5_0, DType::Q8_0),
                       ::testing::Values(PackedIsa::kAvx2, PackedIsa::kAvxVnni, PackedIsa::kAvx512Vnni)),
    [](const auto& param_info) {
      return std::string(dtype_name(std::get<0>(param_info.param))) + "_" + packed_isa_name(std::get<1>(param_info.param));
    });

INSTANTIATE_TEST_SUITE_P(
    TypesAndIsas, PackedLegacyKernel,
    ::testing::Combine(::testing::Values(DType::Q4_0, DType::Q5_0, DType::Q8_0),
                       ::testing::Values(PackedIsa::kAvx2, PackedIsa::kAvxVnni, PackedIsa::kAvx512Vnni)),
    [](const auto& param_info) {
      return std::string(dtype_name(std::get<0>(param_info.param))) + "_" + packed_isa_name(std::get<1>(param_info.param));
    });

// The K-quant and float layouts have one kernel each (AVX2 + FMA + F16C).
INSTANTIATE_TEST_SUITE_P(
    OneKernelTypes, PackedKernel,
    ::testing::Combine(::testing::Values(DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::F16, DType::BF16),
                       ::testing::Values(PackedIsa::kAvx2)),
    [](const auto& param_info) {
      return std::string(dtype_name(std::get<0>(param_info.param))) + "_" + packed_isa_name(std::get<1>(param_info.param));
    });

INSTANTIATE_TEST_SUITE_P(Types, PackedMatmul, ::testing::Values(DType::Q4_0, DType::Q5_0, DType::Q8_0, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::F16,
                                           DType::BF16),
                         [](const auto& param_info) { return std::string(dtype_name(param_info.param)); });

}  // namespace
}  // namespace ag
