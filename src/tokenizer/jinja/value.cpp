#include "tokenizer/jinja/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "tokenizer/jinja/py_str.h"

namespace ag::jinja {

const Value* DictObj::find(const Value& key) const {
  if (key.is_string()) return find(std::string_view(key.as_string()));
  for (const auto& [k, v] : items)
    if (equals(k, key)) return &v;
  return nullptr;
}

const Value* DictObj::find(std::string_view key) const {
  for (const auto& [k, v] : items)
    if (k.is_string() && k.as_string() == key) return &v;
  return nullptr;
}

void DictObj::set(Value key, Value value) {
  for (auto& [k, v] : items) {
    if (equals(k, key)) {
      v = std::move(value);
      return;
    }
  }
  items.emplace_back(std::move(key), std::move(value));
}

uint32_t nesting_depth(const Value& v) {
  if (v.is_list()) return v.as_list().depth;
  if (v.is_dict()) return v.as_dict().depth;
  return 0;
}

Value Value::list(std::vector<Value> items, bool is_tuple) {
  auto l = std::make_shared<ListObj>();
  l->items = std::move(items);
  l->is_tuple = is_tuple;
  for (const Value& v : l->items) l->depth = std::max(l->depth, nesting_depth(v) + 1);
  return Value(std::move(l));
}

Value Value::generator(std::vector<Value> items) {
  Value v = list(std::move(items));
  v.as_list().is_generator = true;
  return v;
}

Value Value::dict(DictObj d) {
  d.depth = 1;
  for (const auto& kv : d.items) d.depth = std::max({d.depth, nesting_depth(kv.first) + 1, nesting_depth(kv.second) + 1});
  return Value(std::make_shared<DictObj>(std::move(d)));
}
Value Value::ns(NamespaceObj n) { return Value(std::make_shared<NamespaceObj>(std::move(n))); }

const void* Value::identity() const {
  switch (kind()) {
    case Kind::list: return std::get<std::shared_ptr<ListObj>>(v_).get();
    case Kind::dict: return std::get<std::shared_ptr<DictObj>>(v_).get();
    case Kind::ns: return std::get<std::shared_ptr<NamespaceObj>>(v_).get();
    case Kind::callable: return std::get<std::shared_ptr<const Callable>>(v_).get();
    default: return nullptr;
  }
}

bool truthy(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::undefined:
    case Value::Kind::none: return false;
    case Value::Kind::boolean: return v.as_bool();
    case Value::Kind::integer: return v.as_int() != 0;
    case Value::Kind::floating: return v.as_float() != 0.0;
    case Value::Kind::string: return !v.as_string().empty();
    case Value::Kind::list: return v.as_list().is_generator || !v.as_list().items.empty();
    case Value::Kind::dict: return !v.as_dict().items.empty();
    case Value::Kind::ns:
    case Value::Kind::callable: return true;
  }
  return false;
}

std::string_view type_name(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::undefined: return "Undefined";
    case Value::Kind::none: return "NoneType";
    case Value::Kind::boolean: return "bool";
    case Value::Kind::integer: return "int";
    case Value::Kind::floating: return "float";
    case Value::Kind::string: return "str";
    case Value::Kind::list: return v.as_list().is_generator ? "generator" : (v.as_list().is_tuple ? "tuple" : "list");
    case Value::Kind::dict: return "dict";
    case Value::Kind::ns: return "Namespace";
    case Value::Kind::callable: return "function";
  }
  return "object";
}

std::string format_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  const std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));  // "-1.25e+17", shortest
  std::string out;
  size_t i = 0;
  if (sci[0] == '-') {
    out.push_back('-');
    i = 1;
  }
  const size_t e_pos = sci.find('e');
  std::string digits;
  for (size_t k = i; k < e_pos; ++k)
    if (sci[k] != '.') digits.push_back(sci[k]);
  int exp10 = 0;
  std::from_chars(sci.data() + e_pos + (sci[e_pos + 1] == '+' ? 2 : 1), sci.data() + sci.size(), exp10);
  const int ndigits = static_cast<int>(digits.size());
  const int decpt = exp10 + 1;  // value = 0.DIGITS × 10^decpt
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) {
      out += "0.";
      out.append(static_cast<size_t>(-decpt), '0');
      out += digits;
    } else if (decpt >= ndigits) {
      out += digits;
      out.append(static_cast<size_t>(decpt - ndigits), '0');
      out += ".0";
    } else {
      out += digits.substr(0, static_cast<size_t>(decpt));
      out.push_back('.');
      out += digits.substr(static_cast<size_t>(decpt));
    }
    return out;
  }
  out.push_back(digits[0]);
  if (ndigits > 1) {
    out.push_back('.');
    out += digits.substr(1);
  }
  char ebuf[16];
  std::snprintf(ebuf, sizeof(ebuf), "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
  out += ebuf;
  return out;
}

namespace {

// Code points str.isprintable() rejects beyond ASCII (control, format, separators, private use).
bool is_unprintable(char32_t c) {
  return (c >= 0x80 && c <= 0xA0) || c == 0xAD || (c >= 0x600 && c <= 0x605) || c == 0x61C ||
         c == 0x6DD || c == 0x70F || c == 0x180E || (c >= 0x2000 && c <= 0x200F) ||
         (c >= 0x2028 && c <= 0x202F) || (c >= 0x205F && c <= 0x206F) || c == 0x3000 ||
         (c >= 0xD800 && c <= 0xF8FF) || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFB) || c >= 0xFFFE;
}

void append_str_repr(std::string& out, std::string_view s) {
  const bool has_single = s.find('\'') != std::string_view::npos;
  const bool has_double = s.find('"') != std::string_view::npos;
  const char quote = (has_single && !has_double) ? '"' : '\'';
  out.push_back(quote);
  char buf[16];
  for (char32_t c : py::decode(s)) {
    if (c == static_cast<char32_t>(quote) || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7F || (c >= 0x80 && is_unprintable(c))) {
      if (c <= 0xFF) {
        std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned>(c));
      } else if (c <= 0xFFFF) {
        std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
      } else {
        std::snprintf(buf, sizeof(buf), "\\U%08x", static_cast<unsigned>(c));
      }
      out += buf;
    } else {
      py::append_utf8(out, c);
    }
  }
  out.push_back(quote);
}

}  // namespace

namespace {

// Self-containing values (a list appended to itself) print as "..." instead of recursing forever.
constexpr int kMaxPrintDepth = 64;

void append_str_at(std::string& out, const Value& v, int depth);

void append_repr_at(std::string& out, const Value& v, int depth) {
  switch (v.kind()) {
    case Value::Kind::undefined: out += "Undefined"; return;
    case Value::Kind::string: append_str_repr(out, v.as_string()); return;
    default: append_str_at(out, v, depth); return;
  }
}

void append_str_at(std::string& out, const Value& v, int depth) {
  if (depth > kMaxPrintDepth) {
    out += "...";
    return;
  }
  switch (v.kind()) {
    case Value::Kind::undefined: return;
    case Value::Kind::none: out += "None"; return;
    case Value::Kind::boolean: out += v.as_bool() ? "True" : "False"; return;
    case Value::Kind::integer: out += std::to_string(v.as_int()); return;
    case Value::Kind::floating: out += format_float(v.as_float()); return;
    case Value::Kind::string: out += v.as_string(); return;
    case Value::Kind::list: {
      const ListObj& l = v.as_list();
      if (l.is_generator) {
        out += "<generator object>";
        return;
      }
      out.push_back(l.is_tuple ? '(' : '[');
      for (size_t i = 0; i < l.items.size(); ++i) {
        if (i) out += ", ";
        append_repr_at(out, l.items[i], depth + 1);
      }
      if (l.is_tuple && l.items.size() == 1) out.push_back(',');
      out.push_back(l.is_tuple ? ')' : ']');
      return;
    }
    case Value::Kind::dict: {
      out.push_back('{');
      bool first = true;
      for (const auto& [k, val] : v.as_dict().items) {
        if (!first) out += ", ";
        first = false;
        append_repr_at(out, k, depth + 1);
        out += ": ";
        append_repr_at(out, val, depth + 1);
      }
      out.push_back('}');
      return;
    }
    case Value::Kind::ns: {
      out += "<Namespace ";
      append_str_at(out, Value::dict(v.as_ns().attrs), depth + 1);
      out += ">";
      return;
    }
    case Value::Kind::callable:
      out += "<function ";
      out += v.as_callable().name();
      out += ">";
      return;
  }
}

bool equals_at(const Value& a, const Value& b, int depth) {
  using K = Value::Kind;
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_float() == b.as_float();
    return a.as_int() == b.as_int();
  }
  if (a.kind() != b.kind()) return false;
  if (a.identity() != nullptr && a.identity() == b.identity()) return true;
  if (depth > kMaxPrintDepth) return false;
  switch (a.kind()) {
    case K::undefined:
    case K::none: return true;
    case K::string: return a.as_string() == b.as_string();
    case K::list: {
      const ListObj& x = a.as_list();
      const ListObj& y = b.as_list();
      if (x.is_generator || y.is_generator) return false;  // identity only, checked above
      if (x.is_tuple != y.is_tuple || x.items.size() != y.items.size()) return false;
      for (size_t i = 0; i < x.items.size(); ++i)
        if (!equals_at(x.items[i], y.items[i], depth + 1)) return false;
      return true;
    }
    case K::dict: {
      const DictObj& x = a.as_dict();
      const DictObj& y = b.as_dict();
      if (x.items.size() != y.items.size()) return false;
      for (const auto& [k, v] : x.items) {
        const Value* other = y.find(k);
        if (!other || !equals_at(v, *other, depth + 1)) return false;
      }
      return true;
    }
    default: return false;
  }
}

}  // namespace

void append_repr(std::string& out, const Value& v) { append_repr_at(out, v, 0); }
void append_str(std::string& out, const Value& v) { append_str_at(out, v, 0); }

std::string to_str(const Value& v) {
  if (v.is_string()) return v.as_string();
  std::string out;
  append_str(out, v);
  return out;
}

bool equals(const Value& a, const Value& b) { return equals_at(a, b, 0); }

namespace {

Result<int> compare_at(const Value& a, const Value& b, uint32_t depth) {
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) {
      const double x = a.as_float(), y = b.as_float();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    const int64_t x = a.as_int(), y = b.as_int();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    const int c = a.as_string().compare(b.as_string());  // UTF-8 byte order is code-point order
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.is_list() && b.is_list() && a.as_list().is_tuple == b.as_list().is_tuple && !a.is_generator() &&
      !b.is_generator()) {
    const auto& x = a.as_list().items;
    const auto& y = b.as_list().items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (equals(x[i], y[i])) continue;
      if (depth > kMaxValueNesting) return error("comparison nested too deeply");
      return compare_at(x[i], y[i], depth + 1);
    }
    return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
  }
  return error("'<' not supported between instances of '{}' and '{}'", type_name(a), type_name(b));
}

}  // namespace

Result<int> compare(const Value& a, const Value& b) { return compare_at(a, b, 0); }

namespace {

Result<Value> from_json_at(const nlohmann::ordered_json& j, uint32_t depth) {
  using T = nlohmann::ordered_json::value_t;
  switch (j.type()) {
    case T::null: return Value::none();
    case T::boolean: return Value::boolean(j.get<bool>());
    case T::number_integer: return Value::integer(j.get<int64_t>());
    case T::number_unsigned: {
      const auto u = j.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value::floating(static_cast<double>(u));
      return Value::integer(static_cast<int64_t>(u));
    }
    case T::number_float: return Value::floating(j.get<double>());
    case T::string: return Value::string(j.get_ref<const std::string&>());
    case T::array:
    case T::object: {
      if (depth >= kMaxValueNesting) return error("JSON input nested deeper than {} levels", kMaxValueNesting);
      if (j.is_array()) {
        std::vector<Value> items;
        items.reserve(j.size());
        for (const auto& e : j) {
          AG_TRY(Value v, from_json_at(e, depth + 1));
          items.push_back(std::move(v));
        }
        return Value::list(std::move(items));
      }
      DictObj d;
      d.items.reserve(j.size());
      for (const auto& [k, e] : j.items()) {
        AG_TRY(Value v, from_json_at(e, depth + 1));
        d.items.emplace_back(Value::string(k), std::move(v));
      }
      return Value::dict(std::move(d));
    }
    default: return Value::none();  // binary / discarded: never produced by the JSON parser
  }
}

}  // namespace

Result<Value> from_json(const nlohmann::ordered_json& j) { return from_json_at(j, 0); }

namespace {

void append_json_string(std::string& out, std::string_view s, bool ensure_ascii) {
  out.push_back('"');
  char buf[16];
  auto escape_u = [&](unsigned c) {
    std::snprintf(buf, sizeof(buf), "\\u%04x", c);
    out += buf;
  };
  for (char32_t c : py::decode(s)) {
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    if (c < 0x20 || (ensure_ascii && c == 0x7F)) {
      escape_u(static_cast<unsigned>(c));
    } else if (ensure_ascii && c > 0x7F) {
      if (c >= 0x10000) {
        const char32_t v = c - 0x10000;
        escape_u(static_cast<unsigned>(0xD800 + (v >> 10)));
        escape_u(static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
      } else {
        escape_u(static_cast<unsigned>(c));
      }
    } else {
      py::append_utf8(out, c);
    }
  }
  out.push_back('"');
}

void append_json_float(std::string& out, double d) {
  if (std::isnan(d)) {
    out += "NaN";
  } else if (std::isinf(d)) {
    out += d > 0 ? "Infinity" : "-Infinity";
  } else {
    out += format_float(d);
  }
}

struct JsonWriter {
  const JsonStyle& style;
  std::string& out;
  std::string indent_unit;
  std::string item_sep, key_sep;
  bool pretty;
  int depth_guard = 0;

  void newline_indent(int level) {
    out.push_back('\n');
    for (int i = 0; i < level; ++i) out += indent_unit;
  }

  Status key(const Value& k) {
    switch (k.kind()) {
      case Value::Kind::string: append_json_string(out, k.as_string(), style.ensure_ascii); return {};
      case Value::Kind::boolean: out += k.as_bool() ? "\"true\"" : "\"false\""; return {};
      case Value::Kind::none: out += "\"null\""; return {};
      case Value::Kind::integer: out += '"' + std::to_string(k.as_int()) + '"'; return {};
      case Value::Kind::floating: {
        std::string f;
        append_json_float(f, k.as_float());
        out += '"' + f + '"';
        return {};
      }
      default: return error("keys must be str, int, float, bool or None, not {}", type_name(k));
    }
  }

  Status write(const Value& v, int level) {
    if (++depth_guard > 512) return error("tojson: value nested too deeply");
    Status st = write_inner(v, level);
    --depth_guard;
    return st;
  }

  Status write_inner(const Value& v, int level) {
    switch (v.kind()) {
      case Value::Kind::none: out += "null"; return {};
      case Value::Kind::boolean: out += v.as_bool() ? "true" : "false"; return {};
      case Value::Kind::integer: out += std::to_string(v.as_int()); return {};
      case Value::Kind::floating: append_json_float(out, v.as_float()); return {};
      case Value::Kind::string: append_json_string(out, v.as_string(), style.ensure_ascii); return {};
      case Value::Kind::list: {
        if (v.is_generator()) return error("Object of type generator is not JSON serializable");
        const auto& items = v.as_list().items;
        if (items.empty()) {
          out += "[]";
          return {};
        }
        out.push_back('[');
        for (size_t i = 0; i < items.size(); ++i) {
          if (i) out += item_sep;
          if (pretty) newline_indent(level + 1);
          AG_TRY_STATUS(write(items[i], level + 1));
        }
        if (pretty) newline_indent(level);
        out.push_back(']');
        return {};
      }
      case Value::Kind::dict: {
        const DictObj& d = v.as_dict();
        if (d.items.empty()) {
          out += "{}";
          return {};
        }
        std::vector<const std::pair<Value, Value>*> order;
        order.reserve(d.items.size());
        for (const auto& kv : d.items) order.push_back(&kv);
        if (style.sort_keys) {
          Status sort_error;
          std::stable_sort(order.begin(), order.end(), [&](const auto* x, const auto* y) {
            auto c = compare(x->first, y->first);
            if (!c.ok()) {
              if (sort_error.ok()) sort_error = c.error();
              return false;
            }
            return *c < 0;
          });
          AG_TRY_STATUS(sort_error);
        }
        out.push_back('{');
        for (size_t i = 0; i < order.size(); ++i) {
          if (i) out += item_sep;
          if (pretty) newline_indent(level + 1);
          AG_TRY_STATUS(key(order[i]->first));
          out += key_sep;
          AG_TRY_STATUS(write(order[i]->second, level + 1));
        }
        if (pretty) newline_indent(level);
        out.push_back('}');
        return {};
      }
      default: return error("Object of type {} is not JSON serializable", type_name(v));
    }
  }
};

}  // namespace

Status dump_json(std::string& out, const Value& v, const JsonStyle& style) {
  JsonWriter w{style, out, {}, {}, {}, false};
  if (style.indent_is_str) {
    w.pretty = true;
    w.indent_unit = style.indent_str;
  } else if (style.indent >= 0) {
    w.pretty = true;
    w.indent_unit.assign(static_cast<size_t>(style.indent), ' ');
  }
  if (style.has_separators) {
    w.item_sep = style.item_sep;
    w.key_sep = style.key_sep;
  } else {
    w.item_sep = w.pretty ? "," : ", ";
    w.key_sep = ": ";
  }
  return w.write(v, 0);
}

}  // namespace ag::jinja
