#pragma once
// Renders a parsed template: statements write to an output string, expressions evaluate to
// Values, with jinja2's scoping (a `for` body and a macro get their own scope; `if` does not) and
// the semantics of jinja2's ImmutableSandboxedEnvironment as transformers configures it.
// Every render is bounded (output size, work steps, nesting depth), so a hostile template
// ends with an error instead of hanging or exhausting memory.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/jinja/ast.h"
#include "tokenizer/jinja/lexer.h"
#include "tokenizer/jinja/value.h"

namespace ag::jinja {

// A parsed template.
struct Program {
  std::string source;  // normalized text; tokens and nodes point into it by offset
  SourceMap map;
  StmtList body;
  explicit Program(std::string src) : source(std::move(src)), map(source) {}
};

struct RenderLimits {
  size_t max_output_bytes = size_t{64} << 20;  // also bounds every intermediate string
  uint64_t max_steps = 20'000'000;             // statements, loop iterations, calls, items filtered
  int max_depth = 400;                         // nested evaluation (expressions, bodies, macro calls)
};

// A variable scope. Frames are shared: a macro keeps the scope it was defined in.
class Frame {
 public:
  explicit Frame(std::shared_ptr<Frame> parent) : parent_(std::move(parent)) {}
  const Value* lookup(std::string_view name) const;
  void set(std::string_view name, Value v);
  void clear() { vars_.clear(); }

 private:
  std::shared_ptr<Frame> parent_;
  std::vector<std::pair<std::string, Value>> vars_;
};
using FramePtr = std::shared_ptr<Frame>;

struct FilterFn {
  std::string_view name;
  Result<Value> (*fn)(Interpreter& in, Value input, CallArgs& args);
};
struct TestFn {
  std::string_view name;
  Result<bool> (*fn)(Interpreter& in, const Value& input, CallArgs& args);
};
const FilterFn* find_filter(std::string_view name);
const TestFn* find_test(std::string_view name);

class Interpreter {
 public:
  Interpreter(const Program& program, const RenderLimits& limits, std::chrono::system_clock::time_point now);
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  // Renders the whole template with these top-level variables. Errors carry the line and column.
  Result<std::string> render(const DictObj& variables);

  // --- services for filters, tests, methods and builtins ---
  Status charge(uint64_t steps);             // counts work against max_steps
  Status check_size(size_t bytes) const;     // a string about to be built of this many bytes
  Result<Value> getattr(const Value& obj, std::string_view name);
  Result<Value> getitem(const Value& obj, const Value& key);
  // Attribute path as filters take it: "a.b.0" (integer parts index lists). With a default,
  // an Undefined after any part is replaced by it (jinja2's make_attrgetter).
  Result<Value> get_path(const Value& obj, std::string_view path, const Value* dflt = nullptr);
  Result<Value> call(const Value& callee, CallArgs args);
  // Items of an iterable the way a Python `for` sees them (dict → keys, str → characters).
  Result<std::vector<Value>> iterate(const Value& v);
  Result<bool> contains(const Value& container, const Value& item);
  // Python's a + b (numbers, strings, lists), as the sum filter needs it.
  Result<Value> add(const Value& a, const Value& b) { return binary_op(BinaryOp::add, a, b); }
  // A freshly created namespace: tracked so reference cycles through it are broken after render.
  Value make_namespace(NamespaceObj ns);
  void note_mutated(const Value& list);  // a list changed in place (append): tracked likewise
  std::chrono::system_clock::time_point now() const { return now_; }
  // A render limit (steps, size, depth) was hit: such errors are never deferred or swallowed.
  bool limit_exceeded() const { return limit_exceeded_; }
  // raise_exception(): an error reported as the template's own message.
  Error raise(std::string message);

  Result<Value> invoke_macro(const MacroStmt& m, const FramePtr& closure, CallArgs args);

 private:
  enum class Flow { normal, break_, continue_ };

  const Program& program_;
  RenderLimits limits_;
  std::chrono::system_clock::time_point now_;
  uint64_t steps_ = 0;
  int depth_ = 0;
  uint32_t error_pos_ = 0;     // source offset of the innermost node that failed
  bool error_located_ = false;
  bool raised_ = false;        // the error came from raise_exception()
  mutable bool limit_exceeded_ = false;
  FramePtr root_;
  // Objects that can close a reference cycle (macro scopes, namespaces, lists changed in place);
  // the destructor empties them.
  std::vector<FramePtr> closure_frames_;
  std::vector<Value> namespaces_;
  std::vector<Value> mutated_lists_;

  // Counts nesting of eval/exec/calls; check() fails past limits_.max_depth.
  struct DepthGuard {
    Interpreter& in;
    explicit DepthGuard(Interpreter& i) : in(i) { ++in.depth_; }
    ~DepthGuard() { --in.depth_; }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;
    Status check() const {
      if (in.depth_ > in.limits_.max_depth) {
        in.limit_exceeded_ = true;
        return error("template nested too deeply (more than {} levels)", in.limits_.max_depth);
      }
      return {};
    }
  };

  Result<Flow> exec_list(const StmtList& body, const FramePtr& frame, std::string& out);
  Result<Flow> exec(const Stmt& s, const FramePtr& frame, std::string& out);
  Result<Flow> exec_for(const ForStmt& s, const FramePtr& frame, std::string& out);
  Status exec_call_block(const CallBlockStmt& s, const FramePtr& frame, std::string& out);
  Status assign(const Target& t, Value v, Frame& frame);
  Status append_out(std::string& out, std::string_view text) const;

  Result<Value> eval(const Expr& e, const FramePtr& frame);
  Result<Value> eval_inner(const Expr& e, const FramePtr& frame);
  Result<Value> eval_name(const NameExpr& e, const FramePtr& frame);
  Result<Value> eval_binary(const BinaryExpr& e, const FramePtr& frame);
  Result<Value> eval_compare(const CompareExpr& e, const FramePtr& frame);
  Result<Value> eval_getitem(const GetItemExpr& e, const FramePtr& frame);
  Result<Value> eval_call(const CallExpr& e, const FramePtr& frame, const Value* caller);
  // A filter chain; `block_input` replaces the innermost missing input ({% filter %} blocks).
  Result<Value> eval_filter(const FilterExpr& e, const FramePtr& frame, const Value* block_input);
  Result<CallArgs> eval_args(const CallArgExprs& a, const FramePtr& frame);
  Result<Value> binary_op(BinaryOp op, const Value& a, const Value& b);
  Result<Value> unary_op(UnaryOp op, const Value& a);
  Value make_loop(size_t index, const std::vector<Value>& items);
  Value make_macro(const MacroStmt& m, const FramePtr& closure);
  Error fail_undefined(const Value& u) const;
};

// Python-style argument binding for built-ins: positional then keyword, by parameter name.
// Missing optional parameters are nullopt. Errors name the function.
Result<std::vector<std::optional<Value>>> bind_args(std::string_view fn, const CallArgs& args,
                                                    std::initializer_list<std::string_view> params,
                                                    size_t n_required);
// Python str % args formatting and str.format, as far as templates use them.
Result<std::string> percent_format(Interpreter& in, std::string_view fmt, const Value& args);
Result<std::string> str_format(Interpreter& in, std::string_view fmt, const CallArgs& args);
// int() / float() conversions of strings the way Python parses them; nullopt when invalid.
std::optional<int64_t> parse_py_int(std::string_view s, int base);
std::optional<double> parse_py_float(std::string_view s);

// Methods of str, dict and list values (`s.strip()`, `d.items()`): a bound method or nullopt
// when the type has no such attribute.
std::optional<Value> bind_method(const Value& self, std::string_view name);
// Built-in globals: range, namespace, dict, raise_exception, strftime_now.
const Value* find_builtin(std::string_view name);

}  // namespace ag::jinja
