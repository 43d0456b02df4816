#pragma once
// Settings of the HTTP layer (the engine's own are in engine/engine.h).
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "server/openai_json.h"

namespace ag::server {

struct ServerOptions {
  std::string host = "127.0.0.1";  // loopback unless told otherwise (--host 0.0.0.0)
  int port = 8080;                 // 0 = any free port (tests)
  std::vector<std::string> api_keys;  // empty = no authentication
  size_t max_body_bytes = 8u << 20;
  Limits limits;  // n_vocab and priority_levels are filled in when the model is ready
  bool log_prompts = false;  // log prompt text (never by default)
  // Connections served at once. Every running or queued request holds one while it waits, so this
  // should exceed max_running plus the queue sizes, with room for /health and /metrics.
  int http_threads = 256;
  std::chrono::milliseconds shutdown_timeout{30'000};
  std::string version = "0";
};

}  // namespace ag::server
