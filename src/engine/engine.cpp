#include "engine/engine.h"

#include <algorithm>
#include <limits>
#include <span>

#include "core/check.h"
#include "sampling/logprobs.h"

namespace ag::engine {

struct Engine::Active {
  Active(const SamplingParams& params, int n_vocab, const tok::Tokenizer& tokenizer,
         std::vector<std::string> stops)
      : sampler(params, n_vocab), decoder(tokenizer), stop(std::move(stops)) {}
  RequestId id = 0;
  int32_t priority = 1;
  int32_t n_prompt = 0;
  int32_t max_tokens = 0;
  int32_t n_logprobs = -1;
  bool ignore_eos = false;
  int64_t timeout_us = 0;
  std::shared_ptr<EventChannel> channel;
  Sampler sampler;
  tok::StreamDecoder decoder;
  StopMatcher stop;
  int32_t n_generated = 0;
  int32_t n_cached = 0;
  bool started = false;
  int64_t arrival_us = 0, scheduled_us = -1, first_token_us = -1, last_token_us = -1;
};

Result<std::unique_ptr<Engine>> Engine::create(const EngineConfig& config, Backend& backend,
                                               const tok::Tokenizer& tokenizer) {
  AG_TRY_STATUS(config.scheduler.validate());
  if (backend.n_kv_blocks() < 1 || backend.kv_block_size() < 1)
    return error("KV cache has {} blocks of {} tokens", backend.n_kv_blocks(),
                 backend.kv_block_size());
  const int64_t capacity = int64_t{backend.n_kv_blocks()} * backend.kv_block_size();
  if (config.n_ctx < 2) return error("context size must be >= 2 tokens, got {}", config.n_ctx);
  if (config.n_ctx > capacity)
    return error("context size {} exceeds the KV pool ({} blocks of {} = {} tokens): give the "
                 "pool more memory or lower the context size",
                 config.n_ctx, backend.n_kv_blocks(), backend.kv_block_size(), capacity);
  if (backend.n_vocab() != tokenizer.n_tokens() && backend.n_vocab() < tokenizer.n_tokens())
    return error("the model has {} logits per token but the tokenizer {} tokens",
                 backend.n_vocab(), tokenizer.n_tokens());
  std::unique_ptr<Engine> engine(new Engine(config, backend, tokenizer));
  engine->thread_ = std::thread([e = engine.get()] { e->loop(); });
  return engine;
}

Engine::Engine(const EngineConfig& config, Backend& backend, const tok::Tokenizer& tokenizer)
    : config_(config),
      backend_(backend),
      tokenizer_(tokenizer),
      pool_(backend.n_kv_blocks(), backend.kv_block_size()),
      scheduler_(config.scheduler, pool_),
      t0_(std::chrono::steady_clock::now()) {}

Engine::~Engine() { shutdown(std::chrono::milliseconds(0)); }

int64_t Engine::now_us() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                               t0_)
      .count();
}

SubmitResult Engine::submit(GenerateRequest req) {
  auto invalid = [](std::string message) {
    return SubmitResult{nullptr, RejectReason::Invalid, std::move(message)};
  };
  const int64_t n_prompt = static_cast<int64_t>(req.prompt.size());
  if (n_prompt == 0) return invalid("prompt: no tokens to start from");
  const int n_vocab = backend_.n_vocab();
  for (int32_t t : req.prompt)
    if (t < 0 || t >= n_vocab)
      return invalid(fmt::format("prompt: token id {} is out of range (the vocabulary has {})", t,
                                 n_vocab));
  if (n_prompt >= config_.n_ctx)
    return invalid(fmt::format("prompt has {} tokens but the context is {} tokens (at least one "
                               "must be left for the output)",
                               n_prompt, config_.n_ctx));
  if (req.max_tokens == 0 || req.max_tokens < -1)
    return invalid(fmt::format("max_tokens must be >= 1, got {}", req.max_tokens));
  const int32_t max_tokens =
      req.max_tokens == -1 ? static_cast<int32_t>(config_.n_ctx - n_prompt) : req.max_tokens;
  if (n_prompt + max_tokens > config_.n_ctx)
    return invalid(fmt::format("prompt ({} tokens) + max_tokens ({}) = {} exceeds the context of "
                               "{} tokens",
                               n_prompt, max_tokens, n_prompt + max_tokens, config_.n_ctx));
  const SchedulerConfig& sc = config_.scheduler;
  const int32_t priority = req.priority == 0 ? sc.default_priority : req.priority;
  if (priority < 1 || priority > sc.priority_levels)
    return invalid(fmt::format("priority must be in 1..{}, got {}", sc.priority_levels,
                               req.priority));
  auto timeout = resolve_queue_timeout(sc, priority, req.timeout_us);
  if (!timeout.ok()) return invalid(timeout.error().message);
  if (req.n_logprobs > n_vocab)
    return invalid(fmt::format("logprobs must be <= {}, got {}", n_vocab, req.n_logprobs));

  auto active = std::make_unique<Active>(req.sampling, n_vocab, tokenizer_, std::move(req.stop));
  active->n_prompt = static_cast<int32_t>(n_prompt);
  active->max_tokens = max_tokens;
  active->n_logprobs = req.n_logprobs;
  active->ignore_eos = req.ignore_eos;
  active->priority = priority;
  active->timeout_us = *timeout;
  active->channel = std::make_shared<EventChannel>();
  for (int32_t t : req.prompt) active->sampler.accept(t);  // penalties see the prompt

  std::lock_guard lock(mu_);
  if (!accepting_) return {nullptr, RejectReason::ShuttingDown, "the server is shutting down"};
  const RequestId id = next_id_++;
  const int64_t now = now_us();
  if (scheduler_.add(SeqSpec{id, priority, std::move(req.prompt), *timeout}, now) ==
      AddResult::QueueFull)
    return {nullptr, RejectReason::QueueFull,
            fmt::format("the queue of priority {} is full ({} requests waiting)", priority,
                        scheduler_.n_queued(priority))};
  active->id = id;
  active->arrival_us = now;
  auto handle = std::make_unique<RequestHandle>(this, id, active->channel);
  active_.emplace(id, std::move(active));
  ++wake_gen_;
  cv_.notify_all();
  return {std::move(handle), RejectReason::None, {}};
}

void Engine::cancel(RequestId id) {
  std::lock_guard lock(mu_);
  cancels_.push_back(id);
  ++wake_gen_;
  cv_.notify_all();
}

bool Engine::idle() const {
  std::lock_guard lock(mu_);
  return active_.empty();
}

void Engine::apply_cancels() {
  for (RequestId id : cancels_) {
    auto it = active_.find(id);
    if (it == active_.end()) continue;
    scheduler_.remove(id);
    finish(*it->second, FinishReason::Cancelled, {}, {});
  }
  cancels_.clear();
}

void Engine::finish(Active& a, FinishReason reason, std::string text,
                    std::vector<TokenOutput> tokens) {
  const int64_t now = now_us();
  Event e;
  e.kind = Event::Kind::Done;
  e.text = std::move(text);
  e.tokens = std::move(tokens);
  e.finish = reason;
  if (a.stop.matched()) e.stop_string = a.stop.matched_stop();
  e.usage = {a.n_prompt, a.n_generated, a.n_cached};
  e.timings.queue_ms = a.scheduled_us >= 0 ? (a.scheduled_us - a.arrival_us) / 1e3 : (now - a.arrival_us) / 1e3;
  e.timings.ttft_ms = a.first_token_us >= 0 ? (a.first_token_us - a.arrival_us) / 1e3 : 0;
  e.timings.total_ms = (now - a.arrival_us) / 1e3;
  if (reason != FinishReason::Cancelled) duration_.observe((now - a.arrival_us) / 1e6);
  a.channel->push(std::move(e));
  active_.erase(a.id);  // `a` is gone after this line
}

void Engine::fail(RequestId id, RejectReason reason, const std::string& message) {
  scheduler_.remove(id);
  auto it = active_.find(id);
  if (it == active_.end()) return;
  Event e;
  e.kind = Event::Kind::Error;
  e.reason = reason;
  e.message = message;
  it->second->channel->push(std::move(e));
  active_.erase(it);
}

void Engine::loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    if (step(lock)) continue;
    if (!cancels_.empty()) continue;
    // Nothing runnable: sleep until an arrival, a cancel or shutdown (wake_gen_ moves), the end
    // of a batching delay, or the next queue deadline.
    const uint64_t gen = wake_gen_;
    auto woken = [&] { return stop_ || wake_gen_ != gen; };
    if (next_wake_us_ < 0)
      cv_.wait(lock, woken);
    else
      cv_.wait_until(lock, t0_ + std::chrono::microseconds(next_wake_us_), woken);
  }
}

bool Engine::step(std::unique_lock<std::mutex>& lock) {
  apply_cancels();
  const int64_t now = now_us();
  StepPlan plan = scheduler_.schedule(now);
  for (RequestId id : plan.timed_out) {
    auto it = active_.find(id);
    const double limit_ms = it != active_.end() ? it->second->timeout_us / 1e3 : 0;
    const int32_t priority = it != active_.end() ? it->second->priority : 0;
    fail(id, RejectReason::QueueTimeout,
         fmt::format("the request waited in the queue longer than its timeout ({} ms at priority "
                     "{})",
                     limit_ms, priority));
  }
  if (plan.empty()) {
    next_wake_us_ = plan.wait_until_us;
    const int64_t deadline = scheduler_.next_deadline_us();
    if (deadline >= 0 && (next_wake_us_ < 0 || deadline < next_wake_us_)) next_wake_us_ = deadline;
    return false;
  }

  batch_.clear();
  for (const auto& c : plan.chunks) {
    const Seq* s = scheduler_.find(c.id);
    AG_CHECK(s != nullptr, "scheduled request %llu unknown", static_cast<unsigned long long>(c.id));
    Active& a = *active_.at(c.id);
    if (!a.started) {
      a.started = true;
      a.scheduled_us = now;
      a.n_cached = s->n_cached_tokens;
      queue_time_.observe((now - a.arrival_us) / 1e6);
      prompt_tokens_ += static_cast<uint64_t>(a.n_prompt);
    }
    const int32_t seq_index = static_cast<int32_t>(batch_.block_tables.size());
    batch_.block_tables.push_back(s->blocks);
    for (int32_t i = 0; i < c.n_tokens; ++i) {
      batch_.tokens.push_back(s->tokens[static_cast<size_t>(c.pos + i)]);
      batch_.positions.push_back(c.pos + i);
      batch_.seq_index.push_back(seq_index);
      batch_.want_logits.push_back(c.want_logits && i == c.n_tokens - 1);
    }
  }

  // The forward pass runs without the lock: submit() and cancel() stay responsive.
  lock.unlock();
  Status st = backend_.forward(batch_, logits_);
  lock.lock();
  ++n_steps_;
  if (!st.ok()) {
    for (const auto& c : plan.chunks)
      fail(c.id, RejectReason::Internal, "forward pass failed: " + st.error().message);
    return true;
  }
  scheduler_.on_computed(plan);

  const size_t n_vocab = static_cast<size_t>(backend_.n_vocab());
  size_t row = 0;
  for (const auto& c : plan.chunks) {
    if (!c.want_logits) continue;
    const std::span<const float> logits(logits_.data() + row * n_vocab, n_vocab);
    ++row;
    auto it = active_.find(c.id);
    if (it == active_.end()) continue;  // shut down while the step ran
    Active& a = *it->second;
    const int32_t token = a.sampler.sample(logits);
    a.sampler.accept(token);
    ++a.n_generated;
    ++generation_tokens_;
    const int64_t t = now_us();
    if (a.first_token_us < 0) {
      a.first_token_us = t;
      ttft_.observe((t - a.arrival_us) / 1e6);
    } else {
      tpot_.observe((t - a.last_token_us) / 1e6);
    }
    a.last_token_us = t;

    const bool eog = !a.ignore_eos && tokenizer_.is_eog(token);
    Event delta;
    if (!eog) {
      TokenOutput out;
      out.id = token;
      out.piece = tokenizer_.token_to_piece(token);
      if (a.n_logprobs >= 0) {
        out.logprob = token_logprob(logits, token);
        if (a.n_logprobs > 0)
          for (const auto& [id, lp] : top_logprobs(logits, a.n_logprobs))
            out.top.push_back({id, lp, tokenizer_.token_to_piece(id)});
      }
      delta.tokens.push_back(std::move(out));
      delta.text = a.stop.push(a.decoder.push(token));
    }
    std::optional<FinishReason> reason;
    if (eog || a.stop.matched())
      reason = FinishReason::Stop;
    else if (a.n_generated >= a.max_tokens)
      reason = FinishReason::Length;
    if (!reason) {
      scheduler_.append_token(c.id, token);
      a.channel->push(std::move(delta));
      continue;
    }
    if (!a.stop.matched()) {
      // Bytes of an unfinished character, then text held back for a stop string that never came.
      delta.text += a.stop.push(a.decoder.flush());
      if (a.stop.matched())
        reason = FinishReason::Stop;
      else
        delta.text += a.stop.flush();
    }
    scheduler_.remove(c.id);
    finish(a, *reason, std::move(delta.text), std::move(delta.tokens));
  }
  return true;
}

void Engine::shutdown(std::chrono::milliseconds drain) {
  {
    std::lock_guard lock(mu_);
    accepting_ = false;
  }
  const auto deadline = std::chrono::steady_clock::now() + drain;
  while (std::chrono::steady_clock::now() < deadline && !idle())
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, a] : active_) cancels_.push_back(id);
    apply_cancels();
    stop_ = true;
    ++wake_gen_;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

EngineStats Engine::stats() const {
  EngineStats s;
  {
    std::lock_guard lock(mu_);
    s.n_running = scheduler_.n_running();
    for (int32_t p = 1; p <= config_.scheduler.priority_levels; ++p)
      s.n_waiting.push_back(scheduler_.n_waiting(p));
    s.kv_blocks_total = pool_.n_blocks();
    s.kv_blocks_free = pool_.n_free();
    s.n_preempted = scheduler_.n_preempted_total();
    s.prefix_query_tokens = scheduler_.prefix_query_tokens();
    s.prefix_hit_tokens = scheduler_.prefix_hit_tokens();
  }
  s.prompt_tokens = prompt_tokens_;
  s.generation_tokens = generation_tokens_;
  s.n_steps = n_steps_;
  s.time_to_first_token = ttft_.snapshot();
  s.time_per_output_token = tpot_.snapshot();
  s.queue_time = queue_time_.snapshot();
  s.request_duration = duration_.snapshot();
  return s;
}

}  // namespace ag::engine
