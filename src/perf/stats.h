#pragma once
// Summary of repeated measurements: llama-bench style median with the spread (min / max).
#include <span>

namespace ag::perf {

struct Summary {
  double median = 0;
  double min = 0;
  double max = 0;
  int n = 0;
};

// Median (mean of the middle two for an even count), min and max; all zero for no samples.
Summary summarize(std::span<const double> samples);

}  // namespace ag::perf
