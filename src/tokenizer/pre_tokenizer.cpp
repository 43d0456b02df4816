#include "tokenizer/pre_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>

#include "tokenizer/unicode.h"

namespace ag::tok {

namespace {

// Regexes as llama.cpp's llm_tokenizer_bpe lists them (src/llama-vocab.cpp), written as raw
// strings; non-ASCII class members are spelled as \x{...} code points.
constexpr std::string_view kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
constexpr std::string_view kLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kJais2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s{512}(?!\S)|\s{256}(?!\S)|\s{128}(?!\S)|\s{64}(?!\S)|\s{32}(?!\S)|\s{16}(?!\S)|\s{8}(?!\S)|\s{4}(?!\S)|\s{1,2}(?!\S)|\s{1})";
constexpr std::string_view kQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen35 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// [一-龥ࠀ-一가-퟿]+
constexpr std::string_view kCjkHangul = R"([\x{4E00}-\x{9FA5}\x{0800}-\x{4E00}\x{AC00}-\x{D7FF}]+)";
// DeepSeek-LLM's letter class (cased letters) as listed in its tokenizer.json.
constexpr std::string_view kDeepseekLlmLetters =
    R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293})"
    R"(\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A})"
    R"(\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556})"
    R"(\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF})"
    R"(\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D})"
    R"(\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D})"
    R"(\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3})"
    R"(\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107})"
    R"(\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D})"
    R"(\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184})"
    R"(\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D})"
    R"(\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF})"
    R"(\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F})"
    R"(\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2})"
    R"(\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)";
// \s?[!-/:-~！-／：-～‘-‟　-。]+
constexpr std::string_view kDeepseekLlmPunct =
    R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)";
constexpr std::string_view kDeepseekV3Main =
    R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// [^(\s|.,!?…。，、।۔،)]
constexpr std::string_view kPoro =
    R"( ?[^(\s|.,!?\x{2026}\x{3002}\x{FF0C}\x{3001}\x{0964}\x{06D4}\x{060C})]+)";
constexpr std::string_view kTekken =
    R"([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kGpt4o =
    R"([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kBailingMoe =
    R"('(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+)";
constexpr std::string_view kSeedCoder =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kMiniCpm5 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}+| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kUfakzeka =
    R"([^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kExaoneMoe =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?(?:\p{L}\p{M}*(?: \p{L}\p{M}*)*)+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]?|\s*[\r\n]|\s+(?!\S)|\s+)";

struct Entry {
  std::vector<std::string_view> aliases;
  PreTokenizerSpec spec;
};

PreTokenizerSpec spec(std::vector<std::string_view> regexes, bool clean_spaces,
                      bool ignore_merges = false, bool add_bos = false, bool no_bos_id = false) {
  PreTokenizerSpec s;
  s.regexes = std::move(regexes);
  s.clean_spaces = clean_spaces;
  s.ignore_merges = ignore_merges;
  s.add_bos = add_bos;
  s.no_bos_id = no_bos_id;
  return s;
}

const std::vector<Entry>& table() {
  static const std::vector<Entry> entries = [] {
    const std::vector<std::string_view> starcoder = {R"(\p{N})", kGpt2};
    const std::vector<std::string_view> poro = {kPoro};
    std::vector<Entry> t = {
        {{"default"},
         spec({R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", R"([0-9][0-9][0-9])"}, true)},
        {{"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2",
          "jina-v5-nano"},
         spec({kLlama3}, true, /*ignore_merges=*/true, /*add_bos=*/true)},
        {{"dbrx", "smaug-bpe"}, spec({kLlama3}, true)},
        {{"jais-2"}, spec({kJais2}, true)},
        {{"deepseek-llm"},
         spec({R"([\r\n])", kDeepseekLlmLetters, kDeepseekLlmPunct, R"(\s+$)", kCjkHangul,
               R"(\p{N}+)"},
              false)},
        {{"deepseek-coder"},
         spec({R"([\r\n])", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kCjkHangul, R"(\p{N})"}, false)},
        {{"deepseek-v3", "hunyuan-dense", "hy_v4", "joyai-llm"},
         spec({R"(\p{N}{1,3})", R"([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)",
               kDeepseekV3Main},
              false)},
        {{"falcon"}, spec({R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, R"([0-9][0-9][0-9])"}, true)},
        {{"starcoder", "refact", "codeshell", "exaone", "minerva-7b", "mellum2"},
         spec(starcoder, true)},
        {{"command-r", "smollm"}, spec(starcoder, false)},
        // gpt-neox: not a llama.cpp name, but GPT-NeoX-20B's tokenizer.json uses the GPT-2 regex.
        {{"gpt-2", "phi-2", "mpt", "olmo", "jais", "gpt-neox", "jina-es", "jina-de", "gigachat",
          "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum", "modern-bert", "exaone4", "jina-v1-en",
          "jina-v2-code", "roberta-bpe"},
         spec({kGpt2}, true)},
        {{"trillion", "granite-docling"}, spec({kGpt2}, false)},
        {{"qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "hunyuan", "solar-open", "grok-2"},
         spec({kQwen2}, false)},
        {{"stablelm2", "megrez"}, spec({kQwen2}, true)},
        {{"qwen35"}, spec({kQwen35}, false)},
        {{"poro-chat"}, spec(poro, false)},
        {{"bloom", "gpt3-finnish"}, spec(poro, true)},
        {{"glm4", "chatglm-bpe"}, spec({kLlama3}, true, false, false, /*no_bos_id=*/true)},
        {{"viking"}, spec({kPoro, R"(\p{N})"}, false)},
        {{"tekken"}, spec({kTekken}, false, /*ignore_merges=*/true, /*add_bos=*/true)},
        {{"chameleon"},
         spec({R"(<sentinel:[0-9]+>)", R"((IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z)",
               R"(([\t\n]|    |  ))", R"(\p{N})", R"([\p{P}!-/:-@\[-`{-~])", kGpt2},
              false, false, /*add_bos=*/true)},
        {{"gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2"}, spec({kGpt4o}, false)},
        {{"bailingmoe", "bailingmoe2", "llada-moe"}, spec({kBailingMoe}, false)},
        {{"seed-coder"}, spec({kSeedCoder}, false)},
        {{"minicpm5"}, spec({R"(\p{N}{1,3})", kMiniCpm5}, true, /*ignore_merges=*/true)},
        {{"ufakzeka"}, spec({kUfakzeka}, false)},
        {{"laguna"}, spec({R"([^\n]+|[\n]+)", kQwen2}, false)},
        {{"exaone-moe"}, spec({kExaoneMoe}, true)},
    };
    for (auto& e : t) e.spec.name = e.aliases.front();
    return t;
  }();
  return entries;
}

// Unicode White_Space, the set llama.cpp's unicode tables mark as whitespace.
constexpr std::string_view kWhiteSpaceBody =
    R"(\t-\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";

}  // namespace

const PreTokenizerSpec* find_pre_tokenizer(std::string_view pre) {
  if (pre.empty()) pre = "default";
  for (const auto& e : table()) {
    if (std::find(e.aliases.begin(), e.aliases.end(), pre) != e.aliases.end()) return &e.spec;
  }
  return nullptr;
}

std::vector<std::string_view> known_pre_tokenizers() {
  std::vector<std::string_view> names;
  for (const auto& e : table()) names.insert(names.end(), e.aliases.begin(), e.aliases.end());
  return names;
}

std::string rewrite_whitespace_classes(std::string_view p) {
  std::string out;
  out.reserve(p.size() + 64);
  bool in_class = false;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\' && i + 1 < p.size()) {
      const char n = p[i + 1];
      ++i;
      if (n == 's') {
        if (!in_class) out += '[';
        out += kWhiteSpaceBody;
        if (!in_class) out += ']';
      } else if (n == 'S' && !in_class) {
        out += "[^";
        out += kWhiteSpaceBody;
        out += ']';
      } else {
        out += c;
        out += n;
      }
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal member, not the end of the class.
      if (i + 1 < p.size() && p[i + 1] == '^') out += p[++i];
      if (i + 1 < p.size() && p[i + 1] == ']') out += p[++i];
      continue;
    }
    if (in_class && c == ']') in_class = false;
    out += c;
  }
  return out;
}

// One compiled regex. pcre2_code is read-only after JIT compilation and shared by all threads;
// match data and the JIT stack are per thread (see MatchScratch).
struct PreTokenizer::Regex {
  pcre2_code* code = nullptr;
  bool jit = false;
  ~Regex() { pcre2_code_free(code); }
};

namespace {

struct MatchScratch {
  pcre2_match_data* data = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* jit_stack = nullptr;
  MatchScratch() {
    data = pcre2_match_data_create(32, nullptr);
    context = pcre2_match_context_create(nullptr);
    // Long whitespace runs against \s+(?!\S) backtrack one frame per character; give the JIT
    // room well beyond any real prompt instead of the default 32 KiB machine stack.
    jit_stack = pcre2_jit_stack_create(64 * 1024, 64 * 1024 * 1024, nullptr);
    if (jit_stack != nullptr) pcre2_jit_stack_assign(context, nullptr, jit_stack);
  }
  ~MatchScratch() {
    pcre2_match_data_free(data);
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(jit_stack);
  }
  MatchScratch(const MatchScratch&) = delete;
  MatchScratch& operator=(const MatchScratch&) = delete;
};

MatchScratch& scratch() {
  thread_local MatchScratch s;
  return s;
}

}  // namespace

Result<PreTokenizer> PreTokenizer::compile(const std::vector<std::string_view>& patterns) {
  PreTokenizer pt;
  for (const auto& pattern : patterns) {
    const std::string rewritten = rewrite_whitespace_classes(pattern);
    int err = 0;
    PCRE2_SIZE err_offset = 0;
    auto regex = std::make_shared<Regex>();
    regex->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(rewritten.data()), rewritten.size(),
                                PCRE2_UTF | PCRE2_DOLLAR_ENDONLY, &err, &err_offset, nullptr);
    if (regex->code == nullptr) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof(msg));
      return ag::error("pre-tokenizer regex '{}' does not compile at offset {}: {}", pattern,
                       static_cast<size_t>(err_offset), reinterpret_cast<const char*>(msg));
    }
    // JIT is an optimisation: without it (unsupported CPU) the interpreter gives the same matches.
    regex->jit = pcre2_jit_compile(regex->code, PCRE2_JIT_COMPLETE) == 0;
    pt.regexes_.push_back(std::move(regex));
  }
  return pt;
}

void PreTokenizer::split(std::string_view text, std::vector<TextRange>& out) const {
  out.clear();
  if (text.empty()) return;
  out.push_back({0, static_cast<uint32_t>(text.size())});
  if (regexes_.empty()) return;

  MatchScratch& ms = scratch();
  std::vector<TextRange> next;
  next.reserve(text.size() / 3 + 4);
  for (const auto& regex : regexes_) {
    next.clear();
    for (const TextRange piece : out) {
      const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data() + piece.begin);
      const size_t len = piece.end - piece.begin;
      size_t cursor = 0;  // end of the last emitted range, relative to the piece
      size_t start = 0;   // where the next search starts
      while (start < len) {
        const int rc = regex->jit
                           ? pcre2_jit_match(regex->code, subject, len, start, 0, ms.data, ms.context)
                           : pcre2_match(regex->code, subject, len, start, PCRE2_NO_UTF_CHECK, ms.data,
                                         ms.context);
        if (rc < 0) break;  // no match (or a resource limit): the rest stays one gap piece
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(ms.data);
        const size_t m_begin = ov[0], m_end = ov[1];
        if (m_begin > cursor) next.push_back({piece.begin + uint32_t(cursor), piece.begin + uint32_t(m_begin)});
        if (m_end > m_begin) {
          next.push_back({piece.begin + uint32_t(m_begin), piece.begin + uint32_t(m_end)});
          cursor = start = m_end;
        } else {
          // An empty match only marks a boundary; search again one character further on.
          cursor = m_begin;
          start = m_begin + utf8_lead_len(text[piece.begin + m_begin]);
        }
      }
      if (cursor < len) next.push_back({piece.begin + uint32_t(cursor), piece.end});
    }
    out.swap(next);
  }
}

}  // namespace ag::tok
