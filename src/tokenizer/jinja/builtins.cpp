// Built-in globals (range, namespace, dict, raise_exception, strftime_now), Python-style argument
// binding, number parsing and the two string-formatting operators (% and str.format).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/py_str.h"

namespace ag::jinja {

Result<std::vector<std::optional<Value>>> bind_args(std::string_view fn, const CallArgs& args,
                                                    std::initializer_list<std::string_view> params,
                                                    size_t n_required) {
  std::vector<std::optional<Value>> out(params.size());
  if (args.positional.size() > params.size())
    return error("{}() takes at most {} argument(s) ({} given)", fn, params.size(), args.positional.size());
  for (size_t i = 0; i < args.positional.size(); ++i) out[i] = args.positional[i];
  for (const auto& [name, value] : args.keyword) {
    const auto it = std::find(params.begin(), params.end(), name);
    if (it == params.end()) return error("{}() got an unexpected keyword argument '{}'", fn, name);
    const auto idx = static_cast<size_t>(it - params.begin());
    if (out[idx]) return error("{}() got multiple values for argument '{}'", fn, name);
    out[idx] = value;
  }
  for (size_t i = 0; i < n_required; ++i)
    if (!out[i]) return error("{}() missing required argument '{}'", fn, *(params.begin() + i));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Python number parsing

namespace {

std::string_view trim_ws(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (c >= 'a' && c <= 'z') return c - 'a' + 10;
  return 99;
}

}  // namespace

std::optional<int64_t> parse_py_int(std::string_view s, int base) {
  s = trim_ws(s);
  bool neg = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  auto has_prefix = [&](char p) {
    return s.size() >= 2 && s[0] == '0' && std::tolower(static_cast<unsigned char>(s[1])) == p;
  };
  if (base == 0) {
    if (has_prefix('x')) {
      base = 16;
    } else if (has_prefix('o')) {
      base = 8;
    } else if (has_prefix('b')) {
      base = 2;
    } else {
      base = 10;
      if (s.size() > 1 && s[0] == '0' && std::any_of(s.begin(), s.end(), [](char c) { return c != '0' && c != '_'; }))
        return std::nullopt;  // "012" is invalid in Python 3
    }
    if (base != 10) s.remove_prefix(2);
    if (!s.empty() && s[0] == '_') s.remove_prefix(1);
  } else if ((base == 16 && has_prefix('x')) || (base == 8 && has_prefix('o')) || (base == 2 && has_prefix('b'))) {
    s.remove_prefix(2);
    if (!s.empty() && s[0] == '_') s.remove_prefix(1);
  }
  if (base < 2 || base > 36 || s.empty() || s.front() == '_' || s.back() == '_') return std::nullopt;
  uint64_t v = 0;
  char prev = 0;
  for (char c : s) {
    if (c == '_') {
      if (prev == '_') return std::nullopt;
      prev = c;
      continue;
    }
    const int d = digit_value(c);
    if (d >= base) return std::nullopt;
    if (v > (UINT64_MAX - static_cast<uint64_t>(d)) / static_cast<uint64_t>(base)) return std::nullopt;
    v = v * static_cast<uint64_t>(base) + static_cast<uint64_t>(d);
    prev = c;
  }
  if (!neg && v > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  if (neg && v > static_cast<uint64_t>(INT64_MAX) + 1) return std::nullopt;
  return neg ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
}

std::optional<double> parse_py_float(std::string_view s) {
  s = trim_ws(s);
  std::string t;
  size_t i = 0;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) t.push_back(s[i++]);
  std::string rest;
  for (size_t k = i; k < s.size(); ++k) rest.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(s[k]))));
  if (rest == "inf" || rest == "infinity" || rest == "nan") {
    t += rest;
    return std::strtod(t.c_str(), nullptr);
  }
  // digits [. digits] [e [+-] digits], underscores only between digits
  bool digits = false, dot = false, exp = false;
  char prev = 0;
  for (size_t k = i; k < s.size(); ++k) {
    const char c = s[k];
    if (c >= '0' && c <= '9') {
      digits = true;
      t.push_back(c);
    } else if (c == '_') {
      if (!(prev >= '0' && prev <= '9') || k + 1 >= s.size() || !(s[k + 1] >= '0' && s[k + 1] <= '9')) return std::nullopt;
    } else if (c == '.' && !dot && !exp) {
      dot = true;
      t.push_back(c);
    } else if ((c == 'e' || c == 'E') && digits && !exp) {
      exp = true;
      t.push_back(c);
      if (k + 1 < s.size() && (s[k + 1] == '+' || s[k + 1] == '-')) t.push_back(s[++k]);
      if (k + 1 >= s.size() || !(s[k + 1] >= '0' && s[k + 1] <= '9')) return std::nullopt;
    } else {
      return std::nullopt;
    }
    prev = c;
  }
  if (!digits) return std::nullopt;
  return std::strtod(t.c_str(), nullptr);
}

// ---------------------------------------------------------------------------------------------
// Formatting

namespace {

struct Spec {
  char fill = ' ';
  char align = 0;  // '<', '>', '^', '='
  char sign = '-';
  bool alt = false;
  bool zero = false;
  int width = -1;
  int precision = -1;
  char type = 0;
};

std::string pad(std::string body, const Spec& sp, char default_align) {
  const auto len = static_cast<int>(py::length(body));
  if (sp.width <= len) return body;
  const int total = sp.width - len;
  const char align = sp.align ? sp.align : default_align;
  if (align == '<') return body + std::string(static_cast<size_t>(total), sp.fill);
  if (align == '^') {
    const int left = total / 2;
    return std::string(static_cast<size_t>(left), sp.fill) + body + std::string(static_cast<size_t>(total - left), sp.fill);
  }
  if (align == '=' && !body.empty() && (body[0] == '-' || body[0] == '+' || body[0] == ' '))
    return body.substr(0, 1) + std::string(static_cast<size_t>(total), sp.fill) + body.substr(1);
  return std::string(static_cast<size_t>(total), sp.fill) + body;
}

// Formats a number or string per a format spec (shared by % and str.format).
Result<std::string> format_one(const Value& v, Spec sp) {
  char type = sp.type;
  if (type == 's' || (type == 0 && !v.is_number())) {
    std::string s = to_str(v);
    if (sp.precision >= 0) {
      const std::u32string u = py::decode(s);
      if (static_cast<size_t>(sp.precision) < u.size()) s = py::encode(std::u32string_view(u).substr(0, static_cast<size_t>(sp.precision)));
    }
    return pad(std::move(s), sp, '<');
  }
  if (type == 'r' || type == 'a') {
    std::string s;
    append_repr(s, v);
    return pad(std::move(s), sp, '<');
  }
  if (!v.is_number()) return error("format code '{}' needs a number, not '{}'", type ? type : '?', type_name(v));
  std::string body;
  char buf[512];
  auto with_sign = [&](bool negative, std::string digits) {
    std::string s;
    if (negative) {
      s = "-";
    } else if (sp.sign == '+') {
      s = "+";
    } else if (sp.sign == ' ') {
      s = " ";
    }
    return s + digits;
  };
  if (type == 0 && v.is_integral()) type = 'd';
  if (type == 'd' || type == 'i' || type == 'u' || type == 'x' || type == 'X' || type == 'o' || type == 'b' || type == 'c') {
    const int64_t x = v.is_float() ? static_cast<int64_t>(v.as_float()) : v.as_int();
    if (type == 'c') return pad(py::encode(std::u32string(1, static_cast<char32_t>(x))), sp, '<');
    const uint64_t mag = x < 0 ? 0 - static_cast<uint64_t>(x) : static_cast<uint64_t>(x);
    std::string digits;
    if (type == 'b') {
      uint64_t m = mag;
      do {
        digits.insert(digits.begin(), static_cast<char>('0' + (m & 1)));
        m >>= 1;
      } while (m);
      if (sp.alt) digits = "0b" + digits;
    } else {
      const char* f = type == 'x' ? "%llx" : type == 'X' ? "%llX" : type == 'o' ? "%llo" : "%llu";
      std::snprintf(buf, sizeof(buf), f, static_cast<unsigned long long>(mag));
      digits = buf;
      if (sp.alt && type == 'x') digits = "0x" + digits;
      if (sp.alt && type == 'X') digits = "0X" + digits;
      if (sp.alt && type == 'o') digits = "0o" + digits;
    }
    body = with_sign(x < 0, digits);
  } else {
    const double d = v.as_float();
    if (type == 0) {
      body = with_sign(std::signbit(d) && !std::isnan(d), format_float(std::fabs(d)));
      if (sp.precision >= 0) {
        std::snprintf(buf, sizeof(buf), "%.*g", std::min(sp.precision, 100), std::fabs(d));
        body = with_sign(std::signbit(d), buf);
      }
    } else {
      const bool percent = type == '%';
      const double x = percent ? d * 100 : d;
      const char t = percent ? 'f' : (type == 'F' ? 'f' : type);
      if (t != 'f' && t != 'e' && t != 'E' && t != 'g' && t != 'G') return error("unknown format code '{}'", type);
      const int prec = sp.precision >= 0 ? std::min(sp.precision, 100) : 6;
      const char f[] = {'%', '.', '*', t, 0};
      std::snprintf(buf, sizeof(buf), f, prec, std::fabs(x));
      body = with_sign(std::signbit(x) && !std::isnan(x), buf);
      if (percent) body += "%";
    }
  }
  if (sp.zero && !sp.align) {
    sp.fill = '0';
    sp.align = '=';
  }
  return pad(std::move(body), sp, '>');
}

}  // namespace

Result<std::string> percent_format(Interpreter& in, std::string_view fmt, const Value& args) {
  std::vector<Value> items;
  const DictObj* mapping = nullptr;
  // An Undefined has __getitem__, so Python treats it as a mapping: unused, it is no error;
  // %(key)s on it fails.
  const bool undefined_mapping = args.is_undefined();
  if (args.is_list() && args.as_list().is_tuple) {
    items = args.as_list().items;
  } else if (args.is_dict()) {
    mapping = &args.as_dict();
    items.push_back(args);
  } else {
    items.push_back(args);
  }
  size_t next = 0;
  bool used_mapping = false;
  std::string out;
  for (size_t i = 0; i < fmt.size(); ++i) {
    const char c = fmt[i];
    if (c != '%') {
      out.push_back(c);
      continue;
    }
    if (++i >= fmt.size()) return error("incomplete format");
    if (fmt[i] == '%') {
      out.push_back('%');
      continue;
    }
    const Value* arg = nullptr;
    Value keyed;
    if (fmt[i] == '(') {
      const size_t close = fmt.find(')', i);
      if (close == std::string_view::npos) return error("incomplete format key");
      if (undefined_mapping) return error("'{}' is undefined", args.undefined_name());
      if (!mapping) return error("format requires a mapping");
      const Value* v = mapping->find(fmt.substr(i + 1, close - i - 1));
      if (!v) return error("format key '{}' not found", fmt.substr(i + 1, close - i - 1));
      keyed = *v;
      arg = &keyed;
      used_mapping = true;
      i = close + 1;
    }
    Spec sp;
    sp.align = '>';
    for (; i < fmt.size(); ++i) {
      const char f = fmt[i];
      if (f == '-') {
        sp.align = '<';
      } else if (f == '+' || f == ' ') {
        sp.sign = f;
      } else if (f == '0') {
        sp.zero = true;
      } else if (f == '#') {
        sp.alt = true;
      } else {
        break;
      }
    }
    for (; i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i])); ++i)
      sp.width = std::min(std::max(sp.width, 0) * 10 + (fmt[i] - '0'), 100000);
    if (i < fmt.size() && fmt[i] == '.') {
      sp.precision = 0;
      for (++i; i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i])); ++i)
        sp.precision = std::min(sp.precision * 10 + (fmt[i] - '0'), 100000);
    }
    while (i < fmt.size() && (fmt[i] == 'h' || fmt[i] == 'l' || fmt[i] == 'L')) ++i;
    if (i >= fmt.size()) return error("incomplete format");
    char type = fmt[i];
    if (type == 'i' || type == 'u') type = 'd';
    if (std::string_view("sradfFeEgGxXoc").find(type) == std::string_view::npos)
      return error("unsupported format character '{}'", type);
    if (!arg) {
      if (next >= items.size()) return error("not enough arguments for format string");
      arg = &items[next++];
    }
    if (sp.zero && sp.align == '>') sp.align = '=';
    if (sp.zero && sp.align == '=') sp.fill = '0';
    if (type == 'd' && arg->is_string()) return error("%d format: a real number is required, not str");
    sp.type = type;
    AG_TRY(std::string piece, format_one(*arg, sp));
    AG_TRY_STATUS(in.check_size(out.size() + piece.size()));
    out += piece;
  }
  if (!mapping && !undefined_mapping && next < items.size())
    return error("not all arguments converted during string formatting");
  (void)used_mapping;
  return out;
}

Result<std::string> str_format(Interpreter& in, std::string_view fmt, const CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  bool used_auto = false, used_manual = false;
  for (size_t i = 0; i < fmt.size(); ++i) {
    const char c = fmt[i];
    if (c == '}') {
      if (i + 1 < fmt.size() && fmt[i + 1] == '}') {
        out.push_back('}');
        ++i;
        continue;
      }
      return error("single '}}' encountered in format string");
    }
    if (c != '{') {
      out.push_back(c);
      continue;
    }
    if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out.push_back('{');
      ++i;
      continue;
    }
    const size_t close = fmt.find('}', i);
    if (close == std::string_view::npos) return error("single '{{' encountered in format string");
    std::string_view field = fmt.substr(i + 1, close - i - 1);
    if (field.find('{') != std::string_view::npos) return error("nested replacement fields are not supported");
    std::string_view spec_text;
    char conversion = 0;
    if (const size_t colon = field.find(':'); colon != std::string_view::npos) {
      spec_text = field.substr(colon + 1);
      field = field.substr(0, colon);
    }
    if (const size_t bang = field.find('!'); bang != std::string_view::npos) {
      if (bang + 2 != field.size()) return error("invalid conversion in format string");
      conversion = field[bang + 1];
      field = field.substr(0, bang);
    }
    // field name: index or name, then .attr / [key] parts
    size_t end = std::min(field.find('.'), field.find('['));
    std::string_view head = field.substr(0, end);
    Value v;
    if (head.empty()) {
      if (used_manual) return error("cannot switch from manual field numbering to automatic");
      used_auto = true;
      if (auto_index >= args.positional.size()) return error("replacement index {} out of range", auto_index);
      v = args.positional[auto_index++];
    } else if (std::all_of(head.begin(), head.end(), [](char d) { return std::isdigit(static_cast<unsigned char>(d)); })) {
      if (used_auto) return error("cannot switch from automatic field numbering to manual");
      used_manual = true;
      const size_t idx = static_cast<size_t>(std::strtoull(std::string(head).c_str(), nullptr, 10));
      if (idx >= args.positional.size()) return error("replacement index {} out of range", idx);
      v = args.positional[idx];
    } else {
      bool found = false;
      for (const auto& [k, val] : args.keyword) {
        if (k == head) {
          v = val;
          found = true;
        }
      }
      if (!found) return error("format key '{}' not found", head);
    }
    while (end < field.size()) {
      if (field[end] == '.') {
        const size_t next = std::min(field.find('.', end + 1), field.find('[', end + 1));
        AG_TRY(v, in.getattr(v, field.substr(end + 1, next - end - 1)));
        end = next;
      } else {
        const size_t rb = field.find(']', end);
        if (rb == std::string_view::npos) return error("missing ']' in format string");
        const std::string_view key = field.substr(end + 1, rb - end - 1);
        if (auto n = parse_py_int(key, 10); n && !key.empty() && std::isdigit(static_cast<unsigned char>(key[0]))) {
          AG_TRY(v, in.getitem(v, Value::integer(*n)));
        } else {
          AG_TRY(v, in.getitem(v, Value::string(key)));
        }
        end = rb + 1;
      }
    }
    if (v.is_undefined()) return error("'{}' is undefined in format string", field);
    if (conversion == 'r' || conversion == 'a') {
      std::string r;
      append_repr(r, v);
      v = Value::string(std::move(r));
    } else if (conversion == 's') {
      v = Value::string(to_str(v));
    } else if (conversion != 0) {
      return error("unknown conversion specifier '{}'", conversion);
    }
    // [[fill]align][sign][#][0][width][,][.precision][type]
    Spec sp;
    size_t k = 0;
    auto is_align = [](char a) { return a == '<' || a == '>' || a == '^' || a == '='; };
    if (spec_text.size() >= 2 && is_align(spec_text[1])) {
      sp.fill = spec_text[0];
      sp.align = spec_text[1];
      k = 2;
    } else if (!spec_text.empty() && is_align(spec_text[0])) {
      sp.align = spec_text[0];
      k = 1;
    }
    if (k < spec_text.size() && (spec_text[k] == '+' || spec_text[k] == '-' || spec_text[k] == ' ')) sp.sign = spec_text[k++];
    if (k < spec_text.size() && spec_text[k] == '#') {
      sp.alt = true;
      ++k;
    }
    if (k < spec_text.size() && spec_text[k] == '0') {
      sp.zero = true;
      ++k;
    }
    for (; k < spec_text.size() && std::isdigit(static_cast<unsigned char>(spec_text[k])); ++k)
      sp.width = std::min(std::max(sp.width, 0) * 10 + (spec_text[k] - '0'), 100000);
    if (k < spec_text.size() && spec_text[k] == ',') return error("',' in format specs is not supported");
    if (k < spec_text.size() && spec_text[k] == '.') {
      sp.precision = 0;
      for (++k; k < spec_text.size() && std::isdigit(static_cast<unsigned char>(spec_text[k])); ++k)
        sp.precision = std::min(sp.precision * 10 + (spec_text[k] - '0'), 100000);
    }
    if (k < spec_text.size()) sp.type = spec_text[k++];
    if (k != spec_text.size()) return error("invalid format specifier '{}'", spec_text);
    if (sp.type == 's' && v.is_number()) return error("unknown format code 's' for a number");
    AG_TRY(std::string piece, format_one(v, sp));
    AG_TRY_STATUS(in.check_size(out.size() + piece.size()));
    out += piece;
    i = close;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Built-in globals

namespace {

using BuiltinFn = Result<Value> (*)(Interpreter& in, CallArgs& args);

class Builtin final : public Callable {
 public:
  Builtin(std::string_view name, BuiltinFn fn) : name_(name), fn_(fn) {}
  std::string_view name() const override { return name_; }
  Result<Value> call(Interpreter& in, CallArgs args) const override { return fn_(in, args); }

 private:
  std::string_view name_;
  BuiltinFn fn_;
};

constexpr int64_t kMaxRange = 100000;  // jinja2.sandbox.MAX_RANGE

Result<Value> builtin_range(Interpreter& in, CallArgs& args) {
  if (!args.keyword.empty()) return error("range() takes no keyword arguments");
  if (args.positional.empty() || args.positional.size() > 3)
    return error("range expected 1 to 3 arguments, got {}", args.positional.size());
  int64_t v[3] = {0, 0, 1};
  for (size_t i = 0; i < args.positional.size(); ++i) {
    const Value& a = args.positional[i];
    if (!a.is_integral()) return error("'{}' object cannot be interpreted as an integer", type_name(a));
  }
  if (args.positional.size() == 1) {
    v[1] = args.positional[0].as_int();
  } else {
    v[0] = args.positional[0].as_int();
    v[1] = args.positional[1].as_int();
    if (args.positional.size() == 3) v[2] = args.positional[2].as_int();
  }
  if (v[2] == 0) return error("range() arg 3 must not be zero");
  // Item count in unsigned arithmetic: the difference of two int64 fits in uint64.
  const bool up = v[2] > 0;
  const bool empty = up ? v[1] <= v[0] : v[1] >= v[0];
  const uint64_t span = empty ? 0 : (up ? static_cast<uint64_t>(v[1]) - static_cast<uint64_t>(v[0])
                                        : static_cast<uint64_t>(v[0]) - static_cast<uint64_t>(v[1]));
  const uint64_t step = up ? static_cast<uint64_t>(v[2]) : static_cast<uint64_t>(-(v[2] + 1)) + 1;
  const uint64_t n = empty ? 0 : (span - 1) / step + 1;
  if (n > static_cast<uint64_t>(kMaxRange)) return error("range too big: the sandbox allows at most {} items", kMaxRange);
  AG_TRY_STATUS(in.charge(static_cast<uint64_t>(n)));
  std::vector<Value> items;
  items.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < static_cast<int64_t>(n); ++i) items.push_back(Value::integer(v[0] + i * v[2]));
  return Value::list(std::move(items));
}

// dict(mapping_or_pairs, **kwargs), shared by dict() and namespace().
Result<DictObj> dict_from_args(Interpreter& in, const CallArgs& args, std::string_view fn) {
  if (args.positional.size() > 1) return error("{} expected at most 1 positional argument, got {}", fn, args.positional.size());
  DictObj d;
  if (args.positional.size() == 1) {
    const Value& src = args.positional[0];
    if (src.is_dict()) {
      d.items = src.as_dict().items;
    } else {
      AG_TRY(std::vector<Value> pairs, in.iterate(src));
      for (const auto& p : pairs) {
        AG_TRY(std::vector<Value> kv, in.iterate(p));
        if (kv.size() != 2) return error("{}: sequence element has length {}; 2 is required", fn, kv.size());
        d.set(kv[0], kv[1]);
      }
    }
  }
  for (const auto& [k, v] : args.keyword) d.set(Value::string(k), v);
  return d;
}

Result<Value> builtin_dict(Interpreter& in, CallArgs& args) {
  AG_TRY(DictObj d, dict_from_args(in, args, "dict"));
  return Value::dict(std::move(d));
}

Result<Value> builtin_namespace(Interpreter& in, CallArgs& args) {
  AG_TRY(DictObj d, dict_from_args(in, args, "namespace"));
  NamespaceObj ns;
  for (auto& [k, v] : d.items) {
    if (!k.is_string()) return error("namespace attribute names must be strings");
    ns.attrs.items.emplace_back(std::move(k), std::move(v));
  }
  return in.make_namespace(std::move(ns));
}

Result<Value> builtin_raise_exception(Interpreter& in, CallArgs& args) {
  AG_TRY(auto a, bind_args("raise_exception", args, {"message"}, 1));
  return in.raise(to_str(*a[0]));
}

Result<Value> builtin_strftime_now(Interpreter& in, CallArgs& args) {
  AG_TRY(auto a, bind_args("strftime_now", args, {"format"}, 1));
  if (!a[0]->is_string()) return error("strftime_now() argument must be str, not {}", type_name(*a[0]));
  const std::time_t t = std::chrono::system_clock::to_time_t(in.now());
  std::tm tm{};
  localtime_r(&t, &tm);
  // A trailing marker tells an empty result from a too-small buffer.
  const std::string fmt = a[0]->as_string() + "\x01";
  std::string buf(fmt.size() * 8 + 64, '\0');
  const size_t n = std::strftime(buf.data(), buf.size(), fmt.c_str(), &tm);
  if (n == 0) return error("strftime_now(): format produces too long a result");
  buf.resize(n - 1);
  return Value::string(std::move(buf));
}

struct BuiltinTable {
  std::vector<std::pair<std::string_view, Value>> entries;
  BuiltinTable() {
    auto add = [&](std::string_view name, BuiltinFn fn) {
      entries.emplace_back(name, Value::callable(std::make_shared<Builtin>(name, fn)));
    };
    add("range", builtin_range);
    add("dict", builtin_dict);
    add("namespace", builtin_namespace);
    add("raise_exception", builtin_raise_exception);
    add("strftime_now", builtin_strftime_now);
  }
};

}  // namespace

const Value* find_builtin(std::string_view name) {
  static const BuiltinTable table;
  for (const auto& [n, v] : table.entries)
    if (n == name) return &v;
  return nullptr;
}

}  // namespace ag::jinja
