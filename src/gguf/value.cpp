// Metadata values: type names, conversions and the human-readable rendering used by `inspect`.
#include <algorithm>
#include <limits>
#include <string>
#include <type_traits>

#include "gguf/gguf.h"

namespace ag::gguf {

std::string_view value_type_name(ValueType t) {
  switch (t) {
    case ValueType::UINT8: return "u8";
    case ValueType::INT8: return "i8";
    case ValueType::UINT16: return "u16";
    case ValueType::INT16: return "i16";
    case ValueType::UINT32: return "u32";
    case ValueType::INT32: return "i32";
    case ValueType::FLOAT32: return "f32";
    case ValueType::BOOL: return "bool";
    case ValueType::STRING: return "string";
    case ValueType::ARRAY: return "array";
    case ValueType::UINT64: return "u64";
    case ValueType::INT64: return "i64";
    case ValueType::FLOAT64: return "f64";
  }
  return "unknown";
}

std::optional<int64_t> Value::as_int() const {
  return std::visit(
      [](const auto& v) -> std::optional<int64_t> {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) {
          return v ? 1 : 0;
        } else if constexpr (std::is_same_v<T, uint64_t>) {
          if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
          return static_cast<int64_t>(v);
        } else if constexpr (std::is_integral_v<T>) {
          return static_cast<int64_t>(v);
        } else {
          return std::nullopt;
        }
      },
      data);
}

std::optional<double> Value::as_float() const {
  return std::visit(
      [](const auto& v) -> std::optional<double> {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
          return static_cast<double>(v);
        } else {
          return std::nullopt;
        }
      },
      data);
}

std::optional<bool> Value::as_bool() const {
  if (const bool* b = std::get_if<bool>(&data)) return *b;
  return std::nullopt;
}

namespace {

// Quotes a string as JSON-like text, escaping control characters so one value stays on one line.
void append_quoted(std::string& out, const std::string& s, size_t max_chars) {
  out.push_back('"');
  size_t n = 0;
  for (unsigned char c : s) {
    if (n++ == max_chars) {
      out += "...";
      break;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f)
          out += fmt::format("\\x{:02x}", c);
        else
          out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
}

void append_value(std::string& out, const Value& value, size_t max_items) {
  std::visit(
      [&](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) {
          out += v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::string>) {
          append_quoted(out, v, 256);
        } else if constexpr (std::is_same_v<T, Array>) {
          out.push_back('[');
          size_t shown = std::min(max_items, v.items.size());
          for (size_t i = 0; i < shown; ++i) {
            if (i > 0) out += ", ";
            append_value(out, v.items[i], max_items);
          }
          if (shown < v.items.size())
            out += fmt::format("{}... ({} {} items)", shown > 0 ? ", " : "", v.items.size(),
                               value_type_name(v.type));
          out.push_back(']');
        } else if constexpr (std::is_floating_point_v<T>) {
          out += fmt::format("{}", v);
        } else {
          // Widen first so u8/i8 print as numbers, not characters.
          if constexpr (std::is_signed_v<T>)
            out += fmt::format("{}", static_cast<int64_t>(v));
          else
            out += fmt::format("{}", static_cast<uint64_t>(v));
        }
      },
      value.data);
}

}  // namespace

std::string Value::to_display_string(size_t max_items) const {
  std::string out;
  append_value(out, *this, max_items);
  return out;
}

}  // namespace ag::gguf
