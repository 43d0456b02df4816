#pragma once
// Template text → tokens, with jinja2's lexer rules as transformers configures them:
// trim_blocks (drop the first newline after a block or comment tag), lstrip_blocks (drop spaces
// and tabs before a block or comment tag that starts a line), "-" markers (strip all whitespace,
// newlines included, on that side), "+" markers (disable lstrip/trim for that tag),
// keep_trailing_newline=False (one final newline of the template is dropped), and newlines
// normalized to "\n".
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace ag::jinja {

enum class TokenKind : uint8_t {
  text,         // literal output (value)
  var_begin,    // {{
  var_end,      // }}
  block_begin,  // {%
  block_end,    // %}
  name,         // identifier (value)
  string,       // string literal, escapes decoded (value)
  integer,      // int_value
  floating,     // float_value
  op,           // operator spelling (value): + - * / // % ** ~ ( ) [ ] { } == != < <= > >= = . : | ,
  eof,
};

struct Token {
  TokenKind kind = TokenKind::eof;
  uint32_t pos = 0;  // byte offset in the normalized source, for line/column in errors
  std::string value;
  int64_t int_value = 0;
  double float_value = 0.0;

  bool is_op(std::string_view s) const { return kind == TokenKind::op && value == s; }
  bool is_name(std::string_view s) const { return kind == TokenKind::name && value == s; }
};

struct SourceMap {
  std::vector<uint32_t> line_starts;  // byte offset of each line's first byte
  explicit SourceMap(std::string_view source);
  // "line L, column C" (1-based) for a byte offset.
  std::string where(uint32_t pos) const;
  int line(uint32_t pos) const;
};

// "\r\n" and "\r" become "\n"; one trailing newline is removed.
std::string normalize_source(std::string_view source);

// Tokenizes a normalized source. Errors name the line and column.
Result<std::vector<Token>> tokenize(std::string_view source, const SourceMap& map);

}  // namespace ag::jinja
