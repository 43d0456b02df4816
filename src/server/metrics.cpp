#include "server/metrics.h"

#include <fmt/format.h>

namespace ag::server {

void ServerMetrics::count_request(const std::string& endpoint, int status) {
  std::lock_guard lock(mu_);
  ++requests_[{endpoint, status}];
}

void ServerMetrics::count_rejected(const std::string& reason) {
  std::lock_guard lock(mu_);
  ++rejected_[reason];
}

std::string prometheus_escape(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

namespace {

void header(std::string& out, const char* name, const char* type, const char* help) {
  fmt::format_to(std::back_inserter(out), "# HELP autoglm_{} {}\n# TYPE autoglm_{} {}\n", name, help,
                 name, type);
}

template <typename T>
void sample(std::string& out, const char* name, T value) {
  fmt::format_to(std::back_inserter(out), "autoglm_{} {}\n", name, value);
}

void histogram(std::string& out, const char* name, const char* help,
               const engine::HistogramSnapshot& h) {
  header(out, name, "histogram", help);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < h.bounds.size(); ++i) {
    cumulative += h.counts[i];
    fmt::format_to(std::back_inserter(out), "autoglm_{}_bucket{{le=\"{}\"}} {}\n", name, h.bounds[i],
                   cumulative);
  }
  cumulative += h.counts.empty() ? 0 : h.counts.back();
  fmt::format_to(std::back_inserter(out), "autoglm_{}_bucket{{le=\"+Inf\"}} {}\n", name, cumulative);
  fmt::format_to(std::back_inserter(out), "autoglm_{}_sum {}\nautoglm_{}_count {}\n", name, h.sum,
                 name, h.count);
}

}  // namespace

void ServerMetrics::response_opened() {
  std::lock_guard lock(mu_);
  ++open_responses_;
}

void ServerMetrics::response_closed() {
  std::lock_guard lock(mu_);
  if (--open_responses_ == 0) closed_.notify_all();
}

bool ServerMetrics::wait_responses_closed(std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mu_);
  return closed_.wait_until(lock, deadline, [this] { return open_responses_ == 0; });
}

std::string ServerMetrics::render(const engine::EngineStats* stats, const std::string& version,
                                  const std::string& model) const {
  std::string out;
  header(out, "build_info", "gauge", "Build and model of this server (always 1).");
  fmt::format_to(std::back_inserter(out), "autoglm_build_info{{version=\"{}\",model=\"{}\"}} 1\n",
                 prometheus_escape(version), prometheus_escape(model));

  engine::EngineStats empty;
  const engine::EngineStats& s = stats ? *stats : empty;
  header(out, "requests_running", "gauge", "Requests holding KV blocks (prefilling or decoding).");
  sample(out, "requests_running", s.n_running);
  header(out, "requests_waiting", "gauge", "Requests queued, by priority level (1 = highest).");
  for (size_t i = 0; i < s.n_waiting.size(); ++i)
    fmt::format_to(std::back_inserter(out), "autoglm_requests_waiting{{priority=\"{}\"}} {}\n", i + 1,
                   s.n_waiting[i]);
  {
    std::lock_guard lock(mu_);
    header(out, "responses_open", "gauge", "Generation responses (streams included) not yet fully written.");
    sample(out, "responses_open", open_responses_);
  }
  header(out, "kv_cache_usage_ratio", "gauge", "Fraction of KV blocks in use (0..1).");
  sample(out, "kv_cache_usage_ratio",
         s.kv_blocks_total > 0 ? double(s.kv_blocks_total - s.kv_blocks_free) / s.kv_blocks_total : 0.0);
  header(out, "kv_blocks_free", "gauge", "KV blocks not used by any request (cached prefixes included).");
  sample(out, "kv_blocks_free", s.kv_blocks_free);

  {
    std::lock_guard lock(mu_);
    header(out, "requests_total", "counter", "HTTP requests answered, by endpoint and status code.");
    for (const auto& [key, n] : requests_)
      fmt::format_to(std::back_inserter(out), "autoglm_requests_total{{endpoint=\"{}\",code=\"{}\"}} {}\n",
                     prometheus_escape(key.first), key.second, n);
    header(out, "requests_rejected_total", "counter", "Requests refused, by reason.");
    for (const auto& [reason, n] : rejected_)
      fmt::format_to(std::back_inserter(out), "autoglm_requests_rejected_total{{reason=\"{}\"}} {}\n",
                     prometheus_escape(reason), n);
  }
  header(out, "requests_preempted_total", "counter",
         "Running requests preempted (KV blocks freed, recomputed later).");
  sample(out, "requests_preempted_total", s.n_preempted);
  header(out, "prompt_tokens_total", "counter", "Prompt tokens of scheduled requests.");
  sample(out, "prompt_tokens_total", s.prompt_tokens);
  header(out, "generation_tokens_total", "counter", "Tokens generated.");
  sample(out, "generation_tokens_total", s.generation_tokens);
  header(out, "prefix_cache_queries_total", "counter", "Prompt tokens looked up in the prefix cache.");
  sample(out, "prefix_cache_queries_total", s.prefix_query_tokens);
  header(out, "prefix_cache_hits_total", "counter", "Prompt tokens served from the prefix cache.");
  sample(out, "prefix_cache_hits_total", s.prefix_hit_tokens);

  histogram(out, "time_to_first_token_seconds", "Arrival to first generated token.",
            s.time_to_first_token);
  histogram(out, "time_per_output_token_seconds", "Time between consecutive generated tokens.",
            s.time_per_output_token);
  histogram(out, "queue_time_seconds", "Arrival to first scheduling.", s.queue_time);
  histogram(out, "request_duration_seconds", "Arrival to the end of generation.", s.request_duration);
  return out;
}

}  // namespace ag::server
