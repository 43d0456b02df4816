// Our forward pass against the independent double-precision reference (reference_forward.h) on
// tiny random llama / qwen2 / qwen3 models covering GQA, biases, q/k norms, partial rotary
// dimensions, rope scaling (linear, YaRN, Llama-3 frequency factors), tied and untied output.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "model/model.h"
#include "model/session.h"
#include "reference_forward.h"
#include "tiny_model.h"

namespace ag {
namespace {

struct Case {
  std::string name;
  test::TinySpec spec;
};

std::vector<Case> cases() {
  std::vector<Case> c;
  {
    test::TinySpec s;  // GQA 4:2, untied
    c.push_back({"llama_gqa", s});
  }
  {
    test::TinySpec s;
    s.tied = true;
    s.rope_scaling = "linear";
    s.rope_factor = 4.0f;
    s.n_head_kv = 1;
    c.push_back({"llama_tied_linear_rope_mqa", s});
  }
  {
    test::TinySpec s;
    s.rope_freqs = true;  // Llama 3.x frequency factors
    s.rope_base = 500000.0f;
    c.push_back({"llama3_rope_freqs", s});
  }
  {
    test::TinySpec s;
    s.n_rot = 8;  // rotary on half of each head
    s.n_head_kv = 4;
    c.push_back({"llama_partial_rotary_mha", s});
  }
  {
    test::TinySpec s;
    s.arch = "qwen2";
    s.tied = true;
    c.push_back({"qwen2_bias_tied", s});
  }
  {
    test::TinySpec s;
    s.arch = "qwen2";
    s.rope_scaling = "yarn";
    s.rope_factor = 4.0f;
    s.rope_n_ctx_orig = 64;
    s.rope_base = 1000.0f;
    c.push_back({"qwen2_yarn", s});
  }
  {
    test::TinySpec s;
    s.arch = "qwen3";
    s.head_dim = 32;  // != n_embd / n_head: key_length in metadata
    s.n_head = 4;
    s.n_head_kv = 2;
    c.push_back({"qwen3_qk_norm_wide_heads", s});
  }
  return c;
}

std::vector<int32_t> random_tokens(int n, int n_vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (auto& x : t) x = static_cast<int32_t>(rng() % static_cast<uint64_t>(n_vocab));
  return t;
}

// Largest |ours - reference| over all positions, relative to the largest |reference| logit.
double relative_error(const std::vector<float>& ours, const std::vector<std::vector<double>>& ref) {
  double max_diff = 0, max_ref = 0;
  size_t k = 0;
  for (const auto& row : ref)
    for (double v : row) {
      max_diff = std::max(max_diff, std::abs(static_cast<double>(ours[k++]) - v));
      max_ref = std::max(max_ref, std::abs(v));
    }
  return max_diff / max_ref;
}

class ReferenceForward : public ::testing::TestWithParam<Case> {};

TEST_P(ReferenceForward, LogitsMatchDoublePrecisionReference) {
  const Case& c = GetParam();
  const std::string path = test::temp_path(c.name + ".gguf");
  ASSERT_TRUE(test::write_tiny_model(c.spec, path).ok());
  auto file = gguf::File::open(path);
  ASSERT_TRUE(file.ok()) << file.error().message;
  test::ReferenceModel ref(*file);
  const auto tokens = random_tokens(40, c.spec.n_vocab, 7);
  const auto expected = ref.run(tokens);

  for (DType kv_type : {DType::F32, DType::F16}) {
    SCOPED_TRACE(dtype_name(kv_type));
    auto model = Model::load(path, {.n_threads = 1, .kv_type = kv_type});
    ASSERT_TRUE(model.ok()) << model.error().message;
    auto session = Session::create(**model, 64, 8);
    ASSERT_TRUE(session.ok());
    std::vector<float> logits;
    // the prompt in chunks of 16 rows (prefill), every row's logits
    ASSERT_TRUE(session->eval(tokens, true, logits, 16).ok());
    ASSERT_EQ(logits.size(), tokens.size() * static_cast<size_t>(c.spec.n_vocab));
    // F32 cache: float rounding only. F16 cache: q, K, V and attention weights in half precision.
    const double tolerance = kv_type == DType::F32 ? 2e-5 : 5e-3;
    const double err = relative_error(logits, expected);
    RecordProperty(std::string("relative_error_") + std::string(dtype_name(kv_type)), std::to_string(err));
    EXPECT_LT(err, tolerance);
  }
}

INSTANTIATE_TEST_SUITE_P(Architectures, ReferenceForward, ::testing::ValuesIn(cases()),
                         [](const auto& param_info) { return param_info.param.name; });

}  // namespace
}  // namespace ag
