#pragma once
// What the command-line tools share around chat templates: which template a model uses, the
// render options its tokenizer implies, and conversation files as `autoglm template` and
// `autoglm tokenize --chat` read them.
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace ag::gguf {
class File;
}

namespace ag::tok {

// How the user chose a template; both empty: the model's own tokenizer.chat_template.
struct ChatTemplateChoice {
  std::string builtin;  // --chat-template NAME (chatml, llama3, ...)
  std::string path;     // --chat-template-file FILE (Jinja source)
};

// The template for `file` (named `model_name` in errors). Unlike the server, which falls back to
// chatml so that every request gets an answer, this never guesses: a model without a template, or
// whose template does not parse, is an error that says which --chat-template to pass.
Result<ChatTemplate> model_chat_template(const gguf::File& file, std::string_view model_name,
                                         const ChatTemplateChoice& choice);

// Options for rendering a prompt the model will continue: add_generation_prompt on, bos_token and
// eos_token from the tokenizer's BOS / EOS text.
ChatRenderOptions model_render_options(const Tokenizer& tokenizer);

// A conversation: a JSON list of messages ({"role", "content", ...}), or an object with
// "messages" and optionally "tools", "add_generation_prompt", "bos_token", "eos_token"; any
// other key becomes a template variable (enable_thinking, ...). Keys given in the object
// override `options`; `source` names the input in errors.
struct ChatInput {
  nlohmann::ordered_json messages;
  ChatRenderOptions options;
};
Result<ChatInput> parse_chat_input(const nlohmann::ordered_json& doc, std::string_view source,
                                   ChatRenderOptions options = {});

}  // namespace ag::tok
