// ChatTemplate: the reference cases (../shared/reference/chat-templates/cases.json), real model
// templates against Python's jinja2 plus the llama.cpp-style adjustments (jinja_golden.json,
// section "chat"), the built-in formats, option and error behaviour, and the `autoglm template`
// command.
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "scratch_dir.h"
#include "tokenizer/chat_template.h"

namespace {

using ag::tok::ChatMessage;
using ag::tok::ChatRenderOptions;
using ag::tok::ChatTemplate;
using nlohmann::ordered_json;

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

const ordered_json& reference_cases() {
  static const ordered_json doc =
      ordered_json::parse(read_file(std::string(AUTOGLM_SHARED_DIR) + "/reference/chat-templates/cases.json"));
  return doc;
}

const ordered_json& golden() {
  static const ordered_json doc = [] {
    setenv("TZ", "UTC", 1);  // the generator ran with TZ=UTC
    tzset();
    return ordered_json::parse(read_file(std::string(AUTOGLM_SOURCE_DIR) + "/tests/tokenizer/jinja_golden.json"));
  }();
  return doc;
}

std::string template_file(const std::string& name) {
  return read_file(std::string(AUTOGLM_SOURCE_DIR) + "/tests/tokenizer/chat_templates/" + name);
}

ChatTemplate load(const std::string& source) {
  auto t = ChatTemplate::from_source(source);
  EXPECT_TRUE(t.ok()) << t.error().message;
  return std::move(t).value();
}

const ordered_json& conversation() { return reference_cases()["messages"]; }

ChatRenderOptions opts(std::string bos, std::string eos, bool add_generation_prompt = true) {
  ChatRenderOptions o;
  o.bos_token = std::move(bos);
  o.eos_token = std::move(eos);
  o.add_generation_prompt = add_generation_prompt;
  return o;
}

TEST(ChatTemplate, EveryReferenceCase) {
  const auto& doc = reference_cases();
  ASSERT_GE(doc["cases"].size(), 10u);
  for (const auto& c : doc["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    auto t = ChatTemplate::from_source(c["template"].get<std::string>());
    ASSERT_TRUE(t.ok()) << t.error().message;
    auto out = t->render(doc["messages"], opts(c["bos_token"].get<std::string>(), c["eos_token"].get<std::string>(),
                                               c["add_generation_prompt"].get<bool>()));
    ASSERT_TRUE(out.ok()) << out.error().message;
    EXPECT_EQ(out.value(), c["expected"].get<std::string>());
  }
}

// Real templates with the system-role polyfill and BOS/EOS stripping, against the same rules
// applied in Python around jinja2 (jinja_golden_gen.py, chat_apply).
TEST(ChatTemplate, RealTemplatesMatchReferenceRules) {
  const auto& doc = golden();
  ASSERT_GE(doc["chat"].size(), 40u);
  for (const auto& c : doc["chat"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const ChatTemplate t = load(template_file(c["file"].get<std::string>()));
    if (c.contains("capabilities")) {
      const auto& caps = c["capabilities"];
      EXPECT_EQ(t.supports_system_role(), caps["supports_system_role"].get<bool>());
      EXPECT_EQ(t.requires_typed_content(), caps["requires_typed_content"].get<bool>());
      EXPECT_EQ(t.requires_object_arguments(), caps["requires_object_arguments"].get<bool>());
      continue;
    }
    ChatRenderOptions o = opts(c["bos_token"].get<std::string>(), c["eos_token"].get<std::string>(),
                               c["add_generation_prompt"].get<bool>());
    if (c.contains("tools")) o.tools = c["tools"];
    o.now = std::chrono::system_clock::from_time_t(doc["now_epoch"].get<std::time_t>());
    auto out = t.render(c["messages"], o);
    if (c.contains("error")) {
      EXPECT_FALSE(out.ok()) << "expected an error like: " << c["error"].get<std::string>();
      continue;
    }
    ASSERT_TRUE(out.ok()) << out.error().message;
    EXPECT_EQ(out.value(), c["expected"].get<std::string>());
  }
}

TEST(ChatTemplate, CapabilitiesAreProbedAtLoad) {
  EXPECT_TRUE(load(template_file("qwen2.5.jinja")).supports_system_role());
  EXPECT_FALSE(load(template_file("gemma-2.jinja")).supports_system_role());      // raises on system
  EXPECT_FALSE(load(template_file("starcoder2-instruct.jinja")).supports_system_role());
  EXPECT_TRUE(load(template_file("llama-3.3.jinja")).supports_system_role());
  const ChatTemplate typed = load("{% for m in messages %}{{ m.role }}:{% for p in m.content %}{{ p.text }}{% endfor %};{% endfor %}");
  EXPECT_TRUE(typed.requires_typed_content());
  EXPECT_FALSE(load(template_file("qwen3.jinja")).requires_typed_content());
  EXPECT_TRUE(load(template_file("llama-3.3.jinja")).requires_object_arguments());
  EXPECT_FALSE(load(template_file("qwen3.jinja")).requires_object_arguments());
}

// OpenAI clients send tool-call arguments as a JSON string; Llama 3.x renders them with tojson,
// so they are parsed to an object first (as llama.cpp does), unless that is switched off.
TEST(ChatTemplate, ObjectArgumentsPolyfill) {
  const ChatTemplate t = load(template_file("llama-3.3.jinja"));
  const ordered_json msgs = ordered_json::parse(R"([{"role": "user", "content": "weather?"},
    {"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}}]}])");
  auto out = t.render(msgs, opts("", "", false));
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_NE(out->find(R"({"name": "get_weather", "parameters": {"city": "Oslo"}})"), std::string::npos) << *out;
  ChatRenderOptions exact = opts("", "", false);
  exact.polyfill_object_arguments = false;
  auto raw = t.render(msgs, exact);
  ASSERT_TRUE(raw.ok()) << raw.error().message;
  EXPECT_NE(raw->find(R"("parameters": "{\"city\": \"Oslo\"}"})"), std::string::npos) << *raw;

  // Calls the polyfill cannot use are passed on as given, never an exception: a non-string type,
  // a call that is not an object, arguments that are not JSON.
  const ordered_json odd = ordered_json::parse(R"([{"role": "user", "content": "x"},
    {"role": "assistant", "tool_calls": [{"type": 5, "function": {"name": "a", "arguments": "{}"}}, 7,
      {"type": "function", "function": {"name": "b", "arguments": "not json"}}]}])");
  auto odd_out = t.render(odd, opts("", "", false));
  if (!odd_out.ok()) EXPECT_FALSE(odd_out.error().message.empty());
  else EXPECT_NE(odd_out->find("not json"), std::string::npos) << *odd_out;
}

TEST(ChatTemplate, TypedContentPolyfill) {
  const ChatTemplate t = load("{% for m in messages %}{{ m.role }}:{% for p in m.content %}{{ p.text }}{% endfor %};{% endfor %}");
  const ordered_json msgs = ordered_json::parse(R"([{"role": "user", "content": "hi"}, {"role": "assistant", "content": [{"type": "text", "text": "yo"}]}])");
  auto out = t.render(msgs, opts("", ""));
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(out.value(), "user:hi;assistant:yo;");
}

TEST(ChatTemplate, BuiltinNames) {
  const auto names = ag::tok::builtin_template_names();
  const std::vector<std::string_view> want = {"chatml", "llama3", "llama2", "mistral", "gemma", "phi3", "deepseek-coder"};
  EXPECT_EQ(names, want);
  auto bad = ChatTemplate::builtin("vicuna");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("chatml"), std::string::npos) << bad.error().message;
}

// The built-ins are the official templates, byte for byte.
TEST(ChatTemplate, BuiltinsAreTheOfficialTemplates) {
  auto source_of = [](std::string_view name) { return ChatTemplate::builtin(name).value().source(); };
  auto reference = [](std::string_view prefix) {
    for (const auto& c : reference_cases()["cases"])
      if (c["name"].get<std::string>().starts_with(prefix)) return c["template"].get<std::string>();
    return std::string();
  };
  EXPECT_EQ(source_of("chatml"), reference("teknium/OpenHermes-2.5-Mistral-7B"));
  EXPECT_EQ(source_of("mistral"), reference("mistralai/Mistral-7B-Instruct-v0.2 (NOTE"));
  EXPECT_EQ(source_of("deepseek-coder"), reference("deepseek-ai/deepseek-coder-33b-instruct"));
  EXPECT_EQ(source_of("gemma"), template_file("gemma-2.jinja"));
  EXPECT_EQ(source_of("phi3"), template_file("phi-3.5.jinja"));
  EXPECT_EQ(ChatTemplate::builtin("llama3").value().name(), "llama3");
}

struct BuiltinCase {
  const char* name;
  const char* bos;
  const char* eos;
  const char* expected;
};

// Expected prompts for the reference conversation, worked out from each template by hand.
TEST(ChatTemplate, BuiltinPrompts) {
  const BuiltinCase cases[] = {
      {"chatml", "", "",
       "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n"
       "<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are you<|im_end|>\n"
       "<|im_start|>assistant\n   I am an assistant   <|im_end|>\n<|im_start|>user\nAnother question<|im_end|>\n"
       "<|im_start|>assistant\n"},
      {"llama3", "<|begin_of_text|>", "<|eot_id|>",
       "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|>"
       "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
       "Hi there<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWho are you<|eot_id|>"
       "<|start_header_id|>assistant<|end_header_id|>\n\nI am an assistant<|eot_id|>"
       "<|start_header_id|>user<|end_header_id|>\n\nAnother question<|eot_id|>"
       "<|start_header_id|>assistant<|end_header_id|>\n\n"},
      {"llama2", "<s>", "</s>",
       "[INST] <<SYS>>\nYou are a helpful assistant\n<</SYS>>\n\nHello [/INST] Hi there </s>"
       "<s>[INST] Who are you [/INST] I am an assistant </s><s>[INST] Another question [/INST]"},
      {"mistral", "<s>", "</s>",
       "[INST] You are a helpful assistant\nHello [/INST]Hi there</s>[INST] Who are you [/INST]"
       "   I am an assistant   </s>[INST] Another question [/INST]"},
      {"gemma", "<bos>", "<eos>",
       "<start_of_turn>user\nYou are a helpful assistant\nHello<end_of_turn>\n<start_of_turn>model\nHi there<end_of_turn>\n"
       "<start_of_turn>user\nWho are you<end_of_turn>\n<start_of_turn>model\nI am an assistant<end_of_turn>\n"
       "<start_of_turn>user\nAnother question<end_of_turn>\n<start_of_turn>model\n"},
      {"phi3", "<s>", "<|endoftext|>",
       "<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\nHi there<|end|>\n"
       "<|user|>\nWho are you<|end|>\n<|assistant|>\n   I am an assistant   <|end|>\n<|user|>\nAnother question<|end|>\n"
       "<|assistant|>\n"},
      {"deepseek-coder", "<\xef\xbd\x9c" "begin\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>", "<|EOT|>",
       "You are a helpful assistant### Instruction:\nHello\n### Response:\nHi there\n<|EOT|>\n### Instruction:\n"
       "Who are you\n### Response:\n   I am an assistant   \n<|EOT|>\n### Instruction:\nAnother question\n### Response:\n"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto t = ChatTemplate::builtin(c.name);
    ASSERT_TRUE(t.ok()) << t.error().message;
    auto out = t->render(conversation(), opts(c.bos, c.eos));
    ASSERT_TRUE(out.ok()) << out.error().message;
    EXPECT_EQ(out.value(), c.expected);
  }
}

TEST(ChatTemplate, GenerationPromptAndBosEosStripping) {
  const ChatTemplate t = ChatTemplate::builtin("llama3").value();
  const ordered_json msgs = ordered_json::parse(R"([{"role": "user", "content": "Hi"}])");
  // Without the generation prompt the text ends with EOS, which is dropped by default.
  auto stripped = t.render(msgs, opts("<|begin_of_text|>", "<|eot_id|>", false));
  ASSERT_TRUE(stripped.ok());
  EXPECT_EQ(stripped.value(), "<|start_header_id|>user<|end_header_id|>\n\nHi");
  ChatRenderOptions keep = opts("<|begin_of_text|>", "<|eot_id|>", false);
  keep.strip_bos_eos = false;
  EXPECT_EQ(t.render(msgs, keep).value(), "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>");
  // transformers-exact: no polyfill, so gemma's own check rejects the system message.
  ChatRenderOptions exact = opts("<bos>", "<eos>");
  exact.polyfill_system_role = false;
  auto raised = ChatTemplate::builtin("gemma").value().render(conversation(), exact);
  ASSERT_FALSE(raised.ok());
  EXPECT_NE(raised.error().message.find("System role not supported"), std::string::npos) << raised.error().message;
}

TEST(ChatTemplate, ChatMessageOverloadsAgreeWithJson) {
  const ChatTemplate t = ChatTemplate::builtin("chatml").value();
  std::vector<ChatMessage> msgs;
  for (const auto& m : conversation()) msgs.push_back({m["role"].get<std::string>(), m["content"].get<std::string>(), nullptr});
  auto a = t.render(msgs, true, "", "");
  auto b = t.render(conversation(), opts("", ""));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a.value(), b.value());
  // Extra fields reach the template.
  const ChatTemplate q = load(template_file("qwen3.jinja"));
  std::vector<ChatMessage> with_calls = {
      {"user", "weather?", nullptr},
      {"assistant", "", ordered_json::parse(R"({"tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}]})")},
  };
  auto out = q.render(with_calls, opts("", "", false));
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_NE(out->find("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n</tool_call>"), std::string::npos) << *out;
}

TEST(ChatTemplate, VariablesToolsAndExtraContext) {
  const ChatTemplate t = load("{{ tools is defined }}|{{ enable_thinking }}|{{ bos_token }}{{ add_generation_prompt }}|{{ strftime_now('%Y-%m-%d') }}");
  ChatRenderOptions o = opts("B", "E");
  o.strip_bos_eos = false;
  o.now = std::chrono::system_clock::from_time_t(1720000000);
  EXPECT_EQ(t.render(ordered_json::array(), o).value(), "False||BTrue|2024-07-03");
  o.tools = ordered_json::array();
  o.extra_context = {{"enable_thinking", false}};
  EXPECT_EQ(t.render(ordered_json::array(), o).value(), "True|False|BTrue|2024-07-03");
  // Qwen3 with thinking switched off writes the empty think block.
  const ChatTemplate q = load(template_file("qwen3.jinja"));
  ChatRenderOptions think = opts("", "");
  think.extra_context = {{"enable_thinking", false}};
  const ordered_json one = ordered_json::parse(R"([{"role": "user", "content": "Hi"}])");
  EXPECT_EQ(q.render(one, think).value(), "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
}

TEST(ChatTemplate, ErrorsNameTheProblem) {
  auto syntax = ChatTemplate::from_source("hello\n{% for m in messages %}{{ m.role }");
  ASSERT_FALSE(syntax.ok());
  EXPECT_NE(syntax.error().message.find("line 2"), std::string::npos) << syntax.error().message;
  auto unknown = ChatTemplate::from_source("{{ messages | frobnicate }}");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message.find("frobnicate"), std::string::npos) << unknown.error().message;

  const ChatTemplate t = ChatTemplate::builtin("chatml").value();
  auto not_array = t.render(ordered_json::object(), opts("", ""));
  ASSERT_FALSE(not_array.ok());
  EXPECT_NE(not_array.error().message.find("array"), std::string::npos);
  auto no_role = t.render(ordered_json::parse(R"([{"role": "user", "content": "a"}, {"content": "b"}])"), opts("", ""));
  ASSERT_FALSE(no_role.ok());
  EXPECT_NE(no_role.error().message.find("messages[1]"), std::string::npos) << no_role.error().message;
  auto alternate = ChatTemplate::builtin("mistral").value().render(
      ordered_json::parse(R"([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])"), opts("", ""));
  ASSERT_FALSE(alternate.ok());
  EXPECT_NE(alternate.error().message.find("Conversation roles must alternate"), std::string::npos) << alternate.error().message;
}

TEST(ChatTemplate, GuessBuiltin) {
  for (auto name : ag::tok::builtin_template_names()) {
    EXPECT_EQ(ag::tok::guess_builtin_template(ChatTemplate::builtin(name).value().source()), name);
  }
  EXPECT_EQ(ag::tok::guess_builtin_template(template_file("qwen3.jinja")), "chatml");
  EXPECT_EQ(ag::tok::guess_builtin_template(template_file("llama-3.3.jinja")), "llama3");
  EXPECT_EQ(ag::tok::guess_builtin_template("{{ messages }}"), std::nullopt);
}

// --- the `autoglm template` command ------------------------------------------------------------

struct RunResult {
  int status = -1;
  std::string out;
};

RunResult run_cli(const std::string& args) {
  const std::string cmd = std::string(AUTOGLM_BINARY_DIR) + "/bin/autoglm template " + args + " 2>/dev/null";
  RunResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  r.status = pclose(p);
  return r;
}

std::string write_temp(const std::string& name, const std::string& content) {
  // Per process (ctest runs this binary's tests as concurrent processes), removed at exit.
  const std::string path = ag::test::scratch_path(name);
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

TEST(TemplateCommand, PrintsEveryReferenceCaseExactly) {
  const auto& doc = reference_cases();
  const std::string messages = write_temp("messages.json", doc["messages"].dump());
  int i = 0;
  for (const auto& c : doc["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const std::string tmpl = write_temp("case" + std::to_string(i++) + ".jinja", c["template"].get<std::string>());
    std::string args = "--file '" + tmpl + "' --messages '" + messages + "'";
    if (!c["bos_token"].get<std::string>().empty()) args += " --bos '" + c["bos_token"].get<std::string>() + "'";
    if (!c["eos_token"].get<std::string>().empty()) args += " --eos '" + c["eos_token"].get<std::string>() + "'";
    const RunResult r = run_cli(args);
    ASSERT_EQ(r.status, 0);
    EXPECT_EQ(r.out, c["expected"].get<std::string>());
  }
}

TEST(TemplateCommand, OptionsAndErrors) {
  const std::string messages = write_temp("one.json", R"({"messages": [{"role": "user", "content": "Hi"}], "bos_token": "<s>"})");
  RunResult r = run_cli("--builtin llama2 --messages '" + messages + "' --no-generation-prompt");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "[INST] Hi [/INST]");
  r = run_cli("--builtin llama2 --messages '" + messages + "' --keep-bos-eos");
  EXPECT_EQ(r.out, "<s>[INST] Hi [/INST]");
  r = run_cli("--builtin nope --messages '" + messages + "'");
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.out, "");
  const std::string broken = write_temp("broken.jinja", "{% if %}");
  r = run_cli("--file '" + broken + "' --messages '" + messages + "'");
  EXPECT_NE(r.status, 0);
  r = run_cli("--file /nonexistent/t.jinja --messages '" + messages + "'");
  EXPECT_NE(r.status, 0);
}

}  // namespace
