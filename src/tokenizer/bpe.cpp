// Byte-level BPE ("gpt2" vocabularies), as llama.cpp's llm_tokenizer_bpe_session: the text is
// cut into words by the pre-tokenizer, each word's bytes are mapped to the GPT-2 byte alphabet,
// and adjacent symbols are merged by merge rank (lowest first, leftmost on ties).
#include <algorithm>
#include <mutex>
#include <queue>

#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace ag::tok {

bool WordCache::lookup(std::string_view word, std::vector<int32_t>& out) const {
  std::shared_lock lock(mutex_);
  const auto it = map_.find(word);
  if (it == map_.end()) return false;
  out.insert(out.end(), it->second.begin(), it->second.end());
  return true;
}

void WordCache::insert(std::string_view word, const std::vector<int32_t>& ids) const {
  if (word.size() > kMaxWordBytes) return;
  std::unique_lock lock(mutex_);
  if (map_.size() >= kMaxEntries) map_.clear();
  map_.emplace(std::string(word), ids);
}

void MergeTable::reserve(size_t n) {
  size_t cap = 16;
  shift_ = 60;
  while (cap < n + n / 2) {  // load factor <= 2/3: short probes, a table that stays in cache
    cap *= 2;
    --shift_;
  }
  slots_.assign(cap, Entry{});
  mask_ = cap - 1;
}

void MergeTable::insert(int32_t left, int32_t right, int32_t rank, int32_t merged) {
  const uint64_t key = pack(left, right);
  for (size_t i = slot(key);; i = (i + 1) & mask_) {
    Entry& e = slots_[i];
    if (e.key == key) {
      if (rank < e.rank) e = {key, rank, merged};  // the first (lowest-rank) merge wins
      return;
    }
    if (e.key == kEmpty) {
      e = {key, rank, merged};
      return;
    }
  }
}

namespace {

// What llama.cpp's pre-tokenizer does to the text before splitting: decode leniently (a broken
// byte becomes U+FFFD, an overlong form its code point) and re-encode. `subject` is the same
// text for PCRE2, which rejects surrogates: they are stood in for by U+FFFF (same byte length,
// also neither letter, digit nor space), while `canon` keeps their bytes for the words.
void canonicalize(std::string_view text, std::string& canon, std::string& subject) {
  canon.clear();
  canon.reserve(text.size() + 8);
  bool has_surrogate = false;
  for (size_t pos = 0; pos < text.size();) {
    uint32_t cpt = decode_utf8_lenient(text, pos);
    if (cpt > 0x10FFFF) cpt = kReplacementChar;  // llama.cpp throws here
    has_surrogate |= cpt >= 0xD800 && cpt <= 0xDFFF;
    append_utf8(canon, cpt);
  }
  subject = canon;
  if (!has_surrogate) return;
  for (size_t i = 0; i + 2 < subject.size(); ++i) {
    if (static_cast<uint8_t>(subject[i]) == 0xED && static_cast<uint8_t>(subject[i + 1]) >= 0xA0 &&
        (static_cast<uint8_t>(subject[i + 1]) & 0xC0) == 0x80) {
      subject[i] = static_cast<char>(0xEF);
      subject[i + 1] = static_cast<char>(0xBF);
      subject[i + 2] = static_cast<char>(0xBF);
    }
  }
}

struct Symbol {
  int32_t prev;
  int32_t next;
  uint32_t begin;  // byte offset in the byte-level encoded word
  uint32_t n;      // bytes; 0 once merged into its left neighbour
};

struct Bigram {
  int32_t rank;
  int32_t left;
  int32_t right;
  uint32_t size;
};

struct BigramGreater {  // priority_queue top = lowest rank, then leftmost
  bool operator()(const Bigram& l, const Bigram& r) const {
    return l.rank > r.rank || (l.rank == r.rank && l.left > r.left);
  }
};

}  // namespace

void Tokenizer::Impl::encode_bpe(std::string_view text, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  std::string canon_buf, subject_buf;
  std::string_view canon = text, subject = text;
  if (!is_valid_utf8(text)) {
    canonicalize(text, canon_buf, subject_buf);
    canon = canon_buf;
    subject = subject_buf;
  }
  std::vector<TextRange> words;
  pre_tokenizer->split(subject, words);
  for (const TextRange w : words) {
    const std::string_view word = canon.substr(w.begin, w.end - w.begin);
    if (word_cache.lookup(word, out)) continue;
    const size_t before = out.size();
    bpe_word(word, out);
    word_cache.insert(word, std::vector<int32_t>(out.begin() + static_cast<ptrdiff_t>(before), out.end()));
  }
}

// The merge loop over token ids: each symbol is a token, so "left + right == bigram text" is
// "both symbols still hold the ids the bigram was made from".
void Tokenizer::Impl::bpe_word_by_id(std::string_view word, std::vector<int32_t>& out) const {
  struct Sym {
    int32_t prev, next, id;
  };
  struct Pair {
    int32_t rank, left, right, left_id, right_id, merged;
  };
  struct PairGreater {
    bool operator()(const Pair& l, const Pair& r) const {
      return l.rank > r.rank || (l.rank == r.rank && l.left > r.left);
    }
  };
  if (word.size() == 1) {  // punctuation, single digits: nothing to merge
    out.push_back(byte_char_token[static_cast<uint8_t>(word[0])]);
    return;
  }
  // Scratch reused across calls on this thread: words are short and numerous.
  thread_local std::vector<Sym> syms;
  thread_local std::vector<Pair> heap;
  syms.resize(word.size());
  heap.clear();
  for (size_t i = 0; i < word.size(); ++i) {
    syms[i] = {static_cast<int32_t>(i) - 1, i + 1 == word.size() ? -1 : static_cast<int32_t>(i) + 1,
               byte_char_token[static_cast<uint8_t>(word[i])]};
  }
  const PairGreater greater;
  const auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const MergeTable::Entry* e = merge_ids.find(syms[left].id, syms[right].id);
    if (e == nullptr) return;
    heap.push_back({e->rank, left, right, syms[left].id, syms[right].id, e->merged});
    std::push_heap(heap.begin(), heap.end(), greater);
  };
  for (int32_t i = 1; i < static_cast<int32_t>(syms.size()); ++i) try_add(i - 1, i);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), greater);
    const Pair p = heap.back();
    heap.pop_back();
    Sym& l = syms[p.left];
    Sym& r = syms[p.right];
    if (l.id != p.left_id || r.id != p.right_id) continue;  // stale
    l.id = p.merged;
    r.id = -1;
    l.next = r.next;
    if (r.next >= 0) syms[r.next].prev = p.left;
    try_add(l.prev, p.left);
    try_add(p.left, l.next);
  }
  for (int32_t i = 0; i != -1; i = syms[i].next) out.push_back(syms[i].id);
}

void Tokenizer::Impl::bpe_word(std::string_view word, std::vector<int32_t>& out) const {
  const auto& alphabet = gpt2_byte_to_utf8();
  if (merges_by_id && !ignore_merges) {
    bpe_word_by_id(word, out);
    return;
  }
  std::string enc;  // the word in the byte-level alphabet: one 1-2 byte character per input byte
  enc.reserve(word.size() * 2);
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  for (size_t i = 0; i < word.size(); ++i) {
    const std::string& ch = alphabet[static_cast<uint8_t>(word[i])];
    const auto index = static_cast<int32_t>(symbols.size());
    symbols.push_back({index - 1, i + 1 == word.size() ? -1 : index + 1,
                       static_cast<uint32_t>(enc.size()), static_cast<uint32_t>(ch.size())});
    enc += ch;
  }
  const std::string_view text = enc;

  if (ignore_merges) {
    if (const int32_t id = find(text); id >= 0) {
      out.push_back(id);
      return;
    }
    if (merges_by_id) {
      bpe_word_by_id(word, out);
      return;
    }
  }

  std::priority_queue<Bigram, std::vector<Bigram>, BigramGreater> queue;
  std::string key;
  const auto try_add = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const Symbol& l = symbols[left];
    const Symbol& r = symbols[right];
    key.assign(text.substr(l.begin, l.n));
    key += ' ';
    key.append(text.substr(r.begin, r.n));
    const auto it = merge_rank.find(key);
    if (it == merge_rank.end()) return;
    queue.push({it->second, left, right, l.n + r.n});
  };
  for (int32_t i = 1; i < static_cast<int32_t>(symbols.size()); ++i) try_add(i - 1, i);

  while (!queue.empty()) {
    const Bigram b = queue.top();
    queue.pop();
    Symbol& l = symbols[b.left];
    Symbol& r = symbols[b.right];
    // Symbols only grow to the right and start where they started, so equal sizes mean equal
    // text: this is llama.cpp's "left + right == bigram.text" staleness check.
    if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;
    l.n += r.n;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0) symbols[r.next].prev = b.left;
    try_add(l.prev, b.left);
    try_add(b.left, l.next);
  }

  for (int32_t i = 0; i != -1; i = symbols[i].next) {
    const std::string_view piece = text.substr(symbols[i].begin, symbols[i].n);
    const int32_t id = find(piece);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    // Not a token: llama.cpp looks each byte of the encoded text up as a one-byte token.
    for (const char c : piece) {
      const int32_t byte_id = find(std::string_view(&c, 1));
      if (byte_id >= 0) out.push_back(byte_id);
    }
  }
}

}  // namespace ag::tok
