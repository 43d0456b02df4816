#include "engine/histogram.h"

#include <algorithm>

namespace ag::engine {

Histogram::Histogram(std::vector<double> bounds) {
  data_.bounds = std::move(bounds);
  data_.counts.assign(data_.bounds.size() + 1, 0);
}

void Histogram::observe(double value) {
  // First bucket whose upper bound is >= value (Prometheus buckets are `le`).
  const size_t i = static_cast<size_t>(
      std::lower_bound(data_.bounds.begin(), data_.bounds.end(), value) - data_.bounds.begin());
  std::lock_guard lock(mu_);
  ++data_.counts[i];
  data_.sum += value;
  ++data_.count;
}

HistogramSnapshot Histogram::snapshot() const {
  std::lock_guard lock(mu_);
  return data_;
}

std::vector<double> latency_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300};
}

std::vector<double> token_time_buckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5,
          0.75, 1, 2.5, 5, 10};
}

}  // namespace ag::engine
