#include "server/http_server.h"

#include <sys/socket.h>

#include <atomic>
#include <mutex>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>

#include "server/client_socket.h"
#include "server/generation.h"
#include "server/prompt_builder.h"
#include "server/request_log.h"

namespace ag::server {

namespace {

std::string random_hex(size_t n) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static const char* digits = "0123456789abcdef";
  std::string s(n, '0');
  for (auto& c : s) c = digits[rng() % 16];
  return s;
}

// Label for requests_total: known routes by name, everything else "other" (bounded cardinality).
std::string endpoint_label(const std::string& path) {
  static const char* known[] = {"/v1/completions", "/v1/chat/completions", "/infill", "/tokenize",
                                "/detokenize", "/v1/models", "/health", "/metrics",
                                "/completions", "/chat/completions", "/models"};
  for (const char* k : known)
    if (path == k) return k;
  if (path.rfind("/v1/models/", 0) == 0) return "/v1/models/{id}";
  return "other";
}

bool constant_time_equal(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

ApiError unavailable(std::string message, std::string code) {
  ApiError e;
  e.status = 503;
  e.type = "unavailable_error";
  e.message = std::move(message);
  e.code = std::move(code);
  return e;
}

}  // namespace

// httplib::Server with access to its listening socket: the library (0.11, built by Debian) listens
// with a backlog of 5, so a burst of connections (64 clients at once) overflows the accept queue;
// listen() again with a longer one.
class ListeningServer : public httplib::Server {
 public:
  void set_backlog(int n) { ::listen(svr_sock_, n); }
};

class HttpServer::Impl {
 public:
  explicit Impl(ServerOptions options) : options_(std::move(options)) {}

  ServerOptions options_;
  ListeningServer http_;
  std::thread thread_;
  ServerMetrics metrics_;
  std::mutex mu_;
  std::shared_ptr<const ServingContext> ctx_;  // guarded by mu_; null while loading
  std::atomic<bool> draining_{false};
  std::atomic<uint64_t> next_request_{1};
  int port_ = 0;

  std::shared_ptr<const ServingContext> context() {
    std::lock_guard lock(mu_);
    return ctx_;
  }

  Limits limits(const ServingContext& ctx) const {
    Limits l = options_.limits;
    l.n_vocab = ctx.engine->tokenizer().n_tokens();
    l.priority_levels = ctx.engine->config().scheduler.priority_levels;
    return l;
  }

  void setup();
  bool authorized(const httplib::Request& req) const;
  // The JSON body, or an error answer already set on `res`.
  std::optional<json> parse_body(const httplib::Request& req, httplib::Response& res, RequestLog* log);
  std::unique_ptr<RequestLog> new_log(const httplib::Request& req, httplib::Response& res);

  void handle_completions(const httplib::Request& req, httplib::Response& res);
  void handle_chat(const httplib::Request& req, httplib::Response& res);
  void handle_infill(const httplib::Request& req, httplib::Response& res);
  void handle_tokenize(const httplib::Request& req, httplib::Response& res);
  void handle_detokenize(const httplib::Request& req, httplib::Response& res);
  void handle_models(const httplib::Request& req, httplib::Response& res);
  // Common start of generating handlers: the context when serving is possible, else an answer.
  std::shared_ptr<const ServingContext> generation_context(httplib::Response& res);
  void run(const ServingContext& ctx, GenerationJob job, const httplib::Request& req,
           httplib::Response& res, std::unique_ptr<RequestLog> log);
};

bool HttpServer::Impl::authorized(const httplib::Request& req) const {
  if (options_.api_keys.empty()) return true;
  const std::string auth = req.get_header_value("Authorization");
  const std::string prefix = "Bearer ";
  if (auth.size() <= prefix.size() || auth.compare(0, prefix.size(), prefix) != 0) return false;
  const std::string key = auth.substr(prefix.size());
  bool ok = false;
  for (const auto& k : options_.api_keys) ok |= constant_time_equal(k, key);
  return ok;
}

std::optional<json> HttpServer::Impl::parse_body(const httplib::Request& req, httplib::Response& res,
                                                 RequestLog* log) {
  std::string what;
  try {
    return json::parse(req.body);
  } catch (const json::parse_error& e) {
    what = e.what();
  }
  metrics_.count_rejected("invalid");
  const ApiError e = invalid_field("", "the request body is not valid JSON: " + what);
  set_error(res, e);
  if (log) {
    log->status = e.status;
    log->error = e.message;
    log->finish = "rejected";
    log->write();
  }
  return std::nullopt;
}

std::unique_ptr<RequestLog> HttpServer::Impl::new_log(const httplib::Request& req, httplib::Response& res) {
  auto log = std::make_unique<RequestLog>();
  log->id = fmt::format("req-{}", next_request_++);
  log->endpoint = req.path;
  res.set_header("X-Request-Id", log->id);
  return log;
}

std::shared_ptr<const ServingContext> HttpServer::Impl::generation_context(httplib::Response& res) {
  auto ctx = context();
  if (!ctx) {
    set_error(res, unavailable("the model is loading", "loading"));
    return nullptr;
  }
  if (draining_) {
    metrics_.count_rejected("shutting_down");
    set_error(res, unavailable("the server is shutting down", "shutting_down"));
    return nullptr;
  }
  return ctx;
}

void HttpServer::Impl::run(const ServingContext& ctx, GenerationJob job, const httplib::Request& req,
                           httplib::Response& res, std::unique_ptr<RequestLog> log) {
  bind_client_socket(req);
  job.model_id = ctx.model_id;
  job.created = static_cast<int64_t>(std::time(nullptr));
  run_generation(*ctx.engine, std::move(job), res, std::move(log), metrics_);
}

namespace {
// Turns a parse result into the value or an answered error.
template <typename T>
std::optional<T> take(ApiResult<T> r, httplib::Response& res, RequestLog& log, ServerMetrics& metrics) {
  if (auto* e = std::get_if<ApiError>(&r)) {
    metrics.count_rejected("invalid");
    log.status = e->status;
    log.error = e->message;
    log.finish = "rejected";
    set_error(res, *e);
    return std::nullopt;
  }
  return std::move(std::get<T>(r));
}
}  // namespace

void HttpServer::Impl::handle_completions(const httplib::Request& req, httplib::Response& res) {
  auto ctx = generation_context(res);
  if (!ctx) return;
  auto log = new_log(req, res);
  auto body = parse_body(req, res, log.get());
  if (!body) return;
  auto parsed = take(parse_completion_request(*body, limits(*ctx)), res, *log, metrics_);
  if (!parsed) return log->write();
  CompletionRequest& r = *parsed;
  const tok::Tokenizer& tokenizer = *ctx->tokenizer;
  GenerationJob job;
  job.api = Api::Completion;
  job.response_id = "cmpl-" + random_hex(24);
  for (const auto& p : r.prompts) {
    std::vector<int32_t> ids;
    if (r.suffix) {
      if (p.is_tokens) {
        auto e = invalid_field("suffix", "'suffix' needs a text prompt, not token ids");
        log->status = 400;
        log->error = e.message;
        log->write();
        return set_error(res, e);
      }
      auto fim = take(fim_prompt(tokenizer, p.text, *r.suffix, "suffix"), res, *log, metrics_);
      if (!fim) return log->write();
      ids = std::move(*fim);
    } else {
      ids = p.is_tokens ? p.tokens : tokenizer.encode(p.text, /*add_special=*/true, /*parse_special=*/true);
    }
    if (r.echo) job.echo.push_back(p.is_tokens ? tokenizer.decode(p.tokens) : p.text);
    if (options_.log_prompts) log->prompt += p.is_tokens ? tokenizer.decode(p.tokens) : p.text;
    job.prompts.push_back(std::move(ids));
  }
  job.gen = std::move(r.gen);
  job.n_logprobs = r.logprobs;
  run(*ctx, std::move(job), req, res, std::move(log));
}

void HttpServer::Impl::handle_chat(const httplib::Request& req, httplib::Response& res) {
  auto ctx = generation_context(res);
  if (!ctx) return;
  auto log = new_log(req, res);
  auto body = parse_body(req, res, log.get());
  if (!body) return;
  auto parsed = take(parse_chat_request(*body, limits(*ctx)), res, *log, metrics_);
  if (!parsed) return log->write();
  if (!ctx->chat_template) {
    auto e = invalid_field("messages", "this model has no chat template: start the server with "
                                       "--chat-template NAME or --chat-template-file FILE");
    log->status = 400;
    log->error = e.message;
    log->write();
    return set_error(res, e);
  }
  std::string text;
  auto ids = take(chat_prompt(*ctx->tokenizer, *ctx->chat_template, *parsed, &text), res, *log, metrics_);
  if (!ids) return log->write();
  if (options_.log_prompts) log->prompt = text;
  GenerationJob job;
  job.api = Api::Chat;
  job.response_id = "chatcmpl-" + random_hex(24);
  job.prompts.push_back(std::move(*ids));
  job.gen = std::move(parsed->gen);
  job.n_logprobs = parsed->logprobs ? parsed->top_logprobs : -1;
  job.chat_logprobs = parsed->logprobs;
  run(*ctx, std::move(job), req, res, std::move(log));
}

void HttpServer::Impl::handle_infill(const httplib::Request& req, httplib::Response& res) {
  auto ctx = generation_context(res);
  if (!ctx) return;
  auto log = new_log(req, res);
  auto body = parse_body(req, res, log.get());
  if (!body) return;
  auto parsed = take(parse_infill_request(*body, limits(*ctx)), res, *log, metrics_);
  if (!parsed) return log->write();
  if (parsed->gen.n != 1) {
    auto e = invalid_field("n", "/infill generates one completion: 'n' must be 1");
    log->status = 400;
    log->error = e.message;
    log->write();
    return set_error(res, e);
  }
  auto ids = take(infill_prompt(*ctx->tokenizer, *parsed), res, *log, metrics_);
  if (!ids) return log->write();
  if (options_.log_prompts) log->prompt = parsed->input_prefix + "<FIM>" + parsed->input_suffix;
  GenerationJob job;
  job.api = Api::Infill;
  job.response_id = "infill-" + random_hex(24);
  job.prompts.push_back(std::move(*ids));
  job.gen = std::move(parsed->gen);
  job.n_logprobs = parsed->n_probs > 0 ? parsed->n_probs : -1;
  run(*ctx, std::move(job), req, res, std::move(log));
}

void HttpServer::Impl::handle_tokenize(const httplib::Request& req, httplib::Response& res) {
  auto ctx = context();
  if (!ctx) return set_error(res, unavailable("the model is loading", "loading"));
  auto body = parse_body(req, res, nullptr);
  if (!body) return;
  RequestLog log;
  auto parsed = take(parse_tokenize_request(*body), res, log, metrics_);
  if (!parsed) return;
  const auto ids = ctx->tokenizer->encode(parsed->content, parsed->add_special, parsed->parse_special);
  json tokens = json::array();
  for (int32_t id : ids) {
    if (parsed->with_pieces)
      tokens.push_back(json{{"id", id}, {"piece", ctx->tokenizer->token_to_piece(id, true)}});
    else
      tokens.push_back(id);
  }
  res.set_content(dump(json{{"tokens", std::move(tokens)}}), "application/json");
}

void HttpServer::Impl::handle_detokenize(const httplib::Request& req, httplib::Response& res) {
  auto ctx = context();
  if (!ctx) return set_error(res, unavailable("the model is loading", "loading"));
  auto body = parse_body(req, res, nullptr);
  if (!body) return;
  RequestLog log;
  auto parsed = take(parse_detokenize_request(*body, limits(*ctx)), res, log, metrics_);
  if (!parsed) return;
  res.set_content(dump(json{{"content", ctx->tokenizer->decode(parsed->tokens)}}), "application/json");
}

void HttpServer::Impl::handle_models(const httplib::Request& req, httplib::Response& res) {
  auto ctx = context();
  if (!ctx) return set_error(res, unavailable("the model is loading", "loading"));
  json model{{"id", ctx->model_id}, {"object", "model"}, {"created", ctx->created}, {"owned_by", "autoglm"}};
  if (!ctx->model_meta.empty()) model["meta"] = ctx->model_meta;
  if (req.matches.size() > 1) {  // /v1/models/{id}
    if (req.matches[1].str() != ctx->model_id) {
      ApiError e;
      e.status = 404;
      e.type = "not_found_error";
      e.code = "model_not_found";
      e.param = "model";
      e.message = fmt::format("the model '{}' does not exist; this server serves '{}'", req.matches[1].str(),
                              ctx->model_id);
      return set_error(res, e);
    }
    return res.set_content(dump(model), "application/json");
  }
  res.set_content(dump(json{{"object", "list"}, {"data", json::array({std::move(model)})}}), "application/json");
}

void HttpServer::Impl::setup() {
  http_.new_task_queue = [n = options_.http_threads] { return new httplib::ThreadPool(static_cast<size_t>(n)); };
  http_.set_payload_max_length(options_.max_body_bytes);
  http_.set_keep_alive_timeout(5);
  http_.set_read_timeout(30);
  http_.set_write_timeout(30);

  http_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    if (req.path == "/health" || authorized(req)) return httplib::Server::HandlerResponse::Unhandled;
    metrics_.count_rejected("unauthorized");
    ApiError e;
    e.status = 401;
    e.type = "authentication_error";
    e.code = "invalid_api_key";
    e.message = "missing or invalid API key: send 'Authorization: Bearer <key>'";
    set_error(res, e);
    return httplib::Server::HandlerResponse::Handled;
  });

  http_.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    if (!context()) return set_error(res, unavailable("the model is loading", "loading"));
    if (draining_) return set_error(res, unavailable("the server is shutting down", "shutting_down"));
    res.set_content(R"({"status":"ok"})", "application/json");
  });
  http_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    auto ctx = context();
    std::optional<engine::EngineStats> stats;
    if (ctx) stats = ctx->engine->stats();
    res.set_content(metrics_.render(stats ? &*stats : nullptr, options_.version, ctx ? ctx->model_id : ""),
                    "text/plain; version=0.0.4; charset=utf-8");
  });
  auto models = [this](const httplib::Request& req, httplib::Response& res) { handle_models(req, res); };
  http_.Get("/v1/models", models);
  http_.Get("/models", models);
  http_.Get(R"(/v1/models/(.+))", models);
  auto completions = [this](const httplib::Request& req, httplib::Response& res) { handle_completions(req, res); };
  http_.Post("/v1/completions", completions);
  http_.Post("/completions", completions);
  auto chat = [this](const httplib::Request& req, httplib::Response& res) { handle_chat(req, res); };
  http_.Post("/v1/chat/completions", chat);
  http_.Post("/chat/completions", chat);
  http_.Post("/infill", [this](const httplib::Request& req, httplib::Response& res) { handle_infill(req, res); });
  http_.Post("/tokenize", [this](const httplib::Request& req, httplib::Response& res) { handle_tokenize(req, res); });
  http_.Post("/detokenize", [this](const httplib::Request& req, httplib::Response& res) { handle_detokenize(req, res); });

  // Errors without a body (unknown route, body too large, bad method) get OpenAI's shape too.
  http_.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    ApiError e;
    e.status = res.status;
    switch (res.status) {
      case 404:
        e.type = "not_found_error";
        e.message = fmt::format("no such endpoint: {} {}", req.method, req.path);
        break;
      case 413:
        e.message = "the request body is too large";
        e.code = "body_too_large";
        break;
      default:
        e.type = res.status >= 500 ? "server_error" : "invalid_request_error";
        e.message = fmt::format("HTTP {} for {} {}", res.status, req.method, req.path);
    }
    res.set_content(dump(error_json(e)), "application/json");
  });
  http_.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    ApiError e;
    e.status = 500;
    e.type = "server_error";
    e.message = "internal error: " + what;
    set_error(res, e);
  });
  // Counted before the response is written (httplib calls the post-routing handler once the final
  // status is set, the logger only after the body went out): a client that got its answer and then
  // scrapes /metrics must find the request counted.
  http_.set_post_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    metrics_.count_request(endpoint_label(req.path), res.status);
    if (res.status == 413) metrics_.count_rejected("body_too_large");
  });
  http_.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    // Generating endpoints log their own detailed line; other failures get a short one here.
    if (res.status >= 400 && !res.has_header("X-Request-Id") && req.path != "/health") {
      RequestLog log;
      log.id = "-";
      log.endpoint = req.path;
      log.status = res.status;
      auto body = json::parse(res.body, nullptr, false);
      if (body.is_object() && body.contains("error") && body["error"].is_object())
        log.error = body["error"].value("message", "");
      log.write();
    }
  });
}

HttpServer::HttpServer(ServerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  impl_->setup();
}

HttpServer::~HttpServer() { stop(); }

Result<int> HttpServer::start() {
  Impl& s = *impl_;
  int port = s.options_.port;
  if (port == 0) {
    port = s.http_.bind_to_any_port(s.options_.host);
    if (port < 0) return error("cannot bind {}: no free port", s.options_.host);
  } else if (!s.http_.bind_to_port(s.options_.host, port)) {
    return error("cannot listen on {}:{}: the address is in use or not available", s.options_.host, port);
  }
  s.port_ = port;
  s.http_.set_backlog(SOMAXCONN);
  s.thread_ = std::thread([&s] { s.http_.listen_after_bind(); });
  // stop() does nothing to a server that is not running yet: wait until it is.
  for (int i = 0; i < 5000 && !s.http_.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return port;
}

void HttpServer::set_ready(ServingContext context) {
  std::lock_guard lock(impl_->mu_);
  impl_->ctx_ = std::make_shared<const ServingContext>(std::move(context));
}

void HttpServer::begin_drain() { impl_->draining_ = true; }

void HttpServer::stop() {
  if (!impl_->thread_.joinable()) return;
  impl_->http_.stop();
  impl_->thread_.join();
}

ServerMetrics& HttpServer::metrics() { return impl_->metrics_; }

}  // namespace ag::server
