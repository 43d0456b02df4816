#pragma once
// Tokens → AST, following jinja2's parser (operator precedence, where filters and tests bind,
// tuples, call arguments, statement tags). Unknown tags, filters and tests, and syntax errors
// are reported here, at load time, with the line and column.
#include <memory>
#include <string_view>

#include "core/result.h"
#include "tokenizer/jinja/interpreter.h"

namespace ag::jinja {

Result<std::shared_ptr<const Program>> parse_program(std::string_view source);

}  // namespace ag::jinja
