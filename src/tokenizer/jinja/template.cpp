#include "tokenizer/jinja/template.h"

#include <nlohmann/json.hpp>

#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/parser.h"

namespace ag::jinja {

Result<Template> Template::parse(std::string_view source) {
  AG_TRY(std::shared_ptr<const Program> program, parse_program(source));
  return Template(std::move(program));
}

Result<std::string> Template::render(const nlohmann::ordered_json& variables, const RenderOptions& options) const {
  if (!variables.is_object()) return error("template variables must be a JSON object");
  AG_TRY(Value v, from_json(variables));
  return render_dict(v.as_dict(), options);
}

Result<std::string> Template::render_dict(const DictObj& variables, const RenderOptions& options) const {
  RenderLimits limits;
  limits.max_output_bytes = options.max_output_bytes;
  limits.max_steps = options.max_steps;
  limits.max_depth = options.max_depth;
  Interpreter interp(*program_, limits, options.now.value_or(std::chrono::system_clock::now()));
  return interp.render(variables);
}

}  // namespace ag::jinja
