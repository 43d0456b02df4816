// Expression parsing, following jinja2's precedence: conditional < or < and < not < comparison
// < + - < ~ < * / // % < ** < unary; filters (|), tests (is), calls, attributes and subscripts
// bind tighter than any operator.
#include "tokenizer/jinja/parser_impl.h"

namespace ag::jinja::detail {

bool Parser::is_tuple_end(std::initializer_list<std::string_view> extra_end) const {
  const Token& t = cur();
  if (t.kind == TokenKind::var_end || t.kind == TokenKind::block_end || t.kind == TokenKind::eof || t.is_op(")"))
    return true;
  if (t.kind == TokenKind::name)
    for (auto e : extra_end)
      if (t.value == e) return true;
  return false;
}

// Expressions separated by commas form a tuple (`{{ a, b }}`, `for x in a, b`).
Result<ExprPtr> Parser::parse_tuple(bool with_condexpr, std::initializer_list<std::string_view> extra_end, bool explicit_parens) {
  const uint32_t pos = cur().pos;
  std::vector<ExprPtr> items;
  bool is_tuple = false;
  while (true) {
    if (!items.empty()) AG_TRY_STATUS(expect_op(","));
    if (is_tuple_end(extra_end)) break;
    AG_TRY(ExprPtr e, parse_expression(with_condexpr));
    items.push_back(std::move(e));
    if (at_op(",")) {
      is_tuple = true;
    } else {
      break;
    }
  }
  if (!is_tuple) {
    if (!items.empty()) return std::move(items[0]);
    if (!explicit_parens) return fail_here("expected an expression, got");
  }
  auto t = std::make_unique<SeqExpr>(ExprKind::tuple, pos);
  uint32_t d = 0;
  for (const auto& e : items) d = std::max(d, e->depth);
  t->items = std::move(items);
  AG_TRY_STATUS(finish(*t, {d}));
  return ExprPtr(std::move(t));
}

Result<ExprPtr> Parser::parse_expression(bool with_condexpr) {
  Nest n(*this);
  AG_TRY_STATUS(guard());
  if (!with_condexpr) return parse_or();
  // a if b else c; else-less: Undefined when b is false
  AG_TRY(ExprPtr e, parse_or());
  while (at_name("if")) {
    const uint32_t pos = cur().pos;
    next();
    auto c = std::make_unique<CondExpr>(pos);
    AG_TRY(c->test, parse_or());
    if (skip_name("else")) { AG_TRY(c->else_expr, parse_expression(true)); }
    c->then_expr = std::move(e);
    AG_TRY_STATUS(finish(*c, {depth_of(c->test), depth_of(c->then_expr), depth_of(c->else_expr)}));
    e = std::move(c);
  }
  return e;
}

Result<ExprPtr> Parser::make_binary(uint32_t pos, BinaryOp op, ExprPtr l, ExprPtr r) {
  auto b = std::make_unique<BinaryExpr>(pos, op, std::move(l), std::move(r));
  AG_TRY_STATUS(finish(*b, {depth_of(b->left), depth_of(b->right)}));
  return ExprPtr(std::move(b));
}

Result<ExprPtr> Parser::parse_or() {
  AG_TRY(ExprPtr left, parse_and());
  while (at_name("or")) {
    const uint32_t pos = cur().pos;
    next();
    AG_TRY(ExprPtr right, parse_and());
    AG_TRY(left, make_binary(pos, BinaryOp::or_, std::move(left), std::move(right)));
  }
  return left;
}

Result<ExprPtr> Parser::parse_and() {
  AG_TRY(ExprPtr left, parse_not());
  while (at_name("and")) {
    const uint32_t pos = cur().pos;
    next();
    AG_TRY(ExprPtr right, parse_not());
    AG_TRY(left, make_binary(pos, BinaryOp::and_, std::move(left), std::move(right)));
  }
  return left;
}

Result<ExprPtr> Parser::parse_not() {
  Nest n(*this);
  AG_TRY_STATUS(guard());
  if (at_name("not")) {
    const uint32_t pos = cur().pos;
    next();
    AG_TRY(ExprPtr operand, parse_not());
    auto u = std::make_unique<UnaryExpr>(pos, UnaryOp::not_, std::move(operand));
    AG_TRY_STATUS(finish(*u, {depth_of(u->operand)}));
    return ExprPtr(std::move(u));
  }
  return parse_compare();
}

Result<ExprPtr> Parser::parse_compare() {
  const uint32_t pos = cur().pos;
  AG_TRY(ExprPtr first, parse_math1());
  std::unique_ptr<CompareExpr> cmp;
  while (true) {
    CompareOp op;
    if (at_op("==")) {
      op = CompareOp::eq;
    } else if (at_op("!=")) {
      op = CompareOp::ne;
    } else if (at_op("<")) {
      op = CompareOp::lt;
    } else if (at_op("<=")) {
      op = CompareOp::le;
    } else if (at_op(">")) {
      op = CompareOp::gt;
    } else if (at_op(">=")) {
      op = CompareOp::ge;
    } else if (at_name("in")) {
      op = CompareOp::in;
    } else if (at_name("not") && look().is_name("in")) {
      op = CompareOp::not_in;
      next();
    } else {
      break;
    }
    next();
    AG_TRY(ExprPtr operand, parse_math1());
    if (!cmp) cmp = std::make_unique<CompareExpr>(pos, std::move(first));
    cmp->rest.emplace_back(op, std::move(operand));
  }
  if (!cmp) return first;
  uint32_t d = depth_of(cmp->first);
  for (const auto& r : cmp->rest) d = std::max(d, depth_of(r.second));
  AG_TRY_STATUS(finish(*cmp, {d}));
  return ExprPtr(std::move(cmp));
}

Result<ExprPtr> Parser::parse_math1() {
  AG_TRY(ExprPtr left, parse_concat());
  while (at_op("+") || at_op("-")) {
    const uint32_t pos = cur().pos;
    const BinaryOp op = at_op("+") ? BinaryOp::add : BinaryOp::sub;
    next();
    AG_TRY(ExprPtr right, parse_concat());
    AG_TRY(left, make_binary(pos, op, std::move(left), std::move(right)));
  }
  return left;
}

Result<ExprPtr> Parser::parse_concat() {
  AG_TRY(ExprPtr left, parse_math2());
  while (at_op("~")) {
    const uint32_t pos = cur().pos;
    next();
    AG_TRY(ExprPtr right, parse_math2());
    AG_TRY(left, make_binary(pos, BinaryOp::concat, std::move(left), std::move(right)));
  }
  return left;
}

Result<ExprPtr> Parser::parse_math2() {
  AG_TRY(ExprPtr left, parse_pow());
  while (true) {
    BinaryOp op;
    if (at_op("*")) {
      op = BinaryOp::mul;
    } else if (at_op("/")) {
      op = BinaryOp::div;
    } else if (at_op("//")) {
      op = BinaryOp::floordiv;
    } else if (at_op("%")) {
      op = BinaryOp::mod;
    } else {
      break;
    }
    const uint32_t pos = cur().pos;
    next();
    AG_TRY(ExprPtr right, parse_pow());
    AG_TRY(left, make_binary(pos, op, std::move(left), std::move(right)));
  }
  return left;
}

Result<ExprPtr> Parser::parse_pow() {  // left-associative in jinja2: 2 ** 3 ** 2 == 64
  AG_TRY(ExprPtr left, parse_unary(true));
  while (at_op("**")) {
    const uint32_t pos = cur().pos;
    next();
    AG_TRY(ExprPtr right, parse_unary(true));
    AG_TRY(left, make_binary(pos, BinaryOp::pow, std::move(left), std::move(right)));
  }
  return left;
}

Result<ExprPtr> Parser::parse_unary(bool with_filter) {
  Nest n(*this);
  AG_TRY_STATUS(guard());
  ExprPtr node;
  if (at_op("-") || at_op("+")) {
    const uint32_t pos = cur().pos;
    const UnaryOp op = at_op("-") ? UnaryOp::neg : UnaryOp::pos;
    next();
    AG_TRY(ExprPtr operand, parse_unary(false));
    auto u = std::make_unique<UnaryExpr>(pos, op, std::move(operand));
    AG_TRY_STATUS(finish(*u, {depth_of(u->operand)}));
    node = std::move(u);
  } else {
    AG_TRY(node, parse_primary());
  }
  AG_TRY(node, parse_postfix(std::move(node)));
  if (with_filter) { AG_TRY(node, parse_filter_expr(std::move(node))); }
  return node;
}

Result<ExprPtr> Parser::parse_primary() {
  Nest n(*this);
  AG_TRY_STATUS(guard());
  const Token& t = cur();
  const uint32_t pos = t.pos;
  switch (t.kind) {
    case TokenKind::name: {
      ExprPtr e;
      if (t.value == "true" || t.value == "True") {
        e = std::make_unique<ConstExpr>(pos, Value::boolean(true));
      } else if (t.value == "false" || t.value == "False") {
        e = std::make_unique<ConstExpr>(pos, Value::boolean(false));
      } else if (t.value == "none" || t.value == "None") {
        e = std::make_unique<ConstExpr>(pos, Value::none());
      } else {
        e = std::make_unique<NameExpr>(pos, t.value);
      }
      next();
      return e;
    }
    case TokenKind::string: {
      std::string s;
      while (cur().kind == TokenKind::string) {  // adjacent literals concatenate
        s += cur().value;
        next();
      }
      return ExprPtr(std::make_unique<ConstExpr>(pos, Value::string(std::move(s))));
    }
    case TokenKind::integer: {
      auto e = std::make_unique<ConstExpr>(pos, Value::integer(t.int_value));
      next();
      return ExprPtr(std::move(e));
    }
    case TokenKind::floating: {
      auto e = std::make_unique<ConstExpr>(pos, Value::floating(t.float_value));
      next();
      return ExprPtr(std::move(e));
    }
    case TokenKind::op:
      if (t.value == "(") {
        next();
        AG_TRY(ExprPtr e, parse_tuple(true, {}, true));
        AG_TRY_STATUS(expect_op(")"));
        return e;
      }
      if (t.value == "[") return parse_list();
      if (t.value == "{") return parse_dict();
      break;
    default: break;
  }
  return fail_here("unexpected");
}

Result<ExprPtr> Parser::parse_list() {
  auto l = std::make_unique<SeqExpr>(ExprKind::list, cur().pos);
  next();
  uint32_t d = 0;
  while (!at_op("]")) {
    if (!l->items.empty()) AG_TRY_STATUS(expect_op(","));
    if (at_op("]")) break;
    AG_TRY(ExprPtr e, parse_expression(true));
    d = std::max(d, e->depth);
    l->items.push_back(std::move(e));
  }
  AG_TRY_STATUS(expect_op("]"));
  AG_TRY_STATUS(finish(*l, {d}));
  return ExprPtr(std::move(l));
}

Result<ExprPtr> Parser::parse_dict() {
  auto m = std::make_unique<DictExpr>(cur().pos);
  next();
  uint32_t d = 0;
  while (!at_op("}")) {
    if (!m->items.empty()) AG_TRY_STATUS(expect_op(","));
    if (at_op("}")) break;
    AG_TRY(ExprPtr k, parse_expression(true));
    AG_TRY_STATUS(expect_op(":"));
    AG_TRY(ExprPtr v, parse_expression(true));
    d = std::max({d, k->depth, v->depth});
    m->items.emplace_back(std::move(k), std::move(v));
  }
  AG_TRY_STATUS(expect_op("}"));
  AG_TRY_STATUS(finish(*m, {d}));
  return ExprPtr(std::move(m));
}

Result<ExprPtr> Parser::parse_postfix(ExprPtr node) {
  while (true) {
    if (at_op(".") || at_op("[")) {
      AG_TRY(node, parse_subscript(std::move(node)));
    } else if (at_op("(")) {
      AG_TRY(node, parse_call(std::move(node)));
    } else {
      return node;
    }
  }
}

Result<ExprPtr> Parser::parse_filter_expr(ExprPtr node) {
  while (true) {
    if (at_op("|")) {
      AG_TRY(node, parse_filter(std::move(node), false));
    } else if (at_name("is")) {
      AG_TRY(node, parse_test(std::move(node)));
    } else if (at_op("(")) {
      AG_TRY(node, parse_call(std::move(node)));
    } else {
      return node;
    }
  }
}

Result<ExprPtr> Parser::parse_subscript(ExprPtr node) {
  const uint32_t pos = cur().pos;
  if (skip_op(".")) {
    const Token& a = cur();
    if (a.kind == TokenKind::name) {
      auto g = std::make_unique<GetAttrExpr>(pos, std::move(node), a.value);
      next();
      AG_TRY_STATUS(finish(*g, {depth_of(g->obj)}));
      return ExprPtr(std::move(g));
    }
    if (a.kind != TokenKind::integer) return fail_here("expected a name or number after '.', got");
    auto key = std::make_unique<ConstExpr>(a.pos, Value::integer(a.int_value));
    next();
    auto g = std::make_unique<GetItemExpr>(pos, std::move(node), std::move(key));
    AG_TRY_STATUS(finish(*g, {depth_of(g->obj), 1}));
    return ExprPtr(std::move(g));
  }
  next();  // '['
  std::vector<ExprPtr> args;
  while (!at_op("]")) {
    if (!args.empty()) AG_TRY_STATUS(expect_op(","));
    AG_TRY(ExprPtr a, parse_subscribed());
    args.push_back(std::move(a));
  }
  AG_TRY_STATUS(expect_op("]"));
  if (args.empty()) return fail(pos, "expected a subscript");
  ExprPtr key;
  if (args.size() == 1) {
    key = std::move(args[0]);
  } else {
    auto t = std::make_unique<SeqExpr>(ExprKind::tuple, pos);
    uint32_t d = 0;
    for (const auto& a : args) d = std::max(d, a->depth);
    t->items = std::move(args);
    AG_TRY_STATUS(finish(*t, {d}));
    key = std::move(t);
  }
  auto g = std::make_unique<GetItemExpr>(pos, std::move(node), std::move(key));
  AG_TRY_STATUS(finish(*g, {depth_of(g->obj), depth_of(g->key)}));
  return ExprPtr(std::move(g));
}

// One subscript: an expression or a slice a:b:c (any part may be missing).
Result<ExprPtr> Parser::parse_subscribed() {
  const uint32_t pos = cur().pos;
  ExprPtr start;
  if (!at_op(":")) {
    AG_TRY(start, parse_expression(true));
    if (!at_op(":")) return start;
  }
  next();  // ':'
  auto s = std::make_unique<SliceExpr>(pos);
  s->start = std::move(start);
  if (!at_op("]") && !at_op(",") && !at_op(":")) { AG_TRY(s->stop, parse_expression(true)); }
  if (skip_op(":")) {
    if (!at_op("]") && !at_op(",")) { AG_TRY(s->step, parse_expression(true)); }
  }
  AG_TRY_STATUS(finish(*s, {depth_of(s->start), depth_of(s->stop), depth_of(s->step)}));
  return ExprPtr(std::move(s));
}

Result<CallArgExprs> Parser::parse_call_args() {
  const uint32_t pos = cur().pos;
  AG_TRY_STATUS(expect_op("("));
  CallArgExprs a;
  bool require_comma = false;
  auto invalid = [&] { return fail(pos, "invalid syntax for function call expression"); };
  while (!at_op(")")) {
    if (require_comma) {
      AG_TRY_STATUS(expect_op(","));
      if (at_op(")")) break;
    }
    if (at_op("*")) {
      if (a.star_args || a.star_kwargs) return invalid();
      next();
      AG_TRY(a.star_args, parse_expression(true));
    } else if (at_op("**")) {
      if (a.star_kwargs) return invalid();
      next();
      AG_TRY(a.star_kwargs, parse_expression(true));
    } else if (cur().kind == TokenKind::name && look().is_op("=")) {
      if (a.star_kwargs) return invalid();
      std::string key = cur().value;
      next();
      next();
      AG_TRY(ExprPtr v, parse_expression(true));
      a.keyword.emplace_back(std::move(key), std::move(v));
    } else {
      if (a.star_args || a.star_kwargs || !a.keyword.empty()) return invalid();
      AG_TRY(ExprPtr v, parse_expression(true));
      a.positional.push_back(std::move(v));
    }
    require_comma = true;
  }
  AG_TRY_STATUS(expect_op(")"));
  return a;
}

uint32_t Parser::args_depth(const CallArgExprs& a) {
  uint32_t d = std::max(depth_of(a.star_args), depth_of(a.star_kwargs));
  for (const auto& e : a.positional) d = std::max(d, e->depth);
  for (const auto& kv : a.keyword) d = std::max(d, kv.second->depth);
  return d;
}

Result<ExprPtr> Parser::parse_call(ExprPtr callee) {
  auto c = std::make_unique<CallExpr>(cur().pos, std::move(callee));
  AG_TRY(c->args, parse_call_args());
  AG_TRY_STATUS(finish(*c, {depth_of(c->callee), args_depth(c->args)}));
  return ExprPtr(std::move(c));
}

Result<std::string> Parser::parse_dotted_name() {
  AG_TRY(std::string name, expect_name());
  while (skip_op(".")) {
    AG_TRY(std::string part, expect_name());
    name += "." + part;
  }
  return name;
}

// `| name(args) | name ...`; with start_inline the first name has no leading '|'.
Result<ExprPtr> Parser::parse_filter(ExprPtr node, bool start_inline) {
  while (at_op("|") || start_inline) {
    if (!start_inline) next();
    start_inline = false;
    const uint32_t pos = cur().pos;
    AG_TRY(std::string name, parse_dotted_name());
    const FilterFn* fn = find_filter(name);
    if (!fn) return fail(pos, fmt::format("no filter named '{}'", name));
    auto f = std::make_unique<FilterExpr>(pos, std::move(node), std::move(name), fn);
    if (at_op("(")) { AG_TRY(f->args, parse_call_args()); }
    AG_TRY_STATUS(finish(*f, {depth_of(f->input), args_depth(f->args)}));
    node = std::move(f);
  }
  return node;
}

Result<ExprPtr> Parser::parse_test(ExprPtr node) {
  const uint32_t pos = cur().pos;
  next();  // 'is'
  const bool negated = skip_name("not");
  const uint32_t name_pos = cur().pos;
  AG_TRY(std::string name, parse_dotted_name());
  const TestFn* fn = find_test(name);
  if (!fn) return fail(name_pos, fmt::format("no test named '{}'", name));
  auto t = std::make_unique<TestExpr>(pos, std::move(node), std::move(name), fn);
  const Token& c = cur();
  if (c.is_op("(")) {
    AG_TRY(t->args, parse_call_args());
  } else if ((c.kind == TokenKind::name || c.kind == TokenKind::string || c.kind == TokenKind::integer ||
              c.kind == TokenKind::floating || c.is_op("[") || c.is_op("{")) &&
             !c.is_name("else") && !c.is_name("or") && !c.is_name("and")) {
    if (c.is_name("is")) return fail(c.pos, "you cannot chain multiple tests with 'is'");
    AG_TRY(ExprPtr arg, parse_primary());
    AG_TRY(arg, parse_postfix(std::move(arg)));
    t->args.positional.push_back(std::move(arg));
  }
  AG_TRY_STATUS(finish(*t, {depth_of(t->input), args_depth(t->args)}));
  ExprPtr result = std::move(t);
  if (negated) {
    auto u = std::make_unique<UnaryExpr>(pos, UnaryOp::not_, std::move(result));
    AG_TRY_STATUS(finish(*u, {depth_of(u->operand)}));
    result = std::move(u);
  }
  return result;
}

}  // namespace ag::jinja::detail
