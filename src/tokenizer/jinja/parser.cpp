#include "tokenizer/jinja/parser.h"

#include <algorithm>
#include <initializer_list>

namespace ag::jinja {

namespace {

constexpr int kMaxNesting = 600;  // parser recursion guard (statements and expressions)

uint32_t depth_of(const ExprPtr& e) { return e ? e->depth : 0; }

std::string describe(const Token& t) {
  switch (t.kind) {
    case TokenKind::text: return "template text";
    case TokenKind::var_begin: return "'{{'";
    case TokenKind::var_end: return "end of print statement '}}'";
    case TokenKind::block_begin: return "'{%'";
    case TokenKind::block_end: return "end of statement block '%}'";
    case TokenKind::name: return "'" + t.value + "'";
    case TokenKind::string: return "string literal";
    case TokenKind::integer: return "integer";
    case TokenKind::floating: return "float";
    case TokenKind::op: return "'" + t.value + "'";
    case TokenKind::eof: return "end of template";
  }
  return "token";
}

class Parser {
 public:
  Parser(std::vector<Token> toks, const SourceMap& map) : toks_(std::move(toks)), map_(map) {}

  Result<StmtList> parse_all() {
    AG_TRY(StmtList body, subparse({}));
    if (cur().kind != TokenKind::eof) return fail_here("unexpected");
    return body;
  }

 private:
  std::vector<Token> toks_;
  const SourceMap& map_;
  size_t i_ = 0;
  int nesting_ = 0;
  int loop_depth_ = 0;                         // inside a for body: break/continue allowed
  std::vector<std::string_view> open_blocks_;  // for "never closed" messages

  struct Nest {
    Parser& p;
    explicit Nest(Parser& parser) : p(parser) { ++p.nesting_; }
    ~Nest() { --p.nesting_; }
  };

  const Token& cur() const { return toks_[i_]; }
  const Token& look() const { return toks_[std::min(i_ + 1, toks_.size() - 1)]; }
  void next() {
    if (i_ + 1 < toks_.size()) ++i_;
  }

  Error fail(uint32_t pos, std::string_view what) const {
    return error("template syntax error at {}: {}", map_.where(pos), what);
  }
  Error fail_here(std::string_view what) const {
    return fail(cur().pos, fmt::format("{} {}", what, describe(cur())));
  }
  Status guard() const {
    if (nesting_ > kMaxNesting) return fail(cur().pos, "template nested too deeply");
    return {};
  }
  Status finish(Expr& e, std::initializer_list<uint32_t> child_depths) const {
    uint32_t d = 0;
    for (uint32_t c : child_depths) d = std::max(d, c);
    e.depth = d + 1;
    if (e.depth > kMaxExprDepth) return fail(e.pos, "expression nested too deeply");
    return {};
  }

  bool at_op(std::string_view op) const { return cur().is_op(op); }
  bool at_name(std::string_view n) const { return cur().is_name(n); }
  bool skip_op(std::string_view op) {
    if (!at_op(op)) return false;
    next();
    return true;
  }
  bool skip_name(std::string_view n) {
    if (!at_name(n)) return false;
    next();
    return true;
  }
  Status expect_op(std::string_view op) {
    if (!skip_op(op)) return fail_here(fmt::format("expected '{}', got", op));
    return {};
  }
  Result<std::string> expect_name() {
    if (cur().kind != TokenKind::name) return fail_here("expected a name, got");
    std::string n = cur().value;
    next();
    return n;
  }
  Status expect_kind(TokenKind k, std::string_view what) {
    if (cur().kind != k) return fail_here(fmt::format("expected {}, got", what));
    next();
    return {};
  }
  Status expect_block_end() { return expect_kind(TokenKind::block_end, "end of statement block '%}'"); }

  // ----------------------------------------------------------------------------------------
  // Statements

  // Parses body text and tags until a block tag named in `end_tags`; stops on its name token.
  Result<StmtList> subparse(std::initializer_list<std::string_view> end_tags) {
    Nest n(*this);
    AG_TRY_STATUS(guard());
    StmtList body;
    while (true) {
      const Token& t = cur();
      switch (t.kind) {
        case TokenKind::text:
          body.push_back(std::make_unique<OutputStmt>(t.pos, t.value));
          next();
          break;
        case TokenKind::var_begin: {
          const uint32_t pos = t.pos;
          next();
          AG_TRY(ExprPtr e, parse_tuple(true, {}, false));
          AG_TRY_STATUS(expect_kind(TokenKind::var_end, "end of print statement '}}'"));
          body.push_back(std::make_unique<PrintStmt>(pos, std::move(e)));
          break;
        }
        case TokenKind::block_begin: {
          next();
          if (cur().kind == TokenKind::name &&
              std::find(end_tags.begin(), end_tags.end(), cur().value) != end_tags.end())
            return body;
          AG_TRY(StmtPtr s, parse_statement());
          body.push_back(std::move(s));
          AG_TRY_STATUS(expect_block_end());
          break;
        }
        case TokenKind::eof:
          if (end_tags.size() > 0) {
            std::string wanted;
            for (auto tag : end_tags) wanted += (wanted.empty() ? "'" : " or '") + std::string(tag) + "'";
            return fail(t.pos, fmt::format("unexpected end of template: looking for {} to close '{}'", wanted,
                                           open_blocks_.empty() ? "block" : open_blocks_.back()));
          }
          return body;
        default: return fail_here("unexpected");
      }
    }
  }

  // After a statement's header: "%}", then the body up to one of end_tags (its name consumed if
  // drop_needle). Returns the end tag found.
  Result<StmtList> parse_body(std::initializer_list<std::string_view> end_tags, std::string* found) {
    skip_op(":");
    AG_TRY_STATUS(expect_block_end());
    AG_TRY(StmtList body, subparse(end_tags));
    if (found) *found = cur().value;
    next();  // the end tag's name
    return body;
  }

  Result<StmtPtr> parse_statement() {
    const Token& t = cur();
    if (t.kind != TokenKind::name) return fail_here("expected a tag name, got");
    const std::string tag = t.value;
    const uint32_t pos = t.pos;
    next();
    if (tag == "if") return parse_if(pos);
    if (tag == "for") return parse_for(pos);
    if (tag == "set") return parse_set(pos);
    if (tag == "macro") return parse_macro(pos);
    if (tag == "call") return parse_call_block(pos);
    if (tag == "filter") return parse_filter_block(pos);
    if (tag == "with") return parse_with(pos);
    if (tag == "generation") {  // transformers' AssistantTracker: a call block around the body
      auto s = std::make_unique<ScopeStmt>(pos);
      AG_TRY(s->body, parse_function_body("endgeneration", "generation"));
      return StmtPtr(std::move(s));
    }
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) return fail(pos, fmt::format("'{}' outside of a loop", tag));
      return StmtPtr(std::make_unique<LoopControlStmt>(tag == "break" ? StmtKind::break_ : StmtKind::continue_, pos));
    }
    static constexpr std::string_view kUnsupported[] = {"block", "extends", "include", "import", "from",
                                                        "do", "autoescape", "trans", "pluralize"};
    for (auto u : kUnsupported)
      if (tag == u) return fail(pos, fmt::format("the '{}' tag is not supported in chat templates", tag));
    return fail(pos, fmt::format("unknown tag '{}'", tag));
  }

  Result<StmtPtr> parse_if(uint32_t pos) {
    auto s = std::make_unique<IfStmt>(pos);
    open_blocks_.push_back("if");
    while (true) {
      AG_TRY(ExprPtr test, parse_tuple(false, {}, false));
      std::string found;
      AG_TRY(StmtList body, parse_body({"elif", "else", "endif"}, &found));
      s->branches.emplace_back(std::move(test), std::move(body));
      if (found == "elif") continue;
      if (found == "else") { AG_TRY(s->else_body, parse_body({"endif"}, nullptr)); }
      break;
    }
    open_blocks_.pop_back();
    return StmtPtr(std::move(s));
  }

  Result<StmtPtr> parse_for(uint32_t pos) {
    auto s = std::make_unique<ForStmt>(pos);
    AG_TRY(s->target, parse_assign_target(true, false, {"in"}));
    if (!skip_name("in")) return fail_here("expected 'in', got");
    AG_TRY(s->iter, parse_tuple(false, {"recursive"}, false));
    if (skip_name("if")) { AG_TRY(s->filter, parse_expression(true)); }
    if (at_name("recursive")) return fail(cur().pos, "recursive loops are not supported");
    open_blocks_.push_back("for");
    ++loop_depth_;
    std::string found;
    auto body = parse_body({"endfor", "else"}, &found);
    --loop_depth_;
    if (!body.ok()) return body.error();
    s->body = std::move(body).value();
    if (found == "else") { AG_TRY(s->else_body, parse_body({"endfor"}, nullptr)); }
    open_blocks_.pop_back();
    return StmtPtr(std::move(s));
  }

  Result<StmtPtr> parse_set(uint32_t pos) {
    AG_TRY(Target target, parse_assign_target(true, true, {}));
    if (skip_op("=")) {
      auto s = std::make_unique<SetStmt>(pos);
      s->target = std::move(target);
      AG_TRY(s->value, parse_tuple(true, {}, false));
      return StmtPtr(std::move(s));
    }
    auto s = std::make_unique<SetBlockStmt>(pos);
    if (target.kind == Target::Kind::tuple) return fail(pos, "a {% set %} block cannot assign to a tuple");
    s->target = std::move(target);
    if (at_op("|")) { AG_TRY(s->filter, parse_filter(nullptr, false)); }
    open_blocks_.push_back("set");
    AG_TRY(s->body, parse_body({"endset"}, nullptr));
    open_blocks_.pop_back();
    return StmtPtr(std::move(s));
  }

  Status parse_signature(MacroStmt& m) {
    AG_TRY_STATUS(expect_op("("));
    while (!at_op(")")) {
      if (!m.params.empty()) AG_TRY_STATUS(expect_op(","));
      if (at_op(")")) break;
      AG_TRY(std::string name, expect_name());
      ExprPtr dflt;
      if (skip_op("=")) {
        AG_TRY(dflt, parse_expression(true));
      } else if (std::any_of(m.defaults.begin(), m.defaults.end(), [](const ExprPtr& d) { return d != nullptr; })) {
        return fail(cur().pos, "non-default argument follows default argument");
      }
      m.params.push_back(std::move(name));
      m.defaults.push_back(std::move(dflt));
    }
    return expect_op(")");
  }

  // Macro and caller bodies are a new function: break/continue cannot cross them.
  Result<StmtList> parse_function_body(std::string_view end_tag, std::string_view block) {
    const int saved = loop_depth_;
    loop_depth_ = 0;
    open_blocks_.push_back(block);
    auto body = parse_body({end_tag}, nullptr);
    open_blocks_.pop_back();
    loop_depth_ = saved;
    return body;
  }

  Result<StmtPtr> parse_macro(uint32_t pos) {
    auto m = std::make_unique<MacroStmt>(pos);
    AG_TRY(m->name, expect_name());
    AG_TRY_STATUS(parse_signature(*m));
    AG_TRY(m->body, parse_function_body("endmacro", "macro"));
    return StmtPtr(std::move(m));
  }

  Result<StmtPtr> parse_call_block(uint32_t pos) {
    auto s = std::make_unique<CallBlockStmt>(pos);
    s->caller = std::make_unique<MacroStmt>(pos);
    s->caller->name = "caller";
    if (at_op("(")) AG_TRY_STATUS(parse_signature(*s->caller));
    AG_TRY(s->call, parse_expression(true));
    if (s->call->kind != ExprKind::call) return fail(pos, "expected a call after {% call %}");
    AG_TRY(s->caller->body, parse_function_body("endcall", "call"));
    return StmtPtr(std::move(s));
  }

  Result<StmtPtr> parse_filter_block(uint32_t pos) {
    auto s = std::make_unique<FilterBlockStmt>(pos);
    AG_TRY(s->filter, parse_filter(nullptr, true));
    open_blocks_.push_back("filter");
    AG_TRY(s->body, parse_body({"endfilter"}, nullptr));
    open_blocks_.pop_back();
    return StmtPtr(std::move(s));
  }

  Result<StmtPtr> parse_with(uint32_t pos) {
    auto s = std::make_unique<WithStmt>(pos);
    while (cur().kind != TokenKind::block_end) {
      if (!s->assignments.empty()) AG_TRY_STATUS(expect_op(","));
      AG_TRY(Target t, parse_assign_target(true, false, {}));
      AG_TRY_STATUS(expect_op("="));
      AG_TRY(ExprPtr v, parse_expression(true));
      s->assignments.emplace_back(std::move(t), std::move(v));
    }
    open_blocks_.push_back("with");
    AG_TRY(s->body, parse_body({"endwith"}, nullptr));
    open_blocks_.pop_back();
    return StmtPtr(std::move(s));
  }

  // A name, `ns.attr` (with_namespace) or a tuple of names, possibly parenthesized.
  Result<Target> parse_assign_target(bool with_tuple, bool with_namespace, std::initializer_list<std::string_view> extra_end) {
    Target t;
    if (with_namespace && cur().kind == TokenKind::name && look().is_op(".")) {
      t.kind = Target::Kind::ns_attr;
      t.name = cur().value;
      next();
      next();
      AG_TRY(t.attr, expect_name());
      return t;
    }
    if (!with_tuple) return parse_target_primary();
    // parse_tuple(simplified=True): primaries separated by commas
    std::vector<Target> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) AG_TRY_STATUS(expect_op(","));
      if (is_tuple_end(extra_end)) break;
      AG_TRY(Target item, parse_target_primary());
      items.push_back(std::move(item));
      if (at_op(",")) {
        is_tuple = true;
      } else {
        break;
      }
    }
    if (!is_tuple) {
      if (items.empty()) return fail_here("expected an assignment target, got");
      return std::move(items[0]);
    }
    t.kind = Target::Kind::tuple;
    t.items = std::move(items);
    return t;
  }

  Result<Target> parse_target_primary() {
    Nest n(*this);
    AG_TRY_STATUS(guard());
    Target t;
    if (cur().kind == TokenKind::name) {
      static constexpr std::string_view kConsts[] = {"true", "false", "True", "False", "none", "None"};
      for (auto c : kConsts)
        if (cur().value == c) return fail(cur().pos, fmt::format("cannot assign to '{}'", c));
      t.name = cur().value;
      next();
      return t;
    }
    if (skip_op("(")) {
      std::vector<Target> items;
      bool is_tuple = false;
      while (!at_op(")")) {
        if (!items.empty()) AG_TRY_STATUS(expect_op(","));
        if (at_op(")")) break;
        AG_TRY(Target item, parse_target_primary());
        items.push_back(std::move(item));
        if (at_op(",")) is_tuple = true;
      }
      AG_TRY_STATUS(expect_op(")"));
      if (!is_tuple && items.size() == 1) return std::move(items[0]);
      t.kind = Target::Kind::tuple;
      t.items = std::move(items);
      return t;
    }
    return fail_here("cannot assign to");
  }

  // ----------------------------------------------------------------------------------------
  // Expressions

  bool is_tuple_end(std::initializer_list<std::string_view> extra_end) const {
    const Token& t = cur();
    if (t.kind == TokenKind::var_end || t.kind == TokenKind::block_end || t.kind == TokenKind::eof || t.is_op(")"))
      return true;
    if (t.kind == TokenKind::name)
      for (auto e : extra_end)
        if (t.value == e) return true;
    return false;
  }

  // Expressions separated by commas form a tuple (`{{ a, b }}`, `for x in a, b`).
  Result<ExprPtr> parse_tuple(bool with_condexpr, std::initializer_list<std::string_view> extra_end, bool explicit_parens) {
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

  Result<ExprPtr> parse_expression(bool with_condexpr) {
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

  Result<ExprPtr> make_binary(uint32_t pos, BinaryOp op, ExprPtr l, ExprPtr r) {
    auto b = std::make_unique<BinaryExpr>(pos, op, std::move(l), std::move(r));
    AG_TRY_STATUS(finish(*b, {depth_of(b->left), depth_of(b->right)}));
    return ExprPtr(std::move(b));
  }

  Result<ExprPtr> parse_or() {
    AG_TRY(ExprPtr left, parse_and());
    while (at_name("or")) {
      const uint32_t pos = cur().pos;
      next();
      AG_TRY(ExprPtr right, parse_and());
      AG_TRY(left, make_binary(pos, BinaryOp::or_, std::move(left), std::move(right)));
    }
    return left;
  }

  Result<ExprPtr> parse_and() {
    AG_TRY(ExprPtr left, parse_not());
    while (at_name("and")) {
      const uint32_t pos = cur().pos;
      next();
      AG_TRY(ExprPtr right, parse_not());
      AG_TRY(left, make_binary(pos, BinaryOp::and_, std::move(left), std::move(right)));
    }
    return left;
  }

  Result<ExprPtr> parse_not() {
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

  Result<ExprPtr> parse_compare() {
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

  Result<ExprPtr> parse_math1() {
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

  Result<ExprPtr> parse_concat() {
    AG_TRY(ExprPtr left, parse_math2());
    while (at_op("~")) {
      const uint32_t pos = cur().pos;
      next();
      AG_TRY(ExprPtr right, parse_math2());
      AG_TRY(left, make_binary(pos, BinaryOp::concat, std::move(left), std::move(right)));
    }
    return left;
  }

  Result<ExprPtr> parse_math2() {
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

  Result<ExprPtr> parse_pow() {  // left-associative in jinja2: 2 ** 3 ** 2 == 64
    AG_TRY(ExprPtr left, parse_unary(true));
    while (at_op("**")) {
      const uint32_t pos = cur().pos;
      next();
      AG_TRY(ExprPtr right, parse_unary(true));
      AG_TRY(left, make_binary(pos, BinaryOp::pow, std::move(left), std::move(right)));
    }
    return left;
  }

  Result<ExprPtr> parse_unary(bool with_filter) {
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

  Result<ExprPtr> parse_primary() {
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

  Result<ExprPtr> parse_list() {
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

  Result<ExprPtr> parse_dict() {
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

  Result<ExprPtr> parse_postfix(ExprPtr node) {
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

  Result<ExprPtr> parse_filter_expr(ExprPtr node) {
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

  Result<ExprPtr> parse_subscript(ExprPtr node) {
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
  Result<ExprPtr> parse_subscribed() {
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

  Result<CallArgExprs> parse_call_args() {
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

  static uint32_t args_depth(const CallArgExprs& a) {
    uint32_t d = std::max(depth_of(a.star_args), depth_of(a.star_kwargs));
    for (const auto& e : a.positional) d = std::max(d, e->depth);
    for (const auto& kv : a.keyword) d = std::max(d, kv.second->depth);
    return d;
  }

  Result<ExprPtr> parse_call(ExprPtr callee) {
    auto c = std::make_unique<CallExpr>(cur().pos, std::move(callee));
    AG_TRY(c->args, parse_call_args());
    AG_TRY_STATUS(finish(*c, {depth_of(c->callee), args_depth(c->args)}));
    return ExprPtr(std::move(c));
  }

  Result<std::string> parse_dotted_name() {
    AG_TRY(std::string name, expect_name());
    while (skip_op(".")) {
      AG_TRY(std::string part, expect_name());
      name += "." + part;
    }
    return name;
  }

  // `| name(args) | name ...`; with start_inline the first name has no leading '|'.
  Result<ExprPtr> parse_filter(ExprPtr node, bool start_inline) {
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

  Result<ExprPtr> parse_test(ExprPtr node) {
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
};

}  // namespace

Result<std::shared_ptr<const Program>> parse_program(std::string_view source) {
  auto program = std::make_shared<Program>(normalize_source(source));
  AG_TRY(std::vector<Token> tokens, tokenize(program->source, program->map));
  Parser parser(std::move(tokens), program->map);
  AG_TRY(program->body, parser.parse_all());
  return std::shared_ptr<const Program>(std::move(program));
}

}  // namespace ag::jinja
