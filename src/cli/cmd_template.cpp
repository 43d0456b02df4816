// `autoglm template --file T.jinja --messages M.json [--bos S] [--eos S] [--no-generation-prompt]`:
// renders a chat template on a conversation and prints the prompt exactly (no newline added).
// M.json is a list of messages ({"role", "content", ...}) or an object with "messages" and
// optionally "tools", "add_generation_prompt", "bos_token", "eos_token" and more template
// variables. Flags given on the command line win over the file.
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "tokenizer/chat_prompt.h"

namespace ag::cli {
namespace {

using nlohmann::ordered_json;

Result<std::string> read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return error("{}: cannot open", path);
  std::stringstream ss;
  ss << f.rdbuf();
  if (f.bad()) return error("{}: read failed", path);
  return ss.str();
}

Result<ordered_json> read_json(const std::string& path) {
  AG_TRY(std::string text, read_text(path));
  ordered_json j = ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return error("{}: not valid JSON", path);
  return j;
}

int fail(const std::string& message) {
  std::fprintf(stderr, "autoglm template: %s\n", message.c_str());
  return 1;
}

int run_template(int argc, char** argv) {
  CLI::App app{"Render a chat template on a conversation and print the prompt exactly", "template"};
  std::string file, builtin, messages_path, tools_path;
  std::optional<std::string> bos, eos;
  bool no_generation_prompt = false, no_polyfill = false, keep_bos_eos = false;
  auto* file_opt = app.add_option("--file,-f", file, "Jinja chat template file");
  auto* builtin_opt = app.add_option("--builtin,-b", builtin, "a built-in template instead: chatml, llama3, llama2, "
                                                             "mistral, gemma, phi3, deepseek-coder");
  file_opt->excludes(builtin_opt);
  app.add_option("--messages,-m", messages_path, "conversation JSON: a list of {role, content} messages, or an "
                                                 "object with \"messages\" (and \"tools\", other variables)")
      ->required();
  app.add_option("--tools", tools_path, "JSON file with the tool definitions (a list)");
  app.add_option("--bos", bos, "bos_token (default: none, or the messages file's bos_token)");
  app.add_option("--eos", eos, "eos_token (default: none, or the messages file's eos_token)");
  app.add_flag("--no-generation-prompt", no_generation_prompt, "render without add_generation_prompt");
  app.add_flag("--no-polyfill", no_polyfill, "do not merge system messages into the user turn for templates "
                                             "that cannot show them (transformers-exact)");
  app.add_flag("--keep-bos-eos", keep_bos_eos, "keep a leading bos_token and trailing eos_token in the output");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (file.empty() && builtin.empty()) return fail("give a template with --file or --builtin");

  Result<tok::ChatTemplate> tmpl = error("no template");
  if (!builtin.empty()) {
    tmpl = tok::ChatTemplate::builtin(builtin);
  } else {
    auto source = read_text(file);
    if (!source.ok()) return fail(source.error().message);
    tmpl = tok::ChatTemplate::from_source(std::move(source).value());
  }
  if (!tmpl.ok()) return fail((file.empty() ? builtin : file) + ": " + tmpl.error().message);

  auto input = read_json(messages_path);
  if (!input.ok()) return fail(input.error().message);
  auto conversation = tok::parse_chat_input(*input, messages_path);
  if (!conversation.ok()) return fail(conversation.error().message);
  const ordered_json& messages = conversation->messages;
  tok::ChatRenderOptions& options = conversation->options;
  if (!tools_path.empty()) {
    auto tools = read_json(tools_path);
    if (!tools.ok()) return fail(tools.error().message);
    options.tools = std::move(tools).value();
  }
  if (bos) options.bos_token = *bos;
  if (eos) options.eos_token = *eos;
  if (no_generation_prompt) options.add_generation_prompt = false;
  options.polyfill_system_role = !no_polyfill;
  options.strip_bos_eos = !keep_bos_eos;

  auto prompt = tmpl->render(messages, options);
  if (!prompt.ok()) return fail(prompt.error().message);
  if (std::fwrite(prompt->data(), 1, prompt->size(), stdout) != prompt->size() || std::fflush(stdout) != 0)
    return fail("writing to stdout failed");
  return 0;
}

const CommandRegistration kRegistration{
    {"template", "render a chat template on a conversation and print the prompt", run_template}};

}  // namespace
}  // namespace ag::cli
