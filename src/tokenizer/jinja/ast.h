#pragma once
// The parsed template: expression and statement nodes, as jinja2's parser builds them. Nodes are
// immutable after parsing; one parsed template renders any number of times.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tokenizer/jinja/value.h"

namespace ag::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using StmtList = std::vector<StmtPtr>;

struct FilterFn;
struct TestFn;

// ---------------------------------------------------------------------------------------------
// Expressions

enum class ExprKind : uint8_t {
  constant,   // Const
  name,       // Name
  list,       // [a, b]
  tuple,      // (a, b) or a, b
  dict,       // {k: v}
  getattr,    // obj.name
  getitem,    // obj[key]
  slice,      // obj[a:b:c]
  call,       // f(args)
  filter,     // x | f(args)
  test,       // x is t(args)
  unary,      // not x, -x, +x
  binary,     // + - * / // % ** ~ and or
  compare,    // a < b == c, in, not in
  cond,       // a if c else b
};

// Expression trees deeper than this are a parse error: evaluation and destruction recurse.
inline constexpr uint32_t kMaxExprDepth = 200;

struct Expr {
  ExprKind kind;
  uint32_t pos;        // source offset, for error messages
  uint32_t depth = 1;  // height of this subtree, set by the parser
  Expr(ExprKind k, uint32_t p) : kind(k), pos(p) {}
  virtual ~Expr() = default;
};

struct ConstExpr : Expr {
  Value value;
  ConstExpr(uint32_t p, Value v) : Expr(ExprKind::constant, p), value(std::move(v)) {}
};

struct NameExpr : Expr {
  std::string name;
  NameExpr(uint32_t p, std::string n) : Expr(ExprKind::name, p), name(std::move(n)) {}
};

struct SeqExpr : Expr {  // list or tuple literal
  std::vector<ExprPtr> items;
  SeqExpr(ExprKind k, uint32_t p) : Expr(k, p) {}
};

struct DictExpr : Expr {
  std::vector<std::pair<ExprPtr, ExprPtr>> items;
  explicit DictExpr(uint32_t p) : Expr(ExprKind::dict, p) {}
};

struct GetAttrExpr : Expr {
  ExprPtr obj;
  std::string attr;
  GetAttrExpr(uint32_t p, ExprPtr o, std::string a) : Expr(ExprKind::getattr, p), obj(std::move(o)), attr(std::move(a)) {}
};

struct GetItemExpr : Expr {
  ExprPtr obj, key;
  GetItemExpr(uint32_t p, ExprPtr o, ExprPtr k) : Expr(ExprKind::getitem, p), obj(std::move(o)), key(std::move(k)) {}
};

struct SliceExpr : Expr {  // only as GetItemExpr::key
  ExprPtr start, stop, step;  // each may be null
  explicit SliceExpr(uint32_t p) : Expr(ExprKind::slice, p) {}
};

struct CallArgExprs {
  std::vector<ExprPtr> positional;
  std::vector<std::pair<std::string, ExprPtr>> keyword;
  ExprPtr star_args;    // *args
  ExprPtr star_kwargs;  // **kwargs
};

struct CallExpr : Expr {
  ExprPtr callee;
  CallArgExprs args;
  CallExpr(uint32_t p, ExprPtr c) : Expr(ExprKind::call, p), callee(std::move(c)) {}
};

struct FilterExpr : Expr {
  ExprPtr input;  // null inside {% filter %} blocks and `set x | f` blocks: the captured text
  std::string name;
  const FilterFn* fn;  // resolved at parse time: an unknown filter is a load-time error
  CallArgExprs args;
  FilterExpr(uint32_t p, ExprPtr in, std::string n, const FilterFn* f)
      : Expr(ExprKind::filter, p), input(std::move(in)), name(std::move(n)), fn(f) {}
};

struct TestExpr : Expr {
  ExprPtr input;
  std::string name;
  const TestFn* fn;
  CallArgExprs args;
  TestExpr(uint32_t p, ExprPtr in, std::string n, const TestFn* f)
      : Expr(ExprKind::test, p), input(std::move(in)), name(std::move(n)), fn(f) {}
};

enum class UnaryOp : uint8_t { not_, neg, pos };
struct UnaryExpr : Expr {
  UnaryOp op;
  ExprPtr operand;
  UnaryExpr(uint32_t p, UnaryOp o, ExprPtr e) : Expr(ExprKind::unary, p), op(o), operand(std::move(e)) {}
};

enum class BinaryOp : uint8_t { add, sub, mul, div, floordiv, mod, pow, concat, and_, or_ };
struct BinaryExpr : Expr {
  BinaryOp op;
  ExprPtr left, right;
  BinaryExpr(uint32_t p, BinaryOp o, ExprPtr l, ExprPtr r)
      : Expr(ExprKind::binary, p), op(o), left(std::move(l)), right(std::move(r)) {}
};

enum class CompareOp : uint8_t { eq, ne, lt, le, gt, ge, in, not_in };
struct CompareExpr : Expr {
  ExprPtr first;
  std::vector<std::pair<CompareOp, ExprPtr>> rest;  // evaluated as a Python comparison chain
  CompareExpr(uint32_t p, ExprPtr f) : Expr(ExprKind::compare, p), first(std::move(f)) {}
};

struct CondExpr : Expr {
  ExprPtr test, then_expr, else_expr;  // else_expr null: Undefined when the test is false
  CondExpr(uint32_t p) : Expr(ExprKind::cond, p) {}
};

// ---------------------------------------------------------------------------------------------
// Statements

enum class StmtKind : uint8_t { output, print, if_, for_, set, set_block, macro, call_block, filter_block, with, break_, continue_, scope };

struct Stmt {
  StmtKind kind;
  uint32_t pos;
  Stmt(StmtKind k, uint32_t p) : kind(k), pos(p) {}
  virtual ~Stmt() = default;
};

struct OutputStmt : Stmt {  // literal template text
  std::string text;
  OutputStmt(uint32_t p, std::string t) : Stmt(StmtKind::output, p), text(std::move(t)) {}
};

struct PrintStmt : Stmt {  // {{ expr }}
  ExprPtr expr;
  PrintStmt(uint32_t p, ExprPtr e) : Stmt(StmtKind::print, p), expr(std::move(e)) {}
};

struct IfStmt : Stmt {
  std::vector<std::pair<ExprPtr, StmtList>> branches;  // if, elif...
  StmtList else_body;
  explicit IfStmt(uint32_t p) : Stmt(StmtKind::if_, p) {}
};

// An assignment target: a name, `ns.attr`, or a tuple of targets.
struct Target {
  enum class Kind : uint8_t { name, ns_attr, tuple } kind = Kind::name;
  std::string name;
  std::string attr;  // ns_attr
  std::vector<Target> items;  // tuple
};

struct ForStmt : Stmt {
  Target target;
  ExprPtr iter;
  ExprPtr filter;  // `for x in y if cond`; may be null
  StmtList body, else_body;
  explicit ForStmt(uint32_t p) : Stmt(StmtKind::for_, p) {}
};

struct SetStmt : Stmt {
  Target target;
  ExprPtr value;
  explicit SetStmt(uint32_t p) : Stmt(StmtKind::set, p) {}
};

struct SetBlockStmt : Stmt {  // {% set x | filters %}body{% endset %}
  Target target;
  ExprPtr filter;  // FilterExpr chain with a null innermost input; may be null
  StmtList body;
  explicit SetBlockStmt(uint32_t p) : Stmt(StmtKind::set_block, p) {}
};

struct MacroStmt : Stmt {
  std::string name;
  std::vector<std::string> params;
  std::vector<ExprPtr> defaults;  // aligned with params; null where the parameter has no default
  StmtList body;
  explicit MacroStmt(uint32_t p) : Stmt(StmtKind::macro, p) {}
};

struct CallBlockStmt : Stmt {  // {% call(params) macro(args) %}body{% endcall %}
  std::unique_ptr<MacroStmt> caller;  // the body as a macro named "caller"
  ExprPtr call;
  explicit CallBlockStmt(uint32_t p) : Stmt(StmtKind::call_block, p) {}
};

struct FilterBlockStmt : Stmt {
  ExprPtr filter;  // FilterExpr chain with a null innermost input
  StmtList body;
  explicit FilterBlockStmt(uint32_t p) : Stmt(StmtKind::filter_block, p) {}
};

struct WithStmt : Stmt {
  std::vector<std::pair<Target, ExprPtr>> assignments;
  StmtList body;
  explicit WithStmt(uint32_t p) : Stmt(StmtKind::with, p) {}
};

struct ScopeStmt : Stmt {  // transformers' {% generation %} block: renders its body unchanged
  StmtList body;
  explicit ScopeStmt(uint32_t p) : Stmt(StmtKind::scope, p) {}
};

struct LoopControlStmt : Stmt {  // break / continue
  explicit LoopControlStmt(StmtKind k, uint32_t p) : Stmt(k, p) {}
};

}  // namespace ag::jinja
