#pragma once
// Memory read bandwidth, measured: decode speed on a CPU is bandwidth / bytes per token, so the
// planner needs this machine's figure, not a datasheet's.
#include <cstdint>

namespace ag::device {

struct BandwidthResult {
  double gbs = 0;         // best of the passes, 1e9 B/s
  uint64_t bytes = 0;     // array size read per pass
  int n_threads = 0;
  double seconds = 0;     // wall time of the whole measurement
};

// Reads a `bytes` array (default 256 MiB: well past any last-level cache) `passes` times with
// `n_threads` threads, keeping the fastest pass. Takes ~0.1-0.3 s on a server.
BandwidthResult measure_read_bandwidth(int n_threads, uint64_t bytes = 256ull << 20, int passes = 3);

}  // namespace ag::device
