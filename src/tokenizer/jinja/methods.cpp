// Methods of str, dict and list values as Python defines them (`content.strip()`,
// `message.get('x')`, `d.items()`). jinja2's sandbox looks attributes up before keys, so a dict's
// method names shadow its keys; the mutating dict methods are unsafe there and read as Undefined.
#include <algorithm>

#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/py_str.h"

namespace ag::jinja {

namespace {

using MethodFn = Result<Value> (*)(Interpreter& in, const Value& self, CallArgs& args);

struct Method {
  std::string_view name;
  MethodFn fn;  // null: a Python method this subset does not implement
};

class BoundMethod final : public Callable {
 public:
  BoundMethod(Value self, const Method& m, std::string_view type) : self_(std::move(self)), m_(m), type_(type) {}
  std::string_view name() const override { return m_.name; }
  Result<Value> call(Interpreter& in, CallArgs args) const override {
    if (!m_.fn) return error("{}.{}() is not supported in chat templates", type_, m_.name);
    return m_.fn(in, self_, args);
  }

 private:
  Value self_;
  const Method& m_;
  std::string_view type_;
};

// --- argument helpers ----------------------------------------------------------------------

Result<std::optional<std::string>> opt_str(const std::optional<Value>& v, std::string_view what) {
  if (!v || v->is_none()) return std::optional<std::string>();
  if (!v->is_string()) return error("{} must be str or None, not {}", what, type_name(*v));
  return std::optional<std::string>(v->as_string());
}

Result<int64_t> opt_int(const std::optional<Value>& v, int64_t dflt, std::string_view what) {
  if (!v || v->is_none()) return dflt;
  if (!v->is_integral()) return error("{} must be an integer, not {}", what, type_name(*v));
  return v->as_int();
}

Result<std::string> req_str(const std::optional<Value>& v, std::string_view what) {
  if (!v->is_string()) return error("{} must be str, not {}", what, type_name(*v));
  return v->as_string();
}

Value str_list(std::vector<std::string> parts) {
  std::vector<Value> items;
  items.reserve(parts.size());
  for (auto& p : parts) items.push_back(Value::string(std::move(p)));
  return Value::list(std::move(items));
}

// The [start:end] window of str methods that take them, in code points.
Result<std::string> window(const Value& self, const std::optional<Value>& start, const std::optional<Value>& end,
                           int64_t& offset) {
  offset = 0;
  if ((!start || start->is_none()) && (!end || end->is_none())) return self.as_string();
  const std::u32string u = py::decode(self.as_string());
  const auto n = static_cast<int64_t>(u.size());
  auto clamp = [n](int64_t x) { return x < 0 ? std::max<int64_t>(0, x + n) : std::min(x, n); };
  AG_TRY(int64_t b, opt_int(start, 0, "start"));
  AG_TRY(int64_t e, opt_int(end, n, "end"));
  b = clamp(b);
  e = clamp(e);
  offset = b;
  if (e <= b) return std::string();
  return py::encode(std::u32string_view(u).substr(static_cast<size_t>(b), static_cast<size_t>(e - b)));
}

// --- str ---------------------------------------------------------------------------------

Result<Value> str_strip_impl(const Value& self, CallArgs& args, std::string_view fn, bool l, bool r) {
  AG_TRY(auto a, bind_args(fn, args, {"chars"}, 0));
  AG_TRY(auto chars, opt_str(a[0], "chars"));
  return Value::string(py::strip(self.as_string(), chars, l, r));
}
Result<Value> str_strip(Interpreter&, const Value& s, CallArgs& a) { return str_strip_impl(s, a, "strip", true, true); }
Result<Value> str_lstrip(Interpreter&, const Value& s, CallArgs& a) { return str_strip_impl(s, a, "lstrip", true, false); }
Result<Value> str_rstrip(Interpreter&, const Value& s, CallArgs& a) { return str_strip_impl(s, a, "rstrip", false, true); }

Result<Value> str_split_impl(const Value& self, CallArgs& args, bool reverse) {
  AG_TRY(auto a, bind_args(reverse ? "rsplit" : "split", args, {"sep", "maxsplit"}, 0));
  AG_TRY(auto sep, opt_str(a[0], "sep"));
  AG_TRY(int64_t maxsplit, opt_int(a[1], -1, "maxsplit"));
  if (sep && sep->empty()) return error("empty separator");
  return str_list(reverse ? py::rsplit(self.as_string(), sep, maxsplit) : py::split(self.as_string(), sep, maxsplit));
}
Result<Value> str_split(Interpreter&, const Value& s, CallArgs& a) { return str_split_impl(s, a, false); }
Result<Value> str_rsplit(Interpreter&, const Value& s, CallArgs& a) { return str_split_impl(s, a, true); }

Result<Value> str_splitlines(Interpreter&, const Value& s, CallArgs& args) {
  AG_TRY(auto a, bind_args("splitlines", args, {"keepends"}, 0));
  return str_list(py::splitlines(s.as_string(), a[0] && truthy(*a[0])));
}

Result<Value> str_affix_impl(const Value& self, CallArgs& args, bool suffix) {
  AG_TRY(auto a, bind_args(suffix ? "endswith" : "startswith", args, {"prefix", "start", "end"}, 1));
  int64_t offset = 0;
  AG_TRY(std::string s, window(self, a[1], a[2], offset));
  std::vector<Value> candidates;
  if (a[0]->is_list() && a[0]->as_list().is_tuple) {
    candidates = a[0]->as_list().items;
  } else {
    candidates.push_back(*a[0]);
  }
  for (const Value& c : candidates) {
    if (!c.is_string())
      return error("{} first arg must be str or a tuple of str, not {}", suffix ? "endswith" : "startswith", type_name(c));
    const std::string& p = c.as_string();
    if (p.size() <= s.size() && (suffix ? s.compare(s.size() - p.size(), p.size(), p) == 0 : s.compare(0, p.size(), p) == 0))
      return Value::boolean(true);
  }
  return Value::boolean(false);
}
Result<Value> str_startswith(Interpreter&, const Value& s, CallArgs& a) { return str_affix_impl(s, a, false); }
Result<Value> str_endswith(Interpreter&, const Value& s, CallArgs& a) { return str_affix_impl(s, a, true); }

Result<Value> str_replace(Interpreter& in, const Value& s, CallArgs& args) {
  AG_TRY(auto a, bind_args("replace", args, {"old", "new", "count"}, 2));
  AG_TRY(std::string o, req_str(a[0], "replace() argument 1"));
  AG_TRY(std::string n, req_str(a[1], "replace() argument 2"));
  AG_TRY(int64_t count, opt_int(a[2], -1, "count"));
  std::string out = py::replace(s.as_string(), o, n, count);
  AG_TRY_STATUS(in.check_size(out.size()));
  return Value::string(std::move(out));
}

Result<Value> str_case(const Value& s, CallArgs& args, std::string_view fn, std::string (*f)(std::string_view)) {
  AG_TRY(auto a, bind_args(fn, args, {}, 0));
  return Value::string(f(s.as_string()));
}
Result<Value> str_upper(Interpreter&, const Value& s, CallArgs& a) { return str_case(s, a, "upper", py::upper); }
Result<Value> str_lower(Interpreter&, const Value& s, CallArgs& a) { return str_case(s, a, "lower", py::lower); }
Result<Value> str_title(Interpreter&, const Value& s, CallArgs& a) { return str_case(s, a, "title", py::title); }
Result<Value> str_capitalize(Interpreter&, const Value& s, CallArgs& a) { return str_case(s, a, "capitalize", py::capitalize); }
Result<Value> str_swapcase(Interpreter&, const Value& s, CallArgs& a) { return str_case(s, a, "swapcase", py::swapcase); }

Result<Value> str_find_impl(const Value& self, CallArgs& args, std::string_view fn, bool reverse, bool must) {
  AG_TRY(auto a, bind_args(fn, args, {"sub", "start", "end"}, 1));
  AG_TRY(std::string sub, req_str(a[0], "substring"));
  int64_t offset = 0;
  AG_TRY(std::string s, window(self, a[1], a[2], offset));
  const int64_t i = py::find(s, sub, reverse);
  if (i < 0) {
    if (must) return error("substring not found");
    return Value::integer(-1);
  }
  return Value::integer(i + offset);
}
Result<Value> str_find(Interpreter&, const Value& s, CallArgs& a) { return str_find_impl(s, a, "find", false, false); }
Result<Value> str_rfind(Interpreter&, const Value& s, CallArgs& a) { return str_find_impl(s, a, "rfind", true, false); }
Result<Value> str_index(Interpreter&, const Value& s, CallArgs& a) { return str_find_impl(s, a, "index", false, true); }
Result<Value> str_rindex(Interpreter&, const Value& s, CallArgs& a) { return str_find_impl(s, a, "rindex", true, true); }

Result<Value> str_count(Interpreter&, const Value& self, CallArgs& args) {
  AG_TRY(auto a, bind_args("count", args, {"sub", "start", "end"}, 1));
  AG_TRY(std::string sub, req_str(a[0], "substring"));
  int64_t offset = 0;
  AG_TRY(std::string s, window(self, a[1], a[2], offset));
  return Value::integer(py::count(s, sub));
}

Result<Value> str_join(Interpreter& in, const Value& self, CallArgs& args) {
  AG_TRY(auto a, bind_args("join", args, {"iterable"}, 1));
  AG_TRY(std::vector<Value> items, in.iterate(*a[0]));
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!items[i].is_string()) return error("sequence item {}: expected str instance, {} found", i, type_name(items[i]));
    if (i) out += self.as_string();
    out += items[i].as_string();
    AG_TRY_STATUS(in.check_size(out.size()));
  }
  return Value::string(std::move(out));
}

Result<Value> str_format_method(Interpreter& in, const Value& self, CallArgs& args) {
  AG_TRY(std::string s, str_format(in, self.as_string(), args));
  return Value::string(std::move(s));
}

template <bool (*Pred)(char32_t)>
Result<Value> str_is_all(Interpreter&, const Value& self, CallArgs& args) {
  AG_TRY(auto a, bind_args("is", args, {}, 0));
  const std::u32string u = py::decode(self.as_string());
  return Value::boolean(!u.empty() && std::all_of(u.begin(), u.end(), Pred));
}
bool is_alnum(char32_t c) { return py::is_alpha(c) || py::is_digit(c); }

Result<Value> str_isascii(Interpreter&, const Value& self, CallArgs& args) {
  AG_TRY(auto a, bind_args("isascii", args, {}, 0));
  return Value::boolean(py::is_ascii(self.as_string()));
}

Result<Value> str_is_case(const Value& self, CallArgs& args, bool want_lower) {
  AG_TRY(auto a, bind_args(want_lower ? "islower" : "isupper", args, {}, 0));
  bool cased = false;
  for (char32_t c : py::decode(self.as_string())) {
    if (want_lower ? py::is_upper(c) : py::is_lower(c)) return Value::boolean(false);
    cased = cased || py::is_cased(c);
  }
  return Value::boolean(cased);
}
Result<Value> str_islower(Interpreter&, const Value& s, CallArgs& a) { return str_is_case(s, a, true); }
Result<Value> str_isupper(Interpreter&, const Value& s, CallArgs& a) { return str_is_case(s, a, false); }

Result<Value> str_istitle(Interpreter&, const Value& self, CallArgs& args) {
  AG_TRY(auto a, bind_args("istitle", args, {}, 0));
  bool cased = false, prev_cased = false;
  for (char32_t c : py::decode(self.as_string())) {
    if (py::is_upper(c)) {
      if (prev_cased) return Value::boolean(false);
      prev_cased = cased = true;
    } else if (py::is_lower(c)) {
      if (!prev_cased) return Value::boolean(false);
      prev_cased = cased = true;
    } else {
      prev_cased = false;
    }
  }
  return Value::boolean(cased);
}

Result<Value> str_isidentifier(Interpreter&, const Value& self, CallArgs& args) {
  AG_TRY(auto a, bind_args("isidentifier", args, {}, 0));
  const std::u32string u = py::decode(self.as_string());
  if (u.empty() || !(py::is_alpha(u[0]) || u[0] == '_')) return Value::boolean(false);
  return Value::boolean(std::all_of(u.begin(), u.end(), [](char32_t c) { return py::is_word(c); }));
}

Result<Value> str_pad(Interpreter& in, const Value& self, CallArgs& args, std::string_view fn, char mode) {
  AG_TRY(auto a, bind_args(fn, args, {"width", "fillchar"}, 1));
  AG_TRY(int64_t width, opt_int(a[0], 0, "width"));
  char32_t fill = ' ';
  if (a[1]) {
    AG_TRY(std::string f, req_str(a[1], "fillchar"));
    const std::u32string u = py::decode(f);
    if (u.size() != 1) return error("The fill character must be exactly one character long");
    fill = u[0];
  }
  AG_TRY_STATUS(in.check_size(static_cast<size_t>(std::max<int64_t>(0, std::min<int64_t>(width, int64_t{1} << 40)))));
  const std::string& s = self.as_string();
  const auto n = static_cast<int64_t>(py::length(s));
  if (mode == 'c') return Value::string(py::center(s, width, fill));
  std::string padding;
  for (int64_t i = n; i < width; ++i) py::append_utf8(padding, fill);
  return Value::string(mode == 'l' ? s + padding : padding + s);
}
Result<Value> str_center(Interpreter& in, const Value& s, CallArgs& a) { return str_pad(in, s, a, "center", 'c'); }
Result<Value> str_ljust(Interpreter& in, const Value& s, CallArgs& a) { return str_pad(in, s, a, "ljust", 'l'); }
Result<Value> str_rjust(Interpreter& in, const Value& s, CallArgs& a) { return str_pad(in, s, a, "rjust", 'r'); }

Result<Value> str_zfill(Interpreter& in, const Value& self, CallArgs& args) {
  AG_TRY(auto a, bind_args("zfill", args, {"width"}, 1));
  AG_TRY(int64_t width, opt_int(a[0], 0, "width"));
  AG_TRY_STATUS(in.check_size(static_cast<size_t>(std::max<int64_t>(0, std::min<int64_t>(width, int64_t{1} << 40)))));
  std::string s = self.as_string();
  const auto n = static_cast<int64_t>(py::length(s));
  if (n >= width) return Value::string(std::move(s));
  const size_t sign = (!s.empty() && (s[0] == '+' || s[0] == '-')) ? 1 : 0;
  s.insert(sign, std::string(static_cast<size_t>(width - n), '0'));
  return Value::string(std::move(s));
}

Result<Value> str_partition_impl(const Value& self, CallArgs& args, bool reverse) {
  AG_TRY(auto a, bind_args(reverse ? "rpartition" : "partition", args, {"sep"}, 1));
  AG_TRY(std::string sep, req_str(a[0], "separator"));
  if (sep.empty()) return error("empty separator");
  const std::string& s = self.as_string();
  const size_t k = reverse ? s.rfind(sep) : s.find(sep);
  std::vector<Value> parts;
  if (k == std::string::npos) {
    if (reverse) {
      parts = {Value::string(""), Value::string(""), Value::string(s)};
    } else {
      parts = {Value::string(s), Value::string(""), Value::string("")};
    }
  } else {
    parts = {Value::string(s.substr(0, k)), Value::string(sep), Value::string(s.substr(k + sep.size()))};
  }
  return Value::list(std::move(parts), true);
}
Result<Value> str_partition(Interpreter&, const Value& s, CallArgs& a) { return str_partition_impl(s, a, false); }
Result<Value> str_rpartition(Interpreter&, const Value& s, CallArgs& a) { return str_partition_impl(s, a, true); }

Result<Value> str_remove_affix(const Value& self, CallArgs& args, bool suffix) {
  AG_TRY(auto a, bind_args(suffix ? "removesuffix" : "removeprefix", args, {"affix"}, 1));
  AG_TRY(std::string p, req_str(a[0], "argument"));
  const std::string& s = self.as_string();
  if (p.empty() || p.size() > s.size()) return self;
  if (suffix && s.compare(s.size() - p.size(), p.size(), p) == 0) return Value::string(s.substr(0, s.size() - p.size()));
  if (!suffix && s.compare(0, p.size(), p) == 0) return Value::string(s.substr(p.size()));
  return self;
}
Result<Value> str_removeprefix(Interpreter&, const Value& s, CallArgs& a) { return str_remove_affix(s, a, false); }
Result<Value> str_removesuffix(Interpreter&, const Value& s, CallArgs& a) { return str_remove_affix(s, a, true); }

const Method kStrMethods[] = {
    {"strip", str_strip},
    {"lstrip", str_lstrip},
    {"rstrip", str_rstrip},
    {"split", str_split},
    {"rsplit", str_rsplit},
    {"splitlines", str_splitlines},
    {"startswith", str_startswith},
    {"endswith", str_endswith},
    {"replace", str_replace},
    {"upper", str_upper},
    {"lower", str_lower},
    {"casefold", str_lower},
    {"title", str_title},
    {"capitalize", str_capitalize},
    {"swapcase", str_swapcase},
    {"find", str_find},
    {"rfind", str_rfind},
    {"index", str_index},
    {"rindex", str_rindex},
    {"count", str_count},
    {"join", str_join},
    {"format", str_format_method},
    {"isdigit", str_is_all<py::is_digit>},
    {"isdecimal", str_is_all<py::is_digit>},
    {"isnumeric", str_is_all<py::is_digit>},
    {"isalpha", str_is_all<py::is_alpha>},
    {"isalnum", str_is_all<is_alnum>},
    {"isspace", str_is_all<py::is_space>},
    {"isascii", str_isascii},
    {"islower", str_islower},
    {"isupper", str_isupper},
    {"istitle", str_istitle},
    {"isidentifier", str_isidentifier},
    {"center", str_center},
    {"ljust", str_ljust},
    {"rjust", str_rjust},
    {"zfill", str_zfill},
    {"partition", str_partition},
    {"rpartition", str_rpartition},
    {"removeprefix", str_removeprefix},
    {"removesuffix", str_removesuffix},
    {"encode", nullptr},
    {"expandtabs", nullptr},
    {"format_map", nullptr},
    {"isprintable", nullptr},
    {"maketrans", nullptr},
    {"translate", nullptr},
};

// --- dict --------------------------------------------------------------------------------

Result<Value> dict_get(Interpreter&, const Value& self, CallArgs& args) {
  AG_TRY(auto a, bind_args("get", args, {"key", "default"}, 1));
  if (const Value* v = self.as_dict().find(*a[0])) return *v;
  return a[1] ? *a[1] : Value::none();
}

Result<Value> dict_items(Interpreter& in, const Value& self, CallArgs& args) {
  AG_TRY(auto a, bind_args("items", args, {}, 0));
  std::vector<Value> out;
  out.reserve(self.as_dict().items.size());
  AG_TRY_STATUS(in.charge(self.as_dict().items.size()));
  for (const auto& [k, v] : self.as_dict().items) out.push_back(Value::list({k, v}, true));
  return Value::list(std::move(out));
}

Result<Value> dict_keys(Interpreter& in, const Value& self, CallArgs& args) {
  AG_TRY(auto a, bind_args("keys", args, {}, 0));
  return Value::list(in.iterate(self).value());
}

Result<Value> dict_values(Interpreter&, const Value& self, CallArgs& args) {
  AG_TRY(auto a, bind_args("values", args, {}, 0));
  std::vector<Value> out;
  for (const auto& kv : self.as_dict().items) out.push_back(kv.second);
  return Value::list(std::move(out));
}

Result<Value> dict_copy(Interpreter&, const Value& self, CallArgs& args) {
  AG_TRY(auto a, bind_args("copy", args, {}, 0));
  return Value::dict(self.as_dict());
}

const Method kDictMethods[] = {
    {"get", dict_get}, {"items", dict_items}, {"keys", dict_keys}, {"values", dict_values}, {"copy", dict_copy},
};
// Mutating dict methods: jinja2's immutable sandbox makes them read as Undefined.
constexpr std::string_view kUnsafeDictMethods[] = {"clear", "pop", "popitem", "setdefault", "update", "fromkeys"};

// --- list ----------------------------------------------------------------------------------

Status after_growth(Interpreter& in, const Value& self, const Value& added) {
  ListObj& l = self.as_list();
  l.depth = std::max(l.depth, nesting_depth(added) + 1);
  if (l.depth > kMaxValueNesting) return error("value nested deeper than {} levels", kMaxValueNesting);
  in.note_mutated(self);
  return in.charge(1);
}

Result<Value> list_append(Interpreter& in, const Value& self, CallArgs& args) {
  AG_TRY(auto a, bind_args("append", args, {"object"}, 1));
  AG_TRY_STATUS(after_growth(in, self, *a[0]));
  self.as_list().items.push_back(*a[0]);
  return Value::none();
}

Result<Value> list_extend(Interpreter& in, const Value& self, CallArgs& args) {
  AG_TRY(auto a, bind_args("extend", args, {"iterable"}, 1));
  AG_TRY(std::vector<Value> items, in.iterate(*a[0]));
  AG_TRY_STATUS(in.charge(items.size()));
  for (auto& item : items) {
    AG_TRY_STATUS(after_growth(in, self, item));
    self.as_list().items.push_back(std::move(item));
  }
  return Value::none();
}

Result<Value> list_insert(Interpreter& in, const Value& self, CallArgs& args) {
  AG_TRY(auto a, bind_args("insert", args, {"index", "object"}, 2));
  AG_TRY(int64_t i, opt_int(a[0], 0, "index"));
  auto& items = self.as_list().items;
  const auto n = static_cast<int64_t>(items.size());
  if (i < 0) i = std::max<int64_t>(0, i + n);
  i = std::min(i, n);
  AG_TRY_STATUS(after_growth(in, self, *a[1]));
  items.insert(items.begin() + i, *a[1]);
  return Value::none();
}

Result<Value> list_pop(Interpreter& in, const Value& self, CallArgs& args) {
  AG_TRY(auto a, bind_args("pop", args, {"index"}, 0));
  auto& items = self.as_list().items;
  if (items.empty()) return error("pop from empty list");
  AG_TRY(int64_t i, opt_int(a[0], -1, "index"));
  const auto n = static_cast<int64_t>(items.size());
  if (i < 0) i += n;
  if (i < 0 || i >= n) return error("pop index out of range");
  Value v = std::move(items[static_cast<size_t>(i)]);
  items.erase(items.begin() + i);
  in.note_mutated(self);
  return v;
}

Result<Value> list_copy(Interpreter&, const Value& self, CallArgs& args) {
  AG_TRY(auto a, bind_args("copy", args, {}, 0));
  return Value::list(self.as_list().items, self.as_list().is_tuple);
}

Result<Value> list_count(Interpreter& in, const Value& self, CallArgs& args) {
  AG_TRY(auto a, bind_args("count", args, {"value"}, 1));
  AG_TRY_STATUS(in.charge(self.as_list().items.size()));
  return Value::integer(std::count_if(self.as_list().items.begin(), self.as_list().items.end(),
                                      [&](const Value& v) { return equals(v, *a[0]); }));
}

Result<Value> list_index(Interpreter& in, const Value& self, CallArgs& args) {
  AG_TRY(auto a, bind_args("index", args, {"value"}, 1));
  const auto& items = self.as_list().items;
  AG_TRY_STATUS(in.charge(items.size()));
  for (size_t i = 0; i < items.size(); ++i)
    if (equals(items[i], *a[0])) return Value::integer(static_cast<int64_t>(i));
  return error("value is not in list");
}

// Lists support the mutating methods templates use to build lists in a namespace (append,
// extend, insert, pop); jinja2's immutable sandbox would reject them, so this is a superset.
const Method kListMethods[] = {
    {"append", list_append}, {"extend", list_extend}, {"insert", list_insert}, {"pop", list_pop},
    {"copy", list_copy},     {"count", list_count},   {"index", list_index},   {"remove", nullptr},
    {"reverse", nullptr},    {"sort", nullptr},       {"clear", nullptr},
};
const Method kTupleMethods[] = {{"count", list_count}, {"index", list_index}};

template <size_t N>
const Method* find_in(const Method (&table)[N], std::string_view name) {
  for (const Method& m : table)
    if (m.name == name) return &m;
  return nullptr;
}

}  // namespace

std::optional<Value> bind_method(const Value& self, std::string_view name) {
  const Method* m = nullptr;
  std::string_view type;
  switch (self.kind()) {
    case Value::Kind::string:
      m = find_in(kStrMethods, name);
      type = "str";
      break;
    case Value::Kind::dict:
      for (auto u : kUnsafeDictMethods)
        if (u == name) return Value::undefined(std::string(name));
      m = find_in(kDictMethods, name);
      type = "dict";
      break;
    case Value::Kind::list:
      if (self.is_generator()) return std::nullopt;
      m = self.as_list().is_tuple ? find_in(kTupleMethods, name) : find_in(kListMethods, name);
      type = self.as_list().is_tuple ? "tuple" : "list";
      break;
    default: return std::nullopt;
  }
  if (!m) return std::nullopt;
  return Value::callable(std::make_shared<BoundMethod>(self, *m, type));
}

}  // namespace ag::jinja
