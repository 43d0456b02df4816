#pragma once
// Machine probes that turn token rates into fractions of what the hardware allows:
// - memory read bandwidth (STREAM-like: every thread of the pool streams its slice of one large
//   array), the bound of decode, which must read every weight once per token;
// - the FMA peak (independent 8-lane FMA chains on every thread), the reference for prefill.
#include <cstdint>
#include <vector>

#include "core/result.h"
#include "core/thread_pool.h"

namespace ag::perf {

struct BandwidthProbe {
  uint64_t bytes = 0;          // array size read per pass
  int n_threads = 0;
  std::vector<double> pass_gbs;  // 1e9 B/s of each timed pass
  double median_gbs = 0;       // the figure the bound uses
  double max_gbs = 0;
};

// Allocates `bytes` (rounded down to 4 KiB), touches it from the threads that will read it, then
// times `passes` full reads. An error when the memory cannot be allocated.
Result<BandwidthProbe> probe_read_bandwidth(ThreadPool& pool, uint64_t bytes, int passes);

struct FmaProbe {
  int n_threads = 0;
  double gflops = 0;  // best of the passes: 2 flops per FMA lane
  bool simd = false;  // AVX2+FMA lanes (else scalar multiply-adds)
};

// Runs for roughly `seconds` in total.
FmaProbe probe_fma_peak(ThreadPool& pool, double seconds);

}  // namespace ag::perf
