#include <gtest/gtest.h>

#include <map>

#include "planner/model_presets.h"
#include "planner/model_spec.h"
#include "planner/quant_mixture.h"

namespace ag::planner {
namespace {

std::map<std::string, DType> types_of(const ModelSpec& spec) {
  std::map<std::string, DType> out;
  for (const auto& t : spec.tensors) out[t.spec.name] = t.type;
  return out;
}

ModelSpec preset(const char* name, FileType ft) {
  auto s = spec_from_preset(name, ft);
  EXPECT_TRUE(s.ok());
  return std::move(s).value();
}

TEST(QuantMixture, NamesAndAliases) {
  EXPECT_EQ(*file_type_from_name("q4_k_m"), FileType::Q4_K_M);
  EXPECT_EQ(*file_type_from_name("Q4_K"), FileType::Q4_K_M);
  EXPECT_EQ(*file_type_from_name("q5_k"), FileType::Q5_K_M);
  EXPECT_EQ(*file_type_from_name("bf16"), FileType::BF16);
  EXPECT_EQ(file_type_name(FileType::Q6_K), "Q6_K");
  EXPECT_EQ(file_type_base(FileType::Q3_K_L), DType::Q3_K);
  auto bad = file_type_from_name("q7_z");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("Q4_K_M"), std::string::npos);
  EXPECT_EQ(file_type_from_id(15), FileType::Q4_K_M);
  EXPECT_FALSE(file_type_from_id(4).has_value());  // Q4_1_SOME_F16: retired
}

TEST(QuantMixture, Llama31_8B_Q4_K_M) {
  ModelSpec s = preset("llama-3.1-8b", FileType::Q4_K_M);
  auto t = types_of(s);
  EXPECT_EQ(t["token_embd.weight"], DType::Q4_K);
  EXPECT_EQ(t["output.weight"], DType::Q6_K);
  EXPECT_EQ(t["output_norm.weight"], DType::F32);
  EXPECT_EQ(t["rope_freqs.weight"], DType::F32);
  // use_more_bits(i, 32): i < 4, i >= 28, (i - 4) % 3 == 2.
  for (int i : {0, 3, 6, 9, 27, 28, 31}) {
    EXPECT_EQ(t[fmt::format("blk.{}.attn_v.weight", i)], DType::Q6_K) << i;
    EXPECT_EQ(t[fmt::format("blk.{}.ffn_down.weight", i)], DType::Q6_K) << i;
  }
  for (int i : {4, 5, 7, 26}) {
    EXPECT_EQ(t[fmt::format("blk.{}.attn_v.weight", i)], DType::Q4_K) << i;
    EXPECT_EQ(t[fmt::format("blk.{}.ffn_down.weight", i)], DType::Q4_K) << i;
  }
  EXPECT_EQ(t["blk.10.attn_q.weight"], DType::Q4_K);
  EXPECT_EQ(t["blk.10.ffn_up.weight"], DType::Q4_K);
  // The size llama.cpp's Q4_K_M files of this model have: 4.58 GiB of tensor data.
  EXPECT_EQ(s.weights_bytes, 4912898304u);
  EXPECT_NEAR(static_cast<double>(s.weights_bytes) / (1ull << 30), 4.58, 0.005);
}

TEST(QuantMixture, Qwen05B_TiedEmbeddingAndRowFallbacks) {
  // 896 is not a multiple of 256: the tied embedding (the output) becomes Q8_0 and Q4_K tensors
  // with 896-wide rows fall back to Q5_0, as in llama.cpp's files (reference/baselines.md).
  ModelSpec q40 = preset("qwen2.5-0.5b", FileType::Q4_0);
  auto t = types_of(q40);
  EXPECT_EQ(t["token_embd.weight"], DType::Q8_0);
  EXPECT_EQ(t["blk.0.attn_q.weight"], DType::Q4_0);
  EXPECT_EQ(t["blk.0.attn_q.bias"], DType::F32);
  EXPECT_EQ(t["blk.5.ffn_down.weight"], DType::Q4_0);
  EXPECT_EQ(q40.n_params, 494032768u);

  ModelSpec km = preset("qwen2.5-0.5b", FileType::Q4_K_M);
  auto k = types_of(km);
  EXPECT_EQ(k["token_embd.weight"], DType::Q8_0);
  EXPECT_EQ(k["blk.5.attn_q.weight"], DType::Q5_0);
  EXPECT_EQ(k["blk.5.ffn_up.weight"], DType::Q5_0);
  EXPECT_EQ(k["blk.0.attn_v.weight"], DType::Q8_0);  // Q6_K by use_more_bits, then 896 → Q8_0
  EXPECT_EQ(k["blk.4.attn_v.weight"], DType::Q5_0);
  EXPECT_EQ(k["blk.0.ffn_down.weight"], DType::Q6_K);  // rows of 4864 = 19 · 256 keep K types
  EXPECT_EQ(k["blk.4.ffn_down.weight"], DType::Q4_K);
  EXPECT_GT(km.weights_bytes, q40.weights_bytes);
}

TEST(QuantMixture, SeventyBGivesAttnVMoreBits) {
  ModelSpec s = preset("llama-3.1-70b", FileType::Q4_K_M);
  auto t = types_of(s);
  EXPECT_EQ(t["blk.40.attn_v.weight"], DType::Q5_K);  // not use_more_bits: Q4_K bumped for 70B
  EXPECT_EQ(t["blk.0.attn_v.weight"], DType::Q6_K);
  EXPECT_EQ(t["blk.40.attn_q.weight"], DType::Q4_K);
}

TEST(QuantMixture, OtherMixtures) {
  auto t = types_of(preset("llama-3.1-8b", FileType::Q3_K_M));
  EXPECT_EQ(t["blk.0.attn_v.weight"], DType::Q5_K);
  EXPECT_EQ(t["blk.2.attn_v.weight"], DType::Q4_K);
  EXPECT_EQ(t["blk.10.attn_output.weight"], DType::Q4_K);
  EXPECT_EQ(t["blk.1.ffn_down.weight"], DType::Q5_K);  // i < n/16
  EXPECT_EQ(t["blk.10.ffn_down.weight"], DType::Q4_K);
  EXPECT_EQ(t["blk.10.ffn_up.weight"], DType::Q3_K);
  auto q2 = types_of(preset("llama-3.1-8b", FileType::Q2_K));
  EXPECT_EQ(q2["blk.3.attn_v.weight"], DType::Q4_K);  // n_gqa = 4
  EXPECT_EQ(q2["blk.3.ffn_down.weight"], DType::Q3_K);
  auto f16 = types_of(preset("qwen2.5-0.5b", FileType::F16));
  EXPECT_EQ(f16["token_embd.weight"], DType::F16);
  EXPECT_EQ(f16["blk.0.attn_norm.weight"], DType::F32);
  auto q8 = types_of(preset("llama-3.1-8b", FileType::Q8_0));
  EXPECT_EQ(q8["output.weight"], DType::Q8_0);
  EXPECT_EQ(q8["blk.0.attn_v.weight"], DType::Q8_0);
}

}  // namespace
}  // namespace ag::planner
