#include "tokenizer/jinja/lexer.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdio>

#include "tokenizer/jinja/py_str.h"

namespace ag::jinja {

SourceMap::SourceMap(std::string_view source) {
  line_starts.push_back(0);
  for (size_t i = 0; i < source.size(); ++i)
    if (source[i] == '\n') line_starts.push_back(static_cast<uint32_t>(i + 1));
}

int SourceMap::line(uint32_t pos) const {
  const auto it = std::upper_bound(line_starts.begin(), line_starts.end(), pos);
  return static_cast<int>(it - line_starts.begin());
}

std::string SourceMap::where(uint32_t pos) const {
  const int l = line(pos);
  const uint32_t col = pos - line_starts[static_cast<size_t>(l - 1)] + 1;
  return "line " + std::to_string(l) + ", column " + std::to_string(col);
}

std::string normalize_source(std::string_view source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out.push_back('\n');
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out.push_back(source[i]);
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

namespace {

bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}
bool is_name_char(char c) { return is_name_start(c) || is_digit(c); }

// Length of the run of (Unicode) whitespace starting at pos: the `\s*` of jinja2's regexes.
size_t whitespace_run(std::string_view s, size_t pos) {
  size_t i = pos;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      if (!py::is_space(static_cast<char32_t>(s[i]))) break;
      ++i;
      continue;
    }
    const std::u32string cp = py::decode(s.substr(i, std::min<size_t>(4, s.size() - i)));
    if (!py::is_space(cp[0])) break;
    std::string enc;
    py::append_utf8(enc, cp[0]);
    i += enc.size();
  }
  return i - pos;
}

bool all_space(std::string_view s) {
  return !s.empty() && whitespace_run(s, 0) == s.size();
}

class Lexer {
 public:
  Lexer(std::string_view src, const SourceMap& map) : src_(src), map_(map) {}

  Result<std::vector<Token>> run() {
    size_t pos = 0;
    bool line_starting = true;
    while (pos < src_.size()) {
      const size_t k = find_tag(pos);
      if (k == std::string_view::npos) {
        emit_text(pos, src_.substr(pos));
        break;
      }
      const char kind = src_[k + 1];
      char sign = 0;
      if (k + 2 < src_.size() && (src_[k + 2] == '-' || src_[k + 2] == '+')) sign = src_[k + 2];
      std::string_view text = src_.substr(pos, k - pos);

      size_t raw_end = 0;
      const bool raw = kind == '%' && match_raw_begin(k, raw_end);
      const std::string stripped = apply_lstrip(text, sign, kind != '{', line_starting);
      emit_text(pos, stripped);

      if (raw) {
        line_starting = src_[raw_end - 1] == '\n';
        AG_TRY(pos, lex_raw(raw_end, line_starting));
        line_starting = src_[pos - 1] == '\n';
        continue;
      }
      const size_t body = k + 2 + (sign ? 1 : 0);
      if (kind == '#') {
        AG_TRY(pos, skip_comment(k, body));
      } else {
        AG_TRY(pos, lex_tag(k, body, kind == '%'));
      }
      line_starting = src_[pos - 1] == '\n';
    }
    Token eof;
    eof.kind = TokenKind::eof;
    eof.pos = static_cast<uint32_t>(src_.size());
    tokens_.push_back(std::move(eof));
    return std::move(tokens_);
  }

 private:
  std::string_view src_;
  const SourceMap& map_;
  std::vector<Token> tokens_;

  Error fail(size_t pos, std::string_view what) const {
    return error("template syntax error at {}: {}", map_.where(static_cast<uint32_t>(pos)), what);
  }

  size_t find_tag(size_t pos) const {
    while (true) {
      const size_t k = src_.find('{', pos);
      if (k == std::string_view::npos || k + 1 >= src_.size()) return std::string_view::npos;
      const char c = src_[k + 1];
      if (c == '{' || c == '%' || c == '#') return k;
      pos = k + 1;
    }
  }

  // The data before a tag: "-" strips all trailing whitespace; otherwise lstrip_blocks removes
  // spaces and tabs between the last newline (or the start of a line) and a block/comment tag.
  static std::string apply_lstrip(std::string_view text, char sign, bool lstrip_allowed, bool line_starting) {
    if (sign == '-') return py::strip(text, std::nullopt, false, true);
    if (sign != '+' && lstrip_allowed) {
      const size_t nl = text.rfind('\n');
      const size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
      if ((l_pos > 0 || line_starting) && all_space(text.substr(l_pos))) return std::string(text.substr(0, l_pos));
    }
    return std::string(text);
  }

  void emit_text(size_t pos, std::string_view text) {
    if (text.empty()) return;
    Token t;
    t.kind = TokenKind::text;
    t.pos = static_cast<uint32_t>(pos);
    t.value.assign(text);
    tokens_.push_back(std::move(t));
  }

  void emit(TokenKind kind, size_t pos, std::string value = {}) {
    Token t;
    t.kind = kind;
    t.pos = static_cast<uint32_t>(pos);
    t.value = std::move(value);
    tokens_.push_back(std::move(t));
  }

  // {%[-+]?\s*raw\s*(-%}\s*|%}) at k; sets `end` past it.
  bool match_raw_begin(size_t k, size_t& end) const {
    size_t p = k + 2;
    if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) ++p;
    p += whitespace_run(src_, p);
    if (src_.compare(p, 3, "raw") != 0) return false;
    p += 3;
    p += whitespace_run(src_, p);
    if (src_.compare(p, 3, "-%}") == 0) {
      p += 3;
      end = p + whitespace_run(src_, p);
      return true;
    }
    if (src_.compare(p, 2, "%}") == 0) {
      end = p + 2;
      return true;
    }
    return false;
  }

  Result<size_t> lex_raw(size_t start, bool line_starting) {
    size_t search = start;
    while (true) {
      const size_t k = src_.find("{%", search);
      if (k == std::string_view::npos) return fail(start, "missing end of raw directive");
      size_t p = k + 2;
      char sign = 0;
      if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) sign = src_[p++];
      p += whitespace_run(src_, p);
      if (src_.compare(p, 6, "endraw") != 0) {
        search = k + 2;
        continue;
      }
      p += 6;
      p += whitespace_run(src_, p);
      size_t end = 0;
      if (src_.compare(p, 3, "+%}") == 0) {
        end = p + 3;
      } else if (src_.compare(p, 3, "-%}") == 0) {
        end = p + 3;
        end += whitespace_run(src_, end);
      } else if (src_.compare(p, 2, "%}") == 0) {
        end = p + 2;
        if (end < src_.size() && src_[end] == '\n') ++end;
      } else {
        search = k + 2;
        continue;
      }
      emit_text(start, apply_lstrip(src_.substr(start, k - start), sign, true, line_starting));
      return end;
    }
  }

  Result<size_t> skip_comment(size_t k, size_t body) {
    const size_t j = src_.find("#}", body);
    if (j == std::string_view::npos) return fail(k, "missing end of comment tag");
    size_t end = j + 2;
    if (j > body && src_[j - 1] == '-') {
      end += whitespace_run(src_, end);
    } else if (j > body && src_[j - 1] == '+') {
      // "+#}": no trim
    } else if (end < src_.size() && src_[end] == '\n') {
      ++end;  // trim_blocks
    }
    return end;
  }

  // Tokens of a {{ ... }} or {% ... %} tag; returns the offset after its end marker.
  Result<size_t> lex_tag(size_t k, size_t p, bool block) {
    emit(block ? TokenKind::block_begin : TokenKind::var_begin, k);
    std::vector<char> brackets;
    while (true) {
      if (brackets.empty()) {
        if (block) {
          if (src_.compare(p, 3, "+%}") == 0) {
            emit(TokenKind::block_end, p);
            return p + 3;
          }
          if (src_.compare(p, 3, "-%}") == 0) {
            emit(TokenKind::block_end, p);
            return p + 3 + whitespace_run(src_, p + 3);
          }
          if (src_.compare(p, 2, "%}") == 0) {
            emit(TokenKind::block_end, p);
            return p + 2 + ((p + 2 < src_.size() && src_[p + 2] == '\n') ? 1 : 0);
          }
        } else {
          if (src_.compare(p, 3, "-}}") == 0) {
            emit(TokenKind::var_end, p);
            return p + 3 + whitespace_run(src_, p + 3);
          }
          if (src_.compare(p, 2, "}}") == 0) {
            emit(TokenKind::var_end, p);
            return p + 2;
          }
        }
      }
      if (p >= src_.size())
        return fail(k, block ? "unexpected end of template: block tag '{%' is never closed"
                             : "unexpected end of template: '{{' is never closed");
      const char c = src_[p];
      if (is_ascii_space(c)) {
        ++p;
        continue;
      }
      if (is_digit(c)) {
        AG_TRY(p, lex_number(p));
        continue;
      }
      if (is_name_start(c)) {
        size_t e = p + 1;
        while (e < src_.size() && is_name_char(src_[e])) ++e;
        emit(TokenKind::name, p, std::string(src_.substr(p, e - p)));
        p = e;
        continue;
      }
      if (c == '\'' || c == '"') {
        AG_TRY(p, lex_string(p));
        continue;
      }
      AG_TRY(p, lex_operator(p, brackets));
    }
  }

  Result<size_t> lex_operator(size_t p, std::vector<char>& brackets) {
    static constexpr std::array<std::string_view, 6> kTwo = {"//", "**", "==", "!=", ">=", "<="};
    for (auto op : kTwo) {
      if (src_.compare(p, 2, op) == 0) {
        emit(TokenKind::op, p, std::string(op));
        return p + 2;
      }
    }
    const char c = src_[p];
    static constexpr std::string_view kOne = "+-/*%~[](){}><=.:|,;";
    if (kOne.find(c) == std::string_view::npos) {
      std::string what = "unexpected character '";
      what += (static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7F) ? std::string(1, c)
                                                                                               : fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
      what += "'";
      return fail(p, what);
    }
    if (c == '(' || c == '[' || c == '{') {
      brackets.push_back(c);
    } else if (c == ')' || c == ']' || c == '}') {
      const char open = c == ')' ? '(' : (c == ']' ? '[' : '{');
      if (brackets.empty()) return fail(p, fmt::format("unexpected '{}'", c));
      if (brackets.back() != open) {
        const char expected = brackets.back() == '(' ? ')' : (brackets.back() == '[' ? ']' : '}');
        return fail(p, fmt::format("unexpected '{}', expected '{}'", c, expected));
      }
      brackets.pop_back();
    }
    emit(TokenKind::op, p, std::string(1, c));
    return p + 1;
  }

  // digits with single underscores between them: (\d+_)*\d+
  size_t digit_run(size_t p) const {
    size_t e = p;
    while (e < src_.size() && is_digit(src_[e])) {
      ++e;
      if (e + 1 < src_.size() && src_[e] == '_' && is_digit(src_[e + 1])) ++e;
    }
    return e;
  }

  Result<size_t> lex_number(size_t p) {
    // Float: (?<!\.)(\d+_)*\d+((\.(\d+_)*\d+)?e[+\-]?(\d+_)*\d+|\.(\d+_)*\d+)
    if (p == 0 || src_[p - 1] != '.') {
      const size_t int_end = digit_run(p);
      size_t e = int_end;
      bool has_frac = false, has_exp = false;
      if (e + 1 < src_.size() && src_[e] == '.' && is_digit(src_[e + 1])) {
        e = digit_run(e + 1);
        has_frac = true;
      }
      if (e < src_.size() && (src_[e] == 'e' || src_[e] == 'E')) {
        size_t x = e + 1;
        if (x < src_.size() && (src_[x] == '+' || src_[x] == '-')) ++x;
        if (x < src_.size() && is_digit(src_[x])) {
          e = digit_run(x);
          has_exp = true;
        }
      }
      if (has_frac || has_exp) {
        std::string digits;
        for (size_t i = p; i < e; ++i)
          if (src_[i] != '_') digits.push_back(src_[i]);
        double d = 0;
        std::from_chars(digits.data(), digits.data() + digits.size(), d);
        Token t;
        t.kind = TokenKind::floating;
        t.pos = static_cast<uint32_t>(p);
        t.float_value = d;
        tokens_.push_back(std::move(t));
        return e;
      }
    }
    // Integer: 0b.., 0o.., 0x.., [1-9](_?\d)*, 0(_?0)*
    int base = 10;
    size_t start = p, e = p;
    auto run = [&](size_t q, auto ok) {
      while (q < src_.size()) {
        if (ok(src_[q])) {
          ++q;
        } else if (src_[q] == '_' && q + 1 < src_.size() && ok(src_[q + 1])) {
          q += 2;
        } else {
          break;
        }
      }
      return q;
    };
    const char c1 = p + 1 < src_.size() ? static_cast<char>(src_[p + 1] | 0x20) : 0;
    auto is_bin = [](char c) { return c == '0' || c == '1'; };
    auto is_oct = [](char c) { return c >= '0' && c <= '7'; };
    auto is_hex = [](char c) { return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f'); };
    auto is_zero = [](char c) { return c == '0'; };
    if (src_[p] == '0' && (c1 == 'b' || c1 == 'o' || c1 == 'x')) {
      base = c1 == 'b' ? 2 : (c1 == 'o' ? 8 : 16);
      const size_t q = c1 == 'b' ? run(p + 2, is_bin) : (c1 == 'o' ? run(p + 2, is_oct) : run(p + 2, is_hex));
      if (q == p + 2) {
        e = run(p + 1, is_zero);  // just "0"
      } else {
        start = p + 2;
        e = q;
      }
    } else if (src_[p] == '0') {
      e = run(p + 1, is_zero);
    } else {
      e = run(p + 1, [](char c) { return is_digit(c); });
    }
    if (base == 10) start = p;
    std::string digits;
    for (size_t i = start; i < e; ++i)
      if (src_[i] != '_') digits.push_back(src_[i]);
    int64_t v = 0;
    const auto res = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
    if (res.ec != std::errc()) return fail(p, "integer literal too large");
    Token t;
    t.kind = TokenKind::integer;
    t.pos = static_cast<uint32_t>(p);
    t.int_value = v;
    tokens_.push_back(std::move(t));
    return e;
  }

  static int hex_value(char c) {
    if (is_digit(c)) return c - '0';
    c = static_cast<char>(c | 0x20);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  }

  // A quoted string; escapes decoded as Python's "unicode-escape" codec does.
  Result<size_t> lex_string(size_t p) {
    const char quote = src_[p];
    size_t i = p + 1;
    std::string out;
    while (true) {
      if (i >= src_.size()) return fail(p, fmt::format("unexpected character '{}' (string is never closed)", quote));
      const char c = src_[i];
      if (c == quote) break;
      if (c != '\\') {
        out.push_back(c);
        ++i;
        continue;
      }
      if (i + 1 >= src_.size()) return fail(p, "string is never closed");
      const char e = src_[i + 1];
      i += 2;
      switch (e) {
        case '\n': break;
        case '\\': out.push_back('\\'); break;
        case '\'': out.push_back('\''); break;
        case '"': out.push_back('"'); break;
        case 'a': out.push_back('\a'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'v': out.push_back('\v'); break;
        case 'x':
        case 'u':
        case 'U': {
          const int n = e == 'x' ? 2 : (e == 'u' ? 4 : 8);
          char32_t v = 0;
          for (int d = 0; d < n; ++d) {
            const int h = i + static_cast<size_t>(d) < src_.size() ? hex_value(src_[i + static_cast<size_t>(d)]) : -1;
            if (h < 0) return fail(i - 2, fmt::format("truncated \\{} escape in string", e));
            v = (v << 4) | static_cast<char32_t>(h);
          }
          if (v > 0x10FFFF) return fail(i - 2, "illegal Unicode character in string escape");
          i += static_cast<size_t>(n);
          py::append_utf8(out, v);
          break;
        }
        case 'N': return fail(i - 2, "named Unicode escapes (\\N{...}) are not supported");
        default:
          if (e >= '0' && e <= '7') {
            char32_t v = static_cast<char32_t>(e - '0');
            for (int d = 0; d < 2 && i < src_.size() && src_[i] >= '0' && src_[i] <= '7'; ++d, ++i)
              v = v * 8 + static_cast<char32_t>(src_[i] - '0');
            py::append_utf8(out, v);
          } else if (static_cast<unsigned char>(e) >= 0x80) {
            // jinja2 first backslash-escapes non-ASCII text, so "\é" reads as "\\xe9" → "\xe9".
            size_t back = i - 1;
            const std::u32string cp = py::decode(src_.substr(back, std::min<size_t>(4, src_.size() - back)));
            std::string enc;
            py::append_utf8(enc, cp[0]);
            i = back + enc.size();
            char buf[16];
            if (cp[0] <= 0xFF) {
              std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned>(cp[0]));
            } else if (cp[0] <= 0xFFFF) {
              std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(cp[0]));
            } else {
              std::snprintf(buf, sizeof(buf), "\\U%08x", static_cast<unsigned>(cp[0]));
            }
            out += buf;
          } else {
            out.push_back('\\');
            out.push_back(e);
          }
      }
    }
    Token t;
    t.kind = TokenKind::string;
    t.pos = static_cast<uint32_t>(p);
    t.value = std::move(out);
    tokens_.push_back(std::move(t));
    return i + 1;
  }
};

}  // namespace

Result<std::vector<Token>> tokenize(std::string_view source, const SourceMap& map) {
  return Lexer(source, map).run();
}

}  // namespace ag::jinja
