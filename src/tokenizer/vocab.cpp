// Loading tokenizer.ggml.* metadata into Tokenizer::Impl, following llama_vocab::impl::load.
#include <algorithm>
#include <cctype>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer_impl.h"
#include "tokenizer/unicode.h"

namespace ag::tok {

void TokenIndex::reserve(size_t n) {
  size_t cap = 16;
  while (cap < n + n / 2) cap *= 2;
  slots_.assign(cap, Slot{});
  mask_ = cap - 1;
}

int32_t TokenIndex::insert(const std::vector<TokenData>& texts, int32_t id) {
  const std::string_view text = texts[id].text;
  const uint64_t h = hash_of(text);
  const auto tag = static_cast<uint32_t>(h >> 32);
  for (size_t i = h & mask_;; i = (i + 1) & mask_) {
    Slot& slot = slots_[i];
    if (slot.id < 0) {
      slot = {tag, id};
      return -1;
    }
    if (slot.hash == tag && texts[slot.id].text == text) return slot.id;
  }
}

int32_t TokenIndex::find(const std::vector<TokenData>& texts, std::string_view text) const {
  if (slots_.empty()) return -1;
  const uint64_t h = hash_of(text);
  const auto tag = static_cast<uint32_t>(h >> 32);
  for (size_t i = h & mask_;; i = (i + 1) & mask_) {
    const Slot& slot = slots_[i];
    if (slot.id < 0) return -1;
    if (slot.hash == tag && texts[slot.id].text == text) return slot.id;
  }
}

namespace {

constexpr std::string_view kPrefix = "tokenizer.ggml.";

std::string key(std::string_view name) { return std::string(kPrefix) + std::string(name); }

// A string array (tokens, merges); nullptr when absent.
Result<const gguf::Array*> string_array(const gguf::File& f, std::string_view name) {
  const gguf::Value* v = f.find(key(name));
  if (v == nullptr) return static_cast<const gguf::Array*>(nullptr);
  const gguf::Array* a = v->as_array();
  if (a == nullptr || a->type != gguf::ValueType::STRING) {
    return ag::error("{}: {} must be an array of strings", f.path(), key(name));
  }
  return a;
}

// Reads an optional token id; llama.cpp ignores ids outside the vocabulary (with a warning).
void read_id(const gguf::File& f, std::string_view name, size_t n_tokens, int32_t& id) {
  const gguf::Value* v = f.find(key(name));
  if (v == nullptr) return;
  const auto n = v->as_int();
  if (!n || *n < 0 || static_cast<uint64_t>(*n) >= n_tokens) return;
  id = static_cast<int32_t>(*n);
}

// Token texts llama.cpp uses to find special tokens the metadata does not name, most specific
// first. (llama.cpp scans an unordered map, so with several candidates its pick is arbitrary; the
// order here makes ours deterministic.) "▁<EOT>" is CodeLlama's real token text; llama.cpp only
// lists "_<EOT>" with an ASCII underscore.
constexpr std::string_view kEotTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>",
    "<EOT>", "_<EOT>", "▁<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"};
constexpr std::string_view kEomTexts[] = {"<|eom_id|>"};
constexpr std::string_view kFimPreTexts[] = {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
                                             "<｜fim▁begin｜>", "<PRE>", "▁<PRE>",
                                             "<|code_prefix|>", "<|prefix|>"};
constexpr std::string_view kFimSufTexts[] = {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
                                             "<｜fim▁hole｜>", "<SUF>", "▁<SUF>",
                                             "<|code_suffix|>", "<|suffix|>"};
constexpr std::string_view kFimMidTexts[] = {"<|fim_middle|>", "<fim-middle>", "<fim_middle>",
                                             "<｜fim▁end｜>", "<MID>", "▁<MID>",
                                             "<|code_middle|>", "<|middle|>"};
constexpr std::string_view kFimPadTexts[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>",
                                             "[PAD]"};
constexpr std::string_view kFimRepTexts[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>",
                                             "<REPO>", "<reponame>"};
constexpr std::string_view kFimSepTexts[] = {"<|file_sep|>"};
// llama.cpp also lists "</s>" (for paddleocr); left out here: Qwen vocabularies have "</s>" as an
// ordinary token, and a code model closing an HTML <s> element must not end its generation. Where
// "</s>" is the model's EOS it is in the set anyway.
constexpr std::string_view kEogTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
    "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>", "▁<EOT>", "[EOT]", "[EOS]",
    "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<｜end▁of▁sentence｜>", "[e~["};

template <size_t N>
void detect_by_text(Tokenizer::Impl& v, int32_t& id, const std::string_view (&texts)[N]) {
  if (id >= 0) return;
  for (const auto text : texts) {
    const int32_t found = v.find(text);
    if (found < 0) continue;
    id = found;
    v.tokens[found].attr |= kAttrControl;  // a control-looking token must act as one
    return;
  }
}

bool contains_any(std::string_view s, std::initializer_list<std::string_view> subs) {
  return std::any_of(subs.begin(), subs.end(),
                     [&](std::string_view sub) { return s.find(sub) != std::string_view::npos; });
}

void set_attr(Tokenizer::Impl& v, std::string_view text, uint32_t attr, bool on) {
  const int32_t id = v.find(text);
  if (id < 0) return;
  if (on) {
    v.tokens[id].attr |= attr;
  } else {
    v.tokens[id].attr &= ~attr;
  }
}

}  // namespace

Result<std::shared_ptr<Tokenizer::Impl>> load_vocab(const gguf::File& f) {
  auto impl = std::make_shared<Tokenizer::Impl>();
  Tokenizer::Impl& v = *impl;

  AG_TRY(v.model, f.get_string(key("model")));
  AG_TRY(v.pre, f.get_string_or(key("pre"), ""));

  // Type-specific defaults (llama_vocab::impl::load).
  int32_t def_bos = -1, def_eos = -1, def_unk = -1;
  if (v.model == "llama") {
    v.kind = VocabKind::spm;
    def_bos = 1;
    def_eos = 2;
    def_unk = 0;
    v.add_space_prefix = true;
    v.clean_spaces = false;
    v.add_bos = true;
  } else if (v.model == "gpt2") {
    v.kind = VocabKind::bpe;
    def_bos = 11;
    def_eos = 11;
    v.pre_spec = find_pre_tokenizer(v.pre);
    if (v.pre_spec == nullptr) {
      return ag::error("{}: unknown pre-tokenizer {}='{}' (known: {})", f.path(), key("pre"), v.pre,
                       fmt::join(known_pre_tokenizers(), ", "));
    }
    v.clean_spaces = v.pre_spec->clean_spaces;
    v.ignore_merges = v.pre_spec->ignore_merges;
    v.add_bos = v.pre_spec->add_bos;
    if (v.pre_spec->no_bos_id) def_bos = -1;
  } else if (v.model == "none" || v.model == "no_vocab") {
    v.kind = VocabKind::none;
  } else {
    return ag::error("{}: {}='{}' is not supported (supported: llama, gpt2, none)", f.path(),
                     key("model"), v.model);
  }
  AG_TRY(v.add_space_prefix, f.get_bool_or(key("add_space_prefix"), v.add_space_prefix));

  AG_TRY(const gguf::Array* tokens, string_array(f, "tokens"));
  if (tokens == nullptr) {
    if (v.kind == VocabKind::none) return impl;
    return ag::error("{}: {} is missing", f.path(), key("tokens"));
  }
  const size_t n_tokens = tokens->items.size();
  if (n_tokens >= static_cast<size_t>(INT32_MAX)) {
    return ag::error("{}: {} has {} entries, too many", f.path(), key("tokens"), n_tokens);
  }

  std::vector<float> scores(n_tokens, 0.0f);
  if (const gguf::Value* sv = f.find(key("scores")); sv != nullptr) {
    const gguf::Array* a = sv->as_array();
    if (a == nullptr ||
        (a->type != gguf::ValueType::FLOAT32 && a->type != gguf::ValueType::INT32)) {
      return ag::error("{}: {} must be an array of float32 or int32", f.path(), key("scores"));
    }
    if (a->items.size() < n_tokens) {
      return ag::error("{}: {} has {} entries for {} tokens", f.path(), key("scores"),
                       a->items.size(), n_tokens);
    }
    for (size_t i = 0; i < n_tokens; ++i) scores[i] = static_cast<float>(*a->items[i].as_float());
  }

  std::vector<int32_t> types(n_tokens, static_cast<int32_t>(TokenType::normal));
  if (const gguf::Value* tv = f.find(key("token_type")); tv != nullptr) {
    const gguf::Array* a = tv->as_array();
    if (a == nullptr || a->type != gguf::ValueType::INT32) {
      return ag::error("{}: {} must be an array of int32", f.path(), key("token_type"));
    }
    if (a->items.size() < n_tokens) {
      return ag::error("{}: {} has {} entries for {} tokens", f.path(), key("token_type"),
                       a->items.size(), n_tokens);
    }
    for (size_t i = 0; i < n_tokens; ++i) types[i] = static_cast<int32_t>(*a->items[i].as_int());
  }

  v.tokens.resize(n_tokens);
  v.token_to_id.reserve(n_tokens);
  for (size_t i = 0; i < n_tokens; ++i) {
    TokenData& t = v.tokens[i];
    t.text = *tokens->items[i].as_string();
    if (t.text.empty()) t.text = fmt::format("[EMPTY_{}]", i);  // as llama.cpp: keeps ids unique
    t.score = scores[i];
    switch (static_cast<TokenType>(types[i])) {
      case TokenType::normal: t.attr = kAttrNormal; break;
      case TokenType::unknown: t.attr = kAttrUnknown; break;
      case TokenType::control: t.attr = kAttrControl; break;
      case TokenType::user_defined: t.attr = kAttrUserDefined; break;
      case TokenType::unused: t.attr = kAttrUnused; break;
      case TokenType::byte: t.attr = kAttrByte; break;
      default: t.attr = kAttrUndefined; break;
    }
    const int32_t prev = v.token_to_id.insert(v.tokens, static_cast<int32_t>(i));
    if (prev >= 0) {
      return ag::error("{}: duplicate token in {}: '{}' has ids {} and {}", f.path(), key("tokens"),
                       t.text, prev, i);
    }
  }

  if (v.kind == VocabKind::bpe) {
    AG_TRY(const gguf::Array* merges, string_array(f, "merges"));
    if (merges == nullptr) return ag::error("{}: {} is missing", f.path(), key("merges"));
    // Merges by token id (see MergeTable) when every part and result is a token, which holds
    // for real vocabularies; the string-keyed map (llama.cpp's bpe_ranks) only otherwise.
    const auto& alphabet = gpt2_byte_to_utf8();
    v.merges_by_id = true;
    for (int b = 0; b < 256; ++b) {
      v.byte_char_token[b] = v.find(alphabet[b]);
      v.merges_by_id &= v.byte_char_token[b] >= 0;
    }
    if (v.merges_by_id) {
      v.merge_ids.reserve(merges->items.size());
      std::string joined;
      for (size_t i = 0; i < merges->items.size(); ++i) {
        const std::string_view m = *merges->items[i].as_string();
        const size_t sp = m.find(' ', 1);
        if (sp == std::string::npos) continue;  // llama.cpp files it under ("", ""): never matched
        joined.assign(m.substr(0, sp));
        joined.append(m.substr(sp + 1));
        const int32_t l = v.find(m.substr(0, sp)), r = v.find(m.substr(sp + 1)), res = v.find(joined);
        if (l < 0 || r < 0 || res < 0) {
          v.merges_by_id = false;
          v.merge_ids = MergeTable();
          break;
        }
        v.merge_ids.insert(l, r, static_cast<int32_t>(i), res);
      }
    }
    if (!v.merges_by_id) {
      size_t total = 0;
      for (const auto& item : merges->items) total += item.as_string()->size();
      v.merge_arena.reserve(total);  // exact: the views below must not move
      v.merge_rank.reserve(merges->items.size());
      for (size_t i = 0; i < merges->items.size(); ++i) {
        const std::string& m = *merges->items[i].as_string();
        if (m.find(' ', 1) == std::string::npos) continue;
        const size_t at = v.merge_arena.size();
        v.merge_arena += m;
        v.merge_rank.emplace(std::string_view(v.merge_arena).substr(at, m.size()),
                             static_cast<int32_t>(i));
      }
    }
    AG_TRY(auto pt, PreTokenizer::compile(v.pre_spec->regexes));
    v.pre_tokenizer.emplace(std::move(pt));
  }

  if (v.kind == VocabKind::spm) {
    // Adjacent character pairs inside tokens (any type: llama.cpp's merge looks up every token).
    const auto pack = [](std::string_view c) {
      uint32_t x = 0;
      for (const char b : c) x = (x << 8) | static_cast<uint8_t>(b);
      return x;
    };
    size_t n_pairs = 0;
    for (const TokenData& t : v.tokens) n_pairs += t.text.size();
    v.spm_pairs.reserve(n_pairs);
    for (const TokenData& t : v.tokens) {
      const std::string_view text = t.text;
      size_t prev = 0, pos = std::min(utf8_lead_len(text[0]), text.size());
      while (pos < text.size()) {
        const size_t n = std::min(utf8_lead_len(text[pos]), text.size() - pos);
        const uint32_t a = pack(text.substr(prev, pos - prev)), b = pack(text.substr(pos, n));
        if (a == ~uint32_t{0} && b == ~uint32_t{0}) v.spm_pairs_all = true;  // the table's empty key
        v.spm_pairs.insert(static_cast<int32_t>(a), static_cast<int32_t>(b), 0, 0);
        prev = pos;
        pos += n;
      }
    }
  }

  // Byte fallback ids (llama_vocab::byte_to_token for SPM): "<0xNN>", else the byte itself.
  for (int b = 0; b < 256; ++b) {
    int32_t id = v.find(fmt::format("<0x{:02X}>", b));
    if (id < 0) id = v.find(std::string(1, static_cast<char>(b)));
    v.byte_token[b] = id;
  }

  // Newline token, computed before the special ids are read (as llama.cpp does).
  if (v.kind == VocabKind::spm) {
    v.special.nl = v.byte_token['\n'];
  } else if (v.kind == VocabKind::bpe) {
    std::vector<int32_t> ids;
    v.encode_bpe("\n", ids);
    if (!ids.empty()) v.special.nl = ids[0];
  }

  // Special ids: defaults, then metadata (deprecated FIM keys last, as in llama.cpp).
  SpecialIds& s = v.special;
  s.bos = def_bos;
  s.eos = def_eos;
  s.unk = def_unk;
  for (int32_t* id : {&s.bos, &s.eos, &s.unk}) {
    if (*id >= 0 && static_cast<size_t>(*id) >= n_tokens) *id = -1;
  }
  read_id(f, "bos_token_id", n_tokens, s.bos);
  read_id(f, "eos_token_id", n_tokens, s.eos);
  read_id(f, "eot_token_id", n_tokens, s.eot);
  read_id(f, "eom_token_id", n_tokens, s.eom);
  read_id(f, "unknown_token_id", n_tokens, s.unk);
  read_id(f, "seperator_token_id", n_tokens, s.sep);  // sic: the GGUF key is misspelled
  read_id(f, "padding_token_id", n_tokens, s.pad);
  read_id(f, "fim_pre_token_id", n_tokens, s.fim_pre);
  read_id(f, "fim_suf_token_id", n_tokens, s.fim_suf);
  read_id(f, "fim_mid_token_id", n_tokens, s.fim_mid);
  read_id(f, "fim_pad_token_id", n_tokens, s.fim_pad);
  read_id(f, "fim_rep_token_id", n_tokens, s.fim_rep);
  read_id(f, "fim_sep_token_id", n_tokens, s.fim_sep);
  read_id(f, "prefix_token_id", n_tokens, s.fim_pre);
  read_id(f, "suffix_token_id", n_tokens, s.fim_suf);
  read_id(f, "middle_token_id", n_tokens, s.fim_mid);

  AG_TRY(v.add_bos, f.get_bool_or(key("add_bos_token"), v.add_bos));
  AG_TRY(v.add_eos, f.get_bool_or(key("add_eos_token"), v.add_eos));
  if (v.add_bos && s.bos < 0) {
    return ag::error("{}: {} is true, but {} is not set", f.path(), key("add_bos_token"),
                     key("bos_token_id"));
  }
  if (v.add_eos && s.eos < 0) {
    return ag::error("{}: {} is true, but {} is not set", f.path(), key("add_eos_token"),
                     key("eos_token_id"));
  }

  // Special tokens the metadata does not name, found by their text.
  detect_by_text(v, s.eot, kEotTexts);
  detect_by_text(v, s.eom, kEomTexts);
  detect_by_text(v, s.fim_pre, kFimPreTexts);
  detect_by_text(v, s.fim_suf, kFimSufTexts);
  detect_by_text(v, s.fim_mid, kFimMidTexts);
  detect_by_text(v, s.fim_pad, kFimPadTexts);
  detect_by_text(v, s.fim_rep, kFimRepTexts);
  detect_by_text(v, s.fim_sep, kFimSepTexts);

  // Control tokens named "unused" are unused.
  for (TokenData& t : v.tokens) {
    if ((t.attr & kAttrControl) && t.text.find("unused") != std::string::npos) t.attr |= kAttrUnused;
  }

  // End-of-generation set.
  std::vector<int32_t> eog;
  for (int32_t id : {s.fim_pad, s.fim_rep, s.fim_sep}) {
    if (id >= 0) eog.push_back(id);
  }
  for (const auto text : kEogTexts) {
    const int32_t id = v.find(text);
    if (id < 0) continue;
    eog.push_back(id);
    v.tokens[id].attr |= kAttrControl;
  }
  // gpt-oss: these structure tokens are always rendered.
  for (const auto text : {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"}) {
    const int32_t id = v.find(text);
    if (id >= 0) v.tokens[id].attr = kAttrUserDefined;
  }
  for (int32_t id : {s.eos, s.eot, s.eom}) {
    if (id >= 0) eog.push_back(id);
  }
  std::sort(eog.begin(), eog.end());
  eog.erase(std::unique(eog.begin(), eog.end()), eog.end());
  const auto eog_has = [&](std::string_view text) {
    const int32_t id = v.find(text);
    return id >= 0 && std::binary_search(eog.begin(), eog.end(), id) ? id : -1;
  };
  // o200k_harmony / solar-open: "<|end|>" ends a message, not the generation.
  const bool has_call = eog_has("<|call|>") >= 0 || eog_has("<|calls|>") >= 0;
  if (const int32_t end = eog_has("<|end|>");
      end >= 0 && has_call && (eog_has("<|return|>") >= 0 || eog_has("<|flush|>") >= 0)) {
    eog.erase(std::find(eog.begin(), eog.end(), end));
    v.tokens[end].attr = kAttrUserDefined;
  }
  v.eog_ids = std::move(eog);

  // Special tokens split out before tokenization, longest first.
  for (size_t i = 0; i < n_tokens; ++i) {
    if (v.tokens[i].attr & (kAttrControl | kAttrUserDefined | kAttrUnknown)) {
      v.special_tokens.push_back(static_cast<int32_t>(i));
    }
  }
  std::stable_sort(v.special_tokens.begin(), v.special_tokens.end(), [&](int32_t a, int32_t b) {
    return v.tokens[a].text.size() > v.tokens[b].text.size();
  });
  v.special_matcher.build(v.tokens, v.special_tokens);

  v.piece_offset.resize(n_tokens + 1);
  for (size_t i = 0; i < n_tokens; ++i) {
    v.piece_offset[i] = static_cast<uint32_t>(v.piece_arena.size());
    v.piece_arena += v.make_piece(static_cast<int32_t>(i));
  }
  v.piece_offset[n_tokens] = static_cast<uint32_t>(v.piece_arena.size());

  // Per-model token attributes (llama.cpp sets these by model name; they are not in GGUF).
  AG_TRY(std::string name, f.get_string_or("general.name", ""));
  AG_TRY(const std::string arch, f.get_string_or("general.architecture", ""));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (contains_any(v.pre, {"jina-v2-de", "jina-v2-es", "jina-v2-code"}) ||
      contains_any(arch, {"nomic-bert-moe", "jina-bert-v3"})) {
    set_attr(v, "<mask>", kAttrLstrip, true);
  } else if (contains_any(name, {"phi-3", "phi3"})) {
    for (int32_t id : v.special_tokens) v.tokens[id].attr |= kAttrRstrip;
    set_attr(v, "</s>", kAttrRstrip, true);
    for (const auto text : {"<unk>", "<s>", "<|endoftext|>"}) set_attr(v, text, kAttrRstrip, false);
  } else if (contains_any(name, {"modern-bert"})) {
    set_attr(v, "[MASK]", kAttrLstrip, true);
  }
  return impl;
}

}  // namespace ag::tok
