#pragma once
// Byte-level BPE pre-tokenization: the text is cut into words by an ordered list of regexes
// chosen by tokenizer.ggml.pre, exactly as llama.cpp does (unicode_regex_split): each regex
// splits every piece left by the previous one into its matches *and* the gaps between them, and a
// regex only sees the piece it splits (look-ahead stops at the piece's end).
//
// Regexes run on PCRE2 (UTF mode, JIT). `\s` / `\S` are rewritten to the Unicode White_Space set
// (what llama.cpp and the Hugging Face tokenizers use; PCRE2's own \s would miss U+0085).
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace ag::tok {

// Per-pre-tokenizer settings, mirroring llama_vocab::impl::load.
struct PreTokenizerSpec {
  std::string_view name;                 // canonical name (first alias)
  std::vector<std::string_view> regexes;
  bool clean_spaces = true;              // detokenize: " ," -> "," etc.
  bool ignore_merges = false;            // a word that is a whole token skips the merges
  bool add_bos = false;                  // default for tokenizer.ggml.add_bos_token
  bool no_bos_id = false;                // chatglm: the model has no BOS token
};

// The spec for a tokenizer.ggml.pre value ("" = missing = "default"); nullptr when unknown.
const PreTokenizerSpec* find_pre_tokenizer(std::string_view pre);
// All names find_pre_tokenizer accepts (for error messages and tests).
std::vector<std::string_view> known_pre_tokenizers();

// `\s` -> White_Space class, `\S` -> its complement (inside and outside [...]).
std::string rewrite_whitespace_classes(std::string_view pattern);

struct TextRange {
  uint32_t begin = 0, end = 0;  // byte offsets
};

class PreTokenizer {
 public:
  static Result<PreTokenizer> compile(const std::vector<std::string_view>& patterns);

  // Cuts `text` (valid UTF-8) into consecutive ranges covering all of it. Thread-safe.
  void split(std::string_view text, std::vector<TextRange>& out) const;

  struct Regex;

 private:
  std::vector<std::shared_ptr<const Regex>> regexes_;
};

}  // namespace ag::tok
