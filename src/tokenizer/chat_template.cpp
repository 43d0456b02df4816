#include "tokenizer/chat_template.h"

#include <algorithm>
#include <array>

#include "tokenizer/jinja/value.h"

namespace ag::tok {

namespace {

using nlohmann::ordered_json;

// The models' official templates, verbatim: a built-in format renders exactly what the model's
// own tokenizer_config.json template renders, because it is that template.
struct Builtin {
  std::string_view name;
  std::string_view source;
};

constexpr std::array<Builtin, 7> kBuiltins = {{
    // teknium/OpenHermes-2.5-Mistral-7B (ChatML)
    {"chatml",
     R"({% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %})"},
    // meta-llama/Meta-Llama-3-8B-Instruct
    {"llama3",
     R"({% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>

'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>

' }}{% endif %})"},
    // meta-llama/Llama-2-7b-chat-hf
    {"llama2",
     R"({% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\n' + system_message + '\n<</SYS>>\n\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %})"},
    // mistralai/Mistral-7B-Instruct-v0.1 / v0.2
    {"mistral",
     R"({{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %})"},
    // google/gemma-2-2b-it (also gemma-7b-it, CodeGemma-it)
    {"gemma",
     R"({{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '
' + message['content'] | trim + '<end_of_turn>
' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model
'}}{% endif %})"},
    // microsoft/Phi-3.5-mini-instruct
    {"phi3",
     R"({% for message in messages %}{% if message['role'] == 'system' and message['content'] %}{{'<|system|>
' + message['content'] + '<|end|>
'}}{% elif message['role'] == 'user' %}{{'<|user|>
' + message['content'] + '<|end|>
'}}{% elif message['role'] == 'assistant' %}{{'<|assistant|>
' + message['content'] + '<|end|>
'}}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>
' }}{% else %}{{ eos_token }}{% endif %})"},
    // deepseek-ai/deepseek-coder-33b-instruct (also 1.3b / 6.7b)
    {"deepseek-coder",
     R"({% if not add_generation_prompt is defined %}
{% set add_generation_prompt = false %}
{% endif %}
{%- set ns = namespace(found=false) -%}
{%- for message in messages -%}
    {%- if message['role'] == 'system' -%}
        {%- set ns.found = true -%}
    {%- endif -%}
{%- endfor -%}
{{bos_token}}{%- if not ns.found -%}
{{'You are an AI programming assistant, utilizing the Deepseek Coder model, developed by Deepseek Company, and you only answer questions related to computer science. For politically sensitive questions, security and privacy issues, and other non-computer science questions, you will refuse to answer\n'}}
{%- endif %}
{%- for message in messages %}
    {%- if message['role'] == 'system' %}
{{ message['content'] }}
    {%- else %}
        {%- if message['role'] == 'user' %}
{{'### Instruction:\n' + message['content'] + '\n'}}
        {%- else %}
{{'### Response:\n' + message['content'] + '\n<|EOT|>\n'}}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{% if add_generation_prompt %}
{{'### Response:'}}
{% endif %})"},
}};

constexpr std::string_view kUserNeedle = "<User Needle>";
constexpr std::string_view kSystemNeedle = "<System Needle>";

bool contains(std::string_view haystack, std::string_view needle) { return haystack.find(needle) != std::string_view::npos; }

// Probes render tiny conversations; these limits keep a pathological template from making
// loading slow.
jinja::RenderOptions probe_limits() {
  jinja::RenderOptions o;
  o.max_output_bytes = size_t{1} << 20;
  o.max_steps = 1'000'000;
  return o;
}

Result<jinja::Value> to_value(const ordered_json& j, std::string_view what) {
  auto v = jinja::from_json(j);
  if (!v.ok()) return error("{}: {}", what, v.error().message);
  return std::move(v).value();
}

}  // namespace

std::vector<std::string_view> builtin_template_names() {
  std::vector<std::string_view> names;
  for (const auto& b : kBuiltins) names.push_back(b.name);
  return names;
}

std::optional<std::string_view> guess_builtin_template(std::string_view s) {
  if (contains(s, "<|im_start|>")) return "chatml";
  if (contains(s, "<|start_header_id|>")) return "llama3";
  if (contains(s, "<start_of_turn>")) return "gemma";
  if (contains(s, "<|user|>") && contains(s, "<|end|>")) return "phi3";
  if (contains(s, "### Instruction:")) return "deepseek-coder";
  if (contains(s, "[INST]")) return contains(s, "<<SYS>>") ? std::optional<std::string_view>("llama2") : "mistral";
  return std::nullopt;
}

Result<ChatTemplate> ChatTemplate::from_source(std::string source) {
  AG_TRY(jinja::Template tmpl, jinja::Template::parse(source));
  ChatTemplate t(std::move(source), std::move(tmpl));
  t.probe_capabilities();
  return t;
}

Result<ChatTemplate> ChatTemplate::builtin(std::string_view name) {
  for (const auto& b : kBuiltins) {
    if (b.name != name) continue;
    AG_TRY(ChatTemplate t, from_source(std::string(b.source)));
    t.name_ = std::string(name);
    return t;
  }
  std::string known;
  for (const auto& b : kBuiltins) known += (known.empty() ? "" : ", ") + std::string(b.name);
  return error("unknown chat template '{}' (built-in templates: {})", name, known);
}

// What llama.cpp's minja detects: whether a system message survives rendering, and whether the
// template only reads typed content parts. A probe that fails to render counts as "no".
void ChatTemplate::probe_capabilities() {
  ChatRenderOptions o;
  o.add_generation_prompt = false;
  o.polyfill_system_role = false;
  o.strip_bos_eos = false;
  auto try_raw = [&](const ordered_json& messages) -> std::string {
    auto r = render_raw(messages, o, probe_limits());
    return r.ok() ? std::move(r).value() : std::string();
  };
  const ordered_json str_user = {{"role", "user"}, {"content", kUserNeedle}};
  const ordered_json typed_user = {{"role", "user"}, {"content", ordered_json::array({{{"type", "text"}, {"text", kUserNeedle}}})}};
  requires_typed_content_ = !contains(try_raw(ordered_json::array({str_user})), kUserNeedle) &&
                            contains(try_raw(ordered_json::array({typed_user})), kUserNeedle);
  const ordered_json system = {
      {"role", "system"},
      {"content", requires_typed_content_ ? ordered_json::array({{{"type", "text"}, {"text", kSystemNeedle}}})
                                          : ordered_json(kSystemNeedle)}};
  const ordered_json& user = requires_typed_content_ ? typed_user : str_user;
  supports_system_role_ = contains(try_raw(ordered_json::array({system, user})), kSystemNeedle);

  // Tool-call arguments: rendered when given as a JSON string, or only as an object? Probed as
  // llama.cpp's minja does (same messages, same needles), so the same templates get objects.
  auto with_content = [&](const ordered_json& content) {
    // Two assistant turns: some templates treat the last message differently.
    const ordered_json assistant = {{"role", "assistant"}, {"content", content}};
    return try_raw(ordered_json::array({user, assistant, user, assistant}));
  };
  const bool requires_non_null_content =
      contains(with_content(""), kUserNeedle) && !contains(with_content(nullptr), kUserNeedle);
  const ordered_json args = {{"argument_needle", "print('Hello, World!')"}};
  auto tool_call_render = [&](const ordered_json& arguments) {
    const ordered_json call = {{"id", "call_1___"}, {"type", "function"},
                               {"function", {{"arguments", arguments}, {"name", "ipython"}}}};
    const ordered_json calls_msg = {{"role", "assistant"},
                                    {"content", requires_non_null_content ? ordered_json("") : ordered_json(nullptr)},
                                    {"tool_calls", ordered_json::array({call})}};
    const std::string out = try_raw(ordered_json::array({user, calls_msg}));
    // A string argument double-escaped by tojson (\"argument_needle\") matches none of these.
    return contains(out, "<parameter=argument_needle>") || contains(out, "\"argument_needle\"") ||
           contains(out, "'argument_needle':") || contains(out, ">argument_needle<");
  };
  const bool renders_string_arguments = tool_call_render(args.dump());
  const bool renders_object_arguments = tool_call_render(args);
  requires_object_arguments_ = !renders_string_arguments && renders_object_arguments;
}

Result<std::string> ChatTemplate::render_raw(const ordered_json& messages, const ChatRenderOptions& o,
                                             const jinja::RenderOptions& limits) const {
  jinja::DictObj vars;
  AG_TRY(jinja::Value msgs, to_value(messages, "messages"));
  vars.items.emplace_back(jinja::Value::string("messages"), std::move(msgs));
  vars.items.emplace_back(jinja::Value::string("add_generation_prompt"), jinja::Value::boolean(o.add_generation_prompt));
  vars.items.emplace_back(jinja::Value::string("bos_token"), jinja::Value::string(o.bos_token));
  vars.items.emplace_back(jinja::Value::string("eos_token"), jinja::Value::string(o.eos_token));
  if (!o.tools.is_null()) {
    AG_TRY(jinja::Value tools, to_value(o.tools, "tools"));
    vars.set(jinja::Value::string("tools"), std::move(tools));
  }
  if (!o.extra_context.is_null()) {
    if (!o.extra_context.is_object()) return error("chat template context must be a JSON object");
    for (const auto& [k, v] : o.extra_context.items()) {
      AG_TRY(jinja::Value value, to_value(v, k));
      vars.set(jinja::Value::string(k), std::move(value));
    }
  }
  jinja::RenderOptions ro = limits;
  ro.now = o.now;
  AG_TRY(std::string out, tmpl_.render_dict(vars, ro));
  if (o.strip_bos_eos) {
    if (!o.bos_token.empty() && out.starts_with(o.bos_token)) out.erase(0, o.bos_token.size());
    if (!o.eos_token.empty() && out.ends_with(o.eos_token)) out.resize(out.size() - o.eos_token.size());
  }
  return out;
}

Result<std::string> ChatTemplate::render(const ordered_json& messages, const ChatRenderOptions& o) const {
  if (!messages.is_array()) return error("chat messages must be a JSON array, got {}", messages.type_name());
  bool has_string_content = false, has_tool_calls = false;
  for (size_t i = 0; i < messages.size(); ++i) {
    const auto& m = messages[i];
    if (!m.is_object()) return error("messages[{}]: expected an object, got {}", i, m.type_name());
    const auto role = m.find("role");
    if (role == m.end() || !role->is_string()) return error("messages[{}]: missing string field 'role'", i);
    const auto content = m.find("content");
    has_string_content = has_string_content || (content != m.end() && content->is_string());
    const auto calls = m.find("tool_calls");
    has_tool_calls = has_tool_calls || (calls != m.end() && !calls->is_null());
  }
  const bool polyfill_system = o.polyfill_system_role && !supports_system_role_;
  const bool polyfill_typed = requires_typed_content_ && has_string_content;
  const bool polyfill_arguments = o.polyfill_object_arguments && requires_object_arguments_ && has_tool_calls;
  if (!polyfill_system && !polyfill_typed && !polyfill_arguments) return render_raw(messages, o, jinja::RenderOptions{});

  ordered_json actual = ordered_json::array();
  auto add = [&](ordered_json m) {
    const auto content = m.find("content");
    if (requires_typed_content_ && content != m.end() && content->is_string()) {
      m = {{"role", m["role"]}, {"content", ordered_json::array({{{"type", "text"}, {"text", *content}}})}};
    }
    actual.push_back(std::move(m));
  };
  std::string pending;  // system text waiting for the next user message
  for (ordered_json m : messages) {
    if (polyfill_arguments && m.contains("tool_calls") && m["tool_calls"].is_array()) {
      for (auto& call : m["tool_calls"]) {
        // value("type", "") would throw on a non-string type: user input must not.
        const auto type = call.is_object() ? call.find("type") : call.end();
        if (type == call.end() || *type != "function" || !call.contains("function")) continue;
        auto& function = call["function"];
        if (!function.is_object() || !function.contains("arguments") || !function["arguments"].is_string()) continue;
        ordered_json parsed = ordered_json::parse(function["arguments"].get<std::string>(), nullptr, false);
        if (!parsed.is_discarded()) function["arguments"] = std::move(parsed);  // unparseable: left as given
      }
    }
    const auto content = m.find("content");
    if (polyfill_system && content != m.end() && content->is_string()) {
      const std::string role = m["role"].get<std::string>();
      const std::string text = content->get<std::string>();
      if (role == "system") {
        pending += (pending.empty() ? "" : "\n") + text;
        continue;
      }
      if (role == "user") {
        if (!pending.empty()) {
          m["content"] = pending + (text.empty() ? "" : "\n" + text);
          pending.clear();
        }
      } else if (!pending.empty()) {
        add({{"role", "user"}, {"content", pending}});
        pending.clear();
      }
    }
    add(std::move(m));
  }
  if (!pending.empty()) add({{"role", "user"}, {"content", pending}});
  return render_raw(actual, o, jinja::RenderOptions{});
}

Result<std::string> ChatTemplate::render(const std::vector<ChatMessage>& messages, const ChatRenderOptions& o) const {
  ordered_json j = ordered_json::array();
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    ordered_json msg = {{"role", m.role}, {"content", m.content}};
    if (!m.extra.is_null()) {
      if (!m.extra.is_object()) return error("messages[{}]: extra fields must be a JSON object", i);
      for (const auto& [k, v] : m.extra.items()) msg[k] = v;
    }
    j.push_back(std::move(msg));
  }
  return render(j, o);
}

Result<std::string> ChatTemplate::render(const std::vector<ChatMessage>& messages, bool add_generation_prompt,
                                         std::string_view bos_token, std::string_view eos_token) const {
  ChatRenderOptions o;
  o.add_generation_prompt = add_generation_prompt;
  o.bos_token = std::string(bos_token);
  o.eos_token = std::string(eos_token);
  return render(messages, o);
}

}  // namespace ag::tok
