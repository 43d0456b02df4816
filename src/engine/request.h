#pragma once
// What the server hands the engine, and what comes back: a typed request, and a per-request
// stream of events (text deltas with their tokens, then Done or Error).
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/scheduler.h"
#include "sampling/sampler.h"

namespace ag::engine {

struct GenerateRequest {
  std::vector<int32_t> prompt;      // token ids, BOS / template already applied
  int32_t max_tokens = -1;          // tokens to generate at most; -1 = until the context is full
  SamplingParams sampling;
  std::vector<std::string> stop;    // stop strings, not part of the output
  bool ignore_eos = false;          // keep generating through end-of-generation tokens
  int32_t n_logprobs = -1;          // -1 none; 0 the chosen token's; k > 0 also the top k
  int32_t priority = 0;             // 1 (highest) .. priority_levels; 0 = the default level
  std::optional<int64_t> timeout_us;  // per-request queue timeout (see resolve_queue_timeout)
  std::string tag;                  // caller's label for logs (e.g. the HTTP request id)
};

enum class FinishReason {
  Stop,       // end-of-generation token or a stop string
  Length,     // max_tokens, or the context is full
  Cancelled,  // the caller cancelled (client went away) or the server shut down
};
const char* finish_reason_name(FinishReason reason);  // "stop", "length", "cancelled"

// Why a request did not run. The server maps these to HTTP statuses.
enum class RejectReason {
  None,
  Invalid,       // 400: the request itself is wrong (message names the field)
  QueueFull,     // 429: its priority level's queue is full
  QueueTimeout,  // 429: it waited longer than its queue timeout (REJECT)
  ShuttingDown,  // 503
  Internal,      // 500: the forward pass failed
};
const char* reject_reason_name(RejectReason reason);  // "queue_full", "queue_timeout", ...

struct TopLogprob {
  int32_t id = 0;
  float logprob = 0;
  std::string piece;
};

struct TokenOutput {
  int32_t id = 0;
  std::string piece;  // the token's bytes as generated text (may be part of a UTF-8 character)
  float logprob = 0;  // log-softmax of the raw logits (when logprobs were asked for)
  std::vector<TopLogprob> top;  // [n_logprobs] most likely first
};

struct Usage {
  int32_t prompt_tokens = 0;
  int32_t completion_tokens = 0;
  int32_t cached_tokens = 0;  // prompt tokens served from the prefix cache
};

struct Timings {
  double queue_ms = 0;  // arrival → first scheduled
  double ttft_ms = 0;   // arrival → first token
  double total_ms = 0;  // arrival → finish
};

struct Event {
  enum class Kind { Delta, Done, Error };
  Kind kind = Kind::Delta;
  // Delta and Done: new text, and the tokens generated since the last event. Text may lag its
  // tokens (held back for an unfinished character or a possible stop string); Done releases it.
  std::string text;
  std::vector<TokenOutput> tokens;
  FinishReason finish = FinishReason::Stop;  // Done
  std::string stop_string;                   // Done: the stop string that ended it, if one did
  Usage usage;                               // Done
  Timings timings;                           // Done
  RejectReason reason = RejectReason::None;  // Error
  std::string message;                       // Error
};

// The engine pushes, the caller pops. Thread-safe.
class EventChannel {
 public:
  void push(Event e);
  // Waits up to `timeout` for an event; nullopt when none came.
  std::optional<Event> pop(std::chrono::milliseconds timeout);
  // All events queued now, without waiting.
  std::vector<Event> drain();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> events_;
};

class Engine;

// The caller's end of a submitted request. Destroying it before the request ended cancels it:
// a handler that returns early (client gone, error) never leaves work behind.
class RequestHandle {
 public:
  RequestHandle(Engine* engine, RequestId id, std::shared_ptr<EventChannel> channel)
      : engine_(engine), id_(id), channel_(std::move(channel)) {}
  ~RequestHandle();
  RequestHandle(const RequestHandle&) = delete;
  RequestHandle& operator=(const RequestHandle&) = delete;

  RequestId id() const { return id_; }
  // Next event, waiting up to `timeout`; nullopt on timeout. After Done or Error there is none.
  std::optional<Event> next(std::chrono::milliseconds timeout);
  bool ended() const { return ended_; }
  // Asks the engine to stop; a Done(Cancelled) event follows within one step.
  void cancel();

 private:
  Engine* engine_;
  RequestId id_;
  std::shared_ptr<EventChannel> channel_;
  bool ended_ = false;
};

struct SubmitResult {
  std::unique_ptr<RequestHandle> handle;  // set when accepted
  RejectReason reason = RejectReason::None;
  std::string message;
  bool ok() const { return handle != nullptr; }
};

}  // namespace ag::engine
