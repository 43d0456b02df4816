#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace ag::tok {

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool render_special)
    : tokenizer_(&tokenizer), render_special_(render_special) {}

std::string StreamDecoder::push(int32_t id) {
  pending_ += tokenizer_->token_to_piece(id, render_special_);
  // Hold back a character whose remaining bytes are still to come (byte tokens, or BPE tokens
  // that end inside a multi-byte character); everything before it is final.
  const size_t keep = incomplete_utf8_tail(pending_);
  const std::string_view ready = std::string_view(pending_).substr(0, pending_.size() - keep);
  std::string out = is_valid_utf8(ready) ? std::string(ready) : sanitize_utf8(ready);
  pending_.erase(0, pending_.size() - keep);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out = sanitize_utf8(pending_);  // a character that never completed: U+FFFD
  pending_.clear();
  return out;
}

}  // namespace ag::tok
