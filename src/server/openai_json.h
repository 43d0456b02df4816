#pragma once
// JSON ⇄ typed requests and responses, for every endpoint: the only file that knows field names.
//
// Parsing checks types and ranges of every known field and returns an ApiError naming the field
// (OpenAI's error shape: {"error": {"message", "type", "param", "code"}}). Unknown fields are
// ignored, as OpenAI-compatible servers do; JSON null counts as absent.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/request.h"
#include "sampling/sampler.h"

namespace ag::server {

using json = nlohmann::ordered_json;

struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;  // the offending field, "" = null
  std::string code;   // machine-readable code, "" = null
};
json error_json(const ApiError& e);
ApiError invalid_field(std::string param, std::string message);

template <typename T>
using ApiResult = std::variant<T, ApiError>;

// Server-side limits on what one request may ask for.
struct Limits {
  int32_t n_vocab = 0;         // token ids must be below this
  int32_t max_tokens = 0;      // cap on max_tokens, 0 = the context size decides
  int32_t max_n = 16;          // choices per prompt
  int32_t max_prompts = 16;    // prompts in one /v1/completions batch
  int32_t max_stop = 16;       // stop strings
  int32_t max_stop_bytes = 512;
  int32_t max_logprobs = 20;   // top logprobs per token
  int32_t priority_levels = 1; // 'priority' is 1..priority_levels (0 = default)
};

// Fields shared by every generating endpoint.
struct GenerationParams {
  std::optional<int32_t> max_tokens;  // absent: until the context is full (chat) / 16 (completions)
  int32_t n = 1;
  std::vector<std::string> stop;
  std::optional<uint64_t> seed;  // absent: a random seed per choice
  SamplingParams sampling;
  bool ignore_eos = false;
  int32_t priority = 0;                // 0 = the server's default level
  std::optional<int64_t> timeout_us;   // queue timeout asked for (timeout_ms)
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
  std::string user;
};

struct PromptInput {
  bool is_tokens = false;
  std::string text;
  std::vector<int32_t> tokens;
};

struct CompletionRequest {
  GenerationParams gen;
  std::vector<PromptInput> prompts;  // one choice group per prompt
  std::optional<std::string> suffix;  // fill-in-the-middle: prompt is the prefix
  int32_t logprobs = -1;              // -1 = none, else top-k per token (0 = chosen only)
  bool echo = false;
};

struct ChatRequest {
  GenerationParams gen;
  json messages;  // validated: non-empty array of objects with a string role
  bool logprobs = false;
  int32_t top_logprobs = 0;
  json tools;                 // null when absent
  json chat_template_kwargs;  // object of extra template variables, null when absent
};

struct InfillRequest {
  GenerationParams gen;
  std::string input_prefix;
  std::string input_suffix;
  std::string prompt;  // text the middle starts with (after the middle token)
  std::vector<std::pair<std::string, std::string>> input_extra;  // (filename, text) context files
  int32_t n_probs = 0;
};

struct TokenizeRequest {
  std::string content;
  bool add_special = false;
  bool parse_special = true;
  bool with_pieces = false;
};

struct DetokenizeRequest {
  std::vector<int32_t> tokens;
};

ApiResult<CompletionRequest> parse_completion_request(const json& body, const Limits& limits);
ApiResult<ChatRequest> parse_chat_request(const json& body, const Limits& limits);
ApiResult<InfillRequest> parse_infill_request(const json& body, const Limits& limits);
ApiResult<TokenizeRequest> parse_tokenize_request(const json& body);
ApiResult<DetokenizeRequest> parse_detokenize_request(const json& body, const Limits& limits);

// ---- Responses -----------------------------------------------------------------------------

// One finished (or streamed so far) choice.
struct ChoiceOutput {
  int32_t index = 0;
  std::string text;
  std::vector<engine::TokenOutput> tokens;
  std::optional<engine::FinishReason> finish;
};

struct UsageTotals {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t cached_tokens = 0;
};
json usage_json(const UsageTotals& u);

struct ResponseMeta {
  std::string id;  // "cmpl-…" / "chatcmpl-…"
  int64_t created = 0;
  std::string model;
};

// /v1/completions. `text_offset` of logprobs counts from `offset_base` (the echoed prompt length).
json completion_logprobs_json(const std::vector<engine::TokenOutput>& tokens, size_t offset_base);
json completion_response(const ResponseMeta& meta, const std::vector<ChoiceOutput>& choices,
                         const std::vector<json>& logprobs, const UsageTotals& usage);
json completion_chunk(const ResponseMeta& meta, int32_t index, const std::string& text,
                      const json& logprobs, std::optional<engine::FinishReason> finish);

// /v1/chat/completions
json chat_logprobs_json(const std::vector<engine::TokenOutput>& tokens);
json chat_response(const ResponseMeta& meta, const std::vector<ChoiceOutput>& choices,
                   bool with_logprobs, const UsageTotals& usage);
// A streamed chunk: `role` true for the first chunk of a choice (delta.role = "assistant").
json chat_chunk(const ResponseMeta& meta, int32_t index, bool role, const std::string& text,
                const json& logprobs, std::optional<engine::FinishReason> finish);
json usage_chunk(const ResponseMeta& meta, const char* object, const UsageTotals& usage);

const char* finish_reason_json(engine::FinishReason reason);  // "stop" / "length"

// Serialises for the wire: invalid UTF-8 (a token that is part of a character) becomes U+FFFD.
std::string dump(const json& j);

}  // namespace ag::server
