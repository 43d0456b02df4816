#include "tokenizer/chat_prompt.h"

#include <fstream>
#include <sstream>

#include "gguf/gguf.h"

namespace ag::tok {

namespace {

std::string builtin_list() {
  std::string names;
  for (const auto name : builtin_template_names()) {
    if (!names.empty()) names += ", ";
    names += name;
  }
  return names;
}

}  // namespace

Result<ChatTemplate> model_chat_template(const gguf::File& file, std::string_view model_name,
                                         const ChatTemplateChoice& choice) {
  if (!choice.path.empty()) {
    std::ifstream in(choice.path, std::ios::binary);
    if (!in) return error("{}: cannot read the chat template file", choice.path);
    std::stringstream buf;
    buf << in.rdbuf();
    if (in.bad()) return error("{}: read error", choice.path);
    auto t = ChatTemplate::from_source(buf.str());
    if (!t.ok()) return error("{}: {}", choice.path, t.error().message);
    return t;
  }
  if (!choice.builtin.empty()) {
    auto t = ChatTemplate::builtin(choice.builtin);
    if (!t.ok()) return error("--chat-template: {}", t.error().message);
    return t;
  }
  const gguf::Value* v = file.find("tokenizer.chat_template");
  if (v == nullptr || v->as_string() == nullptr) {
    return error("{} has no chat template (tokenizer.chat_template); choose one with --chat-template NAME ({}) "
                 "or --chat-template-file FILE",
                 model_name, builtin_list());
  }
  auto t = ChatTemplate::from_source(*v->as_string());
  if (t.ok()) return t;
  const auto guess = guess_builtin_template(*v->as_string());
  return error("{}: the model's chat template does not load ({}); choose one with --chat-template {}",
               model_name, t.error().message, guess ? std::string(*guess) : "NAME (" + builtin_list() + ")");
}

ChatRenderOptions model_render_options(const Tokenizer& tokenizer) {
  ChatRenderOptions o;
  o.add_generation_prompt = true;
  const SpecialIds& sp = tokenizer.special();
  if (sp.bos >= 0) o.bos_token = std::string(tokenizer.token_text(sp.bos));
  if (sp.eos >= 0) o.eos_token = std::string(tokenizer.token_text(sp.eos));
  return o;
}

Result<ChatInput> parse_chat_input(const nlohmann::ordered_json& doc, std::string_view source,
                                   ChatRenderOptions options) {
  ChatInput in;
  in.options = std::move(options);
  if (doc.is_array()) {
    in.messages = doc;
    return in;
  }
  if (!doc.is_object()) {
    return error("{}: expected a list of messages or an object with \"messages\", got {}", source,
                 doc.type_name());
  }
  for (const auto& [key, value] : doc.items()) {
    if (key == "messages") {
      in.messages = value;
    } else if (key == "tools") {
      in.options.tools = value;
    } else if (key == "add_generation_prompt" && value.is_boolean()) {
      in.options.add_generation_prompt = value.get<bool>();
    } else if (key == "bos_token" && value.is_string()) {
      in.options.bos_token = value.get<std::string>();
    } else if (key == "eos_token" && value.is_string()) {
      in.options.eos_token = value.get<std::string>();
    } else {
      if (in.options.extra_context.is_null()) in.options.extra_context = nlohmann::ordered_json::object();
      in.options.extra_context[key] = value;
    }
  }
  if (in.messages.is_null()) return error("{}: the object has no \"messages\" list", source);
  if (!in.messages.is_array()) return error("{}: \"messages\" must be a list, got {}", source, in.messages.type_name());
  return in;
}

}  // namespace ag::tok
