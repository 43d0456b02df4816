#pragma once
// The batch sweep as a standalone SVG (written by hand, no library): mean latency per token and
// aggregate throughput against batch size, two y axes (latency left, throughput right), batch
// sizes evenly spaced on the x axis.
#include <string>
#include <vector>

#include "core/result.h"

namespace ag::perf {

struct SweepPlotPoint {
  int batch = 0;
  double latency_ms = 0;  // mean latency per token
  double tok_per_s = 0;   // aggregate
};

// The SVG document; `title` is escaped. Needs at least one point.
std::string sweep_svg(const std::vector<SweepPlotPoint>& points, const std::string& title);

// Writes sweep_svg() to `path`; errors name the file.
Status write_sweep_svg(const std::string& path, const std::vector<SweepPlotPoint>& points,
                       const std::string& title);

}  // namespace ag::perf
