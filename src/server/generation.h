#pragma once
// Running one generating HTTP request on the engine: submit one engine request per choice, then
// either wait for all and answer JSON, or stream Server-Sent Events as tokens come. The HTTP
// status is decided before the first byte: a request rejected by the queue (full, timed out)
// answers 429 even when it asked for a stream. A client that goes away cancels every choice.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <httplib.h>

#include "engine/engine.h"
#include "server/metrics.h"
#include "server/openai_json.h"
#include "server/request_log.h"

namespace ag::server {

enum class Api { Completion, Chat, Infill };

// What a handler hands over once the prompt is tokenized.
struct GenerationJob {
  Api api = Api::Completion;
  std::vector<std::vector<int32_t>> prompts;  // one choice group (gen.n choices) per prompt
  std::vector<std::string> echo;              // per prompt: text put before the output (echo)
  GenerationParams gen;
  int32_t n_logprobs = -1;     // engine logprobs per token (-1 none)
  bool chat_logprobs = false;  // chat: include logprobs in the answer
  std::string model_id;
  int64_t created = 0;
  std::string response_id;     // cmpl-… / chatcmpl-…
};

// Fills `res` (a JSON body, or a chunked SSE provider that outlives this call). `log` is filled
// and written when the request ends.
void run_generation(engine::Engine& engine, GenerationJob job, httplib::Response& res,
                    std::unique_ptr<RequestLog> log, ServerMetrics& metrics);

// Sets `res` to an OpenAI-shaped error (and Retry-After for 429).
void set_error(httplib::Response& res, const ApiError& e);

}  // namespace ag::server
