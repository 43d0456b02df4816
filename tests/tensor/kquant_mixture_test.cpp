// Tensor-type choice of the llama.cpp mixtures. The per-type counts for a Llama-2-7B-shaped model
// are the ones llama.cpp's loader prints for its own quantizations of that model (e.g. Q4_K_M:
// "type f32: 65, type q4_K: 193, type q6_K: 33").
#include "tensor/kquant_mixture.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace ag::quant {
namespace {

std::vector<TensorSpec> llama_shaped(int n_layer, uint64_t n_embd, uint64_t n_kv, uint64_t n_ff,
                                     uint64_t n_vocab, bool with_output) {
  std::vector<TensorSpec> t;
  t.push_back({"token_embd.weight", {n_embd, n_vocab}, DType::F16});
  t.push_back({"output_norm.weight", {n_embd}, DType::F32});
  if (with_output) t.push_back({"output.weight", {n_embd, n_vocab}, DType::F16});
  for (int i = 0; i < n_layer; ++i) {
    const std::string p = "blk." + std::to_string(i) + ".";
    t.push_back({p + "attn_norm.weight", {n_embd}, DType::F32});
    t.push_back({p + "attn_q.weight", {n_embd, n_embd}, DType::F16});
    t.push_back({p + "attn_k.weight", {n_embd, n_kv}, DType::F16});
    t.push_back({p + "attn_v.weight", {n_embd, n_kv}, DType::F16});
    t.push_back({p + "attn_output.weight", {n_embd, n_embd}, DType::F16});
    t.push_back({p + "ffn_norm.weight", {n_embd}, DType::F32});
    t.push_back({p + "ffn_gate.weight", {n_embd, n_ff}, DType::F16});
    t.push_back({p + "ffn_down.weight", {n_ff, n_embd}, DType::F16});
    t.push_back({p + "ffn_up.weight", {n_embd, n_ff}, DType::F16});
  }
  return t;
}

std::map<std::string, int> count_types(const std::vector<TypeChoice>& choices) {
  std::map<std::string, int> n;
  for (const auto& c : choices) ++n[std::string(dtype_name(c.type))];
  return n;
}

std::map<std::string, int> choose_counts(const char* scheme, const ModelFacts& m,
                                         const std::vector<TensorSpec>& t, bool pure = false) {
  auto s = find_scheme(scheme);
  EXPECT_TRUE(s.has_value()) << scheme;
  auto r = choose_tensor_types(t, m, *s, pure);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? count_types(*r) : std::map<std::string, int>{};
}

const ModelFacts kLlama7B{"llama", 32, 32, 32, 0};

TEST(KQuantMixture, Llama7BCountsMatchLlamaCpp) {
  const auto t = llama_shaped(32, 4096, 4096, 11008, 32000, true);
  using M = std::map<std::string, int>;
  EXPECT_EQ(choose_counts("Q4_K_M", kLlama7B, t), (M{{"f32", 65}, {"q4_k", 193}, {"q6_k", 33}}));
  EXPECT_EQ(choose_counts("Q4_K_S", kLlama7B, t),
            (M{{"f32", 65}, {"q4_k", 217}, {"q5_k", 8}, {"q6_k", 1}}));
  EXPECT_EQ(choose_counts("Q5_K_M", kLlama7B, t), (M{{"f32", 65}, {"q5_k", 193}, {"q6_k", 33}}));
  EXPECT_EQ(choose_counts("Q5_K_S", kLlama7B, t), (M{{"f32", 65}, {"q5_k", 225}, {"q6_k", 1}}));
  EXPECT_EQ(choose_counts("Q3_K_M", kLlama7B, t),
            (M{{"f32", 65}, {"q3_k", 129}, {"q4_k", 92}, {"q5_k", 4}, {"q6_k", 1}}));
  EXPECT_EQ(choose_counts("Q6_K", kLlama7B, t), (M{{"f32", 65}, {"q6_k", 226}}));
  EXPECT_EQ(choose_counts("Q8_0", kLlama7B, t), (M{{"f32", 65}, {"q8_0", 226}}));
  // Legacy types still give output.weight Q6_K, as llama.cpp does.
  EXPECT_EQ(choose_counts("Q4_0", kLlama7B, t), (M{{"f32", 65}, {"q4_0", 225}, {"q6_k", 1}}));
  EXPECT_EQ(choose_counts("F16", kLlama7B, t), (M{{"f32", 65}, {"f16", 226}}));
  EXPECT_EQ(choose_counts("Q4_K", kLlama7B, t), choose_counts("Q4_K_M", kLlama7B, t));     // alias
  EXPECT_EQ(choose_counts("Q4_K_M", kLlama7B, t, true), (M{{"f32", 65}, {"q4_k", 226}}));  // --pure
}

TEST(KQuantMixture, Q4KMWhichLayersGetMoreBits) {
  const auto t = llama_shaped(32, 4096, 4096, 11008, 32000, true);
  auto r = choose_tensor_types(t, kLlama7B, *find_scheme("q4_k_m"), false);
  ASSERT_TRUE(r.ok());
  std::vector<int> v_layers, down_layers;
  for (size_t i = 0; i < t.size(); ++i) {
    if ((*r)[i].type != DType::Q6_K) continue;
    int layer = -1;
    if (std::sscanf(t[i].name.c_str(), "blk.%d.", &layer) != 1) {
      EXPECT_EQ(t[i].name, "output.weight");
      continue;
    }
    (t[i].name.find("attn_v") != std::string::npos ? v_layers : down_layers).push_back(layer);
  }
  // First and last eighth, and every third layer in between (llama.cpp's use_more_bits).
  const std::vector<int> expected = {0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31};
  EXPECT_EQ(v_layers, expected);
  EXPECT_EQ(down_layers, expected);
}

TEST(KQuantMixture, Qwen05BShapesFallBackAndTieEmbeddings) {
  // Qwen2.5-0.5B: 896-wide rows are not a multiple of 256; the output is tied to token_embd.
  const ModelFacts qwen{"qwen2", 24, 14, 2, 0};
  const auto t = llama_shaped(24, 896, 128, 4864, 151936, false);
  auto r = choose_tensor_types(t, qwen, *find_scheme("Q4_K_M"), false);
  ASSERT_TRUE(r.ok());
  std::map<std::string, DType> by_name;
  std::map<std::string, bool> fallback;
  for (size_t i = 0; i < t.size(); ++i) {
    by_name[t[i].name] = (*r)[i].type;
    fallback[t[i].name] = (*r)[i].fallback;
  }
  EXPECT_EQ(by_name["token_embd.weight"], DType::Q8_0);  // output rule, 896 % 256 != 0
  EXPECT_EQ(by_name["output_norm.weight"], DType::F32);
  EXPECT_EQ(by_name["blk.5.attn_q.weight"], DType::Q5_0);  // Q4_K -> Q5_0
  EXPECT_TRUE(fallback["blk.5.attn_q.weight"]);
  EXPECT_EQ(by_name["blk.0.attn_v.weight"], DType::Q8_0);  // Q6_K -> Q8_0
  EXPECT_EQ(by_name["blk.4.attn_v.weight"], DType::Q5_0);
  EXPECT_EQ(by_name["blk.0.ffn_down.weight"], DType::Q6_K);  // 4864 = 19 * 256
  EXPECT_EQ(by_name["blk.4.ffn_down.weight"], DType::Q4_K);
  EXPECT_FALSE(fallback["blk.4.ffn_down.weight"]);

  // Q2_K with grouped-query attention (n_head / n_head_kv = 7 >= 4): attn_v gets Q4_K.
  auto q2 = choose_tensor_types(t, qwen, *find_scheme("Q2_K"), false);
  ASSERT_TRUE(q2.ok());
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i].name == "blk.3.attn_v.weight") {
      EXPECT_EQ((*q2)[i].type, DType::Q5_0);  // Q4_K -> Q5_0
    } else if (t[i].name == "blk.3.ffn_down.weight") {
      EXPECT_EQ((*q2)[i].type, DType::Q3_K);
    } else if (t[i].name == "blk.3.ffn_up.weight") {
      EXPECT_EQ((*q2)[i].type, DType::Q4_0);  // Q2_K -> Q4_0
    }
  }
}

TEST(KQuantMixture, RowsThatFitNoBlockBecomeF16) {
  const ModelFacts m{"llama", 1, 1, 1, 0};
  const std::vector<TensorSpec> t = {{"blk.0.ffn_down.weight", {172, 64}, DType::F32},
                                     {"blk.0.attn_q.weight", {64, 64}, DType::F32},
                                     {"blk.0.ffn_norm.weight", {172, 1}, DType::F32}};
  auto r = choose_tensor_types(t, m, *find_scheme("Q8_0"), false);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)[0].type, DType::F16);
  EXPECT_TRUE((*r)[0].fallback);
  EXPECT_FALSE((*r)[0].note.empty());
  EXPECT_EQ((*r)[1].type, DType::Q8_0);
  EXPECT_EQ((*r)[2].type, DType::F32);  // [172, 1] is one-dimensional for GGML: kept
  EXPECT_FALSE((*r)[2].quantized);
}

TEST(KQuantMixture, SchemesAndErrors) {
  EXPECT_FALSE(find_scheme("Q4_K_X").has_value());
  EXPECT_FALSE(find_scheme("").has_value());
  EXPECT_EQ(find_scheme("q5_k_s")->file_type, FileType::MOSTLY_Q5_K_S);
  EXPECT_EQ(find_scheme("bf16")->default_type, DType::BF16);
  EXPECT_EQ(static_cast<uint32_t>(find_scheme("Q4_K_M")->file_type), 15u);
  EXPECT_NE(scheme_names().find("Q4_K_M"), std::string::npos);
  // A mixture-of-experts model names its layers: a tensor without one is an error, not a crash.
  const ModelFacts moe{"llama", 2, 8, 8, 8};
  const std::vector<TensorSpec> t = {{"weird_ffn_down.weight", {256, 256}, DType::F32}};
  auto r = choose_tensor_types(t, moe, *find_scheme("Q4_K_M"), false);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("weird_ffn_down.weight"), std::string::npos);
}

}  // namespace
}  // namespace ag::quant
