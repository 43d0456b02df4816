// Small vocabularies written with the GGUF Writer: the SentencePiece and BPE algorithms, special
// tokens, metadata handling and load errors, each checked against llama.cpp's rules.
#include "test_util.h"

namespace ag::tok::test {
namespace {

using Ids = std::vector<int32_t>;

Tokenizer must_build(const VocabSpec& spec) {
  auto t = build_tokenizer(spec);
  if (!t.ok()) {
    ADD_FAILURE() << t.error().message;
    std::abort();
  }
  return std::move(*t);
}

std::string load_error(const VocabSpec& spec) {
  auto t = build_tokenizer(spec);
  return t.ok() ? std::string("(loaded)") : t.error().message;
}

TEST(Spm, MergesByScoreUntilNoPairIsAToken) {
  VocabSpec s = spm_base();
  for (const char* c : {"\xE2\x96\x81", "h", "e", "l", "o"}) s.add(c, -10);
  s.add("ll", -1);
  s.add("he", -2);
  s.add("\xE2\x96\x81h", -3);
  s.add("llo", -1.5);
  s.add("hello", -0.5);
  const int32_t whole = s.add("\xE2\x96\x81hello", -0.1f);
  const Tokenizer t = must_build(s);
  // ▁ h e l l o: ll(-1) > llo(-1.5) > he(-2) > hello(-0.5, now possible) > ▁hello; ▁h is stale.
  EXPECT_EQ(t.encode("hello", false, false), (Ids{whole}));
  EXPECT_EQ(t.encode("hello", true, false), (Ids{1, whole}));  // add_bos defaults on for SPM
  EXPECT_EQ(t.decode(Ids{whole}), "hello");                     // the space prefix comes off
  EXPECT_EQ(t.decode(Ids{1, whole}), " hello");                 // ... but not after BOS (llama.cpp)
  EXPECT_EQ(t.token_to_piece(whole), " hello");
  EXPECT_EQ(t.encode("", true, false), (Ids{1}));
  EXPECT_EQ(t.encode("", false, false), (Ids{}));
}

TEST(Spm, EqualScoresMergeLeftmostFirst) {
  VocabSpec s = spm_base();
  const int32_t a = s.add("a", -5);
  const int32_t aa = s.add("aa", -1);
  s.extra.push_back({"tokenizer.ggml.add_space_prefix", gguf::Value(false)});
  const Tokenizer t = must_build(s);
  EXPECT_FALSE(t.add_space_prefix());
  EXPECT_EQ(t.encode("aaa", false, false), (Ids{aa, a}));
  EXPECT_EQ(t.encode("aaaa", false, false), (Ids{aa, aa}));
}

TEST(Spm, TokensSpanningSpacesStillMerge) {
  // Segments are cut only between characters that no token holds side by side: here "a▁" and
  // "▁b" are tokens, so "a b" stays one segment and merges into "a▁b".
  VocabSpec s = spm_base();
  s.add("a", -5);
  s.add("b", -5);
  s.add("\xE2\x96\x81", -5);
  s.add("a\xE2\x96\x81", -2);
  const int32_t ab = s.add("a\xE2\x96\x81" "b", -1);
  const int32_t c = s.add("c", -5);
  s.extra.push_back({"tokenizer.ggml.add_space_prefix", gguf::Value(false)});
  const Tokenizer t = must_build(s);
  EXPECT_EQ(t.encode("a b", false, false), (Ids{ab}));
  EXPECT_EQ(t.encode("a bca b", false, false), (Ids{ab, c, ab}));
  EXPECT_EQ(t.encode("ca bc", false, false), (Ids{c, ab, c}));
}

TEST(Spm, ByteFallbackAndUnknown) {
  VocabSpec s = spm_base();
  const int32_t sp = s.add("\xE2\x96\x81", -1);
  const Tokenizer t = must_build(s);
  // "é" is not a token: its UTF-8 bytes C3 A9 become <0xC3> <0xA9> (ids 3 + byte).
  EXPECT_EQ(t.encode("\xC3\xA9", false, false), (Ids{sp, 3 + 0xC3, 3 + 0xA9}));
  EXPECT_EQ(t.decode(t.encode("\xC3\xA9", false, false)), "\xC3\xA9");
  EXPECT_EQ(t.token_type(3 + 0xC3), TokenType::byte);
  EXPECT_EQ(t.token_to_piece(3 + 0xC3), "\xC3");

  // Without byte tokens an unknown character becomes <unk>.
  VocabSpec bare;
  bare.add("<unk>", 0, TokenType::unknown);
  bare.add("<s>", 0, TokenType::control);
  bare.add("</s>", 0, TokenType::control);
  const int32_t x = bare.add("x", -1);
  const Tokenizer u = must_build(bare);
  EXPECT_EQ(u.encode("xy", false, false), (Ids{0, x, 0}));  // "▁" and "y": one <unk> each
}

TEST(Spm, SpecialTokensAndSpacePrefix) {
  VocabSpec s = spm_base();
  const int32_t sp = s.add("\xE2\x96\x81", -5);
  const int32_t hi = s.add("\xE2\x96\x81hi", -1);
  s.add("\xE2\x96\x81h", -2);
  s.add("h", -9);
  s.add("i", -9);
  const int32_t user = s.add("<tool>", 0, TokenType::user_defined);
  const int32_t ctrl = s.add("<|im_start|>", 0, TokenType::control);
  const Tokenizer t = must_build(s);
  // User-defined tokens are always matched whole; control tokens only with parse_special.
  EXPECT_EQ(t.encode("hi<tool>hi", false, false), (Ids{hi, user, hi}));  // space again after it
  EXPECT_EQ(t.encode("<|im_start|>hi", false, true), (Ids{ctrl, hi}));
  const Ids literal = t.encode("<|im_start|>", false, false);
  EXPECT_EQ(std::count(literal.begin(), literal.end(), ctrl), 0);
  EXPECT_EQ(t.decode(literal), "<|im_start|>");
  EXPECT_EQ(t.decode(Ids{ctrl, hi}), " hi");                 // control skipped, space kept
  EXPECT_EQ(t.decode(Ids{ctrl, hi}, true), "<|im_start|> hi");
  EXPECT_EQ(t.decode(Ids{user, hi}), "<tool> hi");           // user-defined always rendered
  EXPECT_EQ(t.encode(" ", false, false), (Ids{sp, sp}));
}

TEST(Spm, Phi3TokensStripTheWhitespaceAfterThem) {
  VocabSpec s = spm_base();
  const int32_t hi = s.add("\xE2\x96\x81hi", -1);
  s.add("\xE2\x96\x81", -5);
  s.add("\xE2\x96\x81h", -2);
  s.add("h", -9);
  s.add("i", -9);
  const int32_t end = s.add("<|end|>", 0, TokenType::control);
  s.extra.push_back({"general.name", gguf::Value(std::string("Phi-3 mini"))});
  const Tokenizer t = must_build(s);
  EXPECT_EQ(t.encode("<|end|>\n  hi", false, true), (Ids{end, hi}));
  EXPECT_TRUE(t.is_eog(end));
}

TEST(Bpe, MergesByRankLowestFirst) {
  VocabSpec s = bpe_base("gpt-2");
  const int32_t bc = add_merge(s, "b", "c");  // rank 0
  add_merge(s, "a", "b");                     // rank 1: loses to "b c" in "abc"
  const int32_t ll = add_merge(s, "l", "l");
  const int32_t he = add_merge(s, "h", "e");
  const int32_t hell = add_merge(s, "he", "ll");
  const int32_t hello = add_merge(s, "hell", "o");
  const int32_t sp_h = add_merge(s, "\xC4\xA0", "h");  // "Ġh": space in the byte alphabet
  const Tokenizer t = must_build(s);
  EXPECT_EQ(t.encode("abc", false, false), (Ids{'a', bc}));
  EXPECT_EQ(t.encode("hello", false, false), (Ids{hello}));
  EXPECT_EQ(t.encode("hell", false, false), (Ids{hell}));
  EXPECT_EQ(t.encode("he ll", false, false), (Ids{he, ' ', ll}));  // words: "he", " ll"; no "Ġ l"
  EXPECT_EQ(t.encode(" h", false, false), (Ids{sp_h}));
  EXPECT_EQ(t.decode(Ids{sp_h, 'i'}), " hi");
  EXPECT_EQ(t.token_to_piece(sp_h), " h");
  EXPECT_EQ(t.encode("\xC3\xA9", false, false), (Ids{0xC3, 0xA9}));  // bytes via the alphabet
  EXPECT_EQ(t.decode(Ids{0xC3, 0xA9}), "\xC3\xA9");
}

TEST(Bpe, MergesThroughTextsThatAreNotTokens) {
  // "x y" merges into "xy", which is no token: such vocabularies take the string-keyed path
  // (llama.cpp's only one), where "xy" can still merge on, and a leftover non-token symbol falls
  // back to one-byte tokens.
  VocabSpec s = bpe_base("gpt-2");
  s.merges.push_back("x y");
  const int32_t xyz = add_merge(s, "xy", "z");
  const int32_t ab = add_merge(s, "a", "b");
  const Tokenizer t = must_build(s);
  EXPECT_EQ(t.encode("xyz", false, false), (Ids{xyz}));
  EXPECT_EQ(t.encode("xy", false, false), (Ids{'x', 'y'}));
  EXPECT_EQ(t.encode("ab xy", false, false), (Ids{ab, ' ', 'x', 'y'}));
}

TEST(Bpe, IgnoreMergesTakesAWholeWordToken) {
  // llama3-style vocabularies: a word that is itself a token is used as is.
  for (const char* pre : {"llama-bpe", "qwen2"}) {
    VocabSpec s = bpe_base(pre);
    const int32_t word = s.add("xyz");  // no merges lead there
    s.add("<|begin_of_text|>", 0, TokenType::control);
    s.extra.push_back({"tokenizer.ggml.bos_token_id", gguf::Value(uint32_t(257))});
    const Tokenizer t = must_build(s);
    if (std::string(pre) == "llama-bpe") {
      EXPECT_EQ(t.encode("xyz", false, false), (Ids{word}));
      EXPECT_TRUE(t.add_bos());  // llama3 adds BOS by default
      EXPECT_EQ(t.encode("xyz", true, false), (Ids{257, word}));
    } else {
      EXPECT_EQ(t.encode("xyz", false, false), (Ids{'x', 'y', 'z'}));
      EXPECT_FALSE(t.add_bos());
    }
  }
}

TEST(Bpe, CleanSpacesOnDecodeForGpt2Only) {
  for (const char* pre : {"gpt-2", "qwen2"}) {
    VocabSpec s = bpe_base(pre);
    const Tokenizer t = must_build(s);
    const Ids ids = t.encode("a , b . c 's", false, false);
    EXPECT_EQ(t.decode(ids), std::string(pre) == "gpt-2" ? "a, b. c's" : "a , b . c 's") << pre;
  }
}

TEST(Bpe, InvalidUtf8IsReplacementCharacter) {
  VocabSpec s = bpe_base("gpt-2");
  const Tokenizer t = must_build(s);
  // A lone 0xFF byte is read as U+FFFD (EF BF BD), like llama.cpp's unicode_cpts_from_utf8.
  EXPECT_EQ(t.encode("a\xFF", false, false), (Ids{'a', 0xEF, 0xBF, 0xBD}));
  // An overlong NUL (C0 80) is read as its code point.
  EXPECT_EQ(t.encode("\xC0\x80", false, false), (Ids{0}));
}

TEST(Vocab, EndOfGenerationAndTokensFoundByText) {
  VocabSpec s = bpe_base("qwen2");
  const int32_t eot = s.add("<|endoftext|>", 0, TokenType::control);
  const int32_t im_end = s.add("<|im_end|>");  // normal in the file: becomes control (llama.cpp)
  const int32_t pre = s.add("<|fim_prefix|>");
  const int32_t suf = s.add("<|fim_suffix|>");
  const int32_t mid = s.add("<|fim_middle|>");
  const int32_t pad = s.add("<|fim_pad|>", 0, TokenType::control);
  const int32_t unused = s.add("<|unused_0|>", 0, TokenType::control);
  s.extra.push_back({"tokenizer.ggml.eos_token_id", gguf::Value(uint32_t(eot))});
  const Tokenizer t = must_build(s);
  EXPECT_EQ(t.special().eos, eot);
  EXPECT_EQ(t.special().eot, im_end);
  EXPECT_EQ(t.special().fim_pre, pre);
  EXPECT_EQ(t.special().fim_suf, suf);
  EXPECT_EQ(t.special().fim_mid, mid);
  EXPECT_EQ(t.special().fim_pad, pad);
  EXPECT_EQ(t.token_type(im_end), TokenType::control);
  EXPECT_EQ(t.token_type(pre), TokenType::control);
  EXPECT_EQ(t.eog_ids(), (Ids{eot, im_end, pad}));
  EXPECT_FALSE(t.is_eog(pre));
  EXPECT_EQ(t.token_to_piece(im_end), "");
  EXPECT_EQ(t.token_to_piece(im_end, true), "<|im_end|>");
  EXPECT_EQ(t.token_type(unused), TokenType::control);
  EXPECT_EQ(t.special().nl, '\n');  // the byte-level newline "Ċ" is id 10 here
}

TEST(Vocab, MetadataIdsOverrideDefaultsAndBadIdsAreIgnored) {
  VocabSpec s = spm_base();
  s.extra.push_back({"tokenizer.ggml.bos_token_id", gguf::Value(uint32_t(2))});
  s.extra.push_back({"tokenizer.ggml.eos_token_id", gguf::Value(uint32_t(99999))});  // ignored
  s.extra.push_back({"tokenizer.ggml.add_eos_token", gguf::Value(true)});
  s.extra.push_back({"tokenizer.ggml.prefix_token_id", gguf::Value(uint32_t(7))});  // deprecated key
  const Tokenizer t = must_build(s);
  EXPECT_EQ(t.special().bos, 2);
  EXPECT_EQ(t.special().eos, 2);  // the SPM default stays
  EXPECT_EQ(t.special().fim_pre, 7);
  EXPECT_TRUE(t.add_eos());
  EXPECT_EQ(t.special().nl, 3 + '\n');  // <0x0A>
}

TEST(Vocab, LoadErrorsNameTheProblem) {
  VocabSpec s = bpe_base("no-such-pre");
  EXPECT_NE(load_error(s).find("unknown pre-tokenizer tokenizer.ggml.pre='no-such-pre'"),
            std::string::npos);

  s = bpe_base("gpt-2");
  s.model = "bert";
  EXPECT_NE(load_error(s).find("tokenizer.ggml.model='bert' is not supported"), std::string::npos);

  s = spm_base();
  s.scores.resize(10);
  EXPECT_NE(load_error(s).find("tokenizer.ggml.scores has 10 entries for 259 tokens"),
            std::string::npos);

  s = spm_base();
  s.add("<s>");
  EXPECT_NE(load_error(s).find("duplicate token"), std::string::npos);

  s = spm_base();
  s.tokens.clear();
  s.scores.clear();
  s.types.clear();
  s.extra.push_back({"tokenizer.ggml.add_bos_token", gguf::Value(true)});
  EXPECT_NE(load_error(s).find("add_bos_token is true, but tokenizer.ggml.bos_token_id"),
            std::string::npos);

  s = bpe_base("gpt-2");
  s.model = "gpt2";
  // merges present but of the wrong type
  s.extra.push_back({"tokenizer.ggml.merges", gguf::Value(int32_t(3))});
  EXPECT_NE(load_error(s).find("tokenizer.ggml.merges must be an array of strings"),
            std::string::npos);
}

TEST(StreamDecoder, NeverEmitsAPartialCharacter) {
  VocabSpec s = spm_base();
  const int32_t a = s.add("a", -1);
  s.extra.push_back({"tokenizer.ggml.add_space_prefix", gguf::Value(false)});
  const Tokenizer t = must_build(s);
  const auto byte = [](int b) { return 3 + b; };
  StreamDecoder d(t);
  // "你" = E4 BD A0 split over three byte tokens.
  EXPECT_EQ(d.push(byte(0xE4)), "");
  EXPECT_EQ(d.push(byte(0xBD)), "");
  EXPECT_EQ(d.push(byte(0xA0)), "\xE4\xBD\xA0");
  // 😀 = F0 9F 98 80, then an ordinary token.
  EXPECT_EQ(d.push(byte(0xF0)), "");
  EXPECT_EQ(d.push(byte(0x9F)), "");
  EXPECT_EQ(d.push(byte(0x98)), "");
  EXPECT_EQ(d.push(byte(0x80)), "\xF0\x9F\x98\x80");
  EXPECT_EQ(d.push(a), "a");
  // A sequence that can never complete comes out as U+FFFD, and the rest follows it.
  EXPECT_EQ(d.push(byte(0xFF)), "\xEF\xBF\xBD");
  EXPECT_EQ(d.push(byte(0xE4)), "");
  EXPECT_EQ(d.push(a), "\xEF\xBF\xBD" "a");
  EXPECT_EQ(d.push(byte(0xE0)), "");
  EXPECT_EQ(d.push(byte(0x80)), "\xEF\xBF\xBD\xEF\xBF\xBD");  // E0 80 is never valid
  // flush() hands over an unfinished character as U+FFFD.
  EXPECT_EQ(d.push(byte(0xC3)), "");
  EXPECT_EQ(d.flush(), "\xEF\xBF\xBD");
  EXPECT_EQ(d.flush(), "");
  // Out-of-range ids produce nothing.
  EXPECT_EQ(d.push(-1), "");
  EXPECT_EQ(d.push(1 << 20), "");
}

}  // namespace
}  // namespace ag::tok::test
