#pragma once
// UTF-8 helpers shared by the tokenizers. Two decoders on purpose:
// - the lenient one reproduces llama.cpp's unicode_cpt_from_utf8 (what the BPE path sees: any
//   structurally complete sequence is accepted, overlong forms included; a broken byte is U+FFFD);
// - the strict one (RFC 3629) decides what a streamed text delta may contain.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ag::tok {

inline constexpr uint32_t kReplacementChar = 0xFFFD;

// Bytes in the sequence led by `c`, counted as llama.cpp does (continuation bytes count 1).
inline size_t utf8_lead_len(char c) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[static_cast<uint8_t>(c) >> 4];
}

// Lenient decode at `pos` (advanced past the sequence). An invalid or truncated sequence yields
// U+FFFD and advances one byte. Values above U+10FFFF can come back (F5..F7 leads).
uint32_t decode_utf8_lenient(std::string_view s, size_t& pos);

// Appends the UTF-8 encoding of `cpt`; values above U+10FFFF are written as U+FFFD. Surrogates
// are encoded like any other value (llama.cpp does the same).
void append_utf8(std::string& out, uint32_t cpt);

// Length of the strictly valid UTF-8 sequence at `pos`, or 0 when the bytes there do not start
// one (or it is cut short by the end of `s`).
size_t strict_utf8_len(std::string_view s, size_t pos);
bool is_valid_utf8(std::string_view s);

// Number of bytes at the end of `s` that form a strictly valid but incomplete sequence (a
// multi-byte character whose remaining bytes have not arrived yet); 0..3.
size_t incomplete_utf8_tail(std::string_view s);

// Replaces every maximal invalid subsequence with U+FFFD (the WHATWG / Unicode "maximal subpart"
// rule), so the result is valid UTF-8.
std::string sanitize_utf8(std::string_view s);

// GPT-2 byte-level alphabet: every byte maps to one printable code point (bytes_to_unicode in
// openai/gpt-2 encoder.py). Entries are UTF-8 strings of 1 or 2 bytes.
const std::array<std::string, 256>& gpt2_byte_to_utf8();
// Inverse of the above for a code point; -1 when `cpt` is not in the alphabet.
int gpt2_cpt_to_byte(uint32_t cpt);

// Unicode White_Space code points: the set llama.cpp's tokenizers treat as \s.
bool is_unicode_whitespace(uint32_t cpt);

}  // namespace ag::tok
