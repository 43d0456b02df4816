#include "tokenizer/jinja/py_str.h"

#include <algorithm>

namespace ag::jinja::py {

namespace {

constexpr char32_t kEscapeBase = 0xDC00;  // invalid byte b (>= 0x80) decodes to U+DC00 + b

// Decodes one UTF-8 sequence at s[i]; advances i. Overlong, surrogate and out-of-range forms are
// invalid and decode byte by byte.
char32_t decode_one(std::string_view s, size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  int n = 0;
  char32_t c = 0;
  if ((b0 & 0xE0) == 0xC0) {
    n = 1;
    c = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 2;
    c = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 3;
    c = b0 & 0x07;
  } else {
    ++i;
    return kEscapeBase + b0;
  }
  if (i + n >= s.size()) {
    ++i;
    return kEscapeBase + b0;
  }
  for (int k = 1; k <= n; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) {
      ++i;
      return kEscapeBase + b0;
    }
    c = (c << 6) | (b & 0x3F);
  }
  const char32_t min_by_len[] = {0, 0x80, 0x800, 0x10000};
  if (c < min_by_len[n] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
    ++i;
    return kEscapeBase + b0;
  }
  i += n + 1;
  return c;
}

// Maps for code points outside the simple ranges handled in code.
std::optional<char32_t> simple_upper(char32_t c) {
  if (c >= 'a' && c <= 'z') return c - 32;
  if (c < 0x80) return std::nullopt;
  if (c == 0xB5) return 0x39C;
  if (c >= 0xE0 && c <= 0xFE && c != 0xF7) return c - 32;
  if (c == 0xFF) return 0x178;
  if (c >= 0x100 && c <= 0x17F) {
    if (c == 0x131) return 'I';
    if (c == 0x17F) return 'S';
    if (c == 0x130 || c == 0x138 || c == 0x149) return std::nullopt;
    const bool odd_is_lower = (c <= 0x137) || (c >= 0x14A && c <= 0x177);
    if (odd_is_lower) return (c & 1) ? std::optional<char32_t>(c - 1) : std::nullopt;
    return (c & 1) ? std::nullopt : std::optional<char32_t>(c - 1);  // 0139–0148, 0179–017E
  }
  if (c >= 0x3B1 && c <= 0x3C9) return c == 0x3C2 ? 0x3A3 : c - 32;
  if (c == 0x3AC) return 0x386;
  if (c >= 0x3AD && c <= 0x3AF) return c - 37;
  if (c == 0x3CC) return 0x38C;
  if (c == 0x3CD || c == 0x3CE) return c - 63;
  if (c >= 0x430 && c <= 0x44F) return c - 32;
  if (c >= 0x450 && c <= 0x45F) return c - 80;
  if (c >= 0x460 && c <= 0x481 && (c & 1)) return c - 1;
  if (c >= 0xFF41 && c <= 0xFF5A) return c - 32;
  return std::nullopt;
}

std::optional<char32_t> simple_lower(char32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c < 0x80) return std::nullopt;
  if (c >= 0xC0 && c <= 0xDE && c != 0xD7) return c + 32;
  if (c == 0x178) return 0xFF;
  if (c >= 0x100 && c <= 0x17F) {
    if (c == 0x130 || c == 0x131 || c == 0x138 || c == 0x149 || c == 0x17F) return std::nullopt;
    const bool even_is_upper = (c <= 0x137) || (c >= 0x14A && c <= 0x177);
    if (even_is_upper) return (c & 1) ? std::nullopt : std::optional<char32_t>(c + 1);
    return (c & 1) ? std::optional<char32_t>(c + 1) : std::nullopt;
  }
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;
  if (c == 0x386) return 0x3AC;
  if (c >= 0x388 && c <= 0x38A) return c + 37;
  if (c == 0x38C) return 0x3CC;
  if (c == 0x38E || c == 0x38F) return c + 63;
  if (c >= 0x410 && c <= 0x42F) return c + 32;
  if (c >= 0x400 && c <= 0x40F) return c + 80;
  if (c >= 0x460 && c <= 0x481 && !(c & 1)) return c + 1;
  if (c >= 0xFF21 && c <= 0xFF3A) return c + 32;
  return std::nullopt;
}

// Ligatures (U+FB00–U+FB06) have multi-letter upper and title forms.
const char32_t* ligature_upper(char32_t c) {
  switch (c) {
    case 0xFB00: return U"FF";
    case 0xFB01: return U"FI";
    case 0xFB02: return U"FL";
    case 0xFB03: return U"FFI";
    case 0xFB04: return U"FFL";
    case 0xFB05:
    case 0xFB06: return U"ST";
    default: return nullptr;
  }
}

void append_title(std::u32string& out, char32_t c) {
  if (c == 0xDF) {
    out += U"Ss";
  } else if (const char32_t* up = ligature_upper(c)) {
    out.push_back(up[0]);
    for (const char32_t* p = up + 1; *p; ++p) append_lower(out, *p);
  } else {
    append_upper(out, c);
  }
}

bool in_chars(char32_t c, const std::u32string& chars) {
  return chars.find(c) != std::u32string::npos;
}

}  // namespace

std::u32string decode(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) out.push_back(decode_one(s, i));
  return out;
}

void append_utf8(std::string& out, char32_t c) {
  if (c >= kEscapeBase + 0x80 && c <= kEscapeBase + 0xFF) {
    out.push_back(static_cast<char>(c - kEscapeBase));  // an invalid byte, restored
  } else if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

std::string encode(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) append_utf8(out, c);
  return out;
}

bool is_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

size_t length(std::string_view s) {
  if (is_ascii(s)) return s.size();
  size_t n = 0, i = 0;
  while (i < s.size()) {
    decode_one(s, i);
    ++n;
  }
  return n;
}

bool is_space(char32_t c) {
  return (c >= 9 && c <= 13) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

void append_upper(std::u32string& out, char32_t c) {
  if (c == 0xDF) {
    out += U"SS";
  } else if (c == 0x149) {
    out += U"\u02BCN";
  } else if (const char32_t* lig = ligature_upper(c)) {
    out += lig;
  } else if (auto u = simple_upper(c)) {
    out.push_back(*u);
  } else {
    out.push_back(c);
  }
}

void append_lower(std::u32string& out, char32_t c) {
  if (c == 0x130) {
    out += U"i\u0307";
  } else if (auto l = simple_lower(c)) {
    out.push_back(*l);
  } else {
    out.push_back(c);
  }
}

bool is_upper(char32_t c) { return simple_lower(c).has_value() || c == 0x130; }
bool is_lower(char32_t c) {
  return simple_upper(c).has_value() || c == 0xDF || c == 0x138 || c == 0x149 || (c >= 0xFB00 && c <= 0xFB06);
}
bool is_cased(char32_t c) { return is_upper(c) || is_lower(c); }

bool is_digit(char32_t c) { return c >= '0' && c <= '9'; }

bool is_alpha(char32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  if (is_cased(c)) return true;
  if (c == 0xAA || c == 0xBA) return true;
  if (c < 0x100) return false;  // Latin-1 punctuation and symbols
  if (is_space(c)) return false;
  // Punctuation and symbol blocks; everything else beyond Latin-1 is taken as a letter (CJK,
  // Hangul, kana, Arabic, ...), which is what chat text contains.
  if (c >= 0x2000 && c <= 0x2BFF) return false;
  if (c >= 0x3000 && c <= 0x303F) return false;
  if (c >= 0xFF00 && c <= 0xFF20) return false;
  if (c >= 0xFF3B && c <= 0xFF40) return false;
  if (c >= 0xFF5B && c <= 0xFF65) return false;
  if (c >= 0xD800 && c <= 0xDFFF) return false;
  if (c >= 0xE000 && c <= 0xF8FF) return false;
  if (c >= 0x1F000 && c <= 0x1FAFF) return false;  // emoji
  if (c >= 0x300 && c <= 0x36F) return false;      // combining marks
  return true;
}

bool is_word(char32_t c) { return c == '_' || is_digit(c) || is_alpha(c); }

std::string upper(std::string_view s) {
  std::u32string out;
  for (char32_t c : decode(s)) append_upper(out, c);
  return encode(out);
}

std::string lower(std::string_view s) {
  std::u32string out;
  for (char32_t c : decode(s)) append_lower(out, c);
  return encode(out);
}

std::string title(std::string_view s) {
  std::u32string out;
  bool prev_cased = false;
  for (char32_t c : decode(s)) {
    if (prev_cased) {
      append_lower(out, c);
    } else {
      append_title(out, c);
    }
    prev_cased = is_cased(c);
  }
  return encode(out);
}

std::string capitalize(std::string_view s) {
  std::u32string out;
  bool first = true;
  for (char32_t c : decode(s)) {
    if (first) {
      append_title(out, c);
    } else {
      append_lower(out, c);
    }
    first = false;
  }
  return encode(out);
}

std::string swapcase(std::string_view s) {
  std::u32string out;
  for (char32_t c : decode(s)) {
    if (is_upper(c)) {
      append_lower(out, c);
    } else if (is_lower(c)) {
      append_upper(out, c);
    } else {
      out.push_back(c);
    }
  }
  return encode(out);
}

std::string jinja_title(std::string_view s) {
  // "".join(w[0].upper() + w[1:].lower() for w in re.split(r"([-\s({\[<]+)", s) if w)
  const std::u32string u = decode(s);
  auto is_sep = [](char32_t c) { return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || is_space(c); };
  std::u32string out;
  bool at_word_start = true;
  for (char32_t c : u) {
    if (is_sep(c)) {
      out.push_back(c);
      at_word_start = true;
    } else if (at_word_start) {
      append_upper(out, c);
      at_word_start = false;
    } else {
      append_lower(out, c);
    }
  }
  return encode(out);
}

std::string strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right) {
  const std::u32string u = decode(s);
  const std::u32string set = chars ? decode(*chars) : std::u32string();
  auto strippable = [&](char32_t c) { return chars ? in_chars(c, set) : is_space(c); };
  size_t b = 0, e = u.size();
  if (left)
    while (b < e && strippable(u[b])) ++b;
  if (right)
    while (e > b && strippable(u[e - 1])) --e;
  return encode(std::u32string_view(u).substr(b, e - b));
}

std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit) {
  std::vector<std::string> out;
  if (sep) {
    size_t pos = 0;
    while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
      const size_t k = s.find(*sep, pos);
      if (k == std::string_view::npos) break;
      out.emplace_back(s.substr(pos, k - pos));
      pos = k + sep->size();
    }
    out.emplace_back(s.substr(pos));
    return out;
  }
  const std::u32string u = decode(s);
  size_t i = 0;
  while (true) {
    while (i < u.size() && is_space(u[i])) ++i;
    if (i >= u.size()) break;
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit) {
      out.push_back(encode(std::u32string_view(u).substr(i)));
      break;
    }
    size_t j = i;
    while (j < u.size() && !is_space(u[j])) ++j;
    out.push_back(encode(std::u32string_view(u).substr(i, j - i)));
    i = j;
  }
  return out;
}

std::vector<std::string> rsplit(std::string_view s, const std::optional<std::string>& sep, int64_t maxsplit) {
  std::vector<std::string> out;
  if (sep) {
    size_t end = s.size();
    while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
      if (end < sep->size()) break;
      const size_t k = s.rfind(*sep, end - sep->size());
      if (k == std::string_view::npos) break;
      out.emplace_back(s.substr(k + sep->size(), end - k - sep->size()));
      end = k;
    }
    out.emplace_back(s.substr(0, end));
    std::reverse(out.begin(), out.end());
    return out;
  }
  const std::u32string u = decode(s);
  size_t j = u.size();
  while (true) {
    while (j > 0 && is_space(u[j - 1])) --j;
    if (j == 0) break;
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) >= maxsplit) {
      out.push_back(encode(std::u32string_view(u).substr(0, j)));
      break;
    }
    size_t i = j;
    while (i > 0 && !is_space(u[i - 1])) --i;
    out.push_back(encode(std::u32string_view(u).substr(i, j - i)));
    j = i;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::vector<std::string> splitlines(std::string_view s, bool keepends) {
  const std::u32string u = decode(s);
  std::vector<std::string> out;
  size_t start = 0, i = 0;
  while (i < u.size()) {
    const char32_t c = u[i];
    size_t eol_len = 0;
    if (c == '\r' && i + 1 < u.size() && u[i + 1] == '\n') {
      eol_len = 2;
    } else if (c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C || c == 0x1D || c == 0x1E ||
               c == 0x85 || c == 0x2028 || c == 0x2029) {
      eol_len = 1;
    }
    if (eol_len == 0) {
      ++i;
      continue;
    }
    const size_t end = keepends ? i + eol_len : i;
    out.push_back(encode(std::u32string_view(u).substr(start, end - start)));
    i += eol_len;
    start = i;
  }
  if (start < u.size()) out.push_back(encode(std::u32string_view(u).substr(start)));
  return out;
}

std::string replace(std::string_view s, std::string_view old_s, std::string_view new_s, int64_t count) {
  std::string out;
  if (old_s.empty()) {
    const std::u32string u = decode(s);
    int64_t done = 0;
    for (size_t i = 0; i <= u.size(); ++i) {
      if (count < 0 || done < count) {
        out += new_s;
        ++done;
      }
      if (i < u.size()) append_utf8(out, u[i]);
    }
    return out;
  }
  size_t pos = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    const size_t k = s.find(old_s, pos);
    if (k == std::string_view::npos) break;
    out.append(s.substr(pos, k - pos));
    out.append(new_s);
    pos = k + old_s.size();
    ++done;
  }
  out.append(s.substr(pos));
  return out;
}

int64_t count(std::string_view s, std::string_view sub) {
  if (sub.empty()) return static_cast<int64_t>(length(s)) + 1;
  int64_t n = 0;
  size_t pos = 0;
  while ((pos = s.find(sub, pos)) != std::string_view::npos) {
    ++n;
    pos += sub.size();
  }
  return n;
}

int64_t find(std::string_view s, std::string_view sub, bool reverse) {
  const size_t k = reverse ? s.rfind(sub) : s.find(sub);
  if (k == std::string_view::npos) return -1;
  return static_cast<int64_t>(length(s.substr(0, k)));
}

std::vector<int64_t> slice_indices(int64_t n, std::optional<int64_t> start, std::optional<int64_t> stop,
                                   std::optional<int64_t> step) {
  const int64_t st = step.value_or(1);
  std::vector<int64_t> out;
  if (st == 0) return out;  // the caller reports "slice step cannot be zero"
  auto adjust = [&](std::optional<int64_t> v, int64_t dflt) {
    if (!v) return dflt;
    int64_t x = *v;
    if (x < 0) {
      x += n;
      if (x < 0) x = st < 0 ? -1 : 0;
    } else if (x >= n) {
      x = st < 0 ? n - 1 : n;
    }
    return x;
  };
  const int64_t b = adjust(start, st < 0 ? n - 1 : 0);
  const int64_t e = adjust(stop, st < 0 ? -1 : n);
  if (st > 0) {
    for (int64_t i = b; i < e; i += st) out.push_back(i);
  } else {
    for (int64_t i = b; i > e; i += st) out.push_back(i);
  }
  return out;
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string center(std::string_view s, int64_t width, char32_t fill) {
  const auto n = static_cast<int64_t>(length(s));
  const int64_t marg = width - n;
  if (marg <= 0) return std::string(s);
  const int64_t left = marg / 2 + (marg & width & 1);
  std::string out;
  for (int64_t i = 0; i < left; ++i) append_utf8(out, fill);
  out += s;
  for (int64_t i = 0; i < marg - left; ++i) append_utf8(out, fill);
  return out;
}

}  // namespace ag::jinja::py
