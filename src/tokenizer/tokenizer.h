#pragma once
// Tokenizers read from GGUF metadata (tokenizer.ggml.*), matching llama.cpp's llama-vocab.cpp on
// the same files: SentencePiece-style ("llama": score-ordered bigram merges, byte fallback, "▁"
// spaces) and byte-level BPE ("gpt2": pre-tokenizer regexes chosen by tokenizer.ggml.pre, merges
// by rank). A Tokenizer is immutable after loading and safe to use from many threads; copies are
// cheap (they share one vocabulary).
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace ag::gguf {
class File;
}

namespace ag::tok {

// Values of tokenizer.ggml.token_type (llama_token_type in llama.cpp).
enum class TokenType : int32_t {
  undefined = 0,
  normal = 1,
  unknown = 2,
  control = 3,
  user_defined = 4,
  unused = 5,
  byte = 6,
};

enum class VocabKind { none, spm, bpe };

// Special token ids; -1 when the model has none.
struct SpecialIds {
  int32_t bos = -1, eos = -1, eot = -1, eom = -1, pad = -1, unk = -1, sep = -1, nl = -1;
  int32_t fim_pre = -1, fim_suf = -1, fim_mid = -1, fim_pad = -1, fim_rep = -1, fim_sep = -1;
};

class Tokenizer {
 public:
  // Reads tokenizer.ggml.* metadata. Errors name the key and the problem (missing tokens, array
  // lengths that disagree, an unknown model or pre-tokenizer name, a malformed merge).
  static Result<Tokenizer> from_gguf(const gguf::File& file);

  VocabKind kind() const;
  const std::string& pre() const;  // tokenizer.ggml.pre as given ("" when absent)
  int32_t n_tokens() const;
  const SpecialIds& special() const;
  bool add_bos() const;
  bool add_eos() const;
  bool add_space_prefix() const;  // SPM: a space is put before the text (and stripped on decode)
  // End of generation: eos, eot, eom, FIM pad/repo/sep and tokens llama.cpp recognises by text
  // (<|im_end|>, <|endoftext|>, <end_of_turn>, ...).
  bool is_eog(int32_t id) const;
  const std::vector<int32_t>& eog_ids() const;  // sorted

  // add_special: BOS/EOS as the model's add_bos / add_eos flags say.
  // parse_special: control tokens written in the text ("<|im_start|>") become their ids;
  // user-defined tokens are always matched whole, as llama.cpp does.
  // Invalid UTF-8 never fails: BPE sees it as U+FFFD, SPM as byte tokens.
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;
  // Text that continues earlier text (a FIM suffix, CodeLlama's encode_infilling): like
  // encode(text, false, false) but without the SentencePiece space prefix.
  std::vector<int32_t> encode_continuation(std::string_view text) const;

  // Whole-sequence detokenization (llama_detokenize): strips the space-prefix space, applies the
  // vocabulary's clean-up rules. render_special=false drops control tokens and a leading BOS /
  // trailing EOS; ids out of range are skipped.
  std::string decode(std::span<const int32_t> ids, bool render_special = false) const;
  // Text of one token as generated output (llama_token_to_piece): bytes, may be a partial UTF-8
  // character. Empty for control / unknown tokens unless render_special.
  std::string token_to_piece(int32_t id, bool render_special = false) const;

  std::string_view token_text(int32_t id) const;  // raw vocabulary string ("" if out of range)
  TokenType token_type(int32_t id) const;         // undefined if out of range
  float token_score(int32_t id) const;
  // Exact vocabulary lookup by raw text; -1 when absent.
  int32_t find_token(std::string_view text) const;

  struct Impl;

 private:
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::vector<int32_t> encode_impl(std::string_view text, bool add_special, bool parse_special,
                                   bool space_prefix) const;
  std::string_view token_to_piece_view(int32_t id, bool render_special) const;
  std::shared_ptr<const Impl> impl_;
};

// Streaming detokenizer for generated text: push() returns only complete UTF-8; a partial
// multi-byte character is held back until the following token completes it. flush() returns
// the rest. Output is always valid UTF-8: invalid bytes become U+FFFD. Generated text continues
// the prompt, so (like llama.cpp's server) no leading space is stripped. One per request.
class StreamDecoder {
 public:
  explicit StreamDecoder(const Tokenizer& tokenizer, bool render_special = false);
  std::string push(int32_t id);
  std::string flush();

 private:
  const Tokenizer* tokenizer_;
  bool render_special_;
  std::string pending_;  // bytes of an incomplete UTF-8 character
};

}  // namespace ag::tok
