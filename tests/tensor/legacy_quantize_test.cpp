// quantize_weights for the float and legacy types: without importance it is the round-to-nearest
// reference (GGML's files without an imatrix); with importance the scale search lowers the
// importance-weighted error; odd input never crashes.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "tensor/dtype.h"
#include "tensor/type_traits.h"
#include "test_rng.h"

namespace ag {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes quantize_matrix(DType t, const std::vector<float>& x, int64_t n_rows, int64_t n_per_row,
                      const float* importance) {
  Bytes out(static_cast<size_t>(n_rows) * row_bytes(t, static_cast<uint64_t>(n_per_row)));
  quantize_weights(t, x.data(), out.data(), n_rows, n_per_row, importance);
  return out;
}

// Importance like an imatrix: mean squared activations per column, spread over four decades.
std::vector<float> importance_like(test::Rng& rng, int64_t n) {
  std::vector<float> w(static_cast<size_t>(n));
  for (auto& v : w) v = std::pow(10.0f, rng.uniform(-2.0f, 2.0f));
  return w;
}

const DType kAllTypes[] = {DType::F32,  DType::F16,  DType::BF16, DType::Q4_0,
                           DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0};

TEST(LegacyQuantize, WithoutImportanceIsTheReferenceQuantizer) {
  test::Rng rng(11);
  const int64_t n_rows = 3, n_per_row = 256;
  const auto x = test::weight_like(rng, n_rows * n_per_row);
  for (DType t : kAllTypes) {
    Bytes expected(static_cast<size_t>(n_rows) * row_bytes(t, n_per_row));
    type_traits_reference(t).from_float(x.data(), expected.data(), n_rows * n_per_row);
    EXPECT_EQ(quantize_matrix(t, x, n_rows, n_per_row, nullptr), expected) << dtype_name(t);
  }
}

TEST(LegacyQuantize, Q8_0AndFloatsIgnoreImportance) {
  test::Rng rng(12);
  const int64_t n_rows = 2, n_per_row = 128;
  const auto x = test::weight_like(rng, n_rows * n_per_row);
  const auto imp = importance_like(rng, n_per_row);
  for (DType t : {DType::F32, DType::F16, DType::BF16, DType::Q8_0}) {
    EXPECT_EQ(quantize_matrix(t, x, n_rows, n_per_row, imp.data()),
              quantize_matrix(t, x, n_rows, n_per_row, nullptr))
        << dtype_name(t);
  }
}

class SearchedType : public ::testing::TestWithParam<DType> {};

// The point of the importance search: columns that matter more get smaller errors. Measured as
// sum_j importance[j] * (x - dequantized)^2 over the matrix.
TEST_P(SearchedType, ImportanceLowersWeightedError) {
  const DType t = GetParam();
  test::Rng rng(13);
  const int64_t n_rows = 16, n_per_row = 512;
  const auto x = test::weight_like(rng, n_rows * n_per_row);
  const auto imp = importance_like(rng, n_per_row);
  const auto weighted_error = [&](const Bytes& q) {
    std::vector<float> y(x.size());
    type_traits(t).to_float(q.data(), y.data(), n_rows * n_per_row);
    double e = 0;
    for (size_t i = 0; i < x.size(); ++i) e += imp[i % n_per_row] * (x[i] - y[i]) * (x[i] - y[i]);
    return e;
  };
  const double plain = weighted_error(quantize_matrix(t, x, n_rows, n_per_row, nullptr));
  const double searched = weighted_error(quantize_matrix(t, x, n_rows, n_per_row, imp.data()));
  EXPECT_LT(searched, 0.9 * plain) << dtype_name(t) << " plain " << plain << " searched " << searched;
}

// Rows are quantized independently: a matrix equals its rows quantized one by one.
TEST_P(SearchedType, RowsAreIndependent) {
  const DType t = GetParam();
  test::Rng rng(14);
  const int64_t n_rows = 3, n_per_row = 96;
  const auto x = test::weight_like(rng, n_rows * n_per_row);
  const auto imp = importance_like(rng, n_per_row);
  const Bytes all = quantize_matrix(t, x, n_rows, n_per_row, imp.data());
  const size_t rb = row_bytes(t, n_per_row);
  for (int64_t r = 0; r < n_rows; ++r) {
    const std::vector<float> row(x.begin() + r * n_per_row, x.begin() + (r + 1) * n_per_row);
    const Bytes one = quantize_matrix(t, row, 1, n_per_row, imp.data());
    EXPECT_TRUE(std::equal(one.begin(), one.end(), all.begin() + static_cast<int64_t>(r * rb))) << r;
  }
}

// Uniform importance still searches, so it must not be worse than round-to-nearest in plain
// squared error by more than a little (the search weights by sqrt(sigma2 + x^2), not 1).
TEST_P(SearchedType, UniformImportanceIsNotWorse) {
  const DType t = GetParam();
  test::Rng rng(15);
  const int64_t n_rows = 8, n_per_row = 256;
  const auto x = test::weight_like(rng, n_rows * n_per_row);
  const std::vector<float> ones(n_per_row, 1.0f);
  const auto sq_error = [&](const Bytes& q) {
    std::vector<float> y(x.size());
    type_traits(t).to_float(q.data(), y.data(), n_rows * n_per_row);
    double e = 0;
    for (size_t i = 0; i < x.size(); ++i) e += (x[i] - y[i]) * (x[i] - y[i]);
    return e;
  };
  EXPECT_LT(sq_error(quantize_matrix(t, x, n_rows, n_per_row, ones.data())),
            1.05 * sq_error(quantize_matrix(t, x, n_rows, n_per_row, nullptr)))
      << dtype_name(t);
}

INSTANTIATE_TEST_SUITE_P(Types, SearchedType,
                         ::testing::Values(DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1),
                         [](const auto& param_info) { return std::string(dtype_name(param_info.param)); });

// Non-finite and extreme values (a corrupt or hostile source tensor) must not crash or trip the
// sanitizers. Round-to-nearest is block-local, so finite blocks beside them still quantize well;
// the importance search (like GGML's) weights every block by the row's mean square, which a
// non-finite element poisons: garbage in, garbage out, but no crash. Callers that quantize user
// files should reject non-finite rows first.
TEST(LegacyQuantize, NonFiniteInputDoesNotCrash) {
  const int64_t n = 32 * 6;
  std::vector<float> x(n, 0.5f);
  x[1] = std::numeric_limits<float>::quiet_NaN();
  x[40] = std::numeric_limits<float>::infinity();
  x[70] = -std::numeric_limits<float>::infinity();
  x[100] = 3.4e38f;
  x[101] = -3.4e38f;
  x[130] = 1e-45f;
  const std::vector<float> imp(n, 1.0f);
  for (DType t : kAllTypes) {
    for (const float* w : {static_cast<const float*>(nullptr), imp.data()}) {
      const Bytes q = quantize_matrix(t, x, 1, n, w);
      std::vector<float> y(n);
      type_traits(t).to_float(q.data(), y.data(), n);
      if (w != nullptr) continue;
      // The last block is all 0.5.
      for (int64_t j = 160; j < n; ++j) EXPECT_NEAR(y[j], 0.5f, 0.05f) << dtype_name(t) << " " << j;
    }
  }
  for (DType t : {DType::Q8_0, DType::Q8_1, DType::F16, DType::BF16}) {
    Bytes q(row_bytes(t, n));
    type_traits(t).from_float(x.data(), q.data(), n);
  }
}

}  // namespace
}  // namespace ag
