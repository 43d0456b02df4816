#pragma once
// Prometheus text exposition (format 0.0.4) of the server: engine gauges, counters and latency
// histograms (from EngineStats) and the HTTP counters kept here. Every name has the `autoglm_`
// prefix; counters end in `_total`, durations are in seconds (what `promtool check metrics` wants).
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "engine/engine.h"

namespace ag::server {

class ServerMetrics {
 public:
  void count_request(const std::string& endpoint, int status);
  void count_rejected(const std::string& reason);  // queue_full, queue_timeout, auth, invalid, ...
  // Generation responses not yet fully written: a stream outlives its handler (the HTTP thread
  // writes its events after the handler returns), so shutdown waits for these after the engine
  // has drained, or a stream's last events would be cut off by the server's stop.
  void response_opened();
  void response_closed();
  // Waits until no response is open or `deadline` passes; true when none is open.
  bool wait_responses_closed(std::chrono::steady_clock::time_point deadline) const;

  // The whole /metrics page. `stats` is null while the model loads.
  std::string render(const engine::EngineStats* stats, const std::string& version,
                     const std::string& model) const;

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable closed_;
  int open_responses_ = 0;
  std::map<std::pair<std::string, int>, uint64_t> requests_;  // (endpoint, status) → count
  std::map<std::string, uint64_t> rejected_;                  // reason → count
};

// Label values escaped for the text format (backslash, quote, newline).
std::string prometheus_escape(const std::string& value);

}  // namespace ag::server
