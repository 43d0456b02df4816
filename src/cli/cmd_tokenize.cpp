// `autoglm tokenize -m FILE [--add-special] [--parse-special] [--detokenize] (TEXT | --file F)`:
// token ids of a text with the model's own tokenizer (GGUF tokenizer.ggml.* metadata), or the
// text of ids. `--bench` measures tokenization speed on the input, `--info` prints the vocabulary.
// `--chat M.json [--chat-template NAME | --chat-template-file F] [--text-only | --json]` renders a
// conversation with the model's chat template and prints the prompt and its ids, tokenized as the
// server does (BOS added, special-token text parsed).
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "gguf/gguf.h"
#include "tokenizer/chat_prompt.h"
#include "tokenizer/tokenizer.h"

namespace ag::cli {
namespace {

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return ag::error("{}: cannot open for reading", path);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return ag::error("{}: read error", path);
  return data;
}

// Ids separated by whitespace, commas or brackets ("1 2 3", "[1, 2, 3]").
Result<std::vector<int32_t>> parse_ids(std::string text, int32_t n_tokens) {
  for (char& c : text) {
    if (c == ',' || c == '[' || c == ']') c = ' ';
  }
  std::vector<int32_t> ids;
  std::istringstream in(text);
  std::string word;
  while (in >> word) {
    if (word.size() > 10 || word.find_first_not_of("0123456789") != std::string::npos) {
      return ag::error("--detokenize: '{}' is not a token id", word);
    }
    const long long v = std::stoll(word);
    if (v >= n_tokens) {
      return ag::error("--detokenize: id {} is outside the vocabulary (0..{})", v, n_tokens - 1);
    }
    ids.push_back(static_cast<int32_t>(v));
  }
  return ids;
}

void print_info(const tok::Tokenizer& t) {
  const auto& s = t.special();
  const char* kind = t.kind() == tok::VocabKind::spm ? "spm (llama)"
                     : t.kind() == tok::VocabKind::bpe ? "bpe (gpt2)"
                                                       : "none";
  std::printf("kind: %s\npre: %s\ntokens: %d\nadd_bos: %d add_eos: %d add_space_prefix: %d\n",
              kind, t.pre().c_str(), t.n_tokens(), t.add_bos(), t.add_eos(), t.add_space_prefix());
  const auto show = [&](const char* name, int32_t id) {
    if (id < 0) return;
    std::printf("%-8s %6d '%.*s'\n", name, id, static_cast<int>(t.token_text(id).size()),
                t.token_text(id).data());
  };
  show("bos", s.bos);
  show("eos", s.eos);
  show("eot", s.eot);
  show("eom", s.eom);
  show("unk", s.unk);
  show("sep", s.sep);
  show("pad", s.pad);
  show("nl", s.nl);
  show("fim_pre", s.fim_pre);
  show("fim_suf", s.fim_suf);
  show("fim_mid", s.fim_mid);
  show("fim_pad", s.fim_pad);
  show("fim_rep", s.fim_rep);
  show("fim_sep", s.fim_sep);
  for (const int32_t id : t.eog_ids()) show("eog", id);
}

std::string join_ids(const std::vector<int32_t>& ids) {
  std::string line;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) line += ' ';
    line += std::to_string(ids[i]);
  }
  return line;
}

struct ChatArgs {
  std::string path;  // --chat
  tok::ChatTemplateChoice choice;
  bool text_only = false, json = false, no_generation_prompt = false;
};

// --chat: the conversation rendered with the model's template (bos/eos text from its tokenizer,
// overridable in the file), then tokenized as a prompt.
int run_chat(const gguf::File& file, const std::string& model_path, const tok::Tokenizer& tokenizer,
             const ChatArgs& args) {
  const auto fail = [](const std::string& message) {
    std::fprintf(stderr, "autoglm tokenize: %s\n", message.c_str());
    return 1;
  };
  auto text = read_file(args.path);
  if (!text) return fail(text.error().message);
  const auto doc = nlohmann::ordered_json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return fail(args.path + ": not valid JSON");
  auto input = tok::parse_chat_input(doc, args.path, tok::model_render_options(tokenizer));
  if (!input) return fail(input.error().message);
  if (args.no_generation_prompt) input->options.add_generation_prompt = false;
  auto tmpl = tok::model_chat_template(file, model_path, args.choice);
  if (!tmpl) return fail(tmpl.error().message);
  auto prompt = tmpl->render(input->messages, input->options);
  if (!prompt) return fail(args.path + ": " + prompt.error().message);
  const std::vector<int32_t> ids = tokenizer.encode(*prompt, /*add_special=*/true, /*parse_special=*/true);
  if (args.json) {
    const nlohmann::ordered_json out = {{"prompt", *prompt}, {"ids", ids}};
    std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
  } else {
    std::fwrite(prompt->data(), 1, prompt->size(), stdout);
    if (!args.text_only) std::printf("\n%s\n", join_ids(ids).c_str());
  }
  return std::fflush(stdout) == 0 ? 0 : fail("writing to stdout failed");
}

int run(int argc, char** argv) {
  CLI::App app{"Tokenize text (or detokenize ids) with a model's tokenizer", "autoglm tokenize"};
  std::string model_path, file_path, text;
  bool add_special = false, parse_special = false, detokenize = false, bench = false, info = false;
  app.add_option("-m,--model", model_path, "GGUF file (a model or a vocabulary-only file)")
      ->required();
  app.add_option("text", text, "text to tokenize (or ids with --detokenize)");
  app.add_option("--file", file_path, "read the text (or ids) from a file instead");
  app.add_flag("--add-special", add_special, "add BOS/EOS as the model's add_bos/add_eos say");
  app.add_flag("--parse-special", parse_special,
               "turn special-token text (<|im_start|>) into its id; with --detokenize, render "
               "special tokens as text");
  app.add_flag("--detokenize", detokenize, "input is token ids; print their text");
  app.add_flag("--bench", bench, "time tokenization of the input (one thread) and print MB/s");
  app.add_flag("--info", info, "print the vocabulary's type, special tokens and EOG set");
  ChatArgs chat;
  auto* chat_opt = app.add_option("--chat", chat.path,
                                  "render a conversation (JSON: a list of {role, content} messages, or an "
                                  "object with \"messages\") with the chat template; print the prompt and its ids");
  auto* builtin_opt = app.add_option("--chat-template", chat.choice.builtin,
                                     "with --chat: a built-in template (chatml, llama3, llama2, mistral, gemma, "
                                     "phi3, deepseek-coder) instead of the model's")
                          ->needs(chat_opt);
  app.add_option("--chat-template-file", chat.choice.path, "with --chat: a Jinja template file instead of the model's")
      ->needs(chat_opt)
      ->excludes(builtin_opt);
  auto* text_only_opt =
      app.add_flag("--text-only", chat.text_only, "with --chat: print the prompt only, exactly")->needs(chat_opt);
  app.add_flag("--json", chat.json, "with --chat: print {\"prompt\": ..., \"ids\": [...]}")
      ->needs(chat_opt)
      ->excludes(text_only_opt);
  app.add_flag("--no-generation-prompt", chat.no_generation_prompt,
               "with --chat: render without add_generation_prompt")
      ->needs(chat_opt);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  auto file = gguf::File::open(model_path);
  if (!file) {
    std::fprintf(stderr, "autoglm tokenize: %s\n", file.error().message.c_str());
    return 1;
  }
  auto tokenizer = tok::Tokenizer::from_gguf(*file);
  if (!tokenizer) {
    std::fprintf(stderr, "autoglm tokenize: %s\n", tokenizer.error().message.c_str());
    return 1;
  }
  if (!chat.path.empty()) {
    if (!text.empty() || !file_path.empty() || detokenize || bench) {
      std::fprintf(stderr, "autoglm tokenize: --chat takes no TEXT, --file, --detokenize or --bench\n");
      return 1;
    }
    if (info) print_info(*tokenizer);
    return run_chat(*file, model_path, *tokenizer, chat);
  }
  if (info) {
    print_info(*tokenizer);
    if (text.empty() && file_path.empty()) return 0;
  }
  if (!file_path.empty()) {
    if (!text.empty()) {
      std::fprintf(stderr, "autoglm tokenize: give either TEXT or --file, not both\n");
      return 1;
    }
    auto data = read_file(file_path);
    if (!data) {
      std::fprintf(stderr, "autoglm tokenize: %s\n", data.error().message.c_str());
      return 1;
    }
    text = std::move(*data);
  }

  if (detokenize) {
    auto ids = parse_ids(text, tokenizer->n_tokens());
    if (!ids) {
      std::fprintf(stderr, "autoglm tokenize: %s\n", ids.error().message.c_str());
      return 1;
    }
    const std::string out = tokenizer->decode(*ids, parse_special);
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fputc('\n', stdout);
    return 0;
  }

  if (bench) {
    if (text.empty()) {
      std::fprintf(stderr, "autoglm tokenize: --bench needs input text (--file)\n");
      return 1;
    }
    // The first pass starts with an empty word cache (a fresh server); later passes find it
    // filled. Thread CPU time is reported beside wall time: on a shared machine the wall clock
    // also counts time spent waiting for a core.
    const auto cpu_now = [] {
      timespec ts{};
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
      return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
    };
    using clock = std::chrono::steady_clock;
    const double mb = static_cast<double>(text.size()) / 1e6;
    size_t n_ids = 0;
    double best_wall = 1e30, best_cpu = 1e30;
    for (int rep = 0; rep < 5; ++rep) {
      const auto t0 = clock::now();
      const double c0 = cpu_now();
      n_ids = tokenizer->encode(text, add_special, parse_special).size();
      const double cpu = cpu_now() - c0;
      const double wall = std::chrono::duration<double>(clock::now() - t0).count();
      if (rep == 0) {
        std::printf("%zu bytes -> %zu tokens\ncold: %.1f MB/s wall (%.1f ms), %.1f MB/s cpu (%.1f ms)\n",
                    text.size(), n_ids, mb / wall, wall * 1e3, mb / cpu, cpu * 1e3);
      } else {
        best_wall = std::min(best_wall, wall);
        best_cpu = std::min(best_cpu, cpu);
      }
    }
    std::printf("warm: %.1f MB/s wall (%.1f ms), %.1f MB/s cpu (%.1f ms)\n", mb / best_wall,
                best_wall * 1e3, mb / best_cpu, best_cpu * 1e3);
    return 0;
  }

  const std::vector<int32_t> ids = tokenizer->encode(text, add_special, parse_special);
  std::printf("%s\n", join_ids(ids).c_str());
  return 0;
}

const CommandRegistration kRegistration{
    {"tokenize", "token ids of a text with the model's tokenizer (or --detokenize ids)", run}};

}  // namespace
}  // namespace ag::cli
