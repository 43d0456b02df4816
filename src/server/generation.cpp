#include "server/generation.h"

#include <chrono>
#include <random>

#include <fmt/format.h>

#include "server/client_socket.h"

namespace ag::server {

using namespace std::chrono_literals;
using engine::Event;
using engine::FinishReason;
using engine::RejectReason;

void set_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  if (e.status == 429) res.set_header("Retry-After", "1");
  res.set_content(dump(error_json(e)), "application/json");
}

namespace {

ApiError reject_error(RejectReason reason, const std::string& message) {
  ApiError e;
  e.message = message;
  switch (reason) {
    case RejectReason::Invalid: {
      e.status = 400;
      e.code = "invalid_value";
      // The engine's messages start with or name the field; the most specific name first.
      for (const char* p : {"max_tokens", "timeout_ms", "logprobs", "priority", "prompt"})
        if (message.find(p) != std::string::npos) {
          e.param = p;
          break;
        }
      break;
    }
    case RejectReason::QueueFull:
      e.status = 429;
      e.type = "rate_limit_error";
      e.code = "queue_full";
      break;
    case RejectReason::QueueTimeout:
      e.status = 429;
      e.type = "rate_limit_error";
      e.code = "queue_timeout";
      break;
    case RejectReason::ShuttingDown:
      e.status = 503;
      e.type = "unavailable_error";
      e.code = "shutting_down";
      break;
    case RejectReason::Internal:
    case RejectReason::None:
      e.status = 500;
      e.type = "server_error";
      break;
  }
  return e;
}

// All choices of one HTTP request. Shared between the handler and, for a stream, the content
// provider that outlives it; destroying it cancels whatever still runs and writes the log line.
struct Job {
  Job(GenerationJob j, std::unique_ptr<RequestLog> l, ServerMetrics& m)
      : spec(std::move(j)), log(std::move(l)), metrics(m) {
    metrics.response_opened();
  }
  ~Job() {
    handles.clear();  // cancels unfinished choices
    if (log) log->write();
    metrics.response_closed();
  }

  GenerationJob spec;
  std::unique_ptr<RequestLog> log;
  ServerMetrics& metrics;
  ResponseMeta meta;
  std::vector<std::unique_ptr<engine::RequestHandle>> handles;  // [n_choices]
  std::vector<ChoiceOutput> outputs;                           // [n_choices]
  std::vector<uint8_t> ended, started;                         // [n_choices]
  std::vector<size_t> text_offset;                              // [n_choices] completions logprobs
  std::vector<engine::Usage> usage;                             // [n_choices]
  std::optional<ApiError> error;
  std::vector<std::string> pending;  // SSE events not yet written
  bool finished_stream = false;
  bool any_event = false;
  size_t n_ended = 0;

  size_t n_choices() const { return handles.size(); }
  size_t choice_prompt(size_t i) const { return i / static_cast<size_t>(spec.gen.n); }

  UsageTotals totals() const {
    UsageTotals t;
    for (size_t i = 0; i < usage.size(); ++i) {
      if (i % static_cast<size_t>(spec.gen.n) == 0) {  // the prompt counts once per prompt
        t.prompt_tokens += usage[i].prompt_tokens;
        t.cached_tokens += usage[i].cached_tokens;
      }
      t.completion_tokens += usage[i].completion_tokens;
    }
    return t;
  }

  void fill_log(const Event* done) {
    log->prompt_tokens = 0;
    for (const auto& p : spec.prompts) log->prompt_tokens += static_cast<long long>(p.size());
    const UsageTotals t = totals();
    log->completion_tokens = t.completion_tokens;
    log->cached_tokens = t.cached_tokens;
    if (done) {
      log->queue_ms = done->timings.queue_ms;
      log->ttft_ms = done->timings.ttft_ms;
      log->total_ms = done->timings.total_ms;
    }
  }

  // Handles one event of choice i: updates the outputs and, when streaming, queues SSE events.
  void on_event(size_t i, Event& e, bool stream) {
    any_event = true;
    ChoiceOutput& out = outputs[i];
    if (e.kind == Event::Kind::Error) {
      if (!error) error = reject_error(e.reason, e.message);
      metrics.count_rejected(engine::reject_reason_name(e.reason));
      mark_ended(i);
      return;
    }
    const bool first = !started[i];
    started[i] = 1;
    std::string text = e.text;
    if (first && spec.api == Api::Completion && !spec.echo.empty()) text = spec.echo[choice_prompt(i)] + text;
    out.text += text;
    const size_t n_before = out.tokens.size();
    out.tokens.insert(out.tokens.end(), e.tokens.begin(), e.tokens.end());
    std::optional<FinishReason> finish;
    if (e.kind == Event::Kind::Done) {
      usage[i] = e.usage;
      if (e.finish == FinishReason::Cancelled) {
        if (!error) error = reject_error(RejectReason::ShuttingDown, "the request was cancelled: the server is shutting down");
      } else {
        out.finish = e.finish;
        finish = e.finish;
      }
      if (i == 0) {
        fill_log(&e);
        log->finish = engine::finish_reason_name(e.finish);
        stop_string = e.stop_string;
      }
      mark_ended(i);
    }
    if (stream && !error) queue_stream_events(i, first, text, n_before, finish);
  }

  void mark_ended(size_t i) {
    if (!ended[i]) {
      ended[i] = 1;
      ++n_ended;
    }
  }

  void queue_stream_events(size_t i, bool first, const std::string& text, size_t n_before,
                           std::optional<FinishReason> finish) {
    const ChoiceOutput& out = outputs[i];
    const std::vector<engine::TokenOutput> new_tokens(out.tokens.begin() + static_cast<ptrdiff_t>(n_before),
                                                      out.tokens.end());
    const int32_t index = static_cast<int32_t>(i);
    switch (spec.api) {
      case Api::Completion: {
        json lp = nullptr;
        if (spec.n_logprobs >= 0) {
          const size_t base = text_offset[i] + (first && !spec.echo.empty() ? spec.echo[choice_prompt(i)].size() : 0);
          lp = completion_logprobs_json(new_tokens, base);
          for (const auto& t : new_tokens) text_offset[i] += t.piece.size();
          if (first && !spec.echo.empty()) text_offset[i] += spec.echo[choice_prompt(i)].size();
        }
        if (text.empty() && new_tokens.empty() && !finish) return;
        push_sse(completion_chunk(meta, index, text, lp, finish));
        break;
      }
      case Api::Chat: {
        if (first) push_sse(chat_chunk(meta, index, true, "", nullptr, std::nullopt));
        const json lp = spec.chat_logprobs && !new_tokens.empty() ? chat_logprobs_json(new_tokens) : json(nullptr);
        if (!text.empty() || !lp.is_null()) push_sse(chat_chunk(meta, index, false, text, lp, std::nullopt));
        if (finish) push_sse(chat_chunk(meta, index, false, "", nullptr, finish));
        break;
      }
      case Api::Infill: {
        json chunk = infill_json(i, text, new_tokens, finish.has_value());
        push_sse(chunk);
        break;
      }
    }
  }

  // llama.cpp's native /completion shape, used by /infill.
  json infill_json(size_t i, const std::string& text, const std::vector<engine::TokenOutput>& tokens,
                   bool stop) const {
    json ids = json::array();
    for (const auto& t : tokens) ids.push_back(t.id);
    json j{{"index", i},
           {"content", text},
           {"tokens", std::move(ids)},
           {"stop", stop},
           {"id_slot", -1},
           {"tokens_predicted", outputs[i].tokens.size()},
           {"tokens_evaluated", spec.prompts[choice_prompt(i)].size()}};
    if (spec.n_logprobs > 0) {
      json probs = json::array();
      for (const auto& t : tokens) {
        json top = json::array();
        for (const auto& tl : t.top) top.push_back(json{{"id", tl.id}, {"token", tl.piece}, {"logprob", tl.logprob}});
        probs.push_back(json{{"id", t.id}, {"token", t.piece}, {"logprob", t.logprob}, {"top_logprobs", std::move(top)}});
      }
      j["completion_probabilities"] = std::move(probs);
    }
    if (stop) {
      const auto& o = outputs[i];
      const char* stop_type = !o.finish ? "none"
                              : *o.finish == FinishReason::Length ? "limit"
                              : !stop_string.empty()              ? "word"
                                                                  : "eos";
      j["model"] = spec.model_id;
      j["stop_type"] = stop_type;
      j["stopping_word"] = stop_string;
      j["truncated"] = false;
      j["tokens_cached"] = usage[i].cached_tokens;
      j["timings"] = json{{"prompt_n", usage[i].prompt_tokens - usage[i].cached_tokens},
                          {"predicted_n", usage[i].completion_tokens},
                          {"queue_ms", log->queue_ms},
                          {"ttft_ms", log->ttft_ms},
                          {"total_ms", log->total_ms}};
    }
    return j;
  }

  void push_sse(const json& j) { pending.push_back("data: " + dump(j) + "\n\n"); }

  // Takes events of unfinished choices, waiting up to `wait` when none is ready.
  bool poll(std::chrono::milliseconds wait, bool stream) {
    bool any = false;
    for (size_t i = 0; i < n_choices(); ++i) {
      while (!ended[i]) {
        auto e = handles[i]->next(0ms);
        if (!e) break;
        on_event(i, *e, stream);
        any = true;
      }
    }
    if (any || wait.count() == 0) return any;
    for (size_t i = 0; i < n_choices(); ++i) {
      if (ended[i]) continue;
      // With several choices, wait briefly on one and come back for the others.
      auto e = handles[i]->next(n_choices() > 1 ? std::min(wait, std::chrono::milliseconds(10)) : wait);
      if (e) {
        on_event(i, *e, stream);
        any = true;
      }
      break;
    }
    return any;
  }

  bool all_ended() const { return n_ended == n_choices(); }
  std::string stop_string;
};

}  // namespace

void run_generation(engine::Engine& engine, GenerationJob spec, httplib::Response& res,
                    std::unique_ptr<RequestLog> log, ServerMetrics& metrics) {
  const bool stream = spec.gen.stream;
  log->stream = stream;
  log->user = spec.gen.user;
  log->priority = spec.gen.priority > 0 ? spec.gen.priority : engine.config().scheduler.default_priority;
  auto job = std::make_shared<Job>(std::move(spec), std::move(log), metrics);
  GenerationJob& s = job->spec;
  job->meta = ResponseMeta{s.response_id, s.created, s.model_id};
  const size_t n_choices = s.prompts.size() * static_cast<size_t>(s.gen.n);
  job->outputs.resize(n_choices);
  job->ended.assign(n_choices, 0);
  job->started.assign(n_choices, 0);
  job->text_offset.assign(n_choices, 0);
  job->usage.resize(n_choices);

  std::random_device rd;
  for (size_t i = 0; i < n_choices; ++i) {
    engine::GenerateRequest r;
    r.prompt = s.prompts[job->choice_prompt(i)];
    r.max_tokens = s.gen.max_tokens.value_or(-1);
    r.sampling = s.gen.sampling;
    r.sampling.seed = s.gen.seed ? *s.gen.seed + i : (uint64_t{rd()} << 32 | rd());
    r.stop = s.gen.stop;
    r.ignore_eos = s.gen.ignore_eos;
    r.n_logprobs = s.n_logprobs;
    r.priority = s.gen.priority;
    r.timeout_us = s.gen.timeout_us;
    r.tag = job->log->id;
    auto sub = engine.submit(std::move(r));
    if (!sub.ok()) {
      const ApiError e = reject_error(sub.reason, sub.message);
      metrics.count_rejected(engine::reject_reason_name(sub.reason));
      job->log->status = e.status;
      job->log->error = e.message;
      job->log->finish = "rejected";
      job->fill_log(nullptr);
      set_error(res, e);
      return;  // `job` goes: choices already submitted are cancelled
    }
    job->outputs[i].index = static_cast<int32_t>(i);
    job->handles.push_back(std::move(sub.handle));
  }

  // Wait for everything (JSON) or for the first event (stream), watching the client.
  while (!job->error && (stream ? !job->any_event : !job->all_ended())) {
    job->poll(50ms, stream);
    if (client_gone()) {
      job->log->status = 499;  // nginx's "client closed request"
      job->log->finish = "disconnected";
      job->fill_log(nullptr);
      return;
    }
  }
  if (job->error) {
    job->log->status = job->error->status;
    job->log->error = job->error->message;
    if (job->log->finish.empty()) job->log->finish = "error";
    job->fill_log(nullptr);
    set_error(res, *job->error);
    return;
  }

  if (!stream) {
    const UsageTotals totals = job->totals();
    json body;
    switch (s.api) {
      case Api::Completion: {
        std::vector<json> logprobs;
        if (s.n_logprobs >= 0)
          for (size_t i = 0; i < n_choices; ++i)
            logprobs.push_back(completion_logprobs_json(job->outputs[i].tokens,
                                                        s.echo.empty() ? 0 : s.echo[job->choice_prompt(i)].size()));
        body = completion_response(job->meta, job->outputs, logprobs, totals);
        break;
      }
      case Api::Chat:
        body = chat_response(job->meta, job->outputs, s.chat_logprobs, totals);
        break;
      case Api::Infill:
        body = job->infill_json(0, job->outputs[0].text, job->outputs[0].tokens, true);
        break;
    }
    res.set_content(dump(body), "application/json");
    return;
  }

  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  res.set_chunked_content_provider("text/event-stream", [job](size_t, httplib::DataSink& sink) {
    if (job->finished_stream) {
      sink.done();
      return true;
    }
    if (job->pending.empty() && !job->all_ended() && !job->error) job->poll(50ms, true);
    if (job->error) {
      job->pending.clear();
      job->push_sse(error_json(*job->error));
      job->log->error = job->error->message;
      job->log->finish = "error";
      job->fill_log(nullptr);
    } else if (job->all_ended()) {
      if (job->spec.gen.include_usage && job->spec.api != Api::Infill)
        job->push_sse(usage_chunk(job->meta, job->spec.api == Api::Chat ? "chat.completion.chunk" : "text_completion",
                                  job->totals()));
    }
    std::string out;
    for (auto& p : job->pending) out += p;
    job->pending.clear();
    const bool last = job->error || job->all_ended();
    if (last && job->spec.api != Api::Infill) out += "data: [DONE]\n\n";
    if (!out.empty() && !sink.write(out.data(), out.size())) {
      job->log->status = 499;
      job->log->finish = "disconnected";
      job->fill_log(nullptr);
      return false;  // the client is gone: dropping the provider drops `job`, which cancels
    }
    if (last) {
      job->finished_stream = true;
      sink.done();
    } else if (client_gone()) {
      job->log->status = 499;
      job->log->finish = "disconnected";
      job->fill_log(nullptr);
      return false;
    }
    return true;
  });
}

}  // namespace ag::server
