// `autoglm serve -m MODEL.gguf`: the OpenAI-compatible HTTP server (127.0.0.1:8080 by default).
//
// Start-up: flags and --config → bind the port (/health answers 503 while loading) → load the
// model → size the paged KV pool (--kv-memory or --ctx-total) → start the engine → ready.
// SIGTERM / SIGINT: stop taking requests, let in-flight ones finish for --shutdown-timeout seconds,
// cancel the rest, exit 0. A second signal exits at once.
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>

#include "cli/command.h"
#include "engine/engine.h"
#include "engine/model_backend.h"
#include "kv/kv_cache.h"
#include "model/model.h"
#include "pull/model_path.h"
#include "server/http_server.h"
#include "server/request_log.h"
#include "server/serve_config.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace ag::cli {
namespace {

using server::log_line;

// Signals are taken by one thread (sigwait) so that shutdown runs as ordinary code.
struct SignalWaiter {
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;
  int signal = 0;

  void run(sigset_t set) {
    int sig = 0;
    sigwait(&set, &sig);
    {
      std::lock_guard lock(mu);
      stop = true;
      signal = sig;
    }
    cv.notify_all();
    sigwait(&set, &sig);  // a second signal: the operator insists
    std::fprintf(stderr, "second signal: exiting now\n");
    std::_Exit(1);
  }
  void wait() {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return stop; });
  }
};

Result<tok::ChatTemplate> choose_template(const server::ServeSettings& s, const gguf::File& file) {
  if (!s.chat_template_file.empty()) {
    std::ifstream in(s.chat_template_file);
    if (!in) return error("{}: cannot read the chat template file", s.chat_template_file);
    std::stringstream buf;
    buf << in.rdbuf();
    auto t = tok::ChatTemplate::from_source(buf.str());
    if (!t.ok()) return error("{}: {}", s.chat_template_file, t.error().message);
    return t;
  }
  if (!s.chat_template.empty()) {
    auto t = tok::ChatTemplate::builtin(s.chat_template);
    if (!t.ok()) return error("--chat-template: {}", t.error().message);
    return t;
  }
  if (const gguf::Value* v = file.find("tokenizer.chat_template"); v && v->as_string()) {
    auto t = tok::ChatTemplate::from_source(std::string(*v->as_string()));
    if (t.ok()) return t;
    const auto guess = tok::guess_builtin_template(*v->as_string());
    log_line(fmt::format("warning: the model's chat template does not load ({}); using {}", t.error().message,
                         guess ? *guess : "chatml"));
    return tok::ChatTemplate::builtin(guess ? *guess : "chatml");
  }
  log_line("warning: the model has no chat template; /v1/chat/completions uses chatml "
           "(choose with --chat-template)");
  return tok::ChatTemplate::builtin("chatml");
}

int run(int argc, char** argv) {
  CLI::App app{"autoglm serve: OpenAI-compatible HTTP server"};
  app.name("autoglm serve");
  server::ServeSettings s;
  std::string config_path, kv_memory, max_body;
  std::vector<std::string> queue_policies;
  double shutdown_timeout_s = 30;
  app.add_option("--config", config_path, "settings file (JSON or YAML); flags given here win");
  app.add_option("-m,--model", s.model, "GGUF model file");
  app.add_option("--alias", s.alias, "model id in the API (default: the file name)");
  app.add_option("--host", s.server.host, "address to listen on (0.0.0.0: every interface)");
  app.add_option("--port", s.server.port, "TCP port (0: any free port)")->check(CLI::Range(0, 65535));
  app.add_option("--api-key", s.server.api_keys, "accepted API key (repeatable); also AUTOGLM_API_KEY");
  app.add_option("--api-key-file", s.api_key_file, "file with one API key per line");
  app.add_option("-c,--ctx-size", s.ctx_size, "positions per request (default: the model's, at most 4096)")
      ->check(CLI::Range(0, 1 << 24));
  app.add_option("--ctx-total", s.ctx_total, "KV pool size in tokens, all requests together")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 32));
  app.add_option("--kv-memory", kv_memory, "KV pool size in bytes (e.g. 2GiB); overrides --ctx-total");
  app.add_option("--kv-block-size", s.kv_block_size, "tokens per KV block")->check(CLI::Range(1, 4096));
  app.add_option("--kv-type", s.kv_type, "KV element type: f16 or f32");
  app.add_option("-t,--threads", s.threads, "forward-pass threads (default: all cores)")->check(CLI::Range(0, 1024));
  app.add_flag("--pin-threads", s.pin_threads, "bind forward-pass thread i to the i-th CPU the process may use");
  app.add_flag("--mlock", s.mlock, "lock the model's pages in RAM (a failure is a warning; see `ulimit -l`)");
  app.add_flag("!--no-repack", s.repack, "use the weights in the file's layout (no repacking at load)");
  app.add_option("--max-batch-tokens", s.scheduler.max_batch_tokens, "token rows per engine step")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--background-batch-tokens", s.scheduler.background_batch_tokens,
                 "with several priority levels: token rows of a step with no priority-1 work "
                 "(0: 2 x max-running), so a priority-1 arrival waits out a short step")
      ->check(CLI::Range(0, 1 << 20));
  app.add_option("--max-running", s.scheduler.max_running, "requests running at once")->check(CLI::Range(1, 1 << 16));
  app.add_option("--priority-levels", s.scheduler.priority_levels, "priority levels (1 = highest)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--default-priority", s.scheduler.default_priority, "level of requests that give none")
      ->check(CLI::Range(1, 1000));
  app.add_option("--max-queue-delay-us", s.scheduler.max_queue_delay_us,
                 "when idle, wait this long for more arrivals before a first batch")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  app.add_option("--queue-policy", queue_policies,
                 "LEVEL:max_queue_size=N,default_timeout_us=T,timeout_action=REJECT|DELAY,"
                 "allow_timeout_override=true (LEVEL a number or 'default'; repeatable)");
  bool no_prefix_cache = false;
  app.add_flag("--no-prefix-cache", no_prefix_cache, "do not reuse KV blocks of repeated prompt prefixes");
  app.add_option("--shutdown-timeout", shutdown_timeout_s, "seconds in-flight requests get at SIGTERM")
      ->check(CLI::Range(0.0, 86400.0));
  app.add_option("--max-body-bytes", max_body, "largest request body (e.g. 8MiB)");
  app.add_option("--max-tokens", s.server.limits.max_tokens, "cap on max_tokens (0: the context decides)")
      ->check(CLI::Range(0, 1 << 24));
  app.add_option("--max-n", s.server.limits.max_n, "cap on choices per prompt (n)")->check(CLI::Range(1, 1024));
  app.add_option("--max-prompts", s.server.limits.max_prompts, "cap on prompts in one completion request")
      ->check(CLI::Range(1, 1024));
  app.add_option("--max-stop", s.server.limits.max_stop, "cap on stop strings")->check(CLI::Range(0, 1024));
  app.add_option("--max-logprobs", s.server.limits.max_logprobs, "cap on top logprobs per token")
      ->check(CLI::Range(0, 1 << 16));
  app.add_option("--chat-template", s.chat_template, "built-in chat template: chatml, llama3, llama2, mistral, "
                                                     "gemma, phi3, deepseek-coder");
  app.add_option("--chat-template-file", s.chat_template_file, "Jinja chat template file");
  app.add_flag("--log-prompts", s.server.log_prompts, "write prompt text in the request log");
  app.add_option("--http-threads", s.server.http_threads,
                 "connections served at once; keep above max-running plus the queue sizes")->check(CLI::Range(1, 4096));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  auto flag_given = [&](std::string_view key) {
    std::string flag = "--" + std::string(key);
    std::replace(flag.begin(), flag.end(), '_', '-');
    if (key == "api_keys") flag = "--api-key";
    if (key == "prefix_cache") return no_prefix_cache;
    return app.count(flag) > 0;
  };
  if (!config_path.empty()) {
    if (auto st = server::apply_config_file(config_path, s, flag_given); !st.ok()) {
      std::fprintf(stderr, "autoglm serve: %s\n", st.error().message.c_str());
      return 1;
    }
  }
  if (no_prefix_cache) s.scheduler.prefix_cache = false;
  if (app.count("--shutdown-timeout") || config_path.empty())
    s.server.shutdown_timeout = std::chrono::milliseconds(static_cast<int64_t>(shutdown_timeout_s * 1000));
  auto fail = [](const std::string& message) {
    std::fprintf(stderr, "autoglm serve: %s\n", message.c_str());
    return 1;
  };
  if (!kv_memory.empty()) {
    auto bytes = server::parse_size(kv_memory);
    if (!bytes.ok()) return fail("--kv-memory: " + bytes.error().message);
    s.kv_memory = *bytes;
  }
  if (!max_body.empty()) {
    auto bytes = server::parse_size(max_body);
    if (!bytes.ok()) return fail("--max-body-bytes: " + bytes.error().message);
    s.server.max_body_bytes = *bytes;
  }
  for (const auto& q : queue_policies)
    if (auto st = server::add_queue_policy_flag(q, s); !st.ok()) return fail(st.error().message);
  if (auto st = server::resolve_queue_policies(s); !st.ok()) return fail(st.error().message);
  if (auto st = s.scheduler.validate(); !st.ok()) return fail(st.error().message);
  {
    // No -m: the built-in models/default.gguf; hf://REPO/FILE: the cached download.
    auto resolved = resolve_model_arg(s.model);
    if (!resolved.ok()) return fail(resolved.error().message);
    s.model = *resolved;
  }
  if (const char* env = std::getenv("AUTOGLM_API_KEY"); env && *env) s.server.api_keys.push_back(env);
  if (!s.api_key_file.empty()) {
    auto keys = server::read_api_key_file(s.api_key_file);
    if (!keys.ok()) return fail(keys.error().message);
    s.server.api_keys.insert(s.server.api_keys.end(), keys->begin(), keys->end());
  }
  if (s.kv_type != "f16" && s.kv_type != "f32") return fail("--kv-type must be f16 or f32, got '" + s.kv_type + "'");
  const DType kv_type = s.kv_type == "f32" ? DType::F32 : DType::F16;
  if (s.threads == 0) s.threads = static_cast<int32_t>(std::max(1u, std::thread::hardware_concurrency()));
  if (s.alias.empty()) s.alias = std::filesystem::path(s.model).stem().string();
  s.server.version = AUTOGLM_VERSION;

  // Signals go to the waiter thread only: block them here, before any other thread starts.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  SignalWaiter signals;
  std::thread(&SignalWaiter::run, &signals, set).detach();

  server::HttpServer http(s.server);
  auto port = http.start();
  if (!port.ok()) return fail(port.error().message);
  log_line(fmt::format("listening on http://{}:{} (loading {})", s.server.host, *port, s.model));

  auto model = Model::load(s.model, ModelOptions{s.threads, kv_type, s.pin_threads, s.repack});
  if (!model.ok()) return fail(model.error().message);
  if (s.mlock)
    if (Status st = (*model)->lock_weights(); !st.ok()) log_line("warning: " + st.error().message);
  const HParams& hp = (*model)->hparams();
  auto tokenizer = tok::Tokenizer::from_gguf((*model)->file());
  if (!tokenizer.ok()) return fail(tokenizer.error().message);
  auto chat_template = choose_template(s, (*model)->file());
  if (!chat_template.ok()) return fail(chat_template.error().message);

  const int32_t n_ctx = s.ctx_size > 0 ? s.ctx_size : std::min(4096, std::max(hp.n_ctx_train, 2));
  const int bs = s.kv_block_size;
  int64_t n_blocks = 0;
  if (s.kv_memory > 0) {
    n_blocks = static_cast<int64_t>(s.kv_memory / KvCache::bytes_for(hp, 1, bs, kv_type));
  } else {
    const int64_t total = s.ctx_total > 0 ? s.ctx_total : int64_t{4} * n_ctx;
    n_blocks = (total + bs - 1) / bs;
  }
  if (n_blocks * bs < n_ctx)
    return fail(fmt::format("the KV pool ({} blocks of {} tokens) is smaller than one context of {} tokens: "
                            "raise --kv-memory / --ctx-total or lower --ctx-size",
                            n_blocks, bs, n_ctx));
  if (n_blocks > (int64_t{1} << 30)) return fail("the KV pool is too large");
  auto kv = KvCache::create(hp, static_cast<int>(n_blocks), bs, kv_type);
  if (!kv.ok()) return fail(kv.error().message);
  if (Status st = (*model)->reserve_step(s.scheduler.max_batch_tokens); !st.ok()) return fail(st.error().message);
  engine::ModelBackend backend(**model, **kv);
  engine::EngineConfig ec;
  ec.scheduler = s.scheduler;
  ec.n_ctx = n_ctx;
  auto engine = engine::Engine::create(ec, backend, *tokenizer);
  if (!engine.ok()) return fail(engine.error().message);

  server::ServingContext ctx;
  ctx.engine = engine->get();
  ctx.tokenizer = &*tokenizer;
  ctx.chat_template = &*chat_template;
  ctx.model_id = s.alias;
  ctx.created = static_cast<int64_t>(std::time(nullptr));
  ctx.model_meta = {{"arch", hp.arch},       {"n_ctx", n_ctx},          {"n_ctx_train", hp.n_ctx_train},
                    {"n_vocab", hp.n_vocab}, {"kv_blocks", n_blocks},   {"kv_block_size", bs},
                    {"kv_type", s.kv_type},  {"threads", s.threads}};
  http.set_ready(ctx);
  log_line(fmt::format("ready: model '{}' ({}), context {} tokens, KV pool {} blocks x {} tokens ({:.1f} MiB {}), "
                       "{} threads, max {} running, {} tokens per step, {} priority level(s){}",
                       s.alias, hp.arch, n_ctx, n_blocks, bs, (*kv)->bytes() / 1048576.0, s.kv_type, s.threads,
                       s.scheduler.max_running, s.scheduler.max_batch_tokens, s.scheduler.priority_levels,
                       s.server.api_keys.empty() ? "" : ", API keys required"));

  signals.wait();
  log_line(fmt::format("signal {}: draining (up to {} ms)", signals.signal, s.server.shutdown_timeout.count()));
  http.begin_drain();
  const auto deadline = std::chrono::steady_clock::now() + s.server.shutdown_timeout;
  (*engine)->shutdown(s.server.shutdown_timeout);
  // The engine has finished (or cancelled) every sequence; streams may still be writing their
  // last events, and stopping the HTTP server cuts a stream off. A second at least, so the streams
  // of sequences the engine cancelled at the deadline can send their error event.
  if (!http.metrics().wait_responses_closed(std::max(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(1))))
    log_line("shutdown: streams still open at the deadline are cut off");
  http.stop();
  log_line("stopped");
  return 0;
}

const CommandRegistration kRegistration{
    {"serve", "OpenAI-compatible HTTP server (completions, chat, infill, metrics)", &run}};

}  // namespace
}  // namespace ag::cli
