#pragma once
// Chat templates: a model's `tokenizer.chat_template` (Jinja) applied to a conversation, or one
// of the named built-in formats (the models' official templates, rendered by the same engine).
//
// Rendering follows Hugging Face transformers (see jinja/template.h) with the adjustments
// llama.cpp makes when it serves a template (its --jinja mode), so prompts match llama.cpp's:
//  - a template that cannot show a system message (it raises, or drops it) gets the system text
//    merged into the next user message ("system\nuser");
//  - a template that only renders tool-call arguments given as a JSON object (Llama 3.x) gets
//    OpenAI-style string arguments parsed into objects;
//  - a template that only reads typed content parts gets string content as [{"type": "text"}];
//  - a leading BOS and a trailing EOS are removed from the text, because the tokenizer adds BOS
//    itself and a prompt must not end the turn it asks the model to continue.
// What a template needs is probed once, when it loads. Each adjustment can be turned off
// (ChatRenderOptions) for transformers-exact text.
//
// Variables the template sees: messages, add_generation_prompt, bos_token, eos_token, tools (only
// when given), the globals raise_exception() and strftime_now(), and any extra_context entries.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "tokenizer/jinja/template.h"

namespace ag::tok {

struct ChatMessage {
  std::string role;
  std::string content;
  // More message fields (tool_calls, tool_call_id, name, reasoning_content, ...): a JSON object,
  // or null for none. Keys here override role/content.
  nlohmann::ordered_json extra;
};

struct ChatRenderOptions {
  bool add_generation_prompt = true;
  std::string bos_token;
  std::string eos_token;
  nlohmann::ordered_json tools;          // JSON array of tool definitions; null: `tools` is undefined
  nlohmann::ordered_json extra_context;  // JSON object of more variables (enable_thinking, ...)
  bool polyfill_system_role = true;      // merge system text into the next user turn when needed
  bool polyfill_object_arguments = true; // parse string tool-call arguments when the template needs objects
  bool strip_bos_eos = true;             // remove a leading bos_token and a trailing eos_token
  std::optional<std::chrono::system_clock::time_point> now;  // for strftime_now(); default: clock
};

class ChatTemplate {
 public:
  // Parses a Jinja template. Syntax errors, unknown tags/filters/tests fail here with the line
  // and column ("template syntax error at line 3, column 9: ...").
  static Result<ChatTemplate> from_source(std::string source);
  // A built-in format by name (see builtin_template_names()).
  static Result<ChatTemplate> builtin(std::string_view name);

  // messages: a JSON array of message objects, each with a string "role"; "content" may be a
  // string, null, or a list of typed parts. Errors name the message and field, or carry the
  // template's own raise_exception() text.
  Result<std::string> render(const nlohmann::ordered_json& messages, const ChatRenderOptions& options) const;
  Result<std::string> render(const std::vector<ChatMessage>& messages, const ChatRenderOptions& options) const;
  Result<std::string> render(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                             std::string_view bos_token, std::string_view eos_token) const;

  const std::string& source() const { return source_; }
  const std::string& name() const { return name_; }  // the built-in name, or "" for a source
  // Whether the template shows a system message as given (probed at load).
  bool supports_system_role() const { return supports_system_role_; }
  // Whether it only shows content given as [{"type": "text", "text": ...}] parts (probed at load).
  bool requires_typed_content() const { return requires_typed_content_; }
  // Whether it renders tool-call arguments only when they are a JSON object (probed at load).
  bool requires_object_arguments() const { return requires_object_arguments_; }

 private:
  ChatTemplate(std::string source, jinja::Template tmpl) : source_(std::move(source)), tmpl_(std::move(tmpl)) {}
  void probe_capabilities();
  // The template on these messages as they are (no polyfill), with bounded work.
  Result<std::string> render_raw(const nlohmann::ordered_json& messages, const ChatRenderOptions& options,
                                 const jinja::RenderOptions& limits) const;

  std::string source_;
  std::string name_;
  jinja::Template tmpl_;
  bool supports_system_role_ = true;
  bool requires_typed_content_ = false;
  bool requires_object_arguments_ = false;
};

// chatml, llama3, llama2, mistral, gemma, phi3, deepseek-coder.
std::vector<std::string_view> builtin_template_names();

// The built-in format a template source most likely is, from the special markers it writes
// (e.g. "<|im_start|>" → chatml); nullopt when none matches. For choosing a fallback when a
// model's own template cannot be used.
std::optional<std::string_view> guess_builtin_template(std::string_view source);

}  // namespace ag::tok
