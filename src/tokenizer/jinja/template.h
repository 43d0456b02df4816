#pragma once
// A Jinja template rendered exactly as Hugging Face transformers renders chat templates:
// jinja2's ImmutableSandboxedEnvironment with trim_blocks=True, lstrip_blocks=True,
// keep_trailing_newline=False, the loopcontrols extension ({% break %}, {% continue %}), the
// {% generation %} tag, the globals raise_exception() and strftime_now(), and transformers'
// `tojson` filter (json.dumps with ensure_ascii=False, no HTML escaping).
//
// Parse once, render many: Template is immutable and cheap to copy; render() is thread-safe.
// Syntax errors, unknown tags, filters and tests fail at parse() with the line and column.
// A render never crashes or hangs: output size, work and nesting depth are bounded.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "core/result.h"

namespace ag::jinja {

struct Program;
struct DictObj;

struct RenderOptions {
  size_t max_output_bytes = size_t{64} << 20;  // bounds the output and every intermediate string
  uint64_t max_steps = 20'000'000;             // statements, loop iterations, calls, items filtered
  int max_depth = 400;                         // nested evaluation: expressions, blocks, macro calls
  // The time strftime_now() formats (local time zone); the clock when absent.
  std::optional<std::chrono::system_clock::time_point> now;
};

class Template {
 public:
  static Result<Template> parse(std::string_view source);

  // `variables` is a JSON object: each key becomes a template variable (messages, tools,
  // add_generation_prompt, bos_token, ...). Key order of objects is kept, as Python dicts keep it.
  Result<std::string> render(const nlohmann::ordered_json& variables, const RenderOptions& options = {}) const;
  // The same with variables already converted (ChatTemplate builds them without a JSON round trip).
  Result<std::string> render_dict(const DictObj& variables, const RenderOptions& options = {}) const;

 private:
  explicit Template(std::shared_ptr<const Program> program) : program_(std::move(program)) {}
  std::shared_ptr<const Program> program_;
};

}  // namespace ag::jinja
