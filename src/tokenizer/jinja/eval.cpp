// Expression evaluation with Python's operator semantics and jinja2's sandboxed attribute and
// item lookup (a missing key, attribute or index is Undefined; using an Undefined is an error).
#include <algorithm>
#include <cmath>
#include <limits>

#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/py_str.h"

namespace ag::jinja {

Result<Value> Interpreter::eval(const Expr& e, const FramePtr& frame) {
  DepthGuard guard(*this);
  auto r = [&]() -> Result<Value> {
    AG_TRY_STATUS(guard.check());
    AG_TRY(Value v, eval_inner(e, frame));
    if (nesting_depth(v) > kMaxValueNesting) return error("value nested deeper than {} levels", kMaxValueNesting);
    return v;
  }();
  if (!r.ok() && !error_located_) {
    error_pos_ = e.pos;
    error_located_ = true;
  }
  return r;
}

Result<Value> Interpreter::eval_inner(const Expr& e, const FramePtr& frame) {
  switch (e.kind) {
    case ExprKind::constant: return static_cast<const ConstExpr&>(e).value;
    case ExprKind::name: return eval_name(static_cast<const NameExpr&>(e), frame);
    case ExprKind::list:
    case ExprKind::tuple: {
      const auto& s = static_cast<const SeqExpr&>(e);
      std::vector<Value> items;
      items.reserve(s.items.size());
      for (const auto& item : s.items) {
        AG_TRY(Value v, eval(*item, frame));
        items.push_back(std::move(v));
      }
      return Value::list(std::move(items), e.kind == ExprKind::tuple);
    }
    case ExprKind::dict: {
      DictObj d;
      for (const auto& [k, v] : static_cast<const DictExpr&>(e).items) {
        AG_TRY(Value key, eval(*k, frame));
        AG_TRY(Value value, eval(*v, frame));
        d.set(std::move(key), std::move(value));
      }
      return Value::dict(std::move(d));
    }
    case ExprKind::getattr: {
      const auto& g = static_cast<const GetAttrExpr&>(e);
      AG_TRY(Value obj, eval(*g.obj, frame));
      return getattr(obj, g.attr);
    }
    case ExprKind::getitem: return eval_getitem(static_cast<const GetItemExpr&>(e), frame);
    case ExprKind::slice: return error("a slice can only be used inside []");
    case ExprKind::call: return eval_call(static_cast<const CallExpr&>(e), frame, nullptr);
    case ExprKind::filter: return eval_filter(static_cast<const FilterExpr&>(e), frame, nullptr);
    case ExprKind::test: {
      const auto& t = static_cast<const TestExpr&>(e);
      AG_TRY(Value input, eval(*t.input, frame));
      AG_TRY(CallArgs args, eval_args(t.args, frame));
      AG_TRY(bool ok, t.fn->fn(*this, input, args));
      return Value::boolean(ok);
    }
    case ExprKind::unary: {
      const auto& u = static_cast<const UnaryExpr&>(e);
      AG_TRY(Value v, eval(*u.operand, frame));
      if (u.op == UnaryOp::not_) return Value::boolean(!truthy(v));
      return unary_op(u.op, v);
    }
    case ExprKind::binary: return eval_binary(static_cast<const BinaryExpr&>(e), frame);
    case ExprKind::compare: return eval_compare(static_cast<const CompareExpr&>(e), frame);
    case ExprKind::cond: {
      const auto& c = static_cast<const CondExpr&>(e);
      AG_TRY(Value test, eval(*c.test, frame));
      if (truthy(test)) return eval(*c.then_expr, frame);
      if (c.else_expr) return eval(*c.else_expr, frame);
      return Value::undefined();
    }
  }
  return Value::undefined();
}

Result<Value> Interpreter::eval_name(const NameExpr& e, const FramePtr& frame) {
  if (const Value* v = frame->lookup(e.name)) return *v;
  if (const Value* b = find_builtin(e.name)) return *b;
  return Value::undefined(e.name);
}

Result<CallArgs> Interpreter::eval_args(const CallArgExprs& a, const FramePtr& frame) {
  CallArgs out;
  out.positional.reserve(a.positional.size());
  for (const auto& p : a.positional) {
    AG_TRY(Value v, eval(*p, frame));
    out.positional.push_back(std::move(v));
  }
  if (a.star_args) {
    AG_TRY(Value v, eval(*a.star_args, frame));
    AG_TRY(std::vector<Value> items, iterate(v));
    for (auto& item : items) out.positional.push_back(std::move(item));
  }
  for (const auto& [k, p] : a.keyword) {
    AG_TRY(Value v, eval(*p, frame));
    out.keyword.emplace_back(k, std::move(v));
  }
  if (a.star_kwargs) {
    AG_TRY(Value v, eval(*a.star_kwargs, frame));
    if (!v.is_dict()) return error("argument after ** must be a mapping, not {}", type_name(v));
    for (const auto& [k, val] : v.as_dict().items) {
      if (!k.is_string()) return error("keywords must be strings");
      out.keyword.emplace_back(k.as_string(), val);
    }
  }
  return out;
}

Result<Value> Interpreter::eval_call(const CallExpr& e, const FramePtr& frame, const Value* caller) {
  AG_TRY(Value callee, eval(*e.callee, frame));
  AG_TRY(CallArgs args, eval_args(e.args, frame));
  if (caller) args.keyword.emplace_back("caller", *caller);
  return call(callee, std::move(args));
}

Result<Value> Interpreter::eval_filter(const FilterExpr& e, const FramePtr& frame, const Value* block_input) {
  Value input;
  if (!e.input) {
    input = block_input ? *block_input : Value::undefined();
  } else if (e.input->kind == ExprKind::filter && block_input) {
    AG_TRY(input, eval_filter(static_cast<const FilterExpr&>(*e.input), frame, block_input));
  } else {
    AG_TRY(input, eval(*e.input, frame));
  }
  AG_TRY(CallArgs args, eval_args(e.args, frame));
  AG_TRY_STATUS(charge(1));
  return e.fn->fn(*this, std::move(input), args);
}

Result<Value> Interpreter::call(const Value& callee, CallArgs args) {
  if (callee.is_undefined()) return fail_undefined(callee);
  if (!callee.is_callable()) return error("'{}' object is not callable", type_name(callee));
  DepthGuard guard(*this);
  AG_TRY_STATUS(guard.check());
  AG_TRY_STATUS(charge(1));
  return callee.as_callable().call(*this, std::move(args));
}

// ---------------------------------------------------------------------------------------------
// Attribute and item lookup (jinja2.sandbox getattr / getitem)

Result<Value> Interpreter::getattr(const Value& obj, std::string_view name) {
  switch (obj.kind()) {
    case Value::Kind::undefined: return fail_undefined(obj);
    case Value::Kind::dict:
      if (auto m = bind_method(obj, name)) return *m;  // d.items is the method, not a key
      if (const Value* v = obj.as_dict().find(name)) return *v;
      return Value::undefined(std::string(name));
    case Value::Kind::ns:
      if (const Value* v = obj.as_ns().attrs.find(name)) return *v;
      return Value::undefined(std::string(name));
    case Value::Kind::string:
    case Value::Kind::list:
      if (auto m = bind_method(obj, name)) return *m;
      return Value::undefined(std::string(name));
    default: return Value::undefined(std::string(name));
  }
}

Result<Value> Interpreter::getitem(const Value& obj, const Value& key) {
  auto missing = [&] { return Value::undefined(to_str(key)); };
  // Python's obj[key] failed with TypeError/LookupError: a string key falls back to getattr.
  auto fallback = [&]() -> Result<Value> {
    if (key.is_string()) return getattr(obj, key.as_string());
    return missing();
  };
  switch (obj.kind()) {
    case Value::Kind::undefined: return fail_undefined(obj);
    case Value::Kind::list: {
      if (obj.is_generator()) return missing();  // TypeError: not subscriptable → Undefined
      if (!key.is_integral()) return fallback();
      const auto& items = obj.as_list().items;
      int64_t i = key.as_int();
      const auto n = static_cast<int64_t>(items.size());
      if (i < 0) i += n;
      if (i < 0 || i >= n) return missing();
      return items[static_cast<size_t>(i)];
    }
    case Value::Kind::string: {
      if (!key.is_integral()) return fallback();
      const std::string& s = obj.as_string();
      int64_t i = key.as_int();
      if (py::is_ascii(s)) {
        const auto n = static_cast<int64_t>(s.size());
        if (i < 0) i += n;
        if (i < 0 || i >= n) return missing();
        return Value::string(s.substr(static_cast<size_t>(i), 1));
      }
      const std::u32string u = py::decode(s);
      const auto n = static_cast<int64_t>(u.size());
      if (i < 0) i += n;
      if (i < 0 || i >= n) return missing();
      std::string out;
      py::append_utf8(out, u[static_cast<size_t>(i)]);
      return Value::string(std::move(out));
    }
    case Value::Kind::dict:
      if (const Value* v = obj.as_dict().find(key)) return *v;
      return fallback();
    default: return fallback();
  }
}

Result<Value> Interpreter::get_path(const Value& obj, std::string_view path, const Value* dflt) {
  Value v = obj;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    const std::string_view part = path.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    int64_t index = 0;
    const bool numeric = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
                         part.size() < 18;
    if (numeric) {
      for (char c : part) index = index * 10 + (c - '0');
      AG_TRY(v, getitem(v, Value::integer(index)));
    } else {
      AG_TRY(v, getitem(v, Value::string(part)));
    }
    if (dflt && v.is_undefined()) v = *dflt;
    if (dot == std::string_view::npos) return v;
    start = dot + 1;
  }
}

Result<Value> Interpreter::eval_getitem(const GetItemExpr& e, const FramePtr& frame) {
  AG_TRY(Value obj, eval(*e.obj, frame));
  if (e.key->kind != ExprKind::slice) {
    AG_TRY(Value key, eval(*e.key, frame));
    return getitem(obj, key);
  }
  // jinja2 compiles slices to a plain Python obj[a:b:c], so every failure is an error. (Its
  // constant folding can turn a slice of a literal non-sequence into Undefined; templates do not
  // slice literals, so that corner is not reproduced.)
  const auto& s = static_cast<const SliceExpr&>(*e.key);
  std::optional<int64_t> bounds[3];
  const ExprPtr* parts[3] = {&s.start, &s.stop, &s.step};
  for (int i = 0; i < 3; ++i) {
    if (!*parts[i]) continue;
    AG_TRY(Value v, eval(**parts[i], frame));
    if (v.is_integral()) {
      bounds[i] = v.as_int();
    } else if (v.is_undefined()) {
      return fail_undefined(v);
    } else if (!v.is_none()) {
      return error("slice indices must be integers or None, not {}", type_name(v));
    }
  }
  if (obj.is_undefined()) return fail_undefined(obj);
  if (!(obj.is_list() || obj.is_string()) || obj.is_generator()) {
    if (obj.is_dict()) return error("unhashable type: 'slice'");
    return error("'{}' object is not subscriptable", type_name(obj));
  }
  if (bounds[2] && *bounds[2] == 0) return error("slice step cannot be zero");
  if (obj.is_list()) {
    const auto& items = obj.as_list().items;
    const auto idx = py::slice_indices(static_cast<int64_t>(items.size()), bounds[0], bounds[1], bounds[2]);
    std::vector<Value> out;
    out.reserve(idx.size());
    for (int64_t i : idx) out.push_back(items[static_cast<size_t>(i)]);
    return Value::list(std::move(out), obj.as_list().is_tuple);
  }
  const std::u32string u = py::decode(obj.as_string());
  const auto idx = py::slice_indices(static_cast<int64_t>(u.size()), bounds[0], bounds[1], bounds[2]);
  std::string out;
  for (int64_t i : idx) py::append_utf8(out, u[static_cast<size_t>(i)]);
  return Value::string(std::move(out));
}

// ---------------------------------------------------------------------------------------------
// Iteration and membership

Result<std::vector<Value>> Interpreter::iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::undefined: return std::vector<Value>{};
    case Value::Kind::list:
      if (v.is_generator()) {  // a generator is consumed
        if (!v.as_list().deferred_error.empty()) return Error{v.as_list().deferred_error};
        return std::move(v.as_list().items);
      }
      return v.as_list().items;
    case Value::Kind::dict: {
      std::vector<Value> keys;
      keys.reserve(v.as_dict().items.size());
      for (const auto& kv : v.as_dict().items) keys.push_back(kv.first);
      return keys;
    }
    case Value::Kind::string: {
      std::vector<Value> chars;
      for (char32_t c : py::decode(v.as_string())) {
        std::string s;
        py::append_utf8(s, c);
        chars.push_back(Value::string(std::move(s)));
      }
      return chars;
    }
    default: return error("'{}' object is not iterable", type_name(v));
  }
}

Result<bool> Interpreter::contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::undefined: return false;
    case Value::Kind::string:
      if (!item.is_string()) return error("'in <string>' requires string as left operand, not {}", type_name(item));
      return container.as_string().find(item.as_string()) != std::string::npos;
    case Value::Kind::list: {
      AG_TRY_STATUS(charge(container.as_list().items.size()));
      AG_TRY(std::vector<Value> items, iterate(container));
      for (const auto& x : items)
        if (equals(x, item)) return true;
      return false;
    }
    case Value::Kind::dict: return container.as_dict().find(item) != nullptr;
    default: return error("argument of type '{}' is not iterable", type_name(container));
  }
}

// ---------------------------------------------------------------------------------------------
// Operators

Result<Value> Interpreter::eval_binary(const BinaryExpr& e, const FramePtr& frame) {
  AG_TRY(Value a, eval(*e.left, frame));
  if (e.op == BinaryOp::and_) {
    if (!truthy(a)) return a;
    return eval(*e.right, frame);
  }
  if (e.op == BinaryOp::or_) {
    if (truthy(a)) return a;
    return eval(*e.right, frame);
  }
  AG_TRY(Value b, eval(*e.right, frame));
  if (e.op == BinaryOp::concat) {
    std::string s = to_str(a);
    std::string t = to_str(b);
    AG_TRY_STATUS(check_size(s.size() + t.size()));
    return Value::string(s + t);
  }
  return binary_op(e.op, a, b);
}

namespace {

Error unsupported(std::string_view op, const Value& a, const Value& b) {
  return error("unsupported operand type(s) for {}: '{}' and '{}'", op, type_name(a), type_name(b));
}

Result<int64_t> int_pow(int64_t base, int64_t exp) {
  int64_t result = 1;
  while (exp > 0) {
    if (exp & 1) {
      if (__builtin_mul_overflow(result, base, &result)) return error("integer overflow in **");
    }
    exp >>= 1;
    if (exp > 0 && __builtin_mul_overflow(base, base, &base)) return error("integer overflow in **");
  }
  return result;
}

}  // namespace

Result<Value> Interpreter::binary_op(BinaryOp op, const Value& a, const Value& b) {
  if (a.is_undefined()) return fail_undefined(a);
  if (op == BinaryOp::mod && a.is_string()) {  // str.__mod__ takes an Undefined argument too
    AG_TRY(std::string s, percent_format(*this, a.as_string(), b));
    return Value::string(std::move(s));
  }
  if (b.is_undefined()) return fail_undefined(b);
  const bool ints = a.is_integral() && b.is_integral();
  const bool nums = a.is_number() && b.is_number();
  switch (op) {
    case BinaryOp::add: {
      if (ints) {
        int64_t r;
        if (__builtin_add_overflow(a.as_int(), b.as_int(), &r)) return error("integer overflow in +");
        return Value::integer(r);
      }
      if (nums) return Value::floating(a.as_float() + b.as_float());
      if (a.is_string() && b.is_string()) {
        AG_TRY_STATUS(check_size(a.as_string().size() + b.as_string().size()));
        return Value::string(a.as_string() + b.as_string());
      }
      if (a.is_list() && b.is_list() && a.as_list().is_tuple == b.as_list().is_tuple && !a.is_generator() &&
          !b.is_generator()) {
        std::vector<Value> items = a.as_list().items;
        AG_TRY_STATUS(charge(items.size() + b.as_list().items.size()));
        items.insert(items.end(), b.as_list().items.begin(), b.as_list().items.end());
        return Value::list(std::move(items), a.as_list().is_tuple);
      }
      if (a.is_string()) return error("can only concatenate str (not \"{}\") to str", type_name(b));
      if (a.is_list()) return error("can only concatenate {} (not \"{}\") to {}", type_name(a), type_name(b), type_name(a));
      return unsupported("+", a, b);
    }
    case BinaryOp::sub:
      if (ints) {
        int64_t r;
        if (__builtin_sub_overflow(a.as_int(), b.as_int(), &r)) return error("integer overflow in -");
        return Value::integer(r);
      }
      if (nums) return Value::floating(a.as_float() - b.as_float());
      return unsupported("-", a, b);
    case BinaryOp::mul: {
      if (ints) {
        int64_t r;
        if (__builtin_mul_overflow(a.as_int(), b.as_int(), &r)) return error("integer overflow in *");
        return Value::integer(r);
      }
      if (nums) return Value::floating(a.as_float() * b.as_float());
      auto is_seq = [](const Value& v) { return v.is_string() || (v.is_list() && !v.is_generator()); };
      const Value* seq = is_seq(a) ? &a : (is_seq(b) ? &b : nullptr);
      const Value* count = seq == &a ? &b : &a;
      if (seq && count->is_integral()) {
        const int64_t n = std::max<int64_t>(0, count->as_int());
        if (seq->is_string()) {
          const std::string& s = seq->as_string();
          if (n > 0 && s.size() > 0) AG_TRY_STATUS(check_size(static_cast<size_t>(std::min<int64_t>(n, int64_t{1} << 40)) * s.size()));
          std::string out;
          for (int64_t i = 0; i < n && !s.empty(); ++i) out += s;
          return Value::string(std::move(out));
        }
        const auto& items = seq->as_list().items;
        if (n > 0 && !items.empty()) AG_TRY_STATUS(charge(static_cast<uint64_t>(std::min<int64_t>(n, int64_t{1} << 40)) * items.size()));
        std::vector<Value> out;
        for (int64_t i = 0; i < n; ++i) out.insert(out.end(), items.begin(), items.end());
        return Value::list(std::move(out), seq->as_list().is_tuple);
      }
      if (seq) return error("can't multiply sequence by non-int of type '{}'", type_name(*count));
      return unsupported("*", a, b);
    }
    case BinaryOp::div:
      if (!nums) return unsupported("/", a, b);
      if (b.as_float() == 0.0) return error("division by zero");
      return Value::floating(a.as_float() / b.as_float());
    case BinaryOp::floordiv:
      if (ints) {
        const int64_t x = a.as_int(), y = b.as_int();
        if (y == 0) return error("integer division or modulo by zero");
        if (x == std::numeric_limits<int64_t>::min() && y == -1) return error("integer overflow in //");
        int64_t q = x / y;
        if ((x % y != 0) && ((x < 0) != (y < 0))) --q;
        return Value::integer(q);
      }
      if (nums) {
        if (b.as_float() == 0.0) return error("float floor division by zero");
        return Value::floating(std::floor(a.as_float() / b.as_float()));
      }
      return unsupported("//", a, b);
    case BinaryOp::mod: {
      if (a.is_string()) {
        AG_TRY(std::string s, percent_format(*this, a.as_string(), b));
        return Value::string(std::move(s));
      }
      if (ints) {
        const int64_t x = a.as_int(), y = b.as_int();
        if (y == 0) return error("integer division or modulo by zero");
        if (y == -1) return Value::integer(0);
        int64_t r = x % y;
        if (r != 0 && ((r < 0) != (y < 0))) r += y;
        return Value::integer(r);
      }
      if (nums) {
        const double x = a.as_float(), y = b.as_float();
        if (y == 0.0) return error("float modulo");
        double r = std::fmod(x, y);
        if (r != 0.0 && ((r < 0) != (y < 0))) r += y;
        return Value::floating(r);
      }
      return unsupported("%", a, b);
    }
    case BinaryOp::pow:
      if (ints && b.as_int() >= 0) {
        AG_TRY(int64_t r, int_pow(a.as_int(), b.as_int()));
        return Value::integer(r);
      }
      if (nums) {
        const double x = a.as_float(), y = b.as_float();
        if (x == 0.0 && y < 0) return error("0.0 cannot be raised to a negative power");
        if (x < 0 && std::floor(y) != y) return error("complex results are not supported");
        return Value::floating(std::pow(x, y));
      }
      return unsupported("** or pow()", a, b);
    default: break;
  }
  return error("internal: unexpected operator");
}

Result<Value> Interpreter::unary_op(UnaryOp op, const Value& a) {
  if (a.is_undefined()) return fail_undefined(a);
  const char* sym = op == UnaryOp::neg ? "-" : "+";
  if (a.is_integral()) {
    if (op == UnaryOp::pos) return Value::integer(a.as_int());
    if (a.as_int() == std::numeric_limits<int64_t>::min()) return error("integer overflow in unary -");
    return Value::integer(-a.as_int());
  }
  if (a.is_float()) return Value::floating(op == UnaryOp::neg ? -a.as_float() : a.as_float());
  return error("bad operand type for unary {}: '{}'", sym, type_name(a));
}

Result<Value> Interpreter::eval_compare(const CompareExpr& e, const FramePtr& frame) {
  AG_TRY(Value left, eval(*e.first, frame));
  for (const auto& [op, expr] : e.rest) {
    AG_TRY(Value right, eval(*expr, frame));
    bool ok = false;
    switch (op) {
      case CompareOp::eq: ok = equals(left, right); break;
      case CompareOp::ne: ok = !equals(left, right); break;
      case CompareOp::in: {
        AG_TRY(ok, contains(right, left));
        break;
      }
      case CompareOp::not_in: {
        AG_TRY(bool in, contains(right, left));
        ok = !in;
        break;
      }
      default: {
        if (left.is_undefined()) return fail_undefined(left);
        if (right.is_undefined()) return fail_undefined(right);
        AG_TRY(int c, compare(left, right));
        ok = op == CompareOp::lt ? c < 0 : op == CompareOp::le ? c <= 0 : op == CompareOp::gt ? c > 0 : c >= 0;
      }
    }
    if (!ok) return Value::boolean(false);
    left = std::move(right);
  }
  return Value::boolean(true);
}

}  // namespace ag::jinja
