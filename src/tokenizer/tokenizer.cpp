// Tokenizer front door: special-token partition, encode/decode and token pieces, following
// llama_vocab::impl::tokenize / token_to_piece / detokenize.
#include "tokenizer/tokenizer.h"

#include <algorithm>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace ag::tok {

namespace {

constexpr std::string_view kSpmSpace = "\xE2\x96\x81";  // U+2581 "▁"

bool is_c_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

void replace_all(std::string& s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s.size() + s.size() / 4);
  size_t pos = 0;
  for (size_t hit; (hit = s.find(from, pos)) != std::string::npos; pos = hit + from.size()) {
    out.append(s, pos, hit - pos);
    out += to;
  }
  out.append(s, pos, std::string::npos);
  s.swap(out);
}

// A piece of the input: raw text [begin, end) or a special token.
struct Fragment {
  int32_t token;  // -1 for raw text
  uint32_t begin;
  uint32_t end;
};

}  // namespace

void SpecialMatcher::build(const std::vector<TokenData>& tokens, const std::vector<int32_t>& ids) {
  root_.fill(0);
  nodes_.assign(1, Node{});
  for (const int32_t id : ids) {
    const std::string& text = tokens[id].text;
    int32_t node = 0;
    for (size_t i = 0; i < text.size(); ++i) {
      const auto byte = static_cast<uint8_t>(text[i]);
      int32_t child = 0;
      if (node == 0) {
        child = root_[byte];
      } else {
        auto& ch = nodes_[node].children;
        const auto it = std::lower_bound(ch.begin(), ch.end(), std::make_pair(byte, int32_t{0}));
        if (it != ch.end() && it->first == byte) child = it->second;
      }
      if (child == 0) {
        child = static_cast<int32_t>(nodes_.size());
        nodes_.push_back(Node{});
        if (node == 0) {
          root_[byte] = child;
        } else {
          auto& ch = nodes_[node].children;
          ch.insert(std::lower_bound(ch.begin(), ch.end(), std::make_pair(byte, int32_t{0})),
                    {byte, child});
        }
      }
      node = child;
    }
    if (node != 0) nodes_[node].token = id;
  }
}

void SpecialMatcher::find_present(std::string_view text, std::vector<int32_t>& ids) const {
  if (nodes_.size() <= 1) return;
  std::vector<bool> seen;
  for (size_t start = 0; start < text.size(); ++start) {
    int32_t node = root_[static_cast<uint8_t>(text[start])];
    for (size_t i = start + 1; node != 0; ++i) {
      const int32_t id = nodes_[node].token;
      if (id >= 0) {
        if (seen.size() <= static_cast<size_t>(id)) seen.resize(static_cast<size_t>(id) + 1);
        if (!seen[id]) {
          seen[id] = true;
          ids.push_back(id);
        }
      }
      if (i >= text.size()) break;
      const auto& ch = nodes_[node].children;
      const auto byte = static_cast<uint8_t>(text[i]);
      const auto it = std::lower_bound(ch.begin(), ch.end(), std::make_pair(byte, int32_t{0}));
      node = (it != ch.end() && it->first == byte) ? it->second : 0;
    }
  }
}

namespace {

// llama.cpp's tokenizer_st_partition: for each special token, longest text first, split every
// remaining raw fragment at each of its occurrences (left to right, non-overlapping). Control and
// unknown tokens only take part when parse_special; user-defined ones always do.
std::vector<Fragment> partition(const Tokenizer::Impl& v, std::string_view text, bool parse_special) {
  std::vector<Fragment> frags;
  if (text.empty()) return frags;
  frags.push_back({-1, 0, static_cast<uint32_t>(text.size())});

  std::vector<int32_t> present;
  v.special_matcher.find_present(text, present);
  if (present.empty()) return frags;
  // Keep llama.cpp's processing order (the order of v.special_tokens).
  std::vector<int32_t> order;
  for (const int32_t id : v.special_tokens) {
    if (std::find(present.begin(), present.end(), id) != present.end()) order.push_back(id);
  }

  std::vector<Fragment> next;
  for (const int32_t id : order) {
    const TokenData& t = v.tokens[id];
    if (!parse_special && (t.attr & (kAttrControl | kAttrUnknown))) continue;
    const std::string_view needle = t.text;
    next.clear();
    for (const Fragment f : frags) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      uint32_t pos = f.begin;
      while (pos < f.end) {
        const size_t hit = text.substr(0, f.end).find(needle, pos);
        if (hit == std::string_view::npos) break;
        uint32_t left_end = static_cast<uint32_t>(hit);
        if (t.attr & kAttrLstrip) {
          while (left_end > pos && is_c_space(text[left_end - 1])) --left_end;
        }
        if (left_end > pos) next.push_back({-1, pos, left_end});
        next.push_back({id, 0, 0});
        pos = static_cast<uint32_t>(hit + needle.size());
        if (t.attr & kAttrRstrip) {
          while (pos < f.end && is_c_space(text[pos])) ++pos;
        }
      }
      if (pos < f.end) next.push_back({-1, pos, f.end});
    }
    frags.swap(next);
  }
  return frags;
}

uint8_t byte_of_token(std::string_view text) {
  // llama.cpp: strtol(text.substr(3, 2), 16) on "<0xNN>".
  uint8_t value = 0;
  for (size_t i = 3; i < 5 && i < text.size(); ++i) {
    const char c = text[i];
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      digit = c - 'A' + 10;
    } else {
      break;
    }
    value = static_cast<uint8_t>(value * 16 + digit);
  }
  return value;
}

}  // namespace

std::string Tokenizer::Impl::make_piece(int32_t id) const {
  const TokenData& t = tokens[id];
  if (t.attr & (kAttrUnknown | kAttrControl | kAttrUserDefined)) return t.text;
  if (kind == VocabKind::spm) {
    if (t.attr & kAttrNormal) {
      std::string s = t.text;
      replace_all(s, kSpmSpace, " ");
      return s;
    }
    if (t.attr & kAttrByte) return std::string(1, static_cast<char>(byte_of_token(t.text)));
    return {};
  }
  if (kind == VocabKind::bpe) {
    if (t.attr & kAttrNormal) {
      // Byte-level alphabet back to bytes. A character outside the alphabet (possible only in
      // hand-made vocabularies) is kept as its own UTF-8, where llama.cpp writes "[UNK_BYTE_..]".
      std::string s;
      s.reserve(t.text.size());
      for (size_t pos = 0; pos < t.text.size();) {
        const size_t start = pos;
        const uint32_t cpt = decode_utf8_lenient(t.text, pos);
        const int b = gpt2_cpt_to_byte(cpt);
        if (b >= 0) {
          s.push_back(static_cast<char>(b));
        } else {
          s.append(t.text, start, pos - start);
        }
      }
      return s;
    }
    if (t.attr & kAttrByte) return std::string(1, static_cast<char>(byte_of_token(t.text)));
  }
  return {};
}

Result<Tokenizer> Tokenizer::from_gguf(const gguf::File& file) {
  AG_TRY(auto impl, load_vocab(file));
  return Tokenizer(std::move(impl));
}

VocabKind Tokenizer::kind() const { return impl_->kind; }
const std::string& Tokenizer::pre() const { return impl_->pre; }
int32_t Tokenizer::n_tokens() const { return static_cast<int32_t>(impl_->tokens.size()); }
const SpecialIds& Tokenizer::special() const { return impl_->special; }
bool Tokenizer::add_bos() const { return impl_->add_bos; }
bool Tokenizer::add_eos() const { return impl_->add_eos; }
bool Tokenizer::add_space_prefix() const { return impl_->add_space_prefix; }
const std::vector<int32_t>& Tokenizer::eog_ids() const { return impl_->eog_ids; }

bool Tokenizer::is_eog(int32_t id) const {
  return std::binary_search(impl_->eog_ids.begin(), impl_->eog_ids.end(), id);
}

std::string_view Tokenizer::token_text(int32_t id) const {
  return impl_->valid(id) ? std::string_view(impl_->tokens[id].text) : std::string_view();
}

TokenType Tokenizer::token_type(int32_t id) const {
  if (!impl_->valid(id)) return TokenType::undefined;
  const uint32_t a = impl_->tokens[id].attr;
  if (a & kAttrControl) return TokenType::control;
  if (a & kAttrUserDefined) return TokenType::user_defined;
  if (a & kAttrUnknown) return TokenType::unknown;
  if (a & kAttrByte) return TokenType::byte;
  if (a & kAttrUnused) return TokenType::unused;
  if (a & kAttrNormal) return TokenType::normal;
  return TokenType::undefined;
}

float Tokenizer::token_score(int32_t id) const {
  return impl_->valid(id) ? impl_->tokens[id].score : 0.0f;
}

int32_t Tokenizer::find_token(std::string_view text) const { return impl_->find(text); }

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
  return encode_impl(text, add_special, parse_special, /*space_prefix=*/true);
}

std::vector<int32_t> Tokenizer::encode_impl(std::string_view text, bool add_special,
                                            bool parse_special, bool space_prefix) const {
  const Impl& v = *impl_;
  std::vector<int32_t> out;
  if (v.kind == VocabKind::none) return out;
  const std::vector<Fragment> frags = partition(v, text, parse_special);
  if (v.kind == VocabKind::spm) {
    // SentencePiece puts a space before the text, and llama.cpp again after every special token
    // (a continuation gets none at its start).
    bool prev_special = space_prefix;
    if (add_special && v.add_bos) out.push_back(v.special.bos);
    std::string buf;
    for (const Fragment& f : frags) {
      if (f.token >= 0) {
        out.push_back(f.token);
        prev_special = true;
        continue;
      }
      buf.clear();
      if (v.add_space_prefix && prev_special) buf = ' ';
      buf.append(text.substr(f.begin, f.end - f.begin));
      replace_all(buf, " ", kSpmSpace);
      v.encode_spm(buf, out);
      prev_special = false;
    }
    if (add_special && v.add_eos) out.push_back(v.special.eos);
    return out;
  }
  if (add_special && v.add_bos) out.push_back(v.special.bos);
  for (const Fragment& f : frags) {
    if (f.token >= 0) {
      out.push_back(f.token);
    } else {
      v.encode_bpe(text.substr(f.begin, f.end - f.begin), out);
    }
  }
  if (add_special && v.add_eos) out.push_back(v.special.eos);
  return out;
}

std::vector<int32_t> Tokenizer::encode_continuation(std::string_view text) const {
  return encode_impl(text, false, false, /*space_prefix=*/false);
}

std::string Tokenizer::token_to_piece(int32_t id, bool render_special) const {
  const Impl& v = *impl_;
  if (!v.valid(id)) return {};
  if (!render_special && (v.tokens[id].attr & (kAttrUnknown | kAttrControl))) return {};
  return std::string(v.piece(id));
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool render_special) const {
  const Impl& v = *impl_;
  std::string text;
  if (v.kind == VocabKind::none) return text;
  const bool remove_special = !render_special;
  bool remove_space = v.add_space_prefix;
  if (remove_special && v.add_bos && !ids.empty() && ids.front() == v.special.bos) {
    remove_space = false;  // llama.cpp keeps the space after a leading BOS
    ids = ids.subspan(1);
  }
  if (remove_special && v.add_eos && !ids.empty() && ids.back() == v.special.eos) {
    ids = ids.first(ids.size() - 1);
  }
  for (const int32_t id : ids) {
    std::string_view piece = token_to_piece_view(id, render_special);
    if (remove_space && !piece.empty() && piece.front() == ' ') piece.remove_prefix(1);
    remove_space = false;
    text += piece;
  }
  if (!v.clean_spaces || text.empty()) return text;

  // llama.cpp's clean-up passes (Hugging Face clean_up_tokenization_spaces).
  std::string& t = text;
  size_t total = 1;
  for (size_t i = 1; i < t.size(); ++i) {  // " ?", " !", " .", " ,"
    const char x = t[i];
    if (t[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) --total;
    t[total++] = x;
  }
  t.resize(total);
  total = 1;
  for (size_t i = 1; i < t.size(); ++i) {  // " ' " -> "'"
    const char x = t[i];
    if (x == '\'' && i + 1 < t.size() && t[i - 1] == ' ' && t[i + 1] == ' ') {
      --total;
      t[++i] = '\0';
    }
    t[total++] = x;
  }
  t.resize(total);
  total = 1;
  for (size_t i = 1; i < t.size(); ++i) {  // " 's", " 'm", " 're", " 've"
    const char x = t[i];
    if (t[i - 1] == ' ' && x == '\'' && i + 1 < t.size()) {
      const char x1 = t[i + 1];
      if (x1 == 's' || x1 == 'm') {
        --total;
      } else if (i + 2 < t.size()) {
        const char x2 = t[i + 2];
        if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) --total;
      }
    }
    t[total++] = x;
  }
  t.resize(total);
  return text;
}

std::string_view Tokenizer::token_to_piece_view(int32_t id, bool render_special) const {
  const Impl& v = *impl_;
  if (!v.valid(id)) return {};
  if (!render_special && (v.tokens[id].attr & (kAttrUnknown | kAttrControl))) return {};
  return v.piece(id);
}

}  // namespace ag::tok
