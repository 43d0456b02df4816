#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "gguf/gguf.h"
#include "planner/model_spec.h"

namespace ag::planner {
namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          (name + "." + std::to_string(::testing::UnitTest::GetInstance()->random_seed())))
      .string();
}

TEST(ModelSpec, FromGgufHeaderIsExact) {
  // A tiny llama with GQA, untied output and a Q8_0 matrix: sizes come from the tensor infos.
  gguf::Writer w;
  w.set("general.architecture", std::string("llama"));
  w.set("general.file_type", uint32_t{7});
  w.set("llama.block_count", uint32_t{2});
  w.set("llama.embedding_length", uint32_t{64});
  w.set("llama.attention.head_count", uint32_t{4});
  w.set("llama.attention.head_count_kv", uint32_t{2});
  w.set("llama.feed_forward_length", uint32_t{128});
  w.set("llama.context_length", uint32_t{2048});
  uint64_t expect_bytes = 0;
  auto add = [&](const std::string& name, DType t, std::vector<uint64_t> shape) {
    uint64_t n = 1;
    for (auto d : shape) n *= d;
    const uint64_t bytes = n / dtype_info(t).block_size * dtype_info(t).type_size;
    expect_bytes += bytes;
    std::vector<uint8_t> data(bytes, 0);
    ASSERT_TRUE(w.add_tensor(name, t, shape, data).ok());
  };
  add("token_embd.weight", DType::Q8_0, {64, 100});
  add("output_norm.weight", DType::F32, {64});
  add("output.weight", DType::Q8_0, {64, 100});
  for (int i = 0; i < 2; ++i) {
    auto b = fmt::format("blk.{}.", i);
    add(b + "attn_norm.weight", DType::F32, {64});
    add(b + "attn_q.weight", DType::Q8_0, {64, 64});
    add(b + "attn_k.weight", DType::Q8_0, {64, 32});
    add(b + "attn_v.weight", DType::Q8_0, {64, 32});
    add(b + "attn_output.weight", DType::Q8_0, {64, 64});
    add(b + "ffn_norm.weight", DType::F32, {64});
    add(b + "ffn_gate.weight", DType::Q8_0, {64, 128});
    add(b + "ffn_up.weight", DType::Q8_0, {64, 128});
    add(b + "ffn_down.weight", DType::Q8_0, {128, 64});
  }
  const std::string path = temp_path("planner_spec.gguf");
  ASSERT_TRUE(w.write(path).ok());
  auto spec = spec_from_gguf(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  EXPECT_EQ(spec->weights_bytes, expect_bytes);
  EXPECT_EQ(spec->hp.n_layer, 2);
  EXPECT_EQ(spec->hp.n_head_kv, 2);
  EXPECT_EQ(spec->hp.head_dim, 16);
  EXPECT_EQ(spec->hp.n_vocab, 100);
  EXPECT_FALSE(spec->hp.tied_output);
  EXPECT_EQ(spec->type_label, "Q8_0");
  EXPECT_GT(spec->metadata_bytes, 0u);
  EXPECT_EQ(spec->file_bytes, spec->metadata_bytes + expect_bytes + (spec->file_bytes - spec->metadata_bytes - expect_bytes));
  EXPECT_GE(spec->file_bytes, spec->metadata_bytes + expect_bytes);
  // token_embd is untied: a decoded token reads one of its rows, not all of it.
  const uint64_t embd = 100u * 64 / 32 * 34;
  EXPECT_EQ(spec->weights_read_per_token(), expect_bytes - embd + embd / 100);
}

TEST(ModelSpec, FromGgufErrorsNameTheKey) {
  gguf::Writer w;
  w.set("general.architecture", std::string("llama"));
  const std::string path = temp_path("planner_bad.gguf");
  ASSERT_TRUE(w.write(path).ok());
  auto spec = spec_from_gguf(path);
  std::filesystem::remove(path);
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.error().message.find("llama.block_count"), std::string::npos);
  EXPECT_FALSE(spec_from_gguf("/nonexistent/model.gguf").ok());
}

TEST(ModelSpec, FromHfConfigMatchesPreset) {
  const std::string path = temp_path("config.json");
  {
    std::ofstream f(path);
    f << R"({"architectures":["Qwen2ForCausalLM"],"model_type":"qwen2","hidden_size":3584,
             "intermediate_size":18944,"num_attention_heads":28,"num_hidden_layers":28,
             "num_key_value_heads":4,"vocab_size":152064,"max_position_embeddings":131072,
             "rms_norm_eps":1e-06,"rope_theta":1000000.0,"tie_word_embeddings":false,
             "torch_dtype":"bfloat16"})";
  }
  auto spec = spec_from_hf_config(path, std::nullopt);
  auto q = spec_from_hf_config(path, FileType::Q4_K_M);
  std::filesystem::remove(path);
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  EXPECT_EQ(spec->n_params, 7615616512u);
  EXPECT_EQ(spec->type_label, "BF16");
  EXPECT_TRUE(spec->hp.qkv_bias);
  auto preset = spec_from_preset("qwen2.5-7b", FileType::Q4_K_M);
  ASSERT_TRUE(q.ok() && preset.ok());
  EXPECT_EQ(q->weights_bytes, preset->weights_bytes);
}

TEST(ModelSpec, HfConfigErrors) {
  const std::string path = temp_path("bad_config.json");
  {
    std::ofstream f(path);
    f << R"({"model_type":"llama","hidden_size":4096})";
  }
  auto spec = spec_from_hf_config(path, std::nullopt);
  std::filesystem::remove(path);
  ASSERT_FALSE(spec.ok());
  EXPECT_NE(spec.error().message.find("num_hidden_layers"), std::string::npos);
}

TEST(ModelSpec, ParamsBorrowTheNearestShape) {
  EXPECT_DOUBLE_EQ(*parse_param_count("7B"), 7e9);
  EXPECT_DOUBLE_EQ(*parse_param_count("1.5b"), 1.5e9);
  EXPECT_DOUBLE_EQ(*parse_param_count("500M"), 5e8);
  EXPECT_FALSE(parse_param_count("seven").ok());
  EXPECT_FALSE(parse_param_count("-1B").ok());
  auto s = spec_from_params("7B", FileType::Q4_K_M);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->n_params, 7000000000u);
  EXPECT_NEAR(s->bits_per_weight(), 4.9, 0.2);
  ASSERT_FALSE(s->notes.empty());
  EXPECT_NE(s->notes.back().find("qwen2.5-7b"), std::string::npos);
}

}  // namespace
}  // namespace ag::planner
