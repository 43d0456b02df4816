// `autoglm generate -m FILE -p TEXT [-n N] [--temp T] [--top-k K] [--top-p P] [--min-p P]
//  [--seed S] [--repeat-penalty R] [--logprobs K] [--ctx N] [--threads T] [--json]`
// Streams the completion (not the prompt) to stdout and timings to stderr; --json prints one object
// with the prompt and completion ids, the text, per-step log-probabilities and timings instead.
// The prompt is one of:
//   -p TEXT                          the text as given (BOS added, special-token text parsed);
//   --chat MSG [--system S]          one user turn rendered with the model's chat template (or
//                                    --chat-template NAME / --chat-template-file F), ready for the
//                                    assistant's answer;
//   --infill-prefix P --infill-suffix S [--fim-order spm]
//                                    a fill-in-the-middle prompt from the model's FIM tokens.
// Generation stops at the model's end-of-generation tokens (EOS, EOT, <|im_end|>, ...).
#include <chrono>
#include <optional>
#include <cstdio>
#include <random>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "model/model.h"
#include "model/session.h"
#include "pull/model_path.h"
#include "sampling/logprobs.h"
#include "sampling/sampler.h"
#include "tokenizer/chat_prompt.h"
#include "tokenizer/fim.h"
#include "tokenizer/tokenizer.h"

namespace ag::cli {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

int fail(const std::string& message) {
  std::fprintf(stderr, "autoglm: %s\n", message.c_str());
  return 1;
}

struct PromptArgs {
  std::string text;                           // -p
  std::optional<std::string> chat, system;    // --chat, --system
  tok::ChatTemplateChoice choice;             // --chat-template, --chat-template-file
  std::optional<std::string> prefix, suffix;  // --infill-prefix, --infill-suffix
  std::string fim_order = "psm";
};

// The prompt's token ids from whichever of -p / --chat / --infill-* was given.
Result<std::vector<int32_t>> build_prompt(const Model& model, const std::string& model_path,
                                          const tok::Tokenizer& tokenizer, const PromptArgs& a) {
  if (a.chat) {
    AG_TRY(tok::ChatTemplate tmpl, tok::model_chat_template(model.file(), model_path, a.choice));
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();
    if (a.system) messages.push_back({{"role", "system"}, {"content", *a.system}});
    messages.push_back({{"role", "user"}, {"content", *a.chat}});
    auto text = tmpl.render(messages, tok::model_render_options(tokenizer));
    if (!text) return error("chat template: {}", text.error().message);
    return tokenizer.encode(*text, /*add_special=*/true, /*parse_special=*/true);
  }
  if (a.prefix || a.suffix) {
    const auto order = a.fim_order == "spm" ? tok::FimOrder::spm : tok::FimOrder::psm;
    auto ids = tok::build_infill_prompt(tokenizer, a.prefix.value_or(""), a.suffix.value_or(""), order);
    if (!ids) return error("{}: fill-in-the-middle: {}", model_path, ids.error().message);
    return std::move(*ids);
  }
  return tokenizer.encode(a.text, /*add_special=*/true, /*parse_special=*/true);
}

struct Step {
  int32_t id;
  float logprob;
  std::vector<std::pair<int32_t, float>> top;
};

int run(int argc, char** argv) {
  CLI::App app{"Generate a completion of a prompt", "autoglm generate"};
  std::string model_path;
  PromptArgs prompt;
  int n_predict = 128, n_ctx = 0, n_threads = 0, n_logprobs = -1, n_batch = 512;
  uint64_t seed = 0;
  bool seed_given = false, json = false, pin_threads = false, mlock = false,
       no_repack = false;
  SamplingParams sp;
  // llama.cpp's defaults for the truncation stages
  sp.temperature = 0.8f;
  sp.top_k = 40;
  sp.top_p = 0.95f;
  sp.min_p = 0.05f;
  app.add_option("-m,--model", model_path, "GGUF model file, or hf://REPO/FILE (default: the built-in models/default.gguf)");
  auto* prompt_opt = app.add_option("-p,--prompt", prompt.text, "prompt text (special tokens written as text are parsed)");
  auto* chat_opt = app.add_option("--chat", prompt.chat, "a user message, rendered with the model's chat template")
                       ->excludes(prompt_opt);
  app.add_option("--system", prompt.system, "with --chat: a system message before it")->needs(chat_opt);
  auto* builtin_opt = app.add_option("--chat-template", prompt.choice.builtin,
                                     "with --chat: a built-in template (chatml, llama3, llama2, mistral, gemma, "
                                     "phi3, deepseek-coder) instead of the model's")
                          ->needs(chat_opt);
  app.add_option("--chat-template-file", prompt.choice.path, "with --chat: a Jinja template file instead of the model's")
      ->needs(chat_opt)
      ->excludes(builtin_opt);
  auto* prefix_opt = app.add_option("--infill-prefix", prompt.prefix, "fill in the middle: the code before the gap")
                         ->excludes(prompt_opt)
                         ->excludes(chat_opt);
  auto* suffix_opt = app.add_option("--infill-suffix", prompt.suffix, "fill in the middle: the code after the gap")
                         ->excludes(prompt_opt)
                         ->excludes(chat_opt);
  app.add_option("--fim-order", prompt.fim_order,
                 "psm: <prefix> P <suffix> S <middle> (default); spm: <prefix> <suffix> S <middle> P")
      ->check(CLI::IsMember({"psm", "spm"}));
  app.add_option("-n,--n-predict", n_predict, "tokens to generate at most")
      ->check(CLI::Range(0, 1 << 24));
  app.add_option("--temp", sp.temperature, "temperature; 0 = greedy")->check(CLI::Range(0.0, 100.0));
  app.add_option("--top-k", sp.top_k, "keep the K most likely tokens; 0 = off")
      ->check(CLI::Range(0, 1 << 24));
  app.add_option("--top-p", sp.top_p, "nucleus sampling threshold; 1 = off")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--min-p", sp.min_p, "drop tokens below P x the top probability; 0 = off")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--repeat-penalty", sp.repeat_penalty, "penalty for repeated tokens; 1 = off")
      ->check(CLI::Range(0.0, 100.0));
  app.add_option("--repeat-last-n", sp.repeat_last_n, "tokens the penalties look back; -1 = all")
      ->check(CLI::Range(-1, 1 << 24));
  app.add_option("--frequency-penalty", sp.frequency_penalty, "subtracted per occurrence")
      ->check(CLI::Range(-100.0, 100.0));
  app.add_option("--presence-penalty", sp.presence_penalty, "subtracted once if present")
      ->check(CLI::Range(-100.0, 100.0));
  app.add_option("--seed", seed, "random seed (default: random, printed to stderr)")
      ->each([&](const std::string&) { seed_given = true; });
  app.add_option("--logprobs", n_logprobs, "report the K most likely tokens per step")
      ->check(CLI::Range(0, 1000));
  app.add_option("--ctx", n_ctx, "context size in tokens (default: the model's, at most 4096)")
      ->check(CLI::Range(1, 1 << 24));
  app.add_option("--batch", n_batch, "prompt tokens per forward step")->check(CLI::Range(1, 1 << 16));
  app.add_option("-t,--threads", n_threads, "threads (default: all cores)")->check(CLI::Range(1, 1024));
  app.add_flag("--pin-threads", pin_threads, "bind thread i to the i-th CPU the process may use");
  app.add_flag("--mlock", mlock, "lock the model's pages in RAM (a failure is a warning; see `ulimit -l`)");
  app.add_flag("--no-repack", no_repack, "use the weights in the file's layout (no repacking at load)");
  app.add_flag("--json", json, "print one JSON object instead of streaming text");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (prompt_opt->count() == 0 && chat_opt->count() == 0 && prefix_opt->count() == 0 && suffix_opt->count() == 0)
    return fail("give a prompt: -p TEXT, --chat MESSAGE, or --infill-prefix/--infill-suffix");
  if (n_threads == 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (!seed_given) seed = std::random_device{}();
  sp.seed = seed;
  if (json && n_logprobs < 0) n_logprobs = 5;

  {
    auto resolved = resolve_model_arg(model_path);  // "" → the default model; hf:// → the cache
    if (!resolved) return fail(resolved.error().message);
    model_path = *resolved;
  }
  const auto t_load = Clock::now();
  auto model = Model::load(model_path,
                           {.n_threads = n_threads, .pin_threads = pin_threads, .repack = !no_repack});
  if (!model) return fail(model.error().message);
  if (mlock)
    if (Status st = (*model)->lock_weights(); !st.ok())
      std::fprintf(stderr, "warning: %s\n", st.error().message.c_str());
  auto tokenizer = tok::Tokenizer::from_gguf((*model)->file());
  if (!tokenizer) return fail(tokenizer.error().message);
  const double load_ms = ms_since(t_load);
  const HParams& hp = (*model)->hparams();
  if (n_ctx == 0) n_ctx = std::min(hp.n_ctx_train, 4096);

  auto built = build_prompt(**model, model_path, *tokenizer, prompt);
  if (!built) return fail(built.error().message);
  const std::vector<int32_t> prompt_tokens = std::move(*built);
  if (prompt_tokens.empty()) return fail("the prompt is empty (no tokens, and the model adds no BOS)");
  if (static_cast<int64_t>(prompt_tokens.size()) >= n_ctx)
    return fail(fmt::format("the prompt has {} tokens but the context is {} (--ctx)",
                            prompt_tokens.size(), n_ctx));
  for (int32_t id : prompt_tokens)
    if (id >= hp.n_vocab)
      return fail(fmt::format("the tokenizer produced id {} but the model has {} logits", id,
                              hp.n_vocab));
  auto session = Session::create(**model, n_ctx);
  if (!session) return fail(session.error().message);
  if (Status s = (*model)->reserve_step(std::min(n_batch, n_ctx)); !s.ok()) return fail(s.error().message);
  if (!seed_given && !json) std::fprintf(stderr, "seed: %llu\n", static_cast<unsigned long long>(seed));

  Sampler sampler(sp, hp.n_vocab);
  for (int32_t id : prompt_tokens) sampler.accept(id);
  tok::StreamDecoder stream(*tokenizer);
  std::vector<float> logits;
  std::vector<int32_t> completion;
  std::vector<Step> steps;
  std::string text;

  const auto t_prompt = Clock::now();
  if (Status s = session->eval(prompt_tokens, false, logits, n_batch); !s.ok())
    return fail(s.error().message);
  const double prompt_ms = ms_since(t_prompt);

  const auto t_gen = Clock::now();
  for (int i = 0; i < n_predict; ++i) {
    const int32_t id = sampler.sample(logits);
    if (n_logprobs >= 0)
      steps.push_back({id, token_logprob(logits, id), top_logprobs(logits, n_logprobs)});
    if (tokenizer->is_eog(id)) break;
    sampler.accept(id);
    completion.push_back(id);
    const std::string piece = stream.push(id);
    text += piece;
    if (!json && !piece.empty()) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    }
    if (session->n_past() >= n_ctx) {
      std::fprintf(stderr, "\nautoglm: stopped at the end of the context (%d tokens)\n", n_ctx);
      break;
    }
    if (i + 1 == n_predict) break;  // no forward for a token that is never sampled
    if (Status s = session->eval({&id, 1}, false, logits); !s.ok()) return fail(s.error().message);
  }
  const std::string rest = stream.flush();
  text += rest;
  const double gen_ms = ms_since(t_gen);
  const auto n_prompt = static_cast<double>(prompt_tokens.size());
  const auto n_gen = static_cast<double>(completion.size());

  if (json) {
    nlohmann::json out;
    out["prompt_tokens"] = prompt_tokens;
    out["completion_tokens"] = completion;
    out["text"] = text;
    nlohmann::json js = nlohmann::json::array();
    for (const auto& s : steps) {
      nlohmann::json top = nlohmann::json::array();
      for (const auto& [tid, lp] : s.top) top.push_back({tid, lp});
      js.push_back({{"id", s.id}, {"logprob", s.logprob}, {"top", top}});
    }
    out["steps"] = js;
    out["seed"] = seed;
    out["timings"] = {{"load_ms", load_ms},
                      {"prompt_n", prompt_tokens.size()},
                      {"prompt_ms", prompt_ms},
                      {"prompt_tok_s", prompt_ms > 0 ? n_prompt * 1000.0 / prompt_ms : 0.0},
                      {"gen_n", completion.size()},
                      {"gen_ms", gen_ms},
                      {"gen_tok_s", gen_ms > 0 ? n_gen * 1000.0 / gen_ms : 0.0},
                      {"threads", n_threads},
                      {"threads_pinned", (*model)->n_pinned_threads()},
                      {"repacked_matrices", (*model)->n_packed_matrices()}};
    // invalid UTF-8 cannot occur (StreamDecoder repairs it); replace rather than throw regardless
    std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  if (!rest.empty()) std::fwrite(rest.data(), 1, rest.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
  if (n_logprobs > 0) {
    for (const auto& s : steps) {
      std::fprintf(stderr, "%6d %9.4f |", s.id, s.logprob);
      for (const auto& [tid, lp] : s.top) std::fprintf(stderr, " %d:%.4f", tid, lp);
      std::fprintf(stderr, "\n");
    }
  }
  std::fprintf(stderr,
               "load %.0f ms | prompt %zu tokens, %.1f ms, %.1f tok/s | generation %zu tokens, "
               "%.1f ms, %.1f tok/s | %d threads%s\n",
               load_ms, prompt_tokens.size(), prompt_ms,
               prompt_ms > 0 ? n_prompt * 1000.0 / prompt_ms : 0.0, completion.size(), gen_ms,
               gen_ms > 0 ? n_gen * 1000.0 / gen_ms : 0.0, n_threads,
               pin_threads ? fmt::format(" ({} pinned)", (*model)->n_pinned_threads()).c_str() : "");
  return 0;
}

const CommandRegistration kRegistration{
    {"generate", "complete a prompt with a model (streams text; --json for ids and logprobs)", run}};

}  // namespace
}  // namespace ag::cli
