#pragma once
// The engine: one thread runs steps over every live request.
//
// Each step: apply cancellations → scheduler plan (scheduler.h) → one ForwardBatch → the
// backend's forward → for each request that finished its pending tokens: its own sampler picks
// the next token, stop conditions run (max_tokens, end-of-generation unless ignore_eos, stop
// strings with streaming hold-back), and an event goes to its channel (text delta via the
// streaming detokenizer, logprobs; finally finish reason, usage and timings).
//
// submit() and cancel() are thread-safe and never block on a forward pass. A cancelled request
// leaves the scheduler, and frees its KV blocks, at the start of the next step.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/backend.h"
#include "engine/histogram.h"
#include "engine/request.h"
#include "engine/scheduler.h"
#include "engine/stop_matcher.h"
#include "kv/block_pool.h"
#include "tokenizer/tokenizer.h"

namespace ag::engine {

struct EngineConfig {
  SchedulerConfig scheduler;
  int32_t n_ctx = 2048;  // positions per sequence, prompt and output together
};

// A consistent view of the engine's state for /metrics and /health.
struct EngineStats {
  int32_t n_running = 0;
  std::vector<int32_t> n_waiting;  // [priority_levels]
  int32_t kv_blocks_total = 0;
  int32_t kv_blocks_free = 0;
  uint64_t n_preempted = 0;
  uint64_t prompt_tokens = 0;      // prompt tokens of requests that were scheduled
  uint64_t generation_tokens = 0;  // tokens sampled
  uint64_t prefix_query_tokens = 0;
  uint64_t prefix_hit_tokens = 0;
  uint64_t n_steps = 0;
  HistogramSnapshot time_to_first_token;  // seconds
  HistogramSnapshot time_per_output_token;
  HistogramSnapshot queue_time;
  HistogramSnapshot request_duration;
};

class Engine {
 public:
  // The backend's KV geometry sizes the block pool. Checks `config` (an error names the setting).
  static Result<std::unique_ptr<Engine>> create(const EngineConfig& config, Backend& backend,
                                                const tok::Tokenizer& tokenizer);
  ~Engine();  // shutdown(0) if still running
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Validates and queues a request. Rejections: Invalid (message names the field: prompt length
  // against the context, max_tokens, priority, timeout), QueueFull, ShuttingDown.
  SubmitResult submit(GenerateRequest request);

  // Asks for a request to stop (unknown or finished ids are ignored).
  void cancel(RequestId id);

  // Stops accepting requests, lets in-flight ones finish for up to `drain`, cancels the rest,
  // and stops the loop thread. Safe to call more than once.
  void shutdown(std::chrono::milliseconds drain);

  EngineStats stats() const;
  const EngineConfig& config() const { return config_; }
  int32_t n_ctx() const { return config_.n_ctx; }
  const tok::Tokenizer& tokenizer() const { return tokenizer_; }
  // No request queued or running.
  bool idle() const;

 private:
  struct Active;  // per-request engine state (sampler, detokenizer, stop matcher, timings)

  Engine(const EngineConfig& config, Backend& backend, const tok::Tokenizer& tokenizer);
  void loop();
  // One step; returns false when there was nothing to run (the loop then sleeps).
  bool step(std::unique_lock<std::mutex>& lock);
  void apply_cancels();
  // Sends Done (with the last text and tokens) and forgets the request.
  void finish(Active& a, FinishReason reason, std::string text, std::vector<TokenOutput> tokens);
  void fail(RequestId id, RejectReason reason, const std::string& message);
  int64_t now_us() const;

  EngineConfig config_;
  Backend& backend_;
  const tok::Tokenizer& tokenizer_;
  kv::BlockPool pool_;
  Scheduler scheduler_;  // guarded by mu_

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<RequestId, std::unique_ptr<Active>> active_;  // guarded by mu_
  std::vector<RequestId> cancels_;                                  // guarded by mu_
  RequestId next_id_ = 1;                                           // guarded by mu_
  bool accepting_ = true;                                           // guarded by mu_
  bool stop_ = false;                                               // guarded by mu_
  uint64_t wake_gen_ = 0;      // guarded by mu_; bumped by submit / cancel / shutdown
  int64_t next_wake_us_ = -1;  // loop thread only: when an idle loop must look again, -1 = never
  std::thread thread_;
  std::chrono::steady_clock::time_point t0_;

  // Scratch reused by every step.
  ForwardBatch batch_;
  std::vector<float> logits_;  // [n_want, n_vocab]

  std::atomic<uint64_t> prompt_tokens_{0}, generation_tokens_{0}, n_steps_{0};
  Histogram ttft_{latency_buckets()};
  Histogram tpot_{token_time_buckets()};
  Histogram queue_time_{latency_buckets()};
  Histogram duration_{latency_buckets()};
};

}  // namespace ag::engine
