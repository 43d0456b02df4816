#include "tokenizer/unicode.h"

namespace ag::tok {

uint32_t decode_utf8_lenient(std::string_view s, size_t& pos) {
  const auto b = [&](size_t i) { return static_cast<uint8_t>(s[pos + i]); };
  const auto cont = [&](size_t i) { return pos + i < s.size() && (b(i) & 0xC0) == 0x80; };
  const uint8_t c = b(0);
  if (c < 0x80) {
    pos += 1;
    return c;
  }
  if ((c & 0x40) == 0) {  // stray continuation byte
    pos += 1;
    return kReplacementChar;
  }
  if ((c & 0x20) == 0) {
    if (!cont(1)) {
      pos += 1;
      return kReplacementChar;
    }
    const uint32_t cpt = (uint32_t(c & 0x1F) << 6) | (b(1) & 0x3F);
    pos += 2;
    return cpt;
  }
  if ((c & 0x10) == 0) {
    if (!cont(1) || !cont(2)) {
      pos += 1;
      return kReplacementChar;
    }
    const uint32_t cpt = (uint32_t(c & 0x0F) << 12) | (uint32_t(b(1) & 0x3F) << 6) | (b(2) & 0x3F);
    pos += 3;
    return cpt;
  }
  if ((c & 0x08) == 0) {
    if (!cont(1) || !cont(2) || !cont(3)) {
      pos += 1;
      return kReplacementChar;
    }
    const uint32_t cpt = (uint32_t(c & 0x07) << 18) | (uint32_t(b(1) & 0x3F) << 12) |
                         (uint32_t(b(2) & 0x3F) << 6) | (b(3) & 0x3F);
    pos += 4;
    return cpt;
  }
  pos += 1;
  return kReplacementChar;
}

void append_utf8(std::string& out, uint32_t cpt) {
  if (cpt <= 0x7F) {
    out.push_back(static_cast<char>(cpt));
  } else if (cpt <= 0x7FF) {
    out.push_back(static_cast<char>(0xC0 | (cpt >> 6)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  } else if (cpt <= 0xFFFF) {
    out.push_back(static_cast<char>(0xE0 | (cpt >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  } else if (cpt <= 0x10FFFF) {
    out.push_back(static_cast<char>(0xF0 | (cpt >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cpt >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cpt & 0x3F)));
  } else {
    append_utf8(out, kReplacementChar);
  }
}

namespace {

// Valid range of the second byte for each lead byte (RFC 3629 table 3-7); later continuation
// bytes are always 80..BF.
struct LeadInfo {
  uint8_t n;    // sequence length, 0 = invalid lead
  uint8_t lo;   // second byte range
  uint8_t hi;
};

LeadInfo lead_info(uint8_t c) {
  if (c < 0x80) return {1, 0, 0};
  if (c < 0xC2) return {0, 0, 0};
  if (c < 0xE0) return {2, 0x80, 0xBF};
  if (c == 0xE0) return {3, 0xA0, 0xBF};
  if (c == 0xED) return {3, 0x80, 0x9F};
  if (c < 0xF0) return {3, 0x80, 0xBF};
  if (c == 0xF0) return {4, 0x90, 0xBF};
  if (c < 0xF4) return {4, 0x80, 0xBF};
  if (c == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0, 0};
}

// How many bytes of the sequence at `pos` are valid so far (1..n), and its full length n.
// Returns {0, 0} for an invalid lead.
std::pair<size_t, size_t> valid_prefix(std::string_view s, size_t pos) {
  const LeadInfo info = lead_info(static_cast<uint8_t>(s[pos]));
  if (info.n == 0) return {0, 0};
  size_t k = 1;
  while (k < info.n && pos + k < s.size()) {
    const uint8_t c = static_cast<uint8_t>(s[pos + k]);
    const bool ok = k == 1 ? (c >= info.lo && c <= info.hi) : (c & 0xC0) == 0x80;
    if (!ok) break;
    ++k;
  }
  return {k, info.n};
}

}  // namespace

size_t strict_utf8_len(std::string_view s, size_t pos) {
  if (pos >= s.size()) return 0;
  const auto [k, n] = valid_prefix(s, pos);
  return (n != 0 && k == n) ? n : 0;
}

bool is_valid_utf8(std::string_view s) {
  size_t pos = 0;
  while (pos < s.size()) {
    // ASCII runs dominate source code: skip them 8 bytes at a time.
    while (pos + 8 <= s.size()) {
      uint64_t w;
      __builtin_memcpy(&w, s.data() + pos, 8);
      if (w & 0x8080808080808080ull) break;
      pos += 8;
    }
    if (pos >= s.size()) break;
    if (static_cast<uint8_t>(s[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const size_t n = strict_utf8_len(s, pos);
    if (n == 0) return false;
    pos += n;
  }
  return true;
}

size_t incomplete_utf8_tail(std::string_view s) {
  const size_t lo = s.size() > 3 ? s.size() - 3 : 0;
  for (size_t i = s.size(); i-- > lo;) {
    const uint8_t c = static_cast<uint8_t>(s[i]);
    if ((c & 0xC0) == 0x80) continue;  // continuation: keep looking for its lead
    const auto [k, n] = valid_prefix(s, i);
    // Incomplete only if every byte after the lead so far is valid and more are needed.
    return (n != 0 && k == s.size() - i && k < n) ? k : 0;
  }
  return 0;
}

std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) {
    const auto [k, n] = valid_prefix(s, pos);
    if (n != 0 && k == n) {
      out.append(s.substr(pos, n));
      pos += n;
    } else {
      append_utf8(out, kReplacementChar);
      pos += k == 0 ? 1 : k;  // a maximal invalid subpart becomes one U+FFFD
    }
  }
  return out;
}

namespace {

struct ByteAlphabet {
  std::array<std::string, 256> to_utf8;
  std::array<int16_t, 324> from_cpt;  // code points used are 0..323
  ByteAlphabet() {
    from_cpt.fill(-1);
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      const uint32_t cpt = printable ? static_cast<uint32_t>(b) : 256u + static_cast<uint32_t>(n++);
      append_utf8(to_utf8[b], cpt);
      from_cpt[cpt] = static_cast<int16_t>(b);
    }
  }
};

const ByteAlphabet& byte_alphabet() {
  static const ByteAlphabet alphabet;
  return alphabet;
}

}  // namespace

const std::array<std::string, 256>& gpt2_byte_to_utf8() { return byte_alphabet().to_utf8; }

int gpt2_cpt_to_byte(uint32_t cpt) {
  const auto& table = byte_alphabet().from_cpt;
  return cpt < table.size() ? table[cpt] : -1;
}

bool is_unicode_whitespace(uint32_t cpt) {
  switch (cpt) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0:
    case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
      return true;
    default:
      return cpt >= 0x2000 && cpt <= 0x200A;
  }
}

}  // namespace ag::tok
