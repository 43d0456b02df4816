#include "tokenizer/jinja/parser_impl.h"

// Statement parsing: the template body, block tags and their bodies.
namespace ag::jinja {

namespace detail {

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

// Parses body text and tags until a block tag named in `end_tags`; stops on its name token.
Result<StmtList> Parser::subparse(std::initializer_list<std::string_view> end_tags) {
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

// After a statement's header: "%}", then the body up to one of end_tags; the end tag's name is
// consumed and stored in `found`.
Result<StmtList> Parser::parse_body(std::initializer_list<std::string_view> end_tags, std::string* found) {
  skip_op(":");
  AG_TRY_STATUS(expect_block_end());
  AG_TRY(StmtList body, subparse(end_tags));
  if (found) *found = cur().value;
  next();  // the end tag's name
  return body;
}

Result<StmtPtr> Parser::parse_statement() {
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

Result<StmtPtr> Parser::parse_if(uint32_t pos) {
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

Result<StmtPtr> Parser::parse_for(uint32_t pos) {
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

Result<StmtPtr> Parser::parse_set(uint32_t pos) {
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

Status Parser::parse_signature(MacroStmt& m) {
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
Result<StmtList> Parser::parse_function_body(std::string_view end_tag, std::string_view block) {
  const int saved = loop_depth_;
  loop_depth_ = 0;
  open_blocks_.push_back(block);
  auto body = parse_body({end_tag}, nullptr);
  open_blocks_.pop_back();
  loop_depth_ = saved;
  return body;
}

Result<StmtPtr> Parser::parse_macro(uint32_t pos) {
  auto m = std::make_unique<MacroStmt>(pos);
  AG_TRY(m->name, expect_name());
  AG_TRY_STATUS(parse_signature(*m));
  AG_TRY(m->body, parse_function_body("endmacro", "macro"));
  return StmtPtr(std::move(m));
}

Result<StmtPtr> Parser::parse_call_block(uint32_t pos) {
  auto s = std::make_unique<CallBlockStmt>(pos);
  s->caller = std::make_unique<MacroStmt>(pos);
  s->caller->name = "caller";
  if (at_op("(")) AG_TRY_STATUS(parse_signature(*s->caller));
  AG_TRY(s->call, parse_expression(true));
  if (s->call->kind != ExprKind::call) return fail(pos, "expected a call after {% call %}");
  AG_TRY(s->caller->body, parse_function_body("endcall", "call"));
  return StmtPtr(std::move(s));
}

Result<StmtPtr> Parser::parse_filter_block(uint32_t pos) {
  auto s = std::make_unique<FilterBlockStmt>(pos);
  AG_TRY(s->filter, parse_filter(nullptr, true));
  open_blocks_.push_back("filter");
  AG_TRY(s->body, parse_body({"endfilter"}, nullptr));
  open_blocks_.pop_back();
  return StmtPtr(std::move(s));
}

Result<StmtPtr> Parser::parse_with(uint32_t pos) {
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
Result<Target> Parser::parse_assign_target(bool with_tuple, bool with_namespace, std::initializer_list<std::string_view> extra_end) {
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

Result<Target> Parser::parse_target_primary() {
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

}  // namespace detail

Result<std::shared_ptr<const Program>> parse_program(std::string_view source) {
  auto program = std::make_shared<Program>(normalize_source(source));
  AG_TRY(std::vector<Token> tokens, tokenize(program->source, program->map));
  detail::Parser parser(std::move(tokens), program->map);
  AG_TRY(program->body, parser.parse_all());
  return std::shared_ptr<const Program>(std::move(program));
}

}  // namespace ag::jinja
