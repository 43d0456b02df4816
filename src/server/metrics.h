#pragma once
// Prometheus text exposition (format 0.0.4) of the server: engine gauges, counters and latency
// histograms (from EngineStats) and the HTTP counters kept here. Every name has the `autoglm_`
// prefix; counters end in `_total`, durations are in seconds (what `promtool check metrics` wants).
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

  // The whole /metrics page. `stats` is null while the model loads.
  std::string render(const engine::EngineStats* stats, const std::string& version,
                     const std::string& model) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;  // (endpoint, status) → count
  std::map<std::string, uint64_t> rejected_;                  // reason → count
};

// Label values escaped for the text format (backslash, quote, newline).
std::string prometheus_escape(const std::string& value);

}  // namespace ag::server
