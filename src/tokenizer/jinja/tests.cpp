// jinja2's built-in tests (`x is defined`, `x is divisibleby 3`, `x is equalto y`, ...).
#include <cmath>

#include "tokenizer/jinja/interpreter.h"

namespace ag::jinja {

namespace {

using Args = std::vector<std::optional<Value>>;

Result<Value> one_arg(std::string_view name, CallArgs& args) {
  AG_TRY(Args a, bind_args(name, args, {"other"}, 1));
  return *a[0];
}

Result<bool> no_args(std::string_view name, CallArgs& args) {
  AG_TRY(Args a, bind_args(name, args, {}, 0));
  return true;
}

Result<bool> t_defined(Interpreter&, const Value& v, CallArgs& a) {
  AG_TRY_STATUS(no_args("defined", a));
  return !v.is_undefined();
}
Result<bool> t_undefined(Interpreter&, const Value& v, CallArgs& a) {
  AG_TRY_STATUS(no_args("undefined", a));
  return v.is_undefined();
}
Result<bool> t_none(Interpreter&, const Value& v, CallArgs& a) {
  AG_TRY_STATUS(no_args("none", a));
  return v.is_none();
}
Result<bool> t_boolean(Interpreter&, const Value& v, CallArgs& a) {
  AG_TRY_STATUS(no_args("boolean", a));
  return v.is_bool();
}
Result<bool> t_true(Interpreter&, const Value& v, CallArgs& a) {
  AG_TRY_STATUS(no_args("true", a));
  return v.is_bool() && v.as_bool();
}
Result<bool> t_false(Interpreter&, const Value& v, CallArgs& a) {
  AG_TRY_STATUS(no_args("false", a));
  return v.is_bool() && !v.as_bool();
}
Result<bool> t_integer(Interpreter&, const Value& v, CallArgs& a) {
  AG_TRY_STATUS(no_args("integer", a));
  return v.is_int();
}
Result<bool> t_float(Interpreter&, const Value& v, CallArgs& a) {
  AG_TRY_STATUS(no_args("float", a));
  return v.is_float();
}
Result<bool> t_number(Interpreter&, const Value& v, CallArgs& a) {
  AG_TRY_STATUS(no_args("number", a));
  return v.is_number();
}
Result<bool> t_string(Interpreter&, const Value& v, CallArgs& a) {
  AG_TRY_STATUS(no_args("string", a));
  return v.is_string();
}
Result<bool> t_mapping(Interpreter&, const Value& v, CallArgs& a) {
  AG_TRY_STATUS(no_args("mapping", a));
  return v.is_dict();
}
Result<bool> t_iterable(Interpreter&, const Value& v, CallArgs& a) {
  AG_TRY_STATUS(no_args("iterable", a));
  return v.is_list() || v.is_dict() || v.is_string() || v.is_undefined();
}
Result<bool> t_sequence(Interpreter&, const Value& v, CallArgs& a) {
  AG_TRY_STATUS(no_args("sequence", a));
  return (v.is_list() && !v.is_generator()) || v.is_dict() || v.is_string() || v.is_undefined();
}
Result<bool> t_callable(Interpreter&, const Value& v, CallArgs& a) {
  AG_TRY_STATUS(no_args("callable", a));
  return v.is_callable() || v.is_undefined();  // Undefined defines __call__ (that raises)
}
Result<bool> t_escaped(Interpreter&, const Value&, CallArgs& a) {
  AG_TRY_STATUS(no_args("escaped", a));
  return false;  // no Markup values: autoescaping is off in chat templates
}
Result<bool> t_lower(Interpreter& in, const Value& v, CallArgs& a) {
  AG_TRY_STATUS(no_args("lower", a));
  CallArgs none;
  AG_TRY(Value r, bind_method(Value::string(to_str(v)), "islower")->as_callable().call(in, none));
  return r.as_bool();
}
Result<bool> t_upper(Interpreter& in, const Value& v, CallArgs& a) {
  AG_TRY_STATUS(no_args("upper", a));
  CallArgs none;
  AG_TRY(Value r, bind_method(Value::string(to_str(v)), "isupper")->as_callable().call(in, none));
  return r.as_bool();
}

Result<int64_t> int_operand(const Value& v, std::string_view test) {
  if (v.is_undefined()) return error("'{}' is undefined", v.undefined_name());
  if (!v.is_number()) return error("test '{}' needs a number, not {}", test, type_name(v));
  return v.is_float() ? static_cast<int64_t>(v.as_float()) : v.as_int();
}

Result<bool> t_odd(Interpreter&, const Value& v, CallArgs& a) {
  AG_TRY_STATUS(no_args("odd", a));
  if (v.is_float()) return std::fmod(std::fabs(v.as_float()), 2.0) == 1.0;
  AG_TRY(int64_t x, int_operand(v, "odd"));
  return (x % 2) != 0;
}
Result<bool> t_even(Interpreter&, const Value& v, CallArgs& a) {
  AG_TRY_STATUS(no_args("even", a));
  if (v.is_float()) return std::fmod(v.as_float(), 2.0) == 0.0;
  AG_TRY(int64_t x, int_operand(v, "even"));
  return (x % 2) == 0;
}
Result<bool> t_divisibleby(Interpreter&, const Value& v, CallArgs& args) {
  AG_TRY(Args a, bind_args("divisibleby", args, {"num"}, 1));
  const Value& n = *a[0];
  if (!v.is_number() || !n.is_number()) return error("divisibleby needs numbers, not {} and {}", type_name(v), type_name(n));
  if (v.is_integral() && n.is_integral()) {
    if (n.as_int() == 0) return error("integer division or modulo by zero");
    if (n.as_int() == -1) return true;
    return v.as_int() % n.as_int() == 0;
  }
  if (n.as_float() == 0.0) return error("float modulo");
  return std::fmod(v.as_float(), n.as_float()) == 0.0;
}

Result<bool> t_eq(Interpreter&, const Value& v, CallArgs& a) {
  AG_TRY(Value o, one_arg("eq", a));
  return equals(v, o);
}
Result<bool> t_ne(Interpreter&, const Value& v, CallArgs& a) {
  AG_TRY(Value o, one_arg("ne", a));
  return !equals(v, o);
}
Result<bool> ordered(const Value& v, CallArgs& a, std::string_view name, bool (*pred)(int)) {
  AG_TRY(Value o, one_arg(name, a));
  if (v.is_undefined()) return error("'{}' is undefined", v.undefined_name());
  if (o.is_undefined()) return error("'{}' is undefined", o.undefined_name());
  AG_TRY(int c, compare(v, o));
  return pred(c);
}
Result<bool> t_lt(Interpreter&, const Value& v, CallArgs& a) { return ordered(v, a, "lt", [](int c) { return c < 0; }); }
Result<bool> t_le(Interpreter&, const Value& v, CallArgs& a) { return ordered(v, a, "le", [](int c) { return c <= 0; }); }
Result<bool> t_gt(Interpreter&, const Value& v, CallArgs& a) { return ordered(v, a, "gt", [](int c) { return c > 0; }); }
Result<bool> t_ge(Interpreter&, const Value& v, CallArgs& a) { return ordered(v, a, "ge", [](int c) { return c >= 0; }); }

Result<bool> t_in(Interpreter& in, const Value& v, CallArgs& a) {
  AG_TRY(Value seq, one_arg("in", a));
  return in.contains(seq, v);
}

Result<bool> t_sameas(Interpreter&, const Value& v, CallArgs& a) {
  AG_TRY(Value o, one_arg("sameas", a));
  if (v.identity() || o.identity()) return v.identity() == o.identity();
  return v.kind() == o.kind() && equals(v, o);
}

Result<bool> t_filter(Interpreter&, const Value& v, CallArgs& a) {
  AG_TRY_STATUS(no_args("filter", a));
  return v.is_string() && find_filter(v.as_string()) != nullptr;
}
Result<bool> t_test(Interpreter&, const Value& v, CallArgs& a) {
  AG_TRY_STATUS(no_args("test", a));
  return v.is_string() && find_test(v.as_string()) != nullptr;
}

const TestFn kTests[] = {
    {"boolean", t_boolean}, {"callable", t_callable}, {"defined", t_defined}, {"divisibleby", t_divisibleby},
    {"eq", t_eq},           {"equalto", t_eq},         {"==", t_eq},           {"escaped", t_escaped},
    {"even", t_even},       {"false", t_false},        {"filter", t_filter},   {"float", t_float},
    {"ge", t_ge},           {">=", t_ge},              {"gt", t_gt},           {">", t_gt},
    {"greaterthan", t_gt},  {"in", t_in},              {"integer", t_integer}, {"iterable", t_iterable},
    {"le", t_le},           {"<=", t_le},              {"lower", t_lower},     {"lt", t_lt},
    {"<", t_lt},            {"lessthan", t_lt},        {"mapping", t_mapping}, {"ne", t_ne},
    {"!=", t_ne},           {"none", t_none},          {"number", t_number},   {"odd", t_odd},
    {"sameas", t_sameas},   {"sequence", t_sequence},  {"string", t_string},   {"test", t_test},
    {"true", t_true},       {"undefined", t_undefined}, {"upper", t_upper},
};

}  // namespace

const TestFn* find_test(std::string_view name) {
  for (const TestFn& t : kTests)
    if (t.name == name) return &t;
  return nullptr;
}

}  // namespace ag::jinja
