// Pre-tokenizer regexes, checked on hand-written strings against what each regex's definition
// (as llama.cpp lists it) says the words are.
#include <gtest/gtest.h>

#include "tokenizer/pre_tokenizer.h"

namespace ag::tok {
namespace {

std::vector<std::string> split(std::string_view pre, std::string_view text) {
  const PreTokenizerSpec* spec = find_pre_tokenizer(pre);
  EXPECT_NE(spec, nullptr) << pre;
  if (spec == nullptr) return {};
  auto pt = PreTokenizer::compile(spec->regexes);
  EXPECT_TRUE(pt.ok()) << pt.error().message;
  if (!pt.ok()) return {};
  std::vector<TextRange> ranges;
  pt->split(text, ranges);
  std::vector<std::string> words;
  uint32_t expect_begin = 0;
  for (const TextRange r : ranges) {
    EXPECT_EQ(r.begin, expect_begin) << "ranges must tile the text";
    expect_begin = r.end;
    words.emplace_back(text.substr(r.begin, r.end - r.begin));
  }
  EXPECT_EQ(expect_begin, text.size());
  return words;
}

using W = std::vector<std::string>;

TEST(PreTokenizer, EveryKnownNameCompiles) {
  for (const auto name : known_pre_tokenizers()) {
    const PreTokenizerSpec* spec = find_pre_tokenizer(name);
    ASSERT_NE(spec, nullptr) << name;
    auto pt = PreTokenizer::compile(spec->regexes);
    EXPECT_TRUE(pt.ok()) << name << ": " << (pt.ok() ? "" : pt.error().message);
  }
  EXPECT_EQ(find_pre_tokenizer("no-such-pre"), nullptr);
  EXPECT_EQ(find_pre_tokenizer(""), find_pre_tokenizer("default"));  // missing key
}

TEST(PreTokenizer, WhitespaceClassRewrite) {
  const std::string out = rewrite_whitespace_classes(R"(\s+(?!\S)|[^\s\p{L}]|\\s)");
  EXPECT_EQ(out.find("\\s"), out.rfind("\\s"));  // only the escaped backslash + 's' stays
  EXPECT_NE(out.find("[^\\t-\\r \\x{85}"), std::string::npos);   // \S outside a class
  EXPECT_NE(out.find("[^\\t-\\r \\x{85}"), out.find("[\\t-\\r"));
  EXPECT_NE(out.find("[^\\t-\\r \\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\p{L}]"),
            std::string::npos);  // \s inside a negated class: members, no brackets
}

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)
TEST(PreTokenizer, Gpt2) {
  EXPECT_EQ(split("gpt-2", "Hello world"), (W{"Hello", " world"}));
  EXPECT_EQ(split("gpt-2", "I'm  fine"), (W{"I", "'m", " ", " fine"}));  // \s+(?!\S) leaves one
  EXPECT_EQ(split("gpt-2", "DON'T"), (W{"DON", "'", "T"}));                // contractions: lower only
  EXPECT_EQ(split("gpt-2", "x=12345"), (W{"x", "=", "12345"}));           // digits stay together
  EXPECT_EQ(split("gpt-2", "a\n\nb"), (W{"a", "\n", "\n", "b"}));         // last \n is a gap
  EXPECT_EQ(split("gpt-2", "héllo wörld"), (W{"héllo", " wörld"}));
  EXPECT_EQ(split("gpt-2", "hi 😀😀!"), (W{"hi", " 😀😀!"}));               // emoji: not L/N/space
  EXPECT_EQ(split("gpt-2", "end   "), (W{"end", "   "}));                // trailing run: whole
  EXPECT_EQ(split("gpt-2", "你好 世界"), (W{"你好", " 世界"}));              // CJK are letters
  // U+00A0 and U+0085 are White_Space: not part of [^\s\p{L}\p{N}], and (?!\S) holds before them.
  EXPECT_EQ(split("gpt-2", "a\u00a0b"), (W{"a", "\u00a0", "b"}));
  EXPECT_EQ(split("gpt-2", "a\u0085\u0085b"), (W{"a", "\u0085", "\u0085", "b"}));
  EXPECT_EQ(split("mpt", "I'm"), split("gpt-2", "I'm"));
  EXPECT_EQ(split("gpt-neox", "x  = 1"), (W{"x", " ", " =", " 1"}));
}

// (?:'[sS]|...)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
TEST(PreTokenizer, Llama3) {
  EXPECT_EQ(split("llama-bpe", "12345678"), (W{"123", "456", "78"}));
  EXPECT_EQ(split("llama-bpe", "I'M here"), (W{"I", "'M", " here"}));  // contractions any case
  EXPECT_EQ(split("llama-bpe", "hello,world"), (W{"hello", ",world"}));  // one non-letter leads
  EXPECT_EQ(split("llama-bpe", "foo()\n\n  bar"), (W{"foo", "()\n\n", " ", " bar"}));
  EXPECT_EQ(split("llama-bpe", "a \n\tb"), (W{"a", " \n", "\tb"}));  // \s*[\r\n]+ then \t leads b
  EXPECT_EQ(split("llama-bpe", "x   "), (W{"x", "   "}));
  EXPECT_EQ(split("llama-bpe", "١٢٣٤"), (W{"١٢٣", "٤"}));  // Arabic-Indic digits are \p{N}
  EXPECT_EQ(split("llama3", "a"), split("llama-bpe", "a"));
}

// Qwen2: as llama3, but digits one at a time.
TEST(PreTokenizer, Qwen2) {
  EXPECT_EQ(split("qwen2", "12345"), (W{"1", "2", "3", "4", "5"}));
  EXPECT_EQ(split("qwen2", "x1y"), (W{"x", "1", "y"}));
  EXPECT_EQ(split("qwen2", "    return x;\n"), (W{"   ", " return", " x", ";\n"}));
  EXPECT_EQ(split("qwen2", "i++;"), (W{"i", "++;"}));
  EXPECT_EQ(split("qwen2", "You'RE"), (W{"You", "'RE"}));
  EXPECT_EQ(split("qwen2", "中文abc"), (W{"中文abc"}));
  EXPECT_EQ(split("qwen2", "\r\n\r\n"), (W{"\r\n\r\n"}));
}

// DeepSeek-Coder: [\r\n] | \s?\p{L}+ | \s?\p{P}+ | [CJK]+ | \p{N}, applied one after another.
TEST(PreTokenizer, DeepseekCoder) {
  EXPECT_EQ(split("deepseek-coder", "ab\ncd"), (W{"ab", "\n", "cd"}));
  // '=' is a symbol (Sm), not punctuation: it stays in the gap with the spaces.
  EXPECT_EQ(split("deepseek-coder", "x = 123;"), (W{"x", " = ", "1", "2", "3", ";"}));
  EXPECT_EQ(split("deepseek-coder", "你好world"), (W{"你好", "world"}));
  EXPECT_EQ(split("deepseek-coder", " foo.bar()"), (W{" foo", ".", "bar", "()"}));
}

// DeepSeek-LLM: [\r\n] | \s?[cased letters]+ | \s?[ASCII/fullwidth punctuation]+ | \s+$ | [CJK]+ | \p{N}+
TEST(PreTokenizer, DeepseekLlm) {
  EXPECT_EQ(split("deepseek-llm", "Hello 世界123"), (W{"Hello", " ", "世界", "123"}));
  EXPECT_EQ(split("deepseek-llm", "a, b!  "), (W{"a", ",", " b", "!", "  "}));
  EXPECT_EQ(split("deepseek-llm", "Ωμέγα"), (W{"Ωμέγα"}));  // Greek is in the letter class
  // The third regex's [:-~] spans ASCII letters too, so it cuts them off a mixed word.
  EXPECT_EQ(split("deepseek-llm", "Ωmega"), (W{"Ω", "mega"}));
}

// StarCoder family: \p{N} first, then the GPT-2 regex.
TEST(PreTokenizer, Starcoder) {
  EXPECT_EQ(split("starcoder", "abc123"), (W{"abc", "1", "2", "3"}));
  EXPECT_EQ(split("starcoder", " 42"), (W{" ", "4", "2"}));
  for (const char* alias : {"refact", "command-r", "smollm", "codeshell"}) {
    EXPECT_EQ(split(alias, "v2 = x10"), split("starcoder", "v2 = x10")) << alias;
  }
}

// Falcon: [\p{P}\$\+<=>\^~\|`]+, then GPT-2, then [0-9][0-9][0-9].
TEST(PreTokenizer, Falcon) {
  EXPECT_EQ(split("falcon", "a+=b"), (W{"a", "+=", "b"}));
  EXPECT_EQ(split("falcon", "1234567"), (W{"123", "456", "7"}));
  EXPECT_EQ(split("falcon", "x `y`"), (W{"x", " ", "`", "y", "`"}));
}

// The default (no tokenizer.ggml.pre): punctuation runs, GPT-2, \p{N}+, [0-9]{3} groups.
TEST(PreTokenizer, Default) {
  EXPECT_EQ(split("default", "a<=b 12345"), (W{"a", "<=", "b", " ", "123", "45"}));
}

TEST(PreTokenizer, LongWhitespaceRunsAndEmptyText) {
  const std::string spaces(200000, ' ');
  EXPECT_EQ(split("qwen2", spaces + "x"), (W{spaces.substr(1), " x"}));
  EXPECT_EQ(split("gpt-2", ""), W{});
}

}  // namespace
}  // namespace ag::tok
