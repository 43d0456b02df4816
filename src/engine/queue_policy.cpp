#include "engine/queue_policy.h"

#include <algorithm>
#include <cctype>
#include <string>

#include "core/check.h"

namespace ag::engine {

Result<TimeoutAction> parse_timeout_action(std::string_view text) {
  std::string upper(text);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper == "REJECT") return TimeoutAction::Reject;
  if (upper == "DELAY") return TimeoutAction::Delay;
  return error("timeout_action must be REJECT or DELAY, got '{}'", text);
}

std::string_view timeout_action_name(TimeoutAction action) {
  return action == TimeoutAction::Reject ? "REJECT" : "DELAY";
}

Status SchedulerConfig::validate() const {
  if (max_batch_tokens < 1) return error("max_batch_tokens must be >= 1, got {}", max_batch_tokens);
  if (max_running < 1) return error("max_running must be >= 1, got {}", max_running);
  if (background_batch_tokens < 0)
    return error("background_batch_tokens must be >= 0, got {}", background_batch_tokens);
  if (priority_levels < 1 || priority_levels > 1000)
    return error("priority_levels must be in 1..1000, got {}", priority_levels);
  if (default_priority < 1 || default_priority > priority_levels)
    return error("default_priority must be in 1..{} (priority_levels), got {}", priority_levels,
                 default_priority);
  if (max_queue_delay_us < 0)
    return error("max_queue_delay_us must be >= 0, got {}", max_queue_delay_us);
  if (static_cast<int32_t>(levels.size()) > priority_levels)
    return error("queue policy given for {} priority levels but priority_levels is {}",
                 levels.size(), priority_levels);
  for (size_t i = 0; i < levels.size(); ++i) {
    if (levels[i].max_queue_size < 0)
      return error("priority level {}: max_queue_size must be >= 0, got {}", i + 1,
                   levels[i].max_queue_size);
    if (levels[i].default_timeout_us < 0)
      return error("priority level {}: default_timeout_us must be >= 0, got {}", i + 1,
                   levels[i].default_timeout_us);
  }
  return {};
}

const QueuePolicy& SchedulerConfig::policy(int32_t priority) const {
  AG_CHECK(priority >= 1 && priority <= priority_levels, "priority %d", priority);
  static const QueuePolicy kDefault;
  const size_t i = static_cast<size_t>(priority - 1);
  return i < levels.size() ? levels[i] : kDefault;
}

Result<int64_t> resolve_queue_timeout(const SchedulerConfig& config, int32_t priority,
                                      std::optional<int64_t> requested_us) {
  const QueuePolicy& p = config.policy(priority);
  if (!requested_us) return p.default_timeout_us;
  if (*requested_us <= 0) return error("timeout_ms must be > 0");
  if (!p.allow_timeout_override)
    return error("timeout_ms: priority level {} does not allow a per-request queue timeout "
                 "(allow_timeout_override is off)",
                 priority);
  // Only shorter than the default: a client may not extend what the operator configured.
  return p.default_timeout_us > 0 ? std::min(p.default_timeout_us, *requested_us) : *requested_us;
}

int32_t SchedulerConfig::background_step_tokens() const {
  if (priority_levels <= 1) return max_batch_tokens;
  const int64_t rows = background_batch_tokens > 0 ? background_batch_tokens : 2 * int64_t{max_running};
  return static_cast<int32_t>(std::min<int64_t>(rows, max_batch_tokens));
}

}  // namespace ag::engine
