#pragma once
// Internal: the loaded vocabulary behind a Tokenizer (shared, immutable after load apart from the
// BPE word cache, which has its own lock).
#include <array>
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace ag::tok {

// llama_token_attr bits. A token's attributes start from its tokenizer.ggml.token_type and are
// then adjusted the way llama.cpp adjusts them (EOG-looking tokens become control, etc.).
enum TokenAttr : uint32_t {
  kAttrUndefined = 0,
  kAttrUnknown = 1u << 0,
  kAttrUnused = 1u << 1,
  kAttrNormal = 1u << 2,
  kAttrControl = 1u << 3,
  kAttrUserDefined = 1u << 4,
  kAttrByte = 1u << 5,
  kAttrLstrip = 1u << 7,  // strip whitespace left of the token when splitting special tokens
  kAttrRstrip = 1u << 8,  // ... and right of it
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StringMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

struct TokenData {
  std::string text;
  float score = 0.0f;
  uint32_t attr = kAttrNormal;
};

// Finds which special-token texts occur in a text in one pass (a byte trie), so the llama.cpp
// partition below only loops over tokens that are actually present.
class SpecialMatcher {
 public:
  void build(const std::vector<TokenData>& tokens, const std::vector<int32_t>& ids);
  // Appends (unsorted, unique) the ids whose text occurs somewhere in `text`.
  void find_present(std::string_view text, std::vector<int32_t>& ids) const;

 private:
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> children;  // sorted by byte
    int32_t token = -1;                                   // id whose text ends here
  };
  std::array<int32_t, 256> root_{};  // child node of the root per first byte, 0 = none
  std::vector<Node> nodes_;          // nodes_[0] is the root
};

// word -> ids (BPE words, SentencePiece segments): words repeat constantly in source code and the
// merge loops are the slow part.
class WordCache {
 public:
  bool lookup(std::string_view word, std::vector<int32_t>& out) const;
  void insert(std::string_view word, const std::vector<int32_t>& ids) const;

 private:
  static constexpr size_t kMaxEntries = 1 << 18;  // cleared when full: bounded memory
  static constexpr size_t kMaxWordBytes = 256;    // longer words are rare and not worth keeping
  mutable std::shared_mutex mutex_;
  mutable StringMap<std::vector<int32_t>> map_;
};

// (left id, right id) -> (rank, merged id): byte-level BPE merges as token ids, in an
// open-addressing table (the merge loop is the hot path of a cold tokenization).
class MergeTable {
 public:
  struct Entry {
    uint64_t key = kEmpty;
    int32_t rank = -1;
    int32_t merged = -1;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};

  void reserve(size_t n);
  // Keeps the first entry for a key (llama.cpp's bpe_ranks.emplace).
  void insert(int32_t left, int32_t right, int32_t rank, int32_t merged);
  const Entry* find(int32_t left, int32_t right) const {
    if (slots_.empty()) return nullptr;
    const uint64_t key = pack(left, right);
    for (size_t i = slot(key);; i = (i + 1) & mask_) {
      const Entry& e = slots_[i];
      if (e.key == key) return &e;
      if (e.key == kEmpty) return nullptr;
    }
  }

 private:
  static uint64_t pack(int32_t l, int32_t r) {
    return (uint64_t(uint32_t(l)) << 32) | uint32_t(r);
  }
  size_t slot(uint64_t key) const { return (key * 0x9E3779B97F4A7C15ull) >> shift_; }
  std::vector<Entry> slots_;
  size_t mask_ = 0;
  int shift_ = 64;
};

// Token text -> id: open addressing over (hash, id) slots, texts compared in place. One probe
// and one text comparison per lookup, where a node-based map costs three cache misses.
class TokenIndex {
 public:
  void reserve(size_t n);
  // Adds `id` (its text is texts[id]); returns the id already holding that text, or -1.
  int32_t insert(const std::vector<TokenData>& texts, int32_t id);
  int32_t find(const std::vector<TokenData>& texts, std::string_view text) const;

 private:
  struct Slot {
    uint32_t hash = 0;
    int32_t id = -1;  // -1 = empty
  };
  static uint64_t hash_of(std::string_view s) { return std::hash<std::string_view>{}(s); }
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

struct Tokenizer::Impl {
  VocabKind kind = VocabKind::none;
  std::string model;  // tokenizer.ggml.model
  std::string pre;    // tokenizer.ggml.pre
  const PreTokenizerSpec* pre_spec = nullptr;

  std::vector<TokenData> tokens;  // [n_tokens]; never resized after load (views point into it)
  TokenIndex token_to_id;
  // BPE merges by token id when every merge's parts and result are tokens (true of real
  // vocabularies); otherwise by string ("left right" -> rank, first wins), as llama.cpp keys them.
  MergeTable merge_ids;
  bool merges_by_id = false;
  std::string merge_arena;  // the merge strings back to back (string-keyed case only)
  std::unordered_map<std::string_view, int32_t> merge_rank;
  std::array<int32_t, 256> byte_char_token{};  // id of each byte's GPT-2 alphabet character

  SpecialIds special;
  bool add_bos = false;
  bool add_eos = false;
  bool add_space_prefix = false;
  bool clean_spaces = false;
  bool ignore_merges = false;
  std::vector<int32_t> eog_ids;         // sorted
  std::vector<int32_t> special_tokens;  // control / user-defined / unknown, longest text first
  SpecialMatcher special_matcher;
  std::string piece_arena;              // token_to_piece (render_special) of every token
  std::vector<uint32_t> piece_offset;   // [n_tokens + 1] into piece_arena
  std::array<int32_t, 256> byte_token{};  // SPM byte fallback id per byte, -1 when absent
  std::optional<PreTokenizer> pre_tokenizer;
  mutable WordCache word_cache;
  // SentencePiece: pairs of adjacent characters that occur inside some token, packed as
  // (first char bytes << 32 | second char bytes). Where two neighbouring characters form no such
  // pair no merge can ever join them, so the text is cut there into segments merged (and cached)
  // independently -- the result is the same as merging the whole text at once.
  MergeTable spm_pairs;
  bool spm_pairs_all = false;  // a pair could not be packed: never cut

  int32_t find(std::string_view text) const {
    return token_to_id.find(tokens, text);
  }
  bool valid(int32_t id) const { return id >= 0 && static_cast<size_t>(id) < tokens.size(); }
  std::string_view piece(int32_t id) const {
    return std::string_view(piece_arena).substr(piece_offset[id], piece_offset[id + 1] - piece_offset[id]);
  }

  // Raw-text fragment encoders (no special-token handling).
  void encode_spm(std::string_view text, std::vector<int32_t>& out) const;
  void spm_segment(std::string_view text, std::vector<int32_t>& out) const;
  void encode_bpe(std::string_view text, std::vector<int32_t>& out) const;
  void bpe_word(std::string_view word, std::vector<int32_t>& out) const;
  void bpe_word_by_id(std::string_view word, std::vector<int32_t>& out) const;
  // llama_vocab::token_to_piece with lstrip = 0.
  std::string make_piece(int32_t id) const;
};

// Loads tokenizer.ggml.* (vocab.cpp).
Result<std::shared_ptr<Tokenizer::Impl>> load_vocab(const gguf::File& file);

}  // namespace ag::tok
