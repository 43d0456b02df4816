// Fill-in-the-middle prompts for the five code-model families, against the layouts their model
// cards and reference code document.
#include "test_util.h"
#include "tokenizer/fim.h"

namespace ag::tok::test {
namespace {

using Ids = std::vector<int32_t>;

Ids concat(std::initializer_list<Ids> parts) {
  Ids out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Ids infill(const Tokenizer& t, std::string_view pre, std::string_view suf, FimOrder order) {
  auto r = build_infill_prompt(t, pre, suf, order);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? *r : Ids{};
}

// Qwen2.5-Coder model card: "<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>",
// tokenized by the HF tokenizer with its special tokens (151659/151661/151660), no BOS.
TEST(Fim, Qwen25Coder) {
  const Tokenizer& t = reference_vocab("qwen2");
  const std::string prefix =
      "def quicksort(arr):\n    if len(arr) <= 1:\n        return arr\n    pivot = arr[len(arr) // 2]\n    ";
  const std::string suffix =
      "\n    middle = [x for x in arr if x == pivot]\n    right = [x for x in arr if x > pivot]\n"
      "    return quicksort(left) + middle + quicksort(right)";
  const Ids got = infill(t, prefix, suffix, FimOrder::psm);
  EXPECT_EQ(got, concat({{151659}, t.encode(prefix, false, false), {151661},
                         t.encode(suffix, false, false), {151660}}));
  // The same as tokenizing the model card's prompt text with special tokens parsed.
  EXPECT_EQ(got, t.encode("<|fim_prefix|>" + prefix + "<|fim_suffix|>" + suffix + "<|fim_middle|>",
                          true, true));
  EXPECT_TRUE(t.is_eog(t.special().fim_pad));
}

// DeepSeek-Coder model card: "<｜fim▁begin｜>{prefix}<｜fim▁hole｜>{suffix}<｜fim▁end｜>", with the
// BOS the tokenizer adds (32013); begin/hole/end are 32016/32015/32017.
TEST(Fim, DeepseekCoder) {
  const Tokenizer& t = reference_vocab("deepseek-coder");
  const std::string prefix =
      "def quick_sort(arr):\n    if len(arr) <= 1:\n        return arr\n    pivot = arr[0]\n"
      "    left = []\n    right = []\n";
  const std::string suffix =
      "\n        if arr[i] < pivot:\n            left.append(arr[i])\n        else:\n"
      "            right.append(arr[i])\n    return quick_sort(left) + [pivot] + quick_sort(right)";
  const Ids got = infill(t, prefix, suffix, FimOrder::psm);
  EXPECT_EQ(got, concat({{32013, 32016}, t.encode(prefix, false, false), {32015},
                         t.encode(suffix, false, false), {32017}}));
  EXPECT_EQ(got, t.encode("<｜fim▁begin｜>" + prefix + "<｜fim▁hole｜>" + suffix + "<｜fim▁end｜>",
                          true, true));
}

// StarCoder / StarCoder2: <fim_prefix>=1, <fim_middle>=2, <fim_suffix>=3, no BOS. PSM as in the
// model card; SPM as in its Megatron FIM training code: <fim_prefix><fim_suffix>suf<fim_middle>pre.
TEST(Fim, Starcoder) {
  VocabSpec s;
  s.model = "gpt2";
  s.pre = "starcoder";
  s.add("<|endoftext|>", 0, TokenType::control);
  s.add("<fim_prefix>", 0, TokenType::control);
  s.add("<fim_middle>", 0, TokenType::control);
  s.add("<fim_suffix>", 0, TokenType::control);
  s.add("<fim_pad>", 0, TokenType::control);
  for (int b = 0; b < 256; ++b) s.add(gpt2_char(static_cast<uint8_t>(b)));
  s.extra.push_back({"tokenizer.ggml.eos_token_id", gguf::Value(uint32_t(0))});
  s.extra.push_back({"tokenizer.ggml.bos_token_id", gguf::Value(uint32_t(0))});
  auto t = build_tokenizer(s);
  ASSERT_TRUE(t.ok()) << t.error().message;
  const std::string prefix = "def print_hello_world():\n    ";
  const std::string suffix = "\n    print('Hello world!')";
  const Ids pre = t->encode(prefix, false, false);
  const Ids suf = t->encode(suffix, false, false);
  EXPECT_EQ(infill(*t, prefix, suffix, FimOrder::psm), concat({{1}, pre, {3}, suf, {2}}));
  EXPECT_EQ(infill(*t, prefix, suffix, FimOrder::psm),
            t->encode("<fim_prefix>" + prefix + "<fim_suffix>" + suffix + "<fim_middle>", true, true));
  EXPECT_EQ(infill(*t, prefix, suffix, FimOrder::spm), concat({{1, 3}, suf, {2}, pre}));
  EXPECT_TRUE(t->is_eog(4));  // <fim_pad>
}

// CodeLlama (llama/generation.py, infilling_prompt_tokens): "<PRE> {pre} <SUF>{suf} <MID>" =
// [BOS, ▁<PRE>=32007] + encode(pre) + [▁<SUF>=32008] + encode_infilling(suf) + [▁<MID>=32009];
// encode adds SentencePiece's space prefix, encode_infilling does not. suffix_first (SPM):
// [BOS, 32007, 32008] + encode_infilling(suf) + [32009] + encode(pre).
TEST(Fim, CodeLlama) {
  VocabSpec s = spm_base();
  while (s.tokens.size() < 32007) s.add("<dummy" + std::to_string(s.tokens.size()) + ">", -100);
  s.add("\xE2\x96\x81<PRE>", 0, TokenType::control);
  s.add("\xE2\x96\x81<SUF>", 0, TokenType::control);
  s.add("\xE2\x96\x81<MID>", 0, TokenType::control);
  s.add("\xE2\x96\x81<EOT>", 0, TokenType::control);
  const int32_t sp = s.add("\xE2\x96\x81", -5);
  const int32_t sp_d = s.add("\xE2\x96\x81" "d", -1);
  const int32_t d = s.add("d", -3);
  const int32_t e = s.add("e", -3);
  const int32_t f = s.add("f", -3);
  auto t = build_tokenizer(s);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->special().fim_pre, 32007);
  EXPECT_EQ(t->special().fim_suf, 32008);
  EXPECT_EQ(t->special().fim_mid, 32009);
  EXPECT_EQ(t->special().eot, 32010);
  EXPECT_TRUE(t->is_eog(32010));
  EXPECT_EQ(infill(*t, "def", "def", FimOrder::psm),
            (Ids{1, 32007, sp_d, e, f, 32008, d, e, f, 32009}));
  EXPECT_EQ(infill(*t, "def", " def", FimOrder::psm),
            (Ids{1, 32007, sp_d, e, f, 32008, sp_d, e, f, 32009}));
  EXPECT_EQ(infill(*t, "def", "def", FimOrder::spm),
            (Ids{1, 32007, 32008, d, e, f, 32009, sp_d, e, f}));
  EXPECT_EQ(infill(*t, "", "", FimOrder::psm), (Ids{1, 32007, 32008, 32009}));
  (void)sp;
}

// CodeGemma model card: "<|fim_prefix|>{prefix}<|fim_suffix|>{suffix}<|fim_middle|>" after the
// <bos> (2) the tokenizer adds; FIM tokens 67/69/68; Gemma has no SentencePiece space prefix.
TEST(Fim, CodeGemma) {
  VocabSpec s;
  s.model = "llama";
  s.add("<pad>", 0, TokenType::control);
  s.add("<eos>", 0, TokenType::control);
  s.add("<bos>", 0, TokenType::control);
  s.add("<unk>", 0, TokenType::unknown);
  while (s.tokens.size() < 67) s.add("<unused" + std::to_string(s.tokens.size()) + ">", 0, TokenType::control);
  s.add("<|fim_prefix|>", 0, TokenType::user_defined);
  s.add("<|fim_middle|>", 0, TokenType::user_defined);
  s.add("<|fim_suffix|>", 0, TokenType::user_defined);
  s.add("<|file_separator|>", 0, TokenType::user_defined);
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
    s.add(buf, 0, TokenType::byte);
  }
  for (const char* p : {"import", "\xE2\x96\x81", "\xE2\x96\x81return", "\xE2\x96\x81" "age", "a", "g", "e"}) s.add(p, -2);
  s.extra.push_back({"tokenizer.ggml.bos_token_id", gguf::Value(uint32_t(2))});
  s.extra.push_back({"tokenizer.ggml.eos_token_id", gguf::Value(uint32_t(1))});
  s.extra.push_back({"tokenizer.ggml.unknown_token_id", gguf::Value(uint32_t(3))});
  s.extra.push_back({"tokenizer.ggml.padding_token_id", gguf::Value(uint32_t(0))});
  s.extra.push_back({"tokenizer.ggml.add_space_prefix", gguf::Value(false)});
  auto t = build_tokenizer(s);
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->special().fim_pre, 67);
  EXPECT_EQ(t->special().fim_mid, 68);
  EXPECT_EQ(t->special().fim_suf, 69);
  const std::string prefix = "import datetime\ndef calculate_age(birth_year):\n    ";
  const std::string suffix = "\n    return age";
  const Ids got = infill(*t, prefix, suffix, FimOrder::psm);
  EXPECT_EQ(got, concat({{2, 67}, t->encode(prefix, false, false), {69}, t->encode(suffix, false, false), {68}}));
  EXPECT_EQ(got, t->encode("<|fim_prefix|>" + prefix + "<|fim_suffix|>" + suffix + "<|fim_middle|>",
                           true, true));
  EXPECT_EQ(t->encode("age", false, false),
            (Ids{t->find_token("a"), t->find_token("g"), t->find_token("e")}));  // no "▁" added
}

TEST(Fim, MissingTokensIsAnError) {
  auto t = build_tokenizer(bpe_base("gpt-2"));
  ASSERT_TRUE(t.ok()) << t.error().message;
  auto r = build_infill_prompt(*t, "a", "b", FimOrder::psm);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("no fill-in-the-middle tokens"), std::string::npos);
}

}  // namespace
}  // namespace ag::tok::test
