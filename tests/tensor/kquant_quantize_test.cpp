// K-quant weight quantizers: reconstruction error bounds, the scale search against plain
// round-to-nearest (RTN) in the same format, importance weighting, degenerate rows, determinism.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "kquant_test_util.h"
#include "tensor/kquant.h"
#include "tensor/type_traits.h"

namespace ag {
namespace {

std::vector<float> roundtrip(DType t, const std::vector<float>& x, int64_t n_rows,
                             const float* importance) {
  const int64_t n_per_row = static_cast<int64_t>(x.size()) / n_rows;
  std::vector<uint8_t> q(static_cast<size_t>(n_rows) * row_bytes(t, n_per_row));
  quantize_weights(t, x.data(), q.data(), n_rows, n_per_row, importance);
  std::vector<float> back(x.size());
  type_traits(t).to_float(q.data(), back.data(), static_cast<int64_t>(x.size()));
  return back;
}

double rel_rmse(const std::vector<float>& x, const std::vector<float>& y) {
  double s = 0;
  for (float v : x) s += static_cast<double>(v) * v;
  return test::rmse(x.data(), y.data(), x.size()) / std::sqrt(s / static_cast<double>(x.size()));
}

int rtn(float v) { return static_cast<int>(std::lround(v)); }

// ---- Plain round-to-nearest in each K format: scales from the min/max of each sub-block, the
// sub-block scales rounded against their maximum, every weight rounded against its stored scale.

std::vector<float> rtn_q2_k(const float* x) {
  float scale[16], min[16], max_scale = 0, max_min = 0;
  for (int s = 0; s < 16; ++s) {
    const float* g = x + 16 * s;
    const float lo = std::min(0.0f, *std::min_element(g, g + 16));
    const float hi = *std::max_element(g, g + 16);
    scale[s] = (hi - lo) / 3;
    min[s] = -lo;
    max_scale = std::max(max_scale, scale[s]);
    max_min = std::max(max_min, min[s]);
  }
  const float d = max_scale / 15, dmin = max_min / 15;
  int q[QK_K], sc[16], m[16];
  for (int s = 0; s < 16; ++s) {
    sc[s] = d > 0 ? std::clamp(rtn(scale[s] / d), 0, 15) : 0;
    m[s] = dmin > 0 ? std::clamp(rtn(min[s] / dmin), 0, 15) : 0;
  }
  for (int e = 0; e < QK_K; ++e) {
    const float step = f16_to_f32(f32_to_f16(d)) * sc[e / 16];
    const float off = f16_to_f32(f32_to_f16(dmin)) * m[e / 16];
    q[e] = step > 0 ? std::clamp(rtn((x[e] + off) / step), 0, 3) : 0;
  }
  const BlockQ2K b = test::encode_q2_k(q, sc, m, d, dmin);
  std::vector<float> y(QK_K);
  kquant::dequantize_q2_k(&b, y.data(), QK_K);
  return y;
}

std::vector<float> rtn_q3_k(const float* x) {
  float scale[16], max_scale = 0;
  for (int s = 0; s < 16; ++s) {
    float amax = 0;
    for (int l = 0; l < 16; ++l) amax = std::max(amax, std::fabs(x[16 * s + l]));
    scale[s] = amax / 4;
    max_scale = std::max(max_scale, scale[s]);
  }
  const float d = max_scale / 31;
  int q[QK_K], sc[16];
  for (int s = 0; s < 16; ++s) sc[s] = d > 0 ? std::clamp(rtn(scale[s] / d), 0, 31) : 0;
  for (int e = 0; e < QK_K; ++e) {
    const float step = f16_to_f32(f32_to_f16(d)) * sc[e / 16];
    q[e] = step > 0 ? std::clamp(rtn(x[e] / step), -4, 3) : 0;
  }
  const BlockQ3K b = test::encode_q3_k(q, sc, d);
  std::vector<float> y(QK_K);
  kquant::dequantize_q3_k(&b, y.data(), QK_K);
  return y;
}

template <int kNmax>
std::vector<float> rtn_q45_k(const float* x) {
  float scale[8], min[8], max_scale = 0, max_min = 0;
  for (int s = 0; s < 8; ++s) {
    const float* g = x + 32 * s;
    const float lo = std::min(0.0f, *std::min_element(g, g + 32));
    const float hi = *std::max_element(g, g + 32);
    scale[s] = (hi - lo) / kNmax;
    min[s] = -lo;
    max_scale = std::max(max_scale, scale[s]);
    max_min = std::max(max_min, min[s]);
  }
  const float d = max_scale / 63, dmin = max_min / 63;
  int q[QK_K], sc[8], m[8];
  for (int s = 0; s < 8; ++s) {
    sc[s] = d > 0 ? std::clamp(rtn(scale[s] / d), 0, 63) : 0;
    m[s] = dmin > 0 ? std::clamp(rtn(min[s] / dmin), 0, 63) : 0;
  }
  for (int e = 0; e < QK_K; ++e) {
    const float step = f16_to_f32(f32_to_f16(d)) * sc[e / 32];
    const float off = f16_to_f32(f32_to_f16(dmin)) * m[e / 32];
    q[e] = step > 0 ? std::clamp(rtn((x[e] + off) / step), 0, kNmax) : 0;
  }
  std::vector<float> y(QK_K);
  if constexpr (kNmax == 15) {
    const BlockQ4K b = test::encode_q4_k(q, sc, m, d, dmin);
    kquant::dequantize_q4_k(&b, y.data(), QK_K);
  } else {
    const BlockQ5K b = test::encode_q5_k(q, sc, m, d, dmin);
    kquant::dequantize_q5_k(&b, y.data(), QK_K);
  }
  return y;
}

std::vector<float> rtn_q6_k(const float* x) {
  float scale[16], max_scale = 0;
  for (int s = 0; s < 16; ++s) {
    float amax = 0;
    for (int l = 0; l < 16; ++l) amax = std::max(amax, std::fabs(x[16 * s + l]));
    scale[s] = amax / 32;
    max_scale = std::max(max_scale, scale[s]);
  }
  const float d = max_scale / 127;
  int q[QK_K], sc[16];
  for (int s = 0; s < 16; ++s) sc[s] = d > 0 ? std::clamp(rtn(scale[s] / d), 0, 127) : 0;
  for (int e = 0; e < QK_K; ++e) {
    const float step = f16_to_f32(f32_to_f16(d)) * sc[e / 16];
    q[e] = step > 0 ? std::clamp(rtn(x[e] / step), -32, 31) : 0;
  }
  const BlockQ6K b = test::encode_q6_k(q, sc, d);
  std::vector<float> y(QK_K);
  kquant::dequantize_q6_k(&b, y.data(), QK_K);
  return y;
}

std::vector<float> rtn_roundtrip(DType t, const std::vector<float>& x) {
  std::vector<float> y;
  for (size_t off = 0; off < x.size(); off += QK_K) {
    std::vector<float> b;
    switch (t) {
      case DType::Q2_K:
        b = rtn_q2_k(x.data() + off);
        break;
      case DType::Q3_K:
        b = rtn_q3_k(x.data() + off);
        break;
      case DType::Q4_K:
        b = rtn_q45_k<15>(x.data() + off);
        break;
      case DType::Q5_K:
        b = rtn_q45_k<31>(x.data() + off);
        break;
      case DType::Q6_K:
        b = rtn_q6_k(x.data() + off);
        break;
      default:
        ADD_FAILURE();
    }
    y.insert(y.end(), b.begin(), b.end());
  }
  return y;
}

struct QCase {
  DType type;
  double max_rel_rmse;  // bound on RMSE / RMS for normal data (measured value + ~15%)
};

class KQuantize : public ::testing::TestWithParam<QCase> {};

std::string qcase_name(const ::testing::TestParamInfo<QCase>& info) {
  return std::string(dtype_name(info.param.type));
}

// The error the search minimises: Q2_K's reference quantizer fits each sub-block by |x|-weighted
// absolute error (GGML's make_qkx2_quants with use_mad), the others by (weighted) squared error.
double search_objective(DType t, const std::vector<float>& x, const std::vector<float>& y) {
  if (t != DType::Q2_K) return rel_rmse(x, y);
  double s = 0, norm = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    s += std::fabs(x[i]) * std::fabs(x[i] - y[i]);
    norm += static_cast<double>(x[i]) * x[i];
  }
  return s / norm;
}

TEST_P(KQuantize, ErrorBoundAndBetterThanRoundToNearest) {
  const DType t = GetParam().type;
  for (int64_t n : {256, 512, 4096}) {
    const auto x = test::gaussian(static_cast<size_t>(n), static_cast<uint32_t>(n), 0.02f);
    const auto y = roundtrip(t, x, 1, nullptr);
    const auto y_rtn = rtn_roundtrip(t, x);
    EXPECT_LE(rel_rmse(x, y), GetParam().max_rel_rmse) << "n " << n;
    // The search must pay for itself: clearly below round-to-nearest in the same format (it is
    // 6-20% below on this data).
    const double err = search_objective(t, x, y);
    const double err_rtn = search_objective(t, x, y_rtn);
    EXPECT_LT(err, 0.95 * err_rtn) << "n " << n << " rtn " << err_rtn;
  }
}

// llama.cpp's own unit thresholds (tests/test-quantize-fns.cpp) on its synthetic data
// 0.1 + 2 cos(i + offset), n = 4096, with its error measures: sqrt(sum diff^2) / n for the
// round trip, |dot - exact| / n for the dot product against quantized activations.
TEST_P(KQuantize, LlamaCppUnitThresholds) {
  const DType t = GetParam().type;
  const int64_t n = 4096;
  auto data = [&](float offset) {
    std::vector<float> v(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) v[i] = 0.1f + 2 * std::cos(static_cast<float>(i) + offset);
    return v;
  };
  const auto x = data(0.0f);
  const auto a = data(1.0f);
  const bool low_bit = t == DType::Q2_K || t == DType::Q3_K;
  const double max_total = t == DType::Q2_K ? 0.0075 : t == DType::Q3_K ? 0.0040 : 0.002;
  std::vector<uint8_t> q(row_bytes(t, n));
  type_traits(t).from_float(x.data(), q.data(), n);
  std::vector<float> y(static_cast<size_t>(n));
  type_traits(t).to_float(q.data(), y.data(), n);
  EXPECT_LT(test::rmse(x.data(), y.data(), x.size()) * std::sqrt(double(n)) / double(n), max_total);

  std::vector<BlockQ8K> qa(static_cast<size_t>(n / QK_K));
  type_traits(DType::Q8_K).from_float(a.data(), qa.data(), n);
  double exact = 0;
  for (int64_t i = 0; i < n; ++i) exact += static_cast<double>(x[i]) * a[i];
  const float got = type_traits(t).vec_dot(n, q.data(), qa.data());
  EXPECT_LT(std::fabs(got - exact) / double(n), low_bit ? 0.04 : 0.02);
}

TEST_P(KQuantize, ImportanceLowersWeightedError) {
  const DType t = GetParam().type;
  const int64_t n_per_row = 1024, n_rows = 8;
  const auto x = test::gaussian(static_cast<size_t>(n_per_row * n_rows), 99, 0.02f);
  // Columns of very unequal importance, as an activation-statistics matrix has.
  std::vector<float> importance(static_cast<size_t>(n_per_row));
  const auto r = test::gaussian(importance.size(), 5, 1.0f);
  for (size_t i = 0; i < importance.size(); ++i) {
    importance[i] = (i % 11 == 0 ? 50.0f : 0.5f) * (1.0f + std::fabs(r[i]));
  }
  auto weighted_err = [&](const std::vector<float>& y) {
    double s = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double e = x[i] - y[i];
      s += importance[i % static_cast<size_t>(n_per_row)] * e * e;
    }
    return s;
  };
  const double with = weighted_err(roundtrip(t, x, n_rows, importance.data()));
  const double without = weighted_err(roundtrip(t, x, n_rows, nullptr));
  EXPECT_LT(with, without);
  // Uniform importance still gives a sound quantization (the weighted path on its own).
  std::vector<float> ones(static_cast<size_t>(n_per_row), 1.0f);
  EXPECT_LE(rel_rmse(x, roundtrip(t, x, n_rows, ones.data())), 1.1 * GetParam().max_rel_rmse);
}

TEST_P(KQuantize, DegenerateRows) {
  const DType t = GetParam().type;
  const int64_t n = 512;
  for (float c : {0.0f, 0.5f, -3.0f, 1e-30f}) {
    const std::vector<float> x(static_cast<size_t>(n), c);
    for (const float* imp : {static_cast<const float*>(nullptr), x.data()}) {
      if (imp && c <= 0) continue;  // importance must be positive
      const auto y = roundtrip(t, x, 1, imp);
      for (size_t i = 0; i < y.size(); ++i) {
        ASSERT_TRUE(std::isfinite(y[i])) << c << " " << i;
        ASSERT_NEAR(y[i], c, 0.05 * std::fabs(c) + 1e-6) << c << " " << i;
      }
    }
  }
  // One outlier among tiny values: finite, and the outlier survives.
  std::vector<float> x(static_cast<size_t>(n), 1e-4f);
  x[77] = 8.0f;
  const auto y = roundtrip(t, x, 1, nullptr);
  for (float v : y) ASSERT_TRUE(std::isfinite(v));
  EXPECT_NEAR(y[77], 8.0f, 0.5f);
}

TEST_P(KQuantize, RowsAreIndependentAndDeterministic) {
  const DType t = GetParam().type;
  const int64_t n_per_row = 512, n_rows = 3;
  const auto x = test::gaussian(static_cast<size_t>(n_per_row * n_rows), 3, 1.0f);
  const size_t rb = row_bytes(t, n_per_row);
  std::vector<uint8_t> all(rb * n_rows), one(rb * n_rows);
  quantize_weights(t, x.data(), all.data(), n_rows, n_per_row, nullptr);
  for (int64_t r = 0; r < n_rows; ++r) {
    quantize_weights(t, x.data() + r * n_per_row, one.data() + r * rb, 1, n_per_row, nullptr);
  }
  EXPECT_EQ(all, one);
  // from_float of these types is the same quantizer as quantize_weights without importance.
  std::vector<uint8_t> ff(rb * n_rows);
  type_traits(t).from_float(x.data(), ff.data(), n_per_row * n_rows);
  EXPECT_EQ(all, ff);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, KQuantize,
                         ::testing::Values(QCase{DType::Q2_K, 0.40}, QCase{DType::Q3_K, 0.20},
                                           QCase{DType::Q4_K, 0.10}, QCase{DType::Q5_K, 0.05},
                                           QCase{DType::Q6_K, 0.025}),
                         qcase_name);

}  // namespace
}  // namespace ag
