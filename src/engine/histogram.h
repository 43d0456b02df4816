#pragma once
// A fixed-bucket histogram for latency metrics (Prometheus semantics: cumulative `le` buckets,
// sum and count). Thread-safe; observe() takes a short lock.
#include <cstdint>
#include <mutex>
#include <vector>

namespace ag::engine {

struct HistogramSnapshot {
  std::vector<double> bounds;    // upper bounds, ascending (+Inf implied after the last)
  std::vector<uint64_t> counts;  // [bounds.size() + 1] per bucket, not cumulative
  double sum = 0;
  uint64_t count = 0;
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  HistogramSnapshot snapshot() const;

 private:
  mutable std::mutex mu_;
  HistogramSnapshot data_;
};

// Bucket bounds in seconds for request latencies (1 ms .. 5 min).
std::vector<double> latency_buckets();
// Bounds in seconds for per-token times (0.5 ms .. 10 s).
std::vector<double> token_time_buckets();

}  // namespace ag::engine
