#pragma once
// The parser's internals, shared by parser.cpp (statements) and parse_expr.cpp (expressions).
#include <algorithm>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/jinja/parser.h"

namespace ag::jinja::detail {

inline constexpr int kMaxNesting = 600;  // parser recursion guard (statements and expressions)

inline uint32_t depth_of(const ExprPtr& e) { return e ? e->depth : 0; }

std::string describe(const Token& t);

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

  // --- statements (parser.cpp) ---
  // Parses body text and tags until a block tag named in `end_tags`; stops on its name token.
  Result<StmtList> subparse(std::initializer_list<std::string_view> end_tags);
  // After a statement's header: "%}", then the body up to one of end_tags; the end tag's name is
  // consumed and stored in `found`.
  Result<StmtList> parse_body(std::initializer_list<std::string_view> end_tags, std::string* found);
  Result<StmtPtr> parse_statement();
  Result<StmtPtr> parse_if(uint32_t pos);
  Result<StmtPtr> parse_for(uint32_t pos);
  Result<StmtPtr> parse_set(uint32_t pos);
  Status parse_signature(MacroStmt& m);
  // Macro and caller bodies are a new function: break/continue cannot cross them.
  Result<StmtList> parse_function_body(std::string_view end_tag, std::string_view block);
  Result<StmtPtr> parse_macro(uint32_t pos);
  Result<StmtPtr> parse_call_block(uint32_t pos);
  Result<StmtPtr> parse_filter_block(uint32_t pos);
  Result<StmtPtr> parse_with(uint32_t pos);
  // A name, `ns.attr` (with_namespace) or a tuple of names, possibly parenthesized.
  Result<Target> parse_assign_target(bool with_tuple, bool with_namespace, std::initializer_list<std::string_view> extra_end);
  Result<Target> parse_target_primary();

  // --- expressions (parse_expr.cpp) ---
  bool is_tuple_end(std::initializer_list<std::string_view> extra_end) const;
  // Expressions separated by commas form a tuple (`{{ a, b }}`, `for x in a, b`).
  Result<ExprPtr> parse_tuple(bool with_condexpr, std::initializer_list<std::string_view> extra_end, bool explicit_parens);
  Result<ExprPtr> parse_expression(bool with_condexpr);
  Result<ExprPtr> make_binary(uint32_t pos, BinaryOp op, ExprPtr l, ExprPtr r);
  Result<ExprPtr> parse_or();
  Result<ExprPtr> parse_and();
  Result<ExprPtr> parse_not();
  Result<ExprPtr> parse_compare();
  Result<ExprPtr> parse_math1();
  Result<ExprPtr> parse_concat();
  Result<ExprPtr> parse_math2();
  Result<ExprPtr> parse_pow();  // left-associative in jinja2: 2 ** 3 ** 2 == 64
  Result<ExprPtr> parse_unary(bool with_filter);
  Result<ExprPtr> parse_primary();
  Result<ExprPtr> parse_list();
  Result<ExprPtr> parse_dict();
  Result<ExprPtr> parse_postfix(ExprPtr node);
  Result<ExprPtr> parse_filter_expr(ExprPtr node);
  Result<ExprPtr> parse_subscript(ExprPtr node);
  // One subscript: an expression or a slice a:b:c (any part may be missing).
  Result<ExprPtr> parse_subscribed();
  Result<CallArgExprs> parse_call_args();
  static uint32_t args_depth(const CallArgExprs& a);
  Result<ExprPtr> parse_call(ExprPtr callee);
  Result<std::string> parse_dotted_name();
  // `| name(args) | name ...`; with start_inline the first name has no leading '|'.
  Result<ExprPtr> parse_filter(ExprPtr node, bool start_inline);
  Result<ExprPtr> parse_test(ExprPtr node);
};

}  // namespace ag::jinja::detail
