#pragma once
// Python `str` semantics over UTF-8 bytes: templates index, slice, strip, split and change case by
// code point, as Python does. Invalid UTF-8 never fails: each bad byte decodes to a lone code
// point U+DC00+byte (Python's "surrogateescape") and encodes back to the same byte, so text
// round-trips unchanged.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ag::jinja::py {

std::u32string decode(std::string_view s);
void append_utf8(std::string& out, char32_t c);
std::string encode(std::u32string_view s);
bool is_ascii(std::string_view s);
size_t length(std::string_view s);  // number of code points

// str.isspace() for one code point.
bool is_space(char32_t c);
// Simple case mappings (ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic; ß → "SS").
void append_upper(std::u32string& out, char32_t c);
void append_lower(std::u32string& out, char32_t c);
bool is_cased(char32_t c);
bool is_upper(char32_t c);
bool is_lower(char32_t c);
bool is_alpha(char32_t c);
bool is_digit(char32_t c);
// \w in Python's re (Unicode): letters, digits, underscore.
bool is_word(char32_t c);

std::string upper(std::string_view s);
std::string lower(std::string_view s);
std::string title(std::string_view s);       // str.title()
std::string capitalize(std::string_view s);  // str.capitalize()
std::string swapcase(std::string_view s);
// jinja2's `title` filter: capitalizes after "-", whitespace, "(", "{", "[" and "<" only.
std::string jinja_title(std::string_view s);

// str.strip / lstrip / rstrip; `chars` absent strips whitespace.
std::string strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right);
// str.split(sep, maxsplit) and str.rsplit; sep absent splits on runs of whitespace.
std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep,
                               int64_t maxsplit);
std::vector<std::string> rsplit(std::string_view s, const std::optional<std::string>& sep,
                                int64_t maxsplit);
std::vector<std::string> splitlines(std::string_view s, bool keepends);
// str.replace(old, new, count); count < 0 replaces all. An empty `old` inserts between code points.
std::string replace(std::string_view s, std::string_view old_s, std::string_view new_s, int64_t count);
// str.count(sub): non-overlapping occurrences.
int64_t count(std::string_view s, std::string_view sub);
// str.find / rfind: code-point index or -1.
int64_t find(std::string_view s, std::string_view sub, bool reverse);
// Python's slice of a sequence of n items: resolved indices to visit, in order.
std::vector<int64_t> slice_indices(int64_t n, std::optional<int64_t> start, std::optional<int64_t> stop,
                                   std::optional<int64_t> step);
// Escapes &, <, >, ", ' as markupsafe.escape does.
std::string html_escape(std::string_view s);
// str.center(width, fill).
std::string center(std::string_view s, int64_t width, char32_t fill);

}  // namespace ag::jinja::py
