#pragma once
// Scheduling configuration: step budgets, priority levels and Triton's per-level queue policy
// (max_queue_size, default_timeout_us + timeout_action, allow_timeout_override), set from flags
// or a config file by the server.
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace ag::engine {

enum class TimeoutAction {
  Reject,  // the request leaves the queue with an error (HTTP 429)
  Delay,   // the request stays, behind every request of its level that has not timed out
};

Result<TimeoutAction> parse_timeout_action(std::string_view text);  // "REJECT" / "DELAY", any case
std::string_view timeout_action_name(TimeoutAction action);

struct QueuePolicy {
  int32_t max_queue_size = 0;      // requests waiting at this level; 0 = unbounded; full → 429
  int64_t default_timeout_us = 0;  // longest wait before first being scheduled; 0 = none
  TimeoutAction timeout_action = TimeoutAction::Reject;
  // A request may ask for a shorter timeout than the default, or for one when there is no
  // default (Triton only allows the former).
  bool allow_timeout_override = false;
};

struct SchedulerConfig {
  int32_t max_batch_tokens = 512;  // token rows per step: prefill chunks and decodes together
  // Token rows of a step with no priority-1 work in it (only with priority_levels > 1). A step
  // cannot be interrupted, so a priority-1 arrival waits out the one in flight: on a CPU a step's
  // time grows with its rows, and short background steps keep that wait short. 0 = automatic:
  // 2 x max_running (every running request's decode plus as many prefill rows).
  int32_t background_batch_tokens = 0;
  int32_t max_running = 16;        // requests holding KV blocks at once
  int32_t priority_levels = 1;     // priorities are 1 (highest) .. priority_levels
  int32_t default_priority = 1;    // for requests that give none (or 0)
  // When nothing is running, wait up to this long after the first arrival for more, so the first
  // batch is bigger. 0 = start at once.
  int64_t max_queue_delay_us = 0;
  bool prefix_cache = true;          // reuse KV blocks of repeated prompt prefixes
  std::vector<QueuePolicy> levels;   // [priority_levels]; level p is levels[p - 1]

  // Errors name the setting: "max_batch_tokens must be >= 1, got 0".
  Status validate() const;
  const QueuePolicy& policy(int32_t priority) const;  // priority in 1..priority_levels
  // Rows allowed in a step without priority-1 work (max_batch_tokens with one level).
  int32_t background_step_tokens() const;
};

// The queue timeout of a request at `priority` asking for `requested_us` (nullopt: none asked).
// Returns microseconds, 0 = no timeout. A request may only shorten the level's default, or set one
// where the level has none, when allow_timeout_override is on; otherwise asking is an error.
Result<int64_t> resolve_queue_timeout(const SchedulerConfig& config, int32_t priority,
                                      std::optional<int64_t> requested_us);

}  // namespace ag::engine
