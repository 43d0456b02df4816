// Golden vectors from other implementations: llama.cpp's tokenizer test files (expected ids from
// each model's Hugging Face tokenizer) and llama.cpp's prompt tokens for stories260K.
#include <nlohmann/json.hpp>

#include "test_util.h"
#include "tokenizer/unicode.h"

namespace ag::tok::test {
namespace {

struct Case {
  std::string text;
  std::vector<int32_t> ids;
};

std::vector<Case> read_cases(const std::string& vocab) {
  const std::string base = shared_path("reference/tokenizer/ggml-vocab-" + vocab + ".gguf");
  const std::string inp = read_file(base + ".inp");
  const std::string out = read_file(base + ".out");
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  for (size_t pos = 0; pos < inp.size();) {
    const size_t hit = inp.find(sep, pos);
    if (hit == std::string::npos) {
      texts.push_back(inp.substr(pos));
      break;
    }
    texts.push_back(inp.substr(pos, hit - pos));
    pos = hit + sep.size();
  }
  std::vector<std::vector<int32_t>> lines;
  size_t pos = 0;
  while (pos < out.size()) {
    size_t nl = out.find('\n', pos);
    if (nl == std::string::npos) nl = out.size();
    std::vector<int32_t> ids;
    const std::string line = out.substr(pos, nl - pos);
    for (size_t i = 0; i < line.size();) {
      while (i < line.size() && line[i] == ' ') ++i;
      size_t j = i;
      while (j < line.size() && line[j] != ' ') ++j;
      if (j > i) ids.push_back(std::stoi(line.substr(i, j - i)));
      i = j;
    }
    lines.push_back(std::move(ids));
    pos = nl + 1;
  }
  EXPECT_EQ(texts.size(), lines.size()) << vocab;
  std::vector<Case> cases;
  for (size_t i = 0; i < std::min(texts.size(), lines.size()); ++i) cases.push_back({texts[i], lines[i]});
  EXPECT_GT(cases.size(), 40u);
  return cases;
}

std::string show(const std::vector<int32_t>& ids) {
  std::string s;
  for (int32_t id : ids) s += " " + std::to_string(id);
  return s;
}

// Hugging Face's clean_up_tokenization_spaces (applied by decode for vocabularies that ask for
// it) cannot give back " ," or " 's": skip those strings there.
bool survives_cleanup(const std::string& s) {
  for (size_t i = 0; i + 1 < s.size(); ++i) {
    if (s[i] == ' ' && std::string_view("?!.,'").find(s[i + 1]) != std::string_view::npos) return false;
  }
  return true;
}

class ReferenceVocab : public ::testing::TestWithParam<std::string> {};

// One test per vocabulary (loading one is the slow part): ids, decode, streaming, broken input.
TEST_P(ReferenceVocab, MatchesGoldenVectors) {
  const Tokenizer& t = reference_vocab(GetParam());
  const bool cleans = GetParam() == "gpt-2";  // the only one with clean_spaces among these
  for (const Case& c : read_cases(GetParam())) {
    EXPECT_EQ(show(t.encode(c.text, false, false)), show(c.ids)) << "text: '" << c.text << "'";

    if (!cleans || survives_cleanup(c.text)) {
      EXPECT_EQ(t.decode(c.ids), c.text) << "ids:" << show(c.ids);
    }

    // Streaming the ids gives the concatenated pieces, valid UTF-8 at every step.
    StreamDecoder dec(t);
    std::string streamed, pieces;
    for (int32_t id : c.ids) {
      const std::string delta = dec.push(id);
      EXPECT_TRUE(is_valid_utf8(delta)) << "ids:" << show(c.ids);
      streamed += delta;
      pieces += t.token_to_piece(id);
    }
    streamed += dec.flush();
    EXPECT_EQ(streamed, pieces) << "ids:" << show(c.ids);
  }

  // Broken UTF-8 never fails and never produces an id outside the vocabulary.
  const std::string junk = "a\xff\xfe b\xc3 \xe4\xbd \xed\xa0\x80 \xf4\x90\x80\x80 \xc0\x80z";
  const auto ids = t.encode(junk, true, true);
  EXPECT_FALSE(ids.empty());
  for (int32_t id : ids) EXPECT_TRUE(id >= 0 && id < t.n_tokens());
  StreamDecoder dec(t);
  std::string text;
  for (int32_t id : ids) text += dec.push(id);
  text += dec.flush();
  EXPECT_TRUE(is_valid_utf8(text));
  if (t.kind() == VocabKind::spm) {
    // Byte fallback keeps every byte. (A broken lead byte swallows the next bytes as one
    // "character", as in llama.cpp, so a space right after one would come back as "▁" bytes.)
    const std::string no_spaces = "a\xff\xfe" "b\xc3x\xe4\xbdy\xed\xa0\x80\xc0\x80z";
    EXPECT_EQ(t.decode(t.encode(no_spaces, false, false)), no_spaces);
  }
}

INSTANTIATE_TEST_SUITE_P(Vocabs, ReferenceVocab,
                         ::testing::Values("llama-spm", "gpt-2", "deepseek-coder", "qwen2"),
                         [](const auto& param_info) {
                           std::string n = param_info.param;
                           for (char& c : n) {
                             if (c == '-') c = '_';
                           }
                           return n;
                         });

TEST(ReferenceVocab, Stories260kPromptsMatchLlamaCpp) {
  auto t = load_tokenizer(shared_path("models/stories260K.gguf"));
  ASSERT_TRUE(t.ok()) << t.error().message;
  const auto j = nlohmann::json::parse(read_file(shared_path("reference/stories260K/greedy.json")));
  ASSERT_FALSE(j["cases"].empty());
  for (const auto& c : j["cases"]) {
    const std::string prompt = c["prompt"];
    const auto expected = c["prompt_tokens"].get<std::vector<int32_t>>();
    EXPECT_EQ(show(t->encode(prompt, true, false)), show(expected)) << prompt;

    // The completion streams back to llama.cpp's completion text.
    const auto completion = c["completion_tokens"].get<std::vector<int32_t>>();
    StreamDecoder dec(*t);
    std::string text;
    for (int32_t id : completion) text += dec.push(id);
    text += dec.flush();
    EXPECT_EQ(text, c["completion_text"].get<std::string>());
  }
}

TEST(ReferenceVocab, Qwen2SpecialTokensAndEndOfGeneration) {
  const Tokenizer& t = reference_vocab("qwen2");
  const int32_t im_start = t.find_token("<|im_start|>");
  ASSERT_GE(im_start, 0);
  const auto parsed = t.encode("<|im_start|>user\nhi", false, true);
  ASSERT_FALSE(parsed.empty());
  EXPECT_EQ(parsed.front(), im_start);
  const auto literal = t.encode("<|im_start|>user\nhi", false, false);
  EXPECT_EQ(std::count(literal.begin(), literal.end(), im_start), 0);
  EXPECT_EQ(t.decode(literal), "<|im_start|>user\nhi");
  // Control tokens are dropped by decode unless rendered.
  EXPECT_EQ(t.decode(parsed), "user\nhi");
  EXPECT_EQ(t.decode(parsed, true), "<|im_start|>user\nhi");

  EXPECT_TRUE(t.is_eog(t.find_token("<|im_end|>")));
  EXPECT_TRUE(t.is_eog(t.find_token("<|endoftext|>")));
  EXPECT_TRUE(t.is_eog(t.special().fim_pad));
  EXPECT_FALSE(t.is_eog(im_start));
  EXPECT_FALSE(t.is_eog(t.find_token("</s>")));  // an ordinary token in Qwen's vocabulary
  EXPECT_EQ(t.special().eot, t.find_token("<|im_end|>"));
  EXPECT_EQ(t.token_text(t.special().fim_pre), "<|fim_prefix|>");
  EXPECT_EQ(t.token_text(t.special().fim_suf), "<|fim_suffix|>");
  EXPECT_EQ(t.token_text(t.special().fim_mid), "<|fim_middle|>");
  EXPECT_EQ(t.token_text(t.special().nl), "\u010a");  // "Ċ", the byte-level newline
}

}  // namespace
}  // namespace ag::tok::test
