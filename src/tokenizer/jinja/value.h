#pragma once
// Values of the Jinja subset: Python's object model reduced to what chat templates use.
// Lists, dicts and namespaces are shared references (as in Python), so `ns.items` seen from two
// scopes is one object; strings and numbers are plain values.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/result.h"

namespace ag::jinja {

class Value;
class Interpreter;

// jinja2.Undefined: what a missing variable, key or attribute evaluates to. It prints as "" and
// is falsy; arithmetic, attribute access or calls on it are errors that name it.
struct Undefined {
  std::string name;
};
struct None {};

// Lists and dicts nested deeper than this are an error: it keeps recursive printing, comparison
// and destruction bounded whatever a template builds.
inline constexpr uint32_t kMaxValueNesting = 256;

struct ListObj {
  std::vector<Value> items;
  bool is_tuple = false;  // only changes how it prints: (a, b) instead of [a, b]
  // A Python generator (what map, select, unique, batch, items and reverse return): always truthy,
  // no len(), not subscriptable, and iterating it consumes it.
  bool is_generator = false;
  // A generator whose (lazy, in jinja2) computation failed: consuming it raises this.
  std::string deferred_error;
  uint32_t depth = 1;     // 1 + the deepest nested list/dict among items (kept on append)
};

// An insertion-ordered dict (Python 3.7+ order). Lookups are linear: chat-template dicts are small.
struct DictObj {
  std::vector<std::pair<Value, Value>> items;
  uint32_t depth = 1;  // as ListObj::depth; set by Value::dict()

  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;
  void set(Value key, Value value);
};

// jinja2's namespace(): the one object a template may assign attributes to.
struct NamespaceObj {
  DictObj attrs;  // keys are strings
};

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

// Functions, macros and bound methods.
class Callable {
 public:
  virtual ~Callable() = default;
  virtual std::string_view name() const = 0;
  virtual Result<Value> call(Interpreter& interp, CallArgs args) const = 0;
};

class Value {
 public:
  enum class Kind : uint8_t { undefined, none, boolean, integer, floating, string, list, dict, ns, callable };

  Value() : v_(Undefined{}) {}

  static Value undefined(std::string name = {}) { return Value(Undefined{std::move(name)}); }
  static Value none() { return Value(None{}); }
  static Value boolean(bool b) { return Value(b); }
  static Value integer(int64_t i) { return Value(i); }
  static Value floating(double d) { return Value(d); }
  static Value string(std::string s) { return Value(std::move(s)); }
  static Value string(std::string_view s) { return Value(std::string(s)); }
  static Value string(const char* s) { return Value(std::string(s)); }
  static Value list(std::vector<Value> items = {}, bool is_tuple = false);
  static Value generator(std::vector<Value> items);
  static Value dict(DictObj d = {});
  static Value ns(NamespaceObj n = {});
  static Value callable(std::shared_ptr<const Callable> c) { return Value(std::move(c)); }

  Kind kind() const { return static_cast<Kind>(v_.index()); }
  bool is_undefined() const { return kind() == Kind::undefined; }
  bool is_none() const { return kind() == Kind::none; }
  bool is_bool() const { return kind() == Kind::boolean; }
  bool is_int() const { return kind() == Kind::integer; }
  bool is_float() const { return kind() == Kind::floating; }
  bool is_string() const { return kind() == Kind::string; }
  bool is_list() const { return kind() == Kind::list; }
  bool is_generator() const { return is_list() && as_list().is_generator; }
  bool is_dict() const { return kind() == Kind::dict; }
  bool is_ns() const { return kind() == Kind::ns; }
  bool is_callable() const { return kind() == Kind::callable; }
  // Python's numbers.Number: bool is an int subclass.
  bool is_number() const { return is_int() || is_float() || is_bool(); }
  // int or bool (bool takes part in integer arithmetic as 0/1).
  bool is_integral() const { return is_int() || is_bool(); }

  const std::string& undefined_name() const { return std::get<Undefined>(v_).name; }
  bool as_bool() const { return std::get<bool>(v_); }
  int64_t as_int() const { return is_bool() ? (as_bool() ? 1 : 0) : std::get<int64_t>(v_); }
  double as_float() const {
    return is_float() ? std::get<double>(v_) : static_cast<double>(as_int());
  }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  ListObj& as_list() const { return *std::get<std::shared_ptr<ListObj>>(v_); }
  DictObj& as_dict() const { return *std::get<std::shared_ptr<DictObj>>(v_); }
  NamespaceObj& as_ns() const { return *std::get<std::shared_ptr<NamespaceObj>>(v_); }
  const Callable& as_callable() const { return *std::get<std::shared_ptr<const Callable>>(v_); }

  // Identity of shared objects (Python `is` for lists, dicts, namespaces, callables).
  const void* identity() const;

 private:
  using Storage = std::variant<Undefined, None, bool, int64_t, double, std::string,
                               std::shared_ptr<ListObj>, std::shared_ptr<DictObj>,
                               std::shared_ptr<NamespaceObj>, std::shared_ptr<const Callable>>;
  template <typename T>
  explicit Value(T v) : v_(std::move(v)) {}
  Storage v_;
};

// Python truthiness (Undefined is falsy).
bool truthy(const Value& v);
// Python type name, for error messages: "str", "int", "list", "dict", "NoneType", ...
std::string_view type_name(const Value& v);
// str(v) as Jinja prints it: None → "None", True → "True", lists/dicts as Python repr,
// Undefined → "".
std::string to_str(const Value& v);
void append_str(std::string& out, const Value& v);
// repr(v): strings quoted the way Python quotes them.
void append_repr(std::string& out, const Value& v);
// Python float repr: shortest round-trip digits, "1.0", "1e+16", "1e-05", "inf", "nan".
std::string format_float(double d);
// Python ==, deep for lists and dicts; 1 == 1.0 == True. Undefined equals only Undefined.
bool equals(const Value& a, const Value& b);
// Python ordering (<): numbers, strings (by code point), lists/tuples lexicographically.
// Returns -1, 0 or 1; an error for types Python cannot order.
Result<int> compare(const Value& a, const Value& b);

// Nesting depth of a list/dict value (0 for anything else).
uint32_t nesting_depth(const Value& v);

// JSON input (chat messages, tools) into values; object key order is kept. Errors when nested
// deeper than kMaxValueNesting.
Result<Value> from_json(const nlohmann::ordered_json& j);

// json.dumps(v, ensure_ascii, indent, separators, sort_keys) as transformers' `tojson` filter
// calls it. indent < 0 means None (one line, ", " and ": "); indent_str overrides the spaces.
struct JsonStyle {
  int indent = -1;
  std::string indent_str;  // used instead of `indent` spaces when non-empty
  bool indent_is_str = false;
  std::string item_sep;  // empty: Python's default for the indent mode
  std::string key_sep;
  bool has_separators = false;
  bool sort_keys = false;
  bool ensure_ascii = false;
};
Status dump_json(std::string& out, const Value& v, const JsonStyle& style);

}  // namespace ag::jinja
