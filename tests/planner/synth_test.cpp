#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "gguf/gguf.h"
#include "planner/model_spec.h"
#include "planner/synth_model.h"
#include "tensor/type_traits.h"

namespace ag::planner {
namespace {

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          (name + "." + std::to_string(::getpid()) + ".gguf"))
      .string();
}

// A small shape of each architecture, so files are kilobytes and tests fast.
ModelPreset tiny(const char* arch, int n_embd, int n_ff, int n_vocab, bool tied) {
  ModelPreset p;
  p.name = "tiny";
  p.hf_repo = "test";
  HParams& hp = p.hparams;
  hp.arch = arch;
  hp.n_layer = 2;
  hp.n_embd = n_embd;
  hp.n_head = 4;
  hp.n_head_kv = 2;
  hp.head_dim = std::string_view(arch) == "qwen3" ? 32 : n_embd / 4;
  hp.n_rot = hp.head_dim;
  hp.n_ff = n_ff;
  hp.n_vocab = n_vocab;
  hp.n_ctx_train = 1024;
  hp.rms_eps = 1e-6f;
  hp.rope_base = 10000.0f;
  hp.tied_output = tied;
  hp.qkv_bias = std::string_view(arch) == "qwen2";
  hp.qk_norm = std::string_view(arch) == "qwen3";
  p.n_vocab_tokens = n_vocab;
  return p;
}

std::vector<float> dequantize(const gguf::TensorInfo& t) {
  std::vector<float> out(t.n_elements);
  type_traits_reference(t.type).to_float(t.data, out.data(), static_cast<int64_t>(t.n_elements));
  return out;
}

void expect_normal(const std::vector<float>& v, double std, const std::string& what) {
  double sum = 0, sq = 0, quad = 0;
  for (float x : v) sum += x;
  const double mean = sum / v.size();
  for (float x : v) {
    sq += (x - mean) * (x - mean);
    quad += std::pow(x - mean, 4);
  }
  const double var = sq / v.size();
  EXPECT_NEAR(mean, 0.0, 4 * std / std::sqrt(static_cast<double>(v.size()))) << what;
  EXPECT_NEAR(std::sqrt(var), std, 0.04 * std) << what;
  EXPECT_NEAR(quad / v.size() / (var * var), 3.0, 0.3) << what << ": kurtosis of a normal is 3";
}

TEST(Synth, TinyLlamaF32FileMatchesTheShape) {
  ModelPreset p = tiny("llama", 64, 128, 300, false);
  p.hparams.has_rope_freqs = true;
  p.llama3_rope = {8.0f, 1.0f, 4.0f, 64};
  SynthOptions o;
  o.ftype = FileType::F32;
  o.output_path = temp_path("synth_llama");
  o.seed = 7;
  o.n_threads = 2;
  auto r = synth_model(o, p);
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto f = gguf::File::open(o.output_path);
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(*f->get_string("general.architecture"), "llama");
  EXPECT_EQ(*f->get_int("general.file_type"), 0);
  EXPECT_EQ(*f->get_int("llama.block_count"), 2);
  EXPECT_EQ(*f->get_int("llama.attention.head_count_kv"), 2);
  EXPECT_EQ(*f->get_int("llama.context_length"), 1024);
  EXPECT_FLOAT_EQ(static_cast<float>(*f->get_float("llama.attention.layer_norm_rms_epsilon")), 1e-6f);
  const std::vector<TensorSpec> want = model_tensors(p.hparams);
  ASSERT_EQ(f->tensors().size(), want.size());
  uint64_t n_params = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(f->tensors()[i].name, want[i].name);
    EXPECT_EQ(f->tensors()[i].shape, want[i].shape);
    n_params += f->tensors()[i].n_elements;
  }
  EXPECT_EQ(n_params, r->n_params);
  EXPECT_EQ(n_params, count_parameters(want));
  // Norms are 1, rope_freqs the Llama-3 divisors, weights N(0, 0.02).
  for (float x : dequantize(*f->tensor("blk.1.ffn_norm.weight"))) ASSERT_EQ(x, 1.0f);
  EXPECT_EQ(dequantize(*f->tensor("rope_freqs.weight")), llama3_rope_freqs(p.hparams, p.llama3_rope));
  expect_normal(dequantize(*f->tensor("token_embd.weight")), 0.02, "token_embd");
  // The byte vocabulary, padded to the embedding's rows.
  const auto* tokens = f->find("tokenizer.ggml.tokens")->as_array();
  ASSERT_EQ(tokens->items.size(), 300u);
  EXPECT_EQ(*tokens->items[static_cast<size_t>('a')].as_string(), "a");
  EXPECT_EQ(*tokens->items[10].as_string(), "\xc4\x8a");  // '\n' is "Ċ" in GPT-2's byte map
  EXPECT_EQ(*tokens->items[256].as_string(), "<|endoftext|>");
  EXPECT_EQ(*tokens->items[299].as_string(), "[PAD299]");
  EXPECT_EQ(r->n_vocab_tokens, 257);
  EXPECT_EQ(r->n_padding, 43);
  EXPECT_EQ(r->file_bytes, std::filesystem::file_size(o.output_path));
  std::filesystem::remove(o.output_path);
}

TEST(Synth, TinyQwen2QuantizedTypesFollowTheMixture) {
  // Rows of 256 keep K-quants; the tied embedding is the output: Q6_K.
  ModelPreset p = tiny("qwen2", 256, 512, 320, true);
  SynthOptions o;
  o.ftype = FileType::Q4_K_M;
  o.output_path = temp_path("synth_qwen2");
  o.n_threads = 3;
  auto r = synth_model(o, p);
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto f = gguf::File::open(o.output_path);
  ASSERT_TRUE(f.ok());
  const auto want = model_tensors(p.hparams);
  const auto types = assign_types(p.hparams, want, FileType::Q4_K_M);
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(f->tensors()[i].type, types[i]) << want[i].name;
  EXPECT_EQ(f->tensor("token_embd.weight")->type, DType::Q6_K);
  EXPECT_EQ(f->tensor("blk.0.attn_q.weight")->type, DType::Q4_K);
  EXPECT_EQ(f->tensor("blk.0.attn_q.bias")->type, DType::F32);
  EXPECT_EQ(f->tensor("output.weight"), nullptr);
  EXPECT_EQ(*f->get_int("general.file_type"), 15);
  expect_normal(dequantize(*f->tensor("blk.1.ffn_up.weight")), 0.02, "ffn_up (Q4_K)");
  // What the planner predicts for this shape is what the file holds.
  auto spec = spec_from_gguf(o.output_path);
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->weights_bytes, r->tensor_bytes);
  EXPECT_EQ(spec->weights_bytes, spec_from_hparams(p.hparams, FileType::Q4_K_M, "x", "x").weights_bytes);
  std::filesystem::remove(o.output_path);
}

TEST(Synth, TinyQwen3HasQkNormsAndKeyLength) {
  ModelPreset p = tiny("qwen3", 64, 96, 260, true);
  SynthOptions o;
  o.ftype = FileType::F16;
  o.output_path = temp_path("synth_qwen3");
  ASSERT_TRUE(synth_model(o, p).ok());
  auto f = gguf::File::open(o.output_path);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(*f->get_int("qwen3.attention.key_length"), 32);
  ASSERT_NE(f->tensor("blk.1.attn_k_norm.weight"), nullptr);
  EXPECT_EQ(f->tensor("blk.1.attn_k_norm.weight")->type, DType::F32);
  EXPECT_EQ(f->tensor("blk.0.attn_q.weight")->shape, (std::vector<uint64_t>{64, 128}));
  EXPECT_EQ(f->tensor("blk.0.attn_q.weight")->type, DType::F16);
  std::filesystem::remove(o.output_path);
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(Synth, SameSeedSameBytesWhateverTheThreads) {
  ModelPreset p = tiny("llama", 64, 128, 300, false);
  SynthOptions o;
  o.ftype = FileType::Q8_0;
  o.seed = 42;
  o.n_threads = 1;
  o.output_path = temp_path("synth_a");
  ASSERT_TRUE(synth_model(o, p).ok());
  o.n_threads = 3;
  const std::string a = o.output_path;
  o.output_path = temp_path("synth_b");
  ASSERT_TRUE(synth_model(o, p).ok());
  const std::string b = o.output_path;
  o.seed = 43;
  o.output_path = temp_path("synth_c");
  ASSERT_TRUE(synth_model(o, p).ok());
  EXPECT_EQ(slurp(a), slurp(b));
  EXPECT_NE(slurp(a), slurp(o.output_path));
  for (const auto& x : {a, b, o.output_path}) std::filesystem::remove(x);
}

TEST(Synth, VocabularyFromAFileIsCopiedAndPadded) {
  const std::string vocab = std::string(AUTOGLM_SHARED_DIR) + "/reference/tokenizer/ggml-vocab-llama-spm.gguf";
  ModelPreset p = tiny("llama", 64, 128, 32000, false);
  SynthOptions o;
  o.ftype = FileType::F16;
  o.vocab_path = vocab;
  o.output_path = temp_path("synth_vocab");
  auto r = synth_model(o, p);
  ASSERT_TRUE(r.ok()) << r.error().message;
  auto src = gguf::File::open(vocab);
  auto f = gguf::File::open(o.output_path);
  ASSERT_TRUE(src.ok() && f.ok());
  for (const auto& [key, value] : src->metadata()) {
    if (!key.starts_with("tokenizer.")) continue;
    ASSERT_NE(f->find(key), nullptr) << key;
    EXPECT_EQ(f->find(key)->to_display_string(), value.to_display_string()) << key;
  }
  EXPECT_EQ(r->n_padding, 0);

  // A padded embedding (like Qwen's) gets "[PAD{id}]" tokens, unused, scored -1000.
  p.hparams.n_vocab = 32064;
  p.n_vocab_tokens = 32000;
  auto padded = synth_model(o, p);
  ASSERT_TRUE(padded.ok()) << padded.error().message;
  EXPECT_EQ(padded->n_padding, 64);
  auto g = gguf::File::open(o.output_path);
  ASSERT_TRUE(g.ok());
  const auto* tokens = g->find("tokenizer.ggml.tokens")->as_array();
  ASSERT_EQ(tokens->items.size(), 32064u);
  EXPECT_EQ(*tokens->items[32063].as_string(), "[PAD32063]");
  EXPECT_EQ(g->find("tokenizer.ggml.token_type")->as_array()->items[32010].as_int(), 5);
  EXPECT_EQ(g->find("tokenizer.ggml.scores")->as_array()->items[32010].as_float(), -1000.0);

  // An embedding that is not padded must match the tokenizer exactly.
  p.n_vocab_tokens = 32064;
  auto mismatch = synth_model(o, p);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_NE(mismatch.error().message.find("32000 tokens"), std::string::npos);
  std::filesystem::remove(o.output_path);
}

TEST(Synth, Errors) {
  SynthOptions o;
  o.preset = "no-such-model";
  o.output_path = temp_path("synth_err");
  EXPECT_FALSE(synth_model(o).ok());
  ModelPreset p = tiny("llama", 64, 128, 300, false);
  o.output_path = "/nonexistent-dir/x.gguf";
  auto r = synth_model(o, p);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("/nonexistent-dir/x.gguf"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists("/nonexistent-dir/x.gguf"));
  o.output_path = temp_path("synth_err");
  o.vocab_path = "/nonexistent/vocab.gguf";
  EXPECT_FALSE(synth_model(o, p).ok());
  EXPECT_FALSE(std::filesystem::exists(o.output_path));
}

TEST(Synth, Qwen05BQ4_0IsTheRealShape) {
  // The one full-size preset: 494,032,768 parameters, tied embedding in Q8_0, reads back.
  SynthOptions o;
  o.preset = "qwen2.5-0.5b";
  o.ftype = FileType::Q4_0;
  o.output_path = temp_path("synth_qwen05b");
  o.n_threads = 2;
  auto r = synth_model(o);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->n_params, 494032768u);
  auto spec = spec_from_gguf(o.output_path);
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  EXPECT_EQ(spec->n_params, 494032768u);
  auto planned = spec_from_preset("qwen2.5-0.5b", FileType::Q4_0);
  ASSERT_TRUE(planned.ok());
  EXPECT_EQ(spec->weights_bytes, planned->weights_bytes);
  EXPECT_EQ(spec->type_label, "Q4_0");
  auto f = gguf::File::open(o.output_path);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->tensor("token_embd.weight")->type, DType::Q8_0);
  EXPECT_EQ(f->tensor("blk.23.ffn_down.weight")->type, DType::Q4_0);
  EXPECT_EQ(*f->get_int("qwen2.block_count"), 24);
  std::filesystem::remove(o.output_path);
}

}  // namespace
}  // namespace ag::planner
