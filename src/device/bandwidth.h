#pragma once
// Memory read bandwidth, measured: decode speed on a CPU is bandwidth / bytes per token, so the
// planner needs this machine's figure, not a datasheet's.
#include <cstdint>

namespace ag::device {

struct BandwidthResult {
  double gbs = 0;         // median of the passes, 1e9 B/s
  uint64_t bytes = 0;     // array size read per pass
  int n_threads = 0;
  double seconds = 0;     // wall time of the whole measurement
};

// Reads a `bytes` array (default 512 MiB: well past any last-level cache) `passes` times with
// `n_threads` threads and keeps the median pass, as `autoglm bench --membw` does: on a shared
// machine the fastest of a few passes over-states what a decode of many tokens sees, and the
// planner's decode estimate is compared with bench's. Takes ~0.3-0.6 s.
BandwidthResult measure_read_bandwidth(int n_threads, uint64_t bytes = 512ull << 20, int passes = 7);

}  // namespace ag::device
