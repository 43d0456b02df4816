// Fuzzes the chat-template engine: arbitrary bytes are parsed as a Jinja template and rendered on
// a fixed conversation (with tools), directly and through ChatTemplate (load-time probes, the
// system-role polyfill). Must never crash, hang or leak: every failure is an error value, and
// renders are bounded by the output, step and depth limits set here.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tokenizer/chat_template.h"
#include "tokenizer/jinja/template.h"

namespace {

using nlohmann::ordered_json;

const ordered_json& messages() {
  static const ordered_json m = ordered_json::parse(R"([
    {"role": "system", "content": "You are a helpful assistant"},
    {"role": "user", "content": "Hello ünïcode 日本"},
    {"role": "assistant", "content": null, "tool_calls": [{"id": "call12345", "type": "function",
      "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
    {"role": "tool", "tool_call_id": "call12345", "content": "{\"t\": 21}"},
    {"role": "assistant", "content": "   It is 21 degrees   "},
    {"role": "user", "content": "Thanks"}
  ])");
  return m;
}

const ordered_json& tools() {
  static const ordered_json t = ordered_json::parse(R"([{"type": "function", "function": {"name": "get_weather",
    "description": "Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
    "required": ["city"]}}}])");
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16 * 1024) return 0;
  const std::string source(reinterpret_cast<const char*>(data), size);
  const auto now = std::chrono::system_clock::from_time_t(1720000000);

  if (auto t = ag::jinja::Template::parse(source); t.ok()) {
    ag::jinja::RenderOptions o;
    o.max_output_bytes = 256 * 1024;
    o.max_steps = 100'000;
    o.now = now;
    const ordered_json vars = {{"messages", messages()}, {"tools", tools()}, {"add_generation_prompt", true},
                               {"bos_token", "<s>"}, {"eos_token", "</s>"}};
    (void)t->render(vars, o);
  }
  // Half the inputs also go through ChatTemplate (its probes render the template three times).
  if (size > 0 && (data[0] & 1)) {
    if (auto ct = ag::tok::ChatTemplate::from_source(source); ct.ok()) {
      ag::tok::ChatRenderOptions o;
      o.bos_token = "<s>";
      o.eos_token = "</s>";
      o.now = now;
      (void)ct->render(messages(), o);
    }
  }
  return 0;
}
