// SentencePiece-style BPE ("llama" vocabularies), as llama.cpp's llm_tokenizer_spm_session:
// start from UTF-8 characters, repeatedly merge the adjacent pair whose concatenation is the
// vocabulary token with the highest score (leftmost on ties), then emit each symbol as its token
// or, failing that, as byte tokens.
#include <queue>

#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace ag::tok {

namespace {

// A character's bytes as one number (at most 4 bytes; the lead byte fixes the length).
uint32_t pack_char(std::string_view s) {
  uint32_t v = 0;
  for (const char c : s) v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

struct Symbol {
  int32_t prev;
  int32_t next;
  uint32_t begin;  // byte offset in the text
  uint32_t n;      // bytes; 0 once merged into its left neighbour
};

struct Bigram {
  float score;
  int32_t left;
  int32_t right;
  uint32_t size;
};

struct BigramLess {  // priority_queue top = highest score, then leftmost
  bool operator()(const Bigram& l, const Bigram& r) const {
    return l.score < r.score || (l.score == r.score && l.left > r.left);
  }
};

}  // namespace

void Tokenizer::Impl::encode_spm(std::string_view text, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  if (spm_pairs_all) {
    spm_segment(text, out);
    return;
  }
  const auto emit = [&](std::string_view seg) {
    if (word_cache.lookup(seg, out)) return;
    const size_t before = out.size();
    spm_segment(seg, out);
    word_cache.insert(seg, std::vector<int32_t>(out.begin() + static_cast<ptrdiff_t>(before), out.end()));
  };
  size_t seg_begin = 0;
  size_t prev = 0;  // start of the previous character
  size_t pos = std::min(utf8_lead_len(text[0]), text.size());
  while (pos < text.size()) {
    const size_t n = std::min(utf8_lead_len(text[pos]), text.size() - pos);
    const uint32_t a = pack_char(text.substr(prev, pos - prev));
    const uint32_t b = pack_char(text.substr(pos, n));
    if (spm_pairs.find(static_cast<int32_t>(a), static_cast<int32_t>(b)) == nullptr) {
      emit(text.substr(seg_begin, pos - seg_begin));
      seg_begin = pos;
    }
    prev = pos;
    pos += n;
  }
  emit(text.substr(seg_begin));
}

void Tokenizer::Impl::spm_segment(std::string_view text, std::vector<int32_t>& out) const {
  std::vector<Symbol> symbols;
  symbols.reserve(text.size());
  for (size_t offs = 0; offs < text.size();) {
    const size_t n = std::min(utf8_lead_len(text[offs]), text.size() - offs);
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({index - 1, offs + n == text.size() ? -1 : index + 1,
                       static_cast<uint32_t>(offs), static_cast<uint32_t>(n)});
    offs += n;
  }

  std::priority_queue<Bigram, std::vector<Bigram>, BigramLess> queue;
  const auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const uint32_t size = symbols[left].n + symbols[right].n;
    const int32_t id = find(text.substr(symbols[left].begin, size));
    if (id < 0) return;
    queue.push({tokens[id].score, left, right, size});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Bigram b = queue.top();
    queue.pop();
    Symbol& l = symbols[b.left];
    Symbol& r = symbols[b.right];
    if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;  // stale: a side was merged
    l.n += r.n;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0) symbols[r.next].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }

  for (int32_t i = 0; i != -1; i = symbols[i].next) {
    const Symbol& sym = symbols[i];
    const std::string_view piece = text.substr(sym.begin, sym.n);
    const int32_t id = find(piece);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    // Merged symbols are always tokens, so only a single character lands here: byte fallback.
    bool have_bytes = true;
    for (const char c : piece) have_bytes &= byte_token[static_cast<uint8_t>(c)] >= 0;
    if (have_bytes) {
      for (const char c : piece) out.push_back(byte_token[static_cast<uint8_t>(c)]);
    } else if (special.unk >= 0) {
      out.push_back(special.unk);  // no byte tokens: one <unk> per character (llama.cpp throws)
    }
  }
}

}  // namespace ag::tok
