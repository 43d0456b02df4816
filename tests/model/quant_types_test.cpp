// Models of every computable weight type load, generate, and stay close to the F32 model they were
// quantized from.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "model/model.h"
#include "model/session.h"
#include "tensor/packed.h"
#include "tensor/type_traits.h"
#include "tiny_model.h"

namespace ag {
namespace {

struct TypeCase {
  DType type;
  // ||logits - logits_f32|| / ||logits_f32 - mean|| against the F32 model the weights came from
  // (weight quantization error, amplified by a random model) ...
  double max_vs_original;
  // ... and against the F32 twin holding the dequantized weights (activation rounding only).
  double max_vs_dequantized;
};

class QuantizedModel : public ::testing::TestWithParam<TypeCase> {};

test::TinySpec spec_for(DType type) {
  test::TinySpec s;
  // rows of 256 so the K-quants (256-element super-blocks) fit every matrix
  s.n_embd = 256;
  s.n_head = 4;
  s.n_head_kv = 2;
  s.head_dim = 64;
  s.n_ff = 256;
  s.n_vocab = 96;
  s.n_layer = 1;
  s.weight_std = 0.05f;
  s.matrix_type = type;
  return s;
}

std::vector<float> prompt_logits(const std::string& path, const std::vector<int32_t>& tokens) {
  auto model = Model::load(path, {.n_threads = 1});
  EXPECT_TRUE(model.ok()) << (model.ok() ? "" : model.error().message);
  if (!model.ok()) return {};
  auto session = Session::create(**model, 64);
  std::vector<float> logits;
  EXPECT_TRUE(session->eval(tokens, true, logits).ok());
  // and it generates: 4 greedy steps
  std::vector<float> step;
  int32_t next = 0;
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(session->eval({&next, 1}, false, step).ok());
    next = static_cast<int32_t>(std::max_element(step.begin(), step.end()) - step.begin());
    for (float v : step) EXPECT_TRUE(std::isfinite(v));
  }
  return logits;
}

double relative_rms(const std::vector<float>& got, const std::vector<float>& ref) {
  EXPECT_EQ(ref.size(), got.size());
  if (ref.size() != got.size() || ref.empty()) return 1e9;
  double mean = 0;
  for (float v : ref) mean += v;
  mean /= static_cast<double>(ref.size());
  double err = 0, spread = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    err += (got[i] - ref[i]) * (got[i] - ref[i]);
    spread += (ref[i] - mean) * (ref[i] - mean);
  }
  return std::sqrt(err / spread);
}

TEST_P(QuantizedModel, LoadsGeneratesAndTracksF32) {
  const TypeCase tc = GetParam();
  ASSERT_TRUE(has_type_traits(tc.type)) << dtype_name(tc.type);
  const std::string name(dtype_name(tc.type));
  const std::string f32_path = test::temp_path("types_f32_" + name + ".gguf");
  const std::string q_path = test::temp_path("types_" + name + ".gguf");
  const std::string twin_path = test::temp_path("types_" + name + "_dequantized.gguf");
  ASSERT_TRUE(test::write_tiny_model(spec_for(DType::F32), f32_path).ok());
  ASSERT_TRUE(test::write_tiny_model(spec_for(tc.type), q_path).ok());
  test::TinySpec twin = spec_for(DType::F32);
  twin.dequantized_from = tc.type;
  ASSERT_TRUE(test::write_tiny_model(twin, twin_path).ok());
  std::vector<int32_t> tokens;
  for (int i = 0; i < 12; ++i) tokens.push_back((i * 29 + 5) % 96);
  const auto original = prompt_logits(f32_path, tokens);
  const auto dequantized = prompt_logits(twin_path, tokens);
  const auto got = prompt_logits(q_path, tokens);
  const double vs_original = relative_rms(got, original);
  const double vs_dequantized = relative_rms(got, dequantized);
  RecordProperty("vs_original", std::to_string(vs_original));
  RecordProperty("vs_dequantized", std::to_string(vs_dequantized));
  EXPECT_LT(vs_original, tc.max_vs_original) << name;
  EXPECT_LT(vs_dequantized, tc.max_vs_dequantized) << name;
  EXPECT_GT(vs_original, 0.0) << name << " should differ from F32 at all";
}

// Repacking at load changes only the order of the float sums: the same logits within rounding,
// and the types with a packed layout are packed (where this CPU has the kernel).
//
// "Within rounding" holds token by token, not for every token: the activations are requantized
// before every matmul (Q8_0, Q8_K), and a last-bit difference can move one value across a rounding
// boundary or change which value sets a block's scale; that re-rolls the quantization noise of the
// rows downstream of it (measured: multiplying every reference Q4_K dot product by 1 + 1e-5 moves
// 3 of these 12 tokens' logits by 0.02-0.04, the others by 2e-5). The packed kernels sum in the
// reference order, so where the in-place kernels do not (the AVX2 K-quant dots: Q4_K moved one
// token by 0.033 on a Zen 3) single tokens can differ that way. A binding or layout mistake moves
// every token by far more, so: most tokens within 1e-5, none beyond a requantization's reach.
double max_token_rms(const std::vector<float>& a, const std::vector<float>& b, int64_t n_vocab, int* n_off) {
  *n_off = 0;
  double worst = 0;
  for (size_t r = 0; r * static_cast<size_t>(n_vocab) < a.size(); ++r) {
    const auto first = static_cast<std::ptrdiff_t>(r * static_cast<size_t>(n_vocab));
    const std::vector<float> ta(a.begin() + first, a.begin() + first + n_vocab);
    const std::vector<float> tb(b.begin() + first, b.begin() + first + n_vocab);
    const double e = relative_rms(ta, tb);
    if (e > 1e-5) ++*n_off;
    worst = std::max(worst, e);
  }
  return worst;
}

TEST(RepackedModel, MatchesTheFileLayout) {
  for (DType type : {DType::Q4_0, DType::Q5_0, DType::Q8_0, DType::F16, DType::BF16, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
    const std::string path = test::temp_path("repack_" + std::string(dtype_name(type)) + ".gguf");
    ASSERT_TRUE(test::write_tiny_model(spec_for(type), path).ok());
    // F32 KV: with F16 a last-bit difference can flip a K/V rounding and look like a bug.
    auto packed = Model::load(path, {.n_threads = 2, .kv_type = DType::F32});
    auto in_place = Model::load(path, {.n_threads = 2, .kv_type = DType::F32, .repack = false});
    ASSERT_TRUE(packed.ok() && in_place.ok());
    const int want = packed_kernels_available(type) ? 7 + 1 : 0;
    EXPECT_EQ((*packed)->n_packed_matrices(), want) << dtype_name(type);
    EXPECT_EQ((*in_place)->n_packed_matrices(), 0);
    std::vector<int32_t> tokens;
    for (int i = 0; i < 12; ++i) tokens.push_back((i * 29 + 5) % 96);
    std::vector<float> a, b;
    auto sa = Session::create(**packed, 64);
    auto sb = Session::create(**in_place, 64);
    ASSERT_TRUE(sa->eval(tokens, true, a).ok());
    ASSERT_TRUE(sb->eval(tokens, true, b).ok());
    ASSERT_EQ(a.size(), b.size());
    int n_off = 0;
    const double worst = max_token_rms(a, b, (*packed)->hparams().n_vocab, &n_off);
    EXPECT_LE(n_off, static_cast<int>(tokens.size()) / 4) << dtype_name(type) << ": tokens beyond 1e-5";
    EXPECT_LT(worst, 0.1) << dtype_name(type);
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllTypes, QuantizedModel,
    ::testing::Values(TypeCase{DType::F16, 0.005, 0.002}, TypeCase{DType::BF16, 0.02, 0.01},
                      TypeCase{DType::Q8_0, 0.05, 0.04}, TypeCase{DType::Q5_0, 0.25, 0.04},
                      TypeCase{DType::Q5_1, 0.25, 0.04}, TypeCase{DType::Q4_0, 0.5, 0.04},
                      TypeCase{DType::Q4_1, 0.5, 0.04}, TypeCase{DType::Q6_K, 0.1, 0.04},
                      TypeCase{DType::Q5_K, 0.2, 0.04}, TypeCase{DType::Q4_K, 0.4, 0.04},
                      TypeCase{DType::Q3_K, 0.8, 0.04}, TypeCase{DType::Q2_K, 1.2, 0.04}),
    [](const auto& param_info) { return std::string(dtype_name(param_info.param.type)); });

}  // namespace
}  // namespace ag
