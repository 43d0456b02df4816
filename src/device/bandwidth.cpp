#include "device/bandwidth.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <vector>

#include "core/thread_pool.h"

namespace ag::device {

BandwidthResult measure_read_bandwidth(int n_threads, uint64_t bytes, int passes) {
  BandwidthResult r;
  r.n_threads = std::max(1, n_threads);
  const size_t n = static_cast<size_t>(bytes / sizeof(uint64_t));
  r.bytes = n * sizeof(uint64_t);
  if (n == 0) return r;
  const auto t_start = std::chrono::steady_clock::now();
  auto data = std::make_unique_for_overwrite<uint64_t[]>(n);
  ThreadPool pool(r.n_threads);
  // Touch every page from the thread that will read it (first-touch NUMA placement).
  pool.parallel_for(static_cast<int64_t>(n), 4096, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) data[static_cast<size_t>(i)] = static_cast<uint64_t>(i);
  });
  std::vector<uint64_t> sums(static_cast<size_t>(r.n_threads) * 8, 0);  // 64 B apart: no sharing
  std::vector<double> pass_gbs;
  for (int pass = 0; pass < std::max(1, passes); ++pass) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.run([&](int ith, int nth) {
      const size_t per = (n + static_cast<size_t>(nth) - 1) / static_cast<size_t>(nth);
      const size_t b = std::min(n, per * static_cast<size_t>(ith));
      const size_t e = std::min(n, b + per);
      // Four independent accumulators so the loop is bound by loads, not by an add chain.
      uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      size_t i = b;
      for (; i + 4 <= e; i += 4) {
        s0 += data[i];
        s1 += data[i + 1];
        s2 += data[i + 2];
        s3 += data[i + 3];
      }
      for (; i < e; ++i) s0 += data[i];
      sums[static_cast<size_t>(ith) * 8] += s0 + s1 + s2 + s3;
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s > 0) pass_gbs.push_back(static_cast<double>(r.bytes) / s / 1e9);
  }
  // Keep the sums observable so the reads cannot be optimised away.
  uint64_t total = 0;
  for (uint64_t s : sums) total += s;
  asm volatile("" : : "r"(total));
  if (!pass_gbs.empty()) {
    std::sort(pass_gbs.begin(), pass_gbs.end());
    r.gbs = pass_gbs[pass_gbs.size() / 2];
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
  return r;
}

}  // namespace ag::device
