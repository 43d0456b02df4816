// jinja2's built-in filters, with transformers' `tojson` (json.dumps with ensure_ascii=False and
// no HTML escaping) in place of jinja2's own. Tests (`is defined`, ...) are in tests.cpp.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/py_str.h"

namespace ag::jinja {

namespace {

using Args = std::vector<std::optional<Value>>;

Value lower_if_str(Value v) {
  if (v.is_string()) return Value::string(py::lower(v.as_string()));
  return v;
}

// jinja2's make_attrgetter: "a.b.0" paths (or an integer index) looked up item-first; a default
// replaces an Undefined after each part.
Result<Value> attr_get(Interpreter& in, const Value& item, const std::optional<Value>& attribute,
                       const Value* dflt = nullptr) {
  if (!attribute || attribute->is_none()) return item;
  if (attribute->is_integral()) {
    AG_TRY(Value v, in.getitem(item, *attribute));
    if (dflt && v.is_undefined()) return *dflt;
    return v;
  }
  return in.get_path(item, to_str(*attribute), dflt);
}

// make_multi_attrgetter: "a,b" sorts by a tuple of attributes.
Result<Value> multi_attr_get(Interpreter& in, const Value& item, const std::optional<Value>& attribute, bool ignore_case) {
  if (!attribute || attribute->is_none() || attribute->is_integral() || to_str(*attribute).find(',') == std::string::npos) {
    AG_TRY(Value v, attr_get(in, item, attribute));
    return ignore_case ? lower_if_str(std::move(v)) : v;
  }
  std::vector<Value> parts;
  for (const std::string& p : py::split(to_str(*attribute), std::string(","), -1)) {
    AG_TRY(Value v, in.get_path(item, p));
    parts.push_back(ignore_case ? lower_if_str(std::move(v)) : std::move(v));
  }
  return Value::list(std::move(parts), true);
}

Result<std::vector<Value>> items_of(Interpreter& in, const Value& v) {
  AG_TRY(std::vector<Value> items, in.iterate(v));
  AG_TRY_STATUS(in.charge(items.size()));
  return items;
}

Result<Value> call_filter_named(Interpreter& in, const Value& name, Value item, CallArgs args) {
  const FilterFn* f = find_filter(to_str(name));
  if (!f) return error("no filter named '{}'", to_str(name));
  return f->fn(in, std::move(item), args);
}

Result<bool> call_test_named(Interpreter& in, const Value& name, const Value& item, CallArgs args) {
  const TestFn* t = find_test(to_str(name));
  if (!t) return error("no test named '{}'", to_str(name));
  return t->fn(in, item, args);
}

bool as_flag(const std::optional<Value>& v) { return v && truthy(*v); }

// --- filters ---------------------------------------------------------------------------------

Result<Value> f_abs(Interpreter&, Value v, CallArgs& args) {
  AG_TRY(Args a, bind_args("abs", args, {}, 0));
  if (v.is_integral()) {
    if (v.as_int() == INT64_MIN) return error("integer overflow in abs");
    return Value::integer(std::llabs(v.as_int()));
  }
  if (v.is_float()) return Value::floating(std::fabs(v.as_float()));
  return error("bad operand type for abs(): '{}'", type_name(v));
}

Result<Value> f_attr(Interpreter& in, Value v, CallArgs& args) {
  AG_TRY(Args a, bind_args("attr", args, {"name"}, 1));
  const std::string name = to_str(*a[0]);
  if (v.is_undefined()) return error("'{}' is undefined", v.undefined_name());
  if (v.is_dict()) {  // attribute only: dict keys are not attributes
    if (auto m = bind_method(v, name)) return *m;
    return Value::undefined(name);
  }
  return in.getattr(v, name);
}

Result<Value> f_batch(Interpreter& in, Value v, CallArgs& args) {
  AG_TRY(Args a, bind_args("batch", args, {"linecount", "fill_with"}, 1));
  if (!a[0]->is_integral() || a[0]->as_int() <= 0) return error("batch(): linecount must be a positive integer");
  const auto n = static_cast<size_t>(a[0]->as_int());
  AG_TRY(std::vector<Value> items, items_of(in, v));
  std::vector<Value> out;
  for (size_t i = 0; i < items.size(); i += n) {
    std::vector<Value> row(items.begin() + static_cast<ptrdiff_t>(i), items.begin() + static_cast<ptrdiff_t>(std::min(items.size(), i + n)));
    if (row.size() < n && a[1] && !a[1]->is_none()) row.resize(n, *a[1]);
    out.push_back(Value::list(std::move(row)));
  }
  return Value::generator(std::move(out));
}

Result<Value> f_capitalize(Interpreter&, Value v, CallArgs& args) {
  AG_TRY(Args a, bind_args("capitalize", args, {}, 0));
  return Value::string(py::capitalize(to_str(v)));
}

Result<Value> f_center(Interpreter& in, Value v, CallArgs& args) {
  AG_TRY(Args a, bind_args("center", args, {"width"}, 0));
  const int64_t width = a[0] && a[0]->is_integral() ? a[0]->as_int() : 80;
  AG_TRY_STATUS(in.check_size(static_cast<size_t>(std::clamp<int64_t>(width, 0, int64_t{1} << 40))));
  return Value::string(py::center(to_str(v), width, ' '));
}

Result<Value> f_default(Interpreter&, Value v, CallArgs& args) {
  AG_TRY(Args a, bind_args("default", args, {"default_value", "boolean"}, 0));
  if (v.is_undefined() || (as_flag(a[1]) && !truthy(v))) return a[0] ? *a[0] : Value::string("");
  return v;
}

Result<Value> f_dictsort(Interpreter& in, Value v, CallArgs& args) {
  AG_TRY(Args a, bind_args("dictsort", args, {"case_sensitive", "by", "reverse"}, 0));
  if (!v.is_dict()) return error("dictsort: expected a mapping, got {}", type_name(v));
  const std::string by = a[1] ? to_str(*a[1]) : "key";
  if (by != "key" && by != "value") return error("dictsort: you can only sort by either \"key\" or \"value\"");
  const size_t pos = by == "key" ? 0 : 1;
  const bool case_sensitive = as_flag(a[0]);
  const bool reverse = as_flag(a[2]);
  std::vector<std::pair<Value, Value>> entries;  // (sort key, item tuple)
  AG_TRY_STATUS(in.charge(v.as_dict().items.size()));
  for (const auto& [k, val] : v.as_dict().items) {
    Value key = pos == 0 ? k : val;
    entries.emplace_back(case_sensitive ? key : lower_if_str(key), Value::list({k, val}, true));
  }
  Status err;
  std::stable_sort(entries.begin(), entries.end(), [&](const auto& x, const auto& y) {
    auto c = reverse ? compare(y.first, x.first) : compare(x.first, y.first);
    if (!c.ok()) {
      if (err.ok()) err = c.error();
      return false;
    }
    return *c < 0;
  });
  AG_TRY_STATUS(err);
  std::vector<Value> out;
  for (auto& e : entries) out.push_back(std::move(e.second));
  return Value::list(std::move(out));
}

Result<Value> f_escape(Interpreter&, Value v, CallArgs& args) {
  AG_TRY(Args a, bind_args("escape", args, {}, 0));
  return Value::string(py::html_escape(to_str(v)));
}

Result<Value> f_first(Interpreter& in, Value v, CallArgs& args) {
  AG_TRY(Args a, bind_args("first", args, {}, 0));
  if (v.is_generator()) {  // next(iter(gen)) takes one item
    if (!v.as_list().deferred_error.empty()) return Error{v.as_list().deferred_error};
    auto& items = v.as_list().items;
    if (items.empty()) return Value::undefined("first");
    Value first = std::move(items.front());
    items.erase(items.begin());
    return first;
  }
  if (v.is_list()) return v.as_list().items.empty() ? Value::undefined("first") : v.as_list().items.front();
  AG_TRY(std::vector<Value> items, in.iterate(v));
  if (items.empty()) return Value::undefined("first");
  return items.front();
}

Result<Value> f_last(Interpreter& in, Value v, CallArgs& args) {
  AG_TRY(Args a, bind_args("last", args, {}, 0));
  if (v.is_generator()) return error("'generator' object is not reversible");
  if (v.is_list()) return v.as_list().items.empty() ? Value::undefined("last") : v.as_list().items.back();
  AG_TRY(std::vector<Value> items, in.iterate(v));
  if (items.empty()) return Value::undefined("last");
  return items.back();
}

Result<Value> f_float(Interpreter&, Value v, CallArgs& args) {
  AG_TRY(Args a, bind_args("float", args, {"default"}, 0));
  const Value dflt = a[0] ? *a[0] : Value::floating(0.0);
  if (v.is_number()) return Value::floating(v.as_float());
  if (v.is_undefined()) return error("'{}' is undefined", v.undefined_name());
  if (v.is_string())
    if (auto d = parse_py_float(v.as_string())) return Value::floating(*d);
  return dflt;
}

Result<Value> f_format(Interpreter& in, Value v, CallArgs& args) {
  if (!args.positional.empty() && !args.keyword.empty())
    return error("format: can't handle positional and keyword arguments at the same time");
  Value params;
  if (!args.keyword.empty()) {
    DictObj d;
    for (auto& [k, val] : args.keyword) d.items.emplace_back(Value::string(k), val);
    params = Value::dict(std::move(d));
  } else {
    params = Value::list(args.positional, true);
  }
  AG_TRY(std::string s, percent_format(in, to_str(v), params));
  return Value::string(std::move(s));
}

Result<Value> f_indent(Interpreter& in, Value v, CallArgs& args) {
  AG_TRY(Args a, bind_args("indent", args, {"width", "first", "blank"}, 0));
  if (v.is_undefined()) return error("'{}' is undefined", v.undefined_name());  // jinja2 does s += "\n"
  if (!v.is_string()) return error("indent: expected a string, not {}", type_name(v));
  std::string indention;
  if (a[0] && a[0]->is_string()) {
    indention = a[0]->as_string();
  } else {
    const int64_t w = a[0] && a[0]->is_integral() ? a[0]->as_int() : 4;
    AG_TRY_STATUS(in.check_size(static_cast<size_t>(std::clamp<int64_t>(w, 0, int64_t{1} << 40))));
    indention.assign(static_cast<size_t>(std::max<int64_t>(0, w)), ' ');
  }
  const std::string s = to_str(v) + "\n";  // jinja2 appends a newline so splitlines keeps a last empty line
  const std::vector<std::string> lines = py::splitlines(s, false);
  std::string rv;
  if (as_flag(a[2])) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i) rv += "\n" + indention;
      rv += lines[i];
    }
  } else {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i) {
        rv += "\n";
        if (!lines[i].empty()) rv += indention;
      }
      rv += lines[i];
    }
  }
  if (as_flag(a[1])) rv = indention + rv;
  AG_TRY_STATUS(in.check_size(rv.size()));
  return Value::string(std::move(rv));
}

Result<Value> f_int(Interpreter&, Value v, CallArgs& args) {
  AG_TRY(Args a, bind_args("int", args, {"default", "base"}, 0));
  const Value dflt = a[0] ? *a[0] : Value::integer(0);
  const int base = a[1] && a[1]->is_integral() ? static_cast<int>(a[1]->as_int()) : 10;
  if (v.is_undefined()) return error("'{}' is undefined", v.undefined_name());
  if (v.is_integral()) return Value::integer(v.as_int());
  if (v.is_float()) {
    const double d = v.as_float();
    if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) return dflt;
    return Value::integer(static_cast<int64_t>(d));
  }
  if (v.is_string()) {
    if (auto i = parse_py_int(v.as_string(), base)) return Value::integer(*i);
    if (auto d = parse_py_float(v.as_string()); d && std::isfinite(*d) && std::fabs(*d) < 9.2e18)
      return Value::integer(static_cast<int64_t>(*d));
  }
  return dflt;
}

Result<Value> f_items(Interpreter& in, Value v, CallArgs& args) {
  AG_TRY(Args a, bind_args("items", args, {}, 0));
  if (v.is_undefined()) return Value::generator({});
  if (!v.is_dict()) return error("can only get item pairs from a mapping");
  std::vector<Value> out;
  AG_TRY_STATUS(in.charge(v.as_dict().items.size()));
  for (const auto& [k, val] : v.as_dict().items) out.push_back(Value::list({k, val}, true));
  return Value::generator(std::move(out));
}

Result<Value> f_join(Interpreter& in, Value v, CallArgs& args) {
  AG_TRY(Args a, bind_args("join", args, {"d", "attribute"}, 0));
  const std::string sep = a[0] ? to_str(*a[0]) : "";
  AG_TRY(std::vector<Value> items, items_of(in, v));
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    AG_TRY(Value item, attr_get(in, items[i], a[1]));
    if (i) out += sep;
    append_str(out, item);
    AG_TRY_STATUS(in.check_size(out.size()));
  }
  return Value::string(std::move(out));
}

Result<Value> f_length(Interpreter&, Value v, CallArgs& args) {
  AG_TRY(Args a, bind_args("length", args, {}, 0));
  switch (v.kind()) {
    case Value::Kind::undefined: return Value::integer(0);
    case Value::Kind::string: return Value::integer(static_cast<int64_t>(py::length(v.as_string())));
    case Value::Kind::list:
      if (v.is_generator()) return error("object of type 'generator' has no len()");
      return Value::integer(static_cast<int64_t>(v.as_list().items.size()));
    case Value::Kind::dict: return Value::integer(static_cast<int64_t>(v.as_dict().items.size()));
    default: return error("object of type '{}' has no len()", type_name(v));
  }
}

Result<Value> f_list(Interpreter& in, Value v, CallArgs& args) {
  AG_TRY(Args a, bind_args("list", args, {}, 0));
  AG_TRY(std::vector<Value> items, items_of(in, v));
  return Value::list(std::move(items));
}

Result<Value> f_lower(Interpreter&, Value v, CallArgs& args) {
  AG_TRY(Args a, bind_args("lower", args, {}, 0));
  return Value::string(py::lower(to_str(v)));
}

Result<Value> f_upper(Interpreter&, Value v, CallArgs& args) {
  AG_TRY(Args a, bind_args("upper", args, {}, 0));
  return Value::string(py::upper(to_str(v)));
}

Result<Value> f_map(Interpreter& in, Value v, CallArgs& args) {
  if (!truthy(v)) return Value::generator({});
  AG_TRY(std::vector<Value> items, items_of(in, v));
  std::vector<Value> out;
  out.reserve(items.size());
  const bool by_attribute = args.positional.empty() &&
                            std::any_of(args.keyword.begin(), args.keyword.end(), [](const auto& kw) { return kw.first == "attribute"; });
  if (by_attribute) {
    AG_TRY(Args a, bind_args("map", args, {"attribute", "default"}, 1));
    const Value* dflt = a[1] && !a[1]->is_none() ? &*a[1] : nullptr;
    for (const Value& item : items) {
      AG_TRY(Value r, attr_get(in, item, a[0], dflt));
      out.push_back(std::move(r));
    }
    return Value::generator(std::move(out));
  }
  if (args.positional.empty()) return error("map requires a filter argument");
  const Value name = args.positional[0];
  CallArgs rest;
  rest.positional.assign(args.positional.begin() + 1, args.positional.end());
  rest.keyword = args.keyword;
  for (Value& item : items) {
    AG_TRY(Value r, call_filter_named(in, name, std::move(item), rest));
    out.push_back(std::move(r));
  }
  return Value::generator(std::move(out));
}

Result<Value> min_or_max(Interpreter& in, Value v, CallArgs& args, bool want_max) {
  AG_TRY(Args a, bind_args(want_max ? "max" : "min", args, {"case_sensitive", "attribute"}, 0));
  AG_TRY(std::vector<Value> items, items_of(in, v));
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  size_t best = 0;
  AG_TRY(Value best_key, multi_attr_get(in, items[0], a[1], !as_flag(a[0])));
  for (size_t i = 1; i < items.size(); ++i) {
    AG_TRY(Value key, multi_attr_get(in, items[i], a[1], !as_flag(a[0])));
    AG_TRY(int c, compare(key, best_key));
    if (want_max ? c > 0 : c < 0) {
      best = i;
      best_key = std::move(key);
    }
  }
  return items[best];
}
Result<Value> f_max(Interpreter& in, Value v, CallArgs& args) { return min_or_max(in, std::move(v), args, true); }
Result<Value> f_min(Interpreter& in, Value v, CallArgs& args) { return min_or_max(in, std::move(v), args, false); }

Result<Value> select_impl(Interpreter& in, Value v, CallArgs& args, bool keep_if, bool by_attr) {
  if (!truthy(v)) return Value::generator({});
  AG_TRY(std::vector<Value> items, items_of(in, v));
  size_t off = 0;
  std::optional<Value> attr;
  if (by_attr) {
    if (args.positional.empty()) return error("missing parameter for attribute name");
    attr = args.positional[0];
    off = 1;
  }
  const bool has_test = args.positional.size() > off;
  CallArgs test_args;
  if (has_test) {
    test_args.positional.assign(args.positional.begin() + static_cast<ptrdiff_t>(off + 1), args.positional.end());
    test_args.keyword = args.keyword;
  }
  std::vector<Value> out;
  for (const Value& item : items) {
    AG_TRY(Value probe, attr_get(in, item, attr));
    bool ok;
    if (has_test) {
      AG_TRY(ok, call_test_named(in, args.positional[off], probe, test_args));
    } else {
      ok = truthy(probe);
    }
    if (ok == keep_if) out.push_back(item);
  }
  return Value::generator(std::move(out));
}
Result<Value> f_select(Interpreter& in, Value v, CallArgs& a) { return select_impl(in, std::move(v), a, true, false); }
Result<Value> f_reject(Interpreter& in, Value v, CallArgs& a) { return select_impl(in, std::move(v), a, false, false); }
Result<Value> f_selectattr(Interpreter& in, Value v, CallArgs& a) { return select_impl(in, std::move(v), a, true, true); }
Result<Value> f_rejectattr(Interpreter& in, Value v, CallArgs& a) { return select_impl(in, std::move(v), a, false, true); }

Result<Value> f_replace(Interpreter& in, Value v, CallArgs& args) {
  AG_TRY(Args a, bind_args("replace", args, {"old", "new", "count"}, 2));
  const int64_t count = a[2] && a[2]->is_integral() ? a[2]->as_int() : -1;
  std::string out = py::replace(to_str(v), to_str(*a[0]), to_str(*a[1]), count);
  AG_TRY_STATUS(in.check_size(out.size()));
  return Value::string(std::move(out));
}

Result<Value> f_reverse(Interpreter& in, Value v, CallArgs& args) {
  AG_TRY(Args a, bind_args("reverse", args, {}, 0));
  if (v.is_string()) {
    std::u32string u = py::decode(v.as_string());
    std::reverse(u.begin(), u.end());
    return Value::string(py::encode(u));
  }
  AG_TRY(std::vector<Value> items, items_of(in, v));
  std::reverse(items.begin(), items.end());
  // reversed() of a sequence is an iterator; a generator is not reversible, so jinja2 falls back
  // to list(value) reversed, a list.
  if (v.is_generator()) return Value::list(std::move(items));
  return Value::generator(std::move(items));
}

Result<Value> f_round(Interpreter&, Value v, CallArgs& args) {
  AG_TRY(Args a, bind_args("round", args, {"precision", "method"}, 0));
  const int64_t precision = a[0] && a[0]->is_integral() ? a[0]->as_int() : 0;
  const std::string method = a[1] ? to_str(*a[1]) : "common";
  if (method != "common" && method != "ceil" && method != "floor")
    return error("round: method must be common, ceil or floor");
  if (!v.is_number()) return error("type {} doesn't define __round__ method", type_name(v));
  if (method == "common" && v.is_integral()) {
    if (precision >= 0) return Value::integer(v.as_int());
    if (precision < -18) return Value::integer(0);
    // round(int, -k): to a multiple of 10**k, ties to even, staying an int
    int64_t m = 1;
    for (int64_t i = 0; i < -precision; ++i) m *= 10;
    const int64_t x = v.as_int();
    int64_t q = x / m, r = x % m;
    if (r < 0) {
      r += m;
      --q;
    }
    if (2 * r > m || (2 * r == m && (q & 1))) ++q;
    int64_t out = 0;
    if (__builtin_mul_overflow(q, m, &out)) return error("integer overflow in round");
    return Value::integer(out);
  }
  const double x = v.as_float();
  if (method != "common") {
    const double scale = std::pow(10.0, static_cast<double>(precision));
    const double r = method == "ceil" ? std::ceil(x * scale) : std::floor(x * scale);
    return Value::floating(r / scale);
  }
  if (!std::isfinite(x)) return Value::floating(x);
  if (precision >= 0 && precision <= 300) {
    // printf rounds the exact binary value half-to-even, as Python's round() does.
    char buf[512];
    std::snprintf(buf, sizeof(buf), "%.*f", static_cast<int>(std::min<int64_t>(precision, 300)), x);
    return Value::floating(std::strtod(buf, nullptr));
  }
  const double scale = std::pow(10.0, static_cast<double>(-precision));
  return Value::floating(std::nearbyint(x / scale) * scale);
}

Result<Value> f_safe(Interpreter&, Value v, CallArgs& args) {
  AG_TRY(Args a, bind_args("safe", args, {}, 0));
  if (v.is_string()) return v;
  return Value::string(to_str(v));
}

Result<Value> f_sort(Interpreter& in, Value v, CallArgs& args) {
  AG_TRY(Args a, bind_args("sort", args, {"reverse", "case_sensitive", "attribute"}, 0));
  AG_TRY(std::vector<Value> items, items_of(in, v));
  std::vector<std::pair<Value, Value>> keyed;
  keyed.reserve(items.size());
  for (Value& item : items) {
    AG_TRY(Value key, multi_attr_get(in, item, a[2], !as_flag(a[1])));
    keyed.emplace_back(std::move(key), std::move(item));
  }
  const bool reverse = as_flag(a[0]);
  Status err;
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
    auto c = reverse ? compare(y.first, x.first) : compare(x.first, y.first);
    if (!c.ok()) {
      if (err.ok()) err = c.error();
      return false;
    }
    return *c < 0;
  });
  AG_TRY_STATUS(err);
  std::vector<Value> out;
  out.reserve(keyed.size());
  for (auto& k : keyed) out.push_back(std::move(k.second));
  return Value::list(std::move(out));
}

Result<Value> f_string(Interpreter&, Value v, CallArgs& args) {
  AG_TRY(Args a, bind_args("string", args, {}, 0));
  if (v.is_string()) return v;
  return Value::string(to_str(v));
}

Result<Value> f_sum(Interpreter& in, Value v, CallArgs& args) {
  AG_TRY(Args a, bind_args("sum", args, {"attribute", "start"}, 0));
  AG_TRY(std::vector<Value> items, items_of(in, v));
  Value total = a[1] ? *a[1] : Value::integer(0);
  for (const Value& item : items) {
    AG_TRY(Value x, attr_get(in, item, a[0]));
    if (total.is_string() || x.is_string()) return error("sum() can't sum strings");
    AG_TRY(total, in.add(total, x));
  }
  return total;
}

Result<Value> f_title(Interpreter&, Value v, CallArgs& args) {
  AG_TRY(Args a, bind_args("title", args, {}, 0));
  return Value::string(py::jinja_title(to_str(v)));
}

// transformers' override: json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
Result<Value> f_tojson(Interpreter& in, Value v, CallArgs& args) {
  AG_TRY(Args a, bind_args("tojson", args, {"ensure_ascii", "indent", "separators", "sort_keys"}, 0));
  JsonStyle style;
  style.ensure_ascii = as_flag(a[0]);
  if (a[1] && !a[1]->is_none()) {
    if (a[1]->is_string()) {
      style.indent_is_str = true;
      style.indent_str = a[1]->as_string();
    } else if (a[1]->is_integral()) {
      style.indent = static_cast<int>(std::clamp<int64_t>(a[1]->as_int(), 0, 1024));
    } else {
      return error("tojson: indent must be an integer or a string, not {}", type_name(*a[1]));
    }
  }
  if (a[2] && !a[2]->is_none()) {
    AG_TRY(std::vector<Value> seps, in.iterate(*a[2]));
    if (seps.size() != 2 || !seps[0].is_string() || !seps[1].is_string())
      return error("tojson: separators must be a pair of strings");
    style.has_separators = true;
    style.item_sep = seps[0].as_string();
    style.key_sep = seps[1].as_string();
  }
  style.sort_keys = as_flag(a[3]);
  std::string out;
  AG_TRY_STATUS(dump_json(out, v, style));
  AG_TRY_STATUS(in.check_size(out.size()));
  return Value::string(std::move(out));
}

Result<Value> f_trim(Interpreter&, Value v, CallArgs& args) {
  AG_TRY(Args a, bind_args("trim", args, {"chars"}, 0));
  std::optional<std::string> chars;
  if (a[0] && !a[0]->is_none()) chars = to_str(*a[0]);
  return Value::string(py::strip(to_str(v), chars, true, true));
}

Result<Value> f_truncate(Interpreter&, Value v, CallArgs& args) {
  AG_TRY(Args a, bind_args("truncate", args, {"length", "killwords", "end", "leeway"}, 0));
  const int64_t length = a[0] && a[0]->is_integral() ? a[0]->as_int() : 255;
  const std::string end = a[2] ? to_str(*a[2]) : "...";
  const int64_t leeway = a[3] && a[3]->is_integral() ? a[3]->as_int() : 5;
  const auto end_len = static_cast<int64_t>(py::length(end));
  if (length < end_len) return error("truncate: expected length >= {}, got {}", end_len, length);
  if (leeway < 0) return error("truncate: expected leeway >= 0, got {}", leeway);
  // len(s) first: a value shorter than the limit comes back unchanged, whatever its type.
  int64_t n = 0;
  if (v.is_string()) {
    n = static_cast<int64_t>(py::length(v.as_string()));
  } else if (v.is_list() && !v.is_generator()) {
    n = static_cast<int64_t>(v.as_list().items.size());
  } else if (v.is_dict()) {
    n = static_cast<int64_t>(v.as_dict().items.size());
  } else if (!v.is_undefined()) {
    return error("object of type '{}' has no len()", type_name(v));
  }
  if (n <= length + leeway) return v;
  if (!v.is_string()) return error("truncate: '{}' object cannot be truncated", type_name(v));
  const std::u32string u = py::decode(v.as_string());
  std::string head = py::encode(std::u32string_view(u).substr(0, static_cast<size_t>(length - end_len)));
  if (as_flag(a[1])) return Value::string(head + end);
  const auto parts = py::rsplit(head, std::string(" "), 1);
  return Value::string(parts[0] + end);
}

Result<Value> f_unique(Interpreter& in, Value v, CallArgs& args) {
  AG_TRY(Args a, bind_args("unique", args, {"case_sensitive", "attribute"}, 0));
  AG_TRY(std::vector<Value> items, items_of(in, v));
  std::vector<Value> seen, out;
  for (Value& item : items) {
    AG_TRY(Value key, attr_get(in, item, a[1]));
    if (!as_flag(a[0])) key = lower_if_str(std::move(key));
    AG_TRY_STATUS(in.charge(seen.size()));
    if (std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, key); })) continue;
    seen.push_back(std::move(key));
    out.push_back(std::move(item));
  }
  return Value::generator(std::move(out));
}

Result<Value> f_wordcount(Interpreter&, Value v, CallArgs& args) {
  AG_TRY(Args a, bind_args("wordcount", args, {}, 0));
  int64_t n = 0;
  bool in_word = false;
  for (char32_t c : py::decode(to_str(v))) {
    const bool w = py::is_word(c);
    if (w && !in_word) ++n;
    in_word = w;
  }
  return Value::integer(n);
}

// jinja2's map, select, reject, selectattr, rejectattr, unique, batch and items are generator
// functions: nothing runs until the result is consumed. They are computed eagerly here, but a
// failure is kept in the generator and raised only when something consumes it (printing it or
// testing its truth does not), as in jinja2. Limit errors are never deferred.
template <Result<Value> (*F)(Interpreter&, Value, CallArgs&)>
Result<Value> lazy(Interpreter& in, Value v, CallArgs& args) {
  auto r = F(in, std::move(v), args);
  if (r.ok() || in.limit_exceeded()) return r;
  Value g = Value::generator({});
  g.as_list().deferred_error = r.error().message;
  return g;
}

const FilterFn kFilters[] = {
    {"abs", f_abs},         {"attr", f_attr},           {"batch", lazy<f_batch>},       {"capitalize", f_capitalize},
    {"center", f_center},   {"count", f_length},        {"d", f_default},         {"default", f_default},
    {"dictsort", f_dictsort}, {"e", f_escape},          {"escape", f_escape},     {"first", f_first},
    {"float", f_float},     {"forceescape", f_escape},  {"format", f_format},     {"indent", f_indent},
    {"int", f_int},         {"items", lazy<f_items>},         {"join", f_join},         {"last", f_last},
    {"length", f_length},   {"list", f_list},           {"lower", f_lower},       {"map", lazy<f_map>},
    {"max", f_max},         {"min", f_min},             {"reject", lazy<f_reject>},     {"rejectattr", lazy<f_rejectattr>},
    {"replace", f_replace}, {"reverse", f_reverse},     {"round", f_round},       {"safe", f_safe},
    {"select", lazy<f_select>},   {"selectattr", lazy<f_selectattr>}, {"sort", f_sort},       {"string", f_string},
    {"sum", f_sum},         {"title", f_title},         {"tojson", f_tojson},     {"trim", f_trim},
    {"truncate", f_truncate}, {"unique", lazy<f_unique>},     {"upper", f_upper},       {"wordcount", f_wordcount},
};

}  // namespace

const FilterFn* find_filter(std::string_view name) {
  for (const FilterFn& f : kFilters)
    if (f.name == name) return &f;
  return nullptr;
}

}  // namespace ag::jinja
