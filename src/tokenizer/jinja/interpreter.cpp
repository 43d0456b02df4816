#include "tokenizer/jinja/interpreter.h"

#include <algorithm>
#include <cmath>

#include "tokenizer/jinja/py_str.h"

namespace ag::jinja {

const Value* Frame::lookup(std::string_view name) const {
  for (const Frame* f = this; f; f = f->parent_.get())
    for (const auto& [k, v] : f->vars_)
      if (k == name) return &v;
  return nullptr;
}

void Frame::set(std::string_view name, Value v) {
  for (auto& [k, val] : vars_) {
    if (k == name) {
      val = std::move(v);
      return;
    }
  }
  vars_.emplace_back(std::string(name), std::move(v));
}

namespace {

class MacroCallable final : public Callable {
 public:
  MacroCallable(const MacroStmt& m, FramePtr closure) : m_(m), closure_(std::move(closure)) {}
  std::string_view name() const override { return m_.name; }
  Result<Value> call(Interpreter& in, CallArgs args) const override {
    return in.invoke_macro(m_, closure_, std::move(args));
  }

 private:
  const MacroStmt& m_;
  FramePtr closure_;
};

// loop.cycle(a, b, ...): the item for this iteration.
class LoopCycle final : public Callable {
 public:
  explicit LoopCycle(size_t index) : index_(index) {}
  std::string_view name() const override { return "cycle"; }
  Result<Value> call(Interpreter&, CallArgs args) const override {
    if (args.positional.empty()) return error("no items for cycling given");
    return args.positional[index_ % args.positional.size()];
  }

 private:
  size_t index_;
};

}  // namespace

Interpreter::Interpreter(const Program& program, const RenderLimits& limits, std::chrono::system_clock::time_point now)
    : program_(program), limits_(limits), now_(now) {}

Interpreter::~Interpreter() {
  // Macros keep their defining scope alive and namespaces may hold themselves; clearing these
  // breaks every reference cycle a template can build, so nothing leaks.
  if (root_) root_->clear();
  for (auto& f : closure_frames_) f->clear();
  for (auto& ns : namespaces_) ns.as_ns().attrs.items.clear();
  for (auto& l : mutated_lists_) l.as_list().items.clear();
}

Result<std::string> Interpreter::render(const DictObj& variables) {
  root_ = std::make_shared<Frame>(nullptr);
  for (const auto& [k, v] : variables.items)
    if (k.is_string()) root_->set(k.as_string(), v);
  std::string out;
  auto flow = exec_list(program_.body, root_, out);
  if (!flow.ok()) {
    const std::string where = program_.map.where(error_pos_);
    if (raised_) return error("template raised an exception at {}: {}", where, flow.error().message);
    return error("template error at {}: {}", where, flow.error().message);
  }
  return out;
}

Status Interpreter::charge(uint64_t steps) {
  steps_ += steps;
  if (steps_ > limits_.max_steps) {
    limit_exceeded_ = true;
    return error("template exceeded {} steps of work", limits_.max_steps);
  }
  return {};
}

Status Interpreter::check_size(size_t bytes) const {
  if (bytes > limits_.max_output_bytes) {
    limit_exceeded_ = true;
    return error("template output exceeds {} bytes", limits_.max_output_bytes);
  }
  return {};
}

Status Interpreter::append_out(std::string& out, std::string_view text) const {
  AG_TRY_STATUS(check_size(out.size() + text.size()));
  out.append(text);
  return {};
}

Error Interpreter::raise(std::string message) {
  raised_ = true;
  return Error{std::move(message)};
}

Error Interpreter::fail_undefined(const Value& u) const {
  if (u.undefined_name().empty()) return error("an undefined value was used");
  return error("'{}' is undefined", u.undefined_name());
}

Value Interpreter::make_namespace(NamespaceObj ns) {
  Value v = Value::ns(std::move(ns));
  namespaces_.push_back(v);
  return v;
}

void Interpreter::note_mutated(const Value& list) { mutated_lists_.push_back(list); }

// ---------------------------------------------------------------------------------------------
// Statements

Result<Interpreter::Flow> Interpreter::exec_list(const StmtList& body, const FramePtr& frame, std::string& out) {
  for (const auto& s : body) {
    AG_TRY(Flow f, exec(*s, frame, out));
    if (f != Flow::normal) return f;
  }
  return Flow::normal;
}

Result<Interpreter::Flow> Interpreter::exec(const Stmt& s, const FramePtr& frame, std::string& out) {
  DepthGuard guard(*this);
  auto r = [&]() -> Result<Flow> {
    AG_TRY_STATUS(guard.check());
    AG_TRY_STATUS(charge(1));
    switch (s.kind) {
      case StmtKind::output:
        AG_TRY_STATUS(append_out(out, static_cast<const OutputStmt&>(s).text));
        return Flow::normal;
      case StmtKind::print: {
        AG_TRY(Value v, eval(*static_cast<const PrintStmt&>(s).expr, frame));
        if (v.is_string()) {
          AG_TRY_STATUS(append_out(out, v.as_string()));
        } else {
          AG_TRY_STATUS(append_out(out, to_str(v)));
        }
        return Flow::normal;
      }
      case StmtKind::if_: {
        const auto& st = static_cast<const IfStmt&>(s);
        for (const auto& [test, body] : st.branches) {
          AG_TRY(Value c, eval(*test, frame));
          if (truthy(c)) return exec_list(body, frame, out);
        }
        return exec_list(st.else_body, frame, out);
      }
      case StmtKind::for_: return exec_for(static_cast<const ForStmt&>(s), frame, out);
      case StmtKind::set: {
        const auto& st = static_cast<const SetStmt&>(s);
        AG_TRY(Value v, eval(*st.value, frame));
        AG_TRY_STATUS(assign(st.target, std::move(v), *frame));
        return Flow::normal;
      }
      case StmtKind::set_block: {
        const auto& st = static_cast<const SetBlockStmt&>(s);
        std::string captured;
        AG_TRY(Flow f, exec_list(st.body, frame, captured));
        Value v = Value::string(std::move(captured));
        if (st.filter) { AG_TRY(v, eval_filter(static_cast<const FilterExpr&>(*st.filter), frame, &v)); }
        AG_TRY_STATUS(assign(st.target, std::move(v), *frame));
        return f;
      }
      case StmtKind::macro: {
        const auto& m = static_cast<const MacroStmt&>(s);
        frame->set(m.name, make_macro(m, frame));
        return Flow::normal;
      }
      case StmtKind::call_block:
        AG_TRY_STATUS(exec_call_block(static_cast<const CallBlockStmt&>(s), frame, out));
        return Flow::normal;
      case StmtKind::filter_block: {
        const auto& st = static_cast<const FilterBlockStmt&>(s);
        std::string captured;
        AG_TRY(Flow f, exec_list(st.body, frame, captured));
        Value in = Value::string(std::move(captured));
        AG_TRY(Value v, eval_filter(static_cast<const FilterExpr&>(*st.filter), frame, &in));
        AG_TRY_STATUS(append_out(out, to_str(v)));
        return f;
      }
      case StmtKind::with: {
        const auto& st = static_cast<const WithStmt&>(s);
        auto inner = std::make_shared<Frame>(frame);
        for (const auto& [target, value] : st.assignments) {
          AG_TRY(Value v, eval(*value, frame));  // values see the enclosing scope
          AG_TRY_STATUS(assign(target, std::move(v), *inner));
        }
        return exec_list(st.body, inner, out);
      }
      case StmtKind::scope: {
        auto inner = std::make_shared<Frame>(frame);
        AG_TRY(Flow f, exec_list(static_cast<const ScopeStmt&>(s).body, inner, out));
        (void)f;
        return Flow::normal;
      }
      case StmtKind::break_: return Flow::break_;
      case StmtKind::continue_: return Flow::continue_;
    }
    return Flow::normal;
  }();
  if (!r.ok() && !error_located_) {
    error_pos_ = s.pos;
    error_located_ = true;
  }
  return r;
}

Result<Interpreter::Flow> Interpreter::exec_for(const ForStmt& s, const FramePtr& frame, std::string& out) {
  AG_TRY(Value iterable, eval(*s.iter, frame));
  AG_TRY(std::vector<Value> items, iterate(iterable));
  if (s.filter) {
    std::vector<Value> kept;
    for (auto& item : items) {
      AG_TRY_STATUS(charge(1));
      auto scope = std::make_shared<Frame>(frame);
      AG_TRY_STATUS(assign(s.target, item, *scope));
      AG_TRY(Value keep, eval(*s.filter, scope));
      if (truthy(keep)) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  if (items.empty()) {
    if (s.else_body.empty()) return Flow::normal;
    auto scope = std::make_shared<Frame>(frame);
    return exec_list(s.else_body, scope, out);
  }
  for (size_t i = 0; i < items.size(); ++i) {
    AG_TRY_STATUS(charge(1));
    // Each iteration gets a fresh scope: a `set` in the body never outlives its iteration.
    auto scope = std::make_shared<Frame>(frame);
    AG_TRY_STATUS(assign(s.target, items[i], *scope));
    scope->set("loop", make_loop(i, items));
    AG_TRY(Flow f, exec_list(s.body, scope, out));
    if (f == Flow::break_) break;
  }
  return Flow::normal;
}

Value Interpreter::make_loop(size_t index, const std::vector<Value>& items) {
  const auto n = static_cast<int64_t>(items.size());
  const auto i = static_cast<int64_t>(index);
  DictObj d;
  d.items.reserve(12);
  auto put = [&](const char* k, Value v) { d.items.emplace_back(Value::string(k), std::move(v)); };
  put("index0", Value::integer(i));
  put("index", Value::integer(i + 1));
  put("revindex0", Value::integer(n - i - 1));
  put("revindex", Value::integer(n - i));
  put("first", Value::boolean(i == 0));
  put("last", Value::boolean(i == n - 1));
  put("length", Value::integer(n));
  put("depth", Value::integer(1));
  put("depth0", Value::integer(0));
  if (i > 0) put("previtem", items[index - 1]);
  if (i < n - 1) put("nextitem", items[index + 1]);
  put("cycle", Value::callable(std::make_shared<LoopCycle>(index)));
  return Value::dict(std::move(d));
}

Status Interpreter::assign(const Target& t, Value v, Frame& frame) {
  switch (t.kind) {
    case Target::Kind::name: frame.set(t.name, std::move(v)); return {};
    case Target::Kind::ns_attr: {
      const Value* ns = frame.lookup(t.name);
      if (!ns || !ns->is_ns()) return error("cannot assign attribute '{}' on '{}': it is not a namespace", t.attr, t.name);
      ns->as_ns().attrs.set(Value::string(t.attr), std::move(v));
      return {};
    }
    case Target::Kind::tuple: {
      AG_TRY(std::vector<Value> items, iterate(v));
      if (items.size() != t.items.size()) {
        if (items.size() > t.items.size()) return error("too many values to unpack (expected {})", t.items.size());
        return error("not enough values to unpack (expected {}, got {})", t.items.size(), items.size());
      }
      for (size_t i = 0; i < items.size(); ++i) AG_TRY_STATUS(assign(t.items[i], std::move(items[i]), frame));
      return {};
    }
  }
  return {};
}

Value Interpreter::make_macro(const MacroStmt& m, const FramePtr& closure) {
  if (closure_frames_.empty() || closure_frames_.back() != closure) closure_frames_.push_back(closure);
  return Value::callable(std::make_shared<MacroCallable>(m, closure));
}

Status Interpreter::exec_call_block(const CallBlockStmt& s, const FramePtr& frame, std::string& out) {
  const Value caller = make_macro(*s.caller, frame);
  AG_TRY(Value v, eval_call(static_cast<const CallExpr&>(*s.call), frame, &caller));
  return append_out(out, to_str(v));
}

Result<Value> Interpreter::invoke_macro(const MacroStmt& m, const FramePtr& closure, CallArgs args) {
  DepthGuard guard(*this);
  AG_TRY_STATUS(guard.check());
  AG_TRY_STATUS(charge(1));
  auto scope = std::make_shared<Frame>(closure);
  std::vector<bool> bound(m.params.size(), false);
  std::vector<Value> varargs;
  for (size_t i = 0; i < args.positional.size(); ++i) {
    if (i < m.params.size()) {
      scope->set(m.params[i], std::move(args.positional[i]));
      bound[i] = true;
    } else {
      varargs.push_back(std::move(args.positional[i]));
    }
  }
  DictObj kwargs;
  for (auto& [name, value] : args.keyword) {
    const auto it = std::find(m.params.begin(), m.params.end(), name);
    if (it != m.params.end()) {
      const auto idx = static_cast<size_t>(it - m.params.begin());
      if (bound[idx]) return error("macro '{}' got multiple values for argument '{}'", m.name, name);
      scope->set(name, std::move(value));
      bound[idx] = true;
    } else if (name == "caller") {
      scope->set("caller", std::move(value));
    } else {
      kwargs.items.emplace_back(Value::string(name), std::move(value));
    }
  }
  for (size_t i = 0; i < m.params.size(); ++i) {
    if (bound[i]) continue;
    if (m.defaults[i]) {
      AG_TRY(Value d, eval(*m.defaults[i], scope));  // defaults may refer to earlier parameters
      scope->set(m.params[i], std::move(d));
    } else {
      scope->set(m.params[i], Value::undefined(m.params[i]));
    }
  }
  scope->set("varargs", Value::list(std::move(varargs), true));
  scope->set("kwargs", Value::dict(std::move(kwargs)));
  std::string out;
  AG_TRY(Flow f, exec_list(m.body, scope, out));
  (void)f;
  return Value::string(std::move(out));
}

}  // namespace ag::jinja
