#pragma once
// The OpenAI-compatible HTTP server (cpp-httplib): routes, API keys, limits, /health, /metrics,
// and the handlers that turn requests into engine work (generation.h). Until set_ready() the
// model is loading: /health answers 503 and every API endpoint 503 too.
//
//   POST /v1/completions  /v1/chat/completions  /infill  /tokenize  /detokenize
//   GET  /v1/models  /v1/models/{id}  /health  /metrics
//   (/completions, /chat/completions and /models are aliases, as in llama.cpp's server)
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "engine/engine.h"
#include "server/metrics.h"
#include "server/server_options.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace ag::server {

// What the API needs of the loaded model. Pointers outlive the server's use of them.
struct ServingContext {
  engine::Engine* engine = nullptr;
  const tok::Tokenizer* tokenizer = nullptr;
  const tok::ChatTemplate* chat_template = nullptr;  // null: /v1/chat/completions answers 400
  std::string model_id;
  int64_t created = 0;  // unix seconds, for /v1/models
  nlohmann::ordered_json model_meta = nlohmann::ordered_json::object();  // extra /v1/models fields
};

class HttpServer {
 public:
  explicit HttpServer(ServerOptions options);
  ~HttpServer();  // stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds host:port (port 0: a free port) and serves on background threads. Returns the port.
  Result<int> start();
  void set_ready(ServingContext context);
  // Shutdown has begun: /health and new generation requests answer 503; running ones go on.
  void begin_drain();
  // Stops listening and joins the serving threads (call after the engine has shut down).
  void stop();

  ServerMetrics& metrics();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ag::server
