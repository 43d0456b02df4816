#include <gtest/gtest.h>

#include "planner/memory_model.h"
#include "planner/model_presets.h"
#include "planner/model_tensors.h"

namespace ag::planner {
namespace {

uint64_t count_without_rope_freqs(const std::vector<TensorSpec>& tensors) {
  uint64_t n = 0;
  for (const auto& t : tensors)
    if (t.role != TensorRole::RopeFreqs) n += t.n_elements();
  return n;
}

TEST(Presets, ShapesReproducePublishedParameterCounts) {
  ASSERT_GE(model_presets().size(), 12u);
  for (const auto& p : model_presets()) {
    SCOPED_TRACE(std::string(p.name));
    // Hugging Face counts exclude rope_freqs (a GGUF-only tensor holding Llama-3 rope scaling).
    EXPECT_EQ(count_without_rope_freqs(model_tensors(p.hparams)), p.n_params);
    EXPECT_LE(p.n_vocab_tokens, p.hparams.n_vocab);
    EXPECT_EQ(p.hparams.n_head % p.hparams.n_head_kv, 0);
  }
}

TEST(Presets, KvBytesPerTokenIsGqaAware) {
  auto kv = [](const char* name) {
    auto p = find_preset(name);
    EXPECT_TRUE(p.ok());
    return kv_bytes_per_token((*p)->hparams, DType::F16);
  };
  EXPECT_EQ(kv("llama-3.1-8b"), 131072u);   // 2 · 32 layers · 8 KV heads · 128 · 2 B
  EXPECT_EQ(kv("qwen2.5-7b"), 57344u);      // 2 · 28 · 4 · 128 · 2
  EXPECT_EQ(kv("qwen2.5-0.5b"), 12288u);    // 2 · 24 · 2 · 64 · 2
  EXPECT_EQ(kv("codellama-13b"), 819200u);  // no GQA: 40 KV heads
}

TEST(Presets, TensorNamesFollowLlamaCpp) {
  auto p = find_preset("QWEN2.5-0.5B");  // case-insensitive
  ASSERT_TRUE(p.ok());
  auto tensors = model_tensors((*p)->hparams);
  auto has = [&](std::string_view name) {
    for (const auto& t : tensors)
      if (t.name == name) return true;
    return false;
  };
  EXPECT_TRUE(has("token_embd.weight"));
  EXPECT_FALSE(has("output.weight"));  // tied
  EXPECT_TRUE(has("blk.23.attn_q.bias"));
  EXPECT_TRUE(has("blk.0.ffn_down.weight"));
  EXPECT_FALSE(has("blk.0.attn_q_norm.weight"));
  auto q3 = find_preset("qwen3-0.6b");
  ASSERT_TRUE(q3.ok());
  auto t3 = model_tensors((*q3)->hparams);
  bool q_norm = false, bias = false;
  for (const auto& t : t3) {
    q_norm |= t.name == "blk.27.attn_q_norm.weight";
    bias |= t.role == TensorRole::AttnQBias;
    if (t.name == "blk.0.attn_q.weight") {
      ASSERT_EQ(t.shape.size(), 2u);
      EXPECT_EQ(t.shape[0], 1024u);
      EXPECT_EQ(t.shape[1], 2048u);  // 16 heads x 128: wider than the residual
    }
  }
  EXPECT_TRUE(q_norm);
  EXPECT_FALSE(bias);
  int layer = -1;
  EXPECT_EQ(tensor_role("blk.17.ffn_up.weight", &layer), TensorRole::FfnUp);
  EXPECT_EQ(layer, 17);
  EXPECT_EQ(tensor_role("blk.x.ffn_up.weight", &layer), TensorRole::Other);
}

TEST(Presets, UnknownNameListsKnownOnes) {
  auto p = find_preset("gpt-5");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message.find("qwen2.5-0.5b"), std::string::npos);
}

TEST(Presets, Llama3RopeFreqsInterpolateBetweenBands) {
  auto p = find_preset("llama-3.1-8b");
  ASSERT_TRUE(p.ok());
  auto f = llama3_rope_freqs((*p)->hparams, (*p)->llama3_rope);
  ASSERT_EQ(f.size(), 64u);
  EXPECT_FLOAT_EQ(f.front(), 1.0f);  // highest frequency untouched
  EXPECT_FLOAT_EQ(f.back(), 8.0f);   // lowest frequency divided by the factor
  for (size_t i = 1; i < f.size(); ++i) EXPECT_GE(f[i], f[i - 1]);
  bool smooth = false;
  for (float x : f) smooth |= x > 1.0f && x < 8.0f;
  EXPECT_TRUE(smooth);
}

}  // namespace
}  // namespace ag::planner
