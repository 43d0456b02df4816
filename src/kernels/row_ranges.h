#pragma once
// How the threads of one matmul share its weight rows: each thread owns one contiguous range and
// takes it front to back in claims that shrink to `chunk`; a thread whose range is empty steals
// chunks from the back of the others'.
//
// Why: decode is a stream of weights from memory, and each thread reading one long sequential run
// is what the hardware prefetcher follows best (ranges claimed from a shared counter in small
// pieces measured slower). But a static half each leaves one thread idle whenever the other is
// slower — on this shared VM the second vCPU was 8-14% slower per share (timed with rdtsc), so
// the caller waited 8% of every decode step. Stealing from the back keeps both owners' streams
// sequential and only splits the last few chunks.
//
// Which thread computes a row never changes its value (matmul.h), so neither do results.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>

#include "core/check.h"

namespace ag::kernels {

class RowRanges {
 public:
  // Splits n_units into n_threads contiguous ranges of near-equal size. Reuses its storage.
  void reset(int64_t n_units, int n_threads) {
    AG_CHECK(n_units >= 0 && n_units < (int64_t{1} << 32), "%lld row units",
             static_cast<long long>(n_units));
    if (n_threads > capacity_) {
      ranges_ = std::make_unique<Range[]>(static_cast<size_t>(n_threads));
      capacity_ = n_threads;
    }
    n_threads_ = n_threads;
    for (int i = 0; i < n_threads; ++i) {
      const int64_t lo = n_units * i / n_threads, hi = n_units * (i + 1) / n_threads;
      ranges_[static_cast<size_t>(i)].bounds.store(pack(lo, hi), std::memory_order_relaxed);
    }
  }

  // The next claim of thread ith: from the front of its own range while any is left (a quarter of
  // what is left, at least `chunk` units), then `chunk` units from the back of another thread's.
  // False when every range is empty.
  bool next(int ith, int64_t chunk, int64_t& begin, int64_t& end) {
    if (take(ith, chunk, /*front=*/true, begin, end)) return true;
    for (int k = 1; k < n_threads_; ++k)
      if (take((ith + k) % n_threads_, chunk, /*front=*/false, begin, end)) return true;
    return false;
  }

 private:
  // [lo, hi) in one word so an owner's claim and a thief's cannot both take the same unit.
  struct alignas(64) Range {
    std::atomic<uint64_t> bounds{0};
  };
  static uint64_t pack(int64_t lo, int64_t hi) {
    return (static_cast<uint64_t>(lo) << 32) | static_cast<uint64_t>(hi);
  }

  bool take(int owner, int64_t chunk, bool front, int64_t& begin, int64_t& end) {
    std::atomic<uint64_t>& b = ranges_[static_cast<size_t>(owner)].bounds;
    uint64_t cur = b.load(std::memory_order_relaxed);
    for (;;) {
      const auto lo = static_cast<int64_t>(cur >> 32), hi = static_cast<int64_t>(cur & 0xffffffffu);
      if (lo >= hi) return false;
      // An owner takes a quarter of what is left of its range (at least `chunk`), a thief one
      // chunk. Each claim is a locked instruction, which waits for every load in flight: a stall
      // of a memory access in the middle of the stream, and the claims were 5% of a decode
      // step's profile. Quarters make a few claims per range instead of dozens while the tail a
      // thief can take stays chunk-sized. bench/decode_bench, in-process A/B with alternating order,
      // against an A/A run: +2.5-3.5% GB/s for Q4_0 layers, +4-5.5% Q8_0, +1.5% Q6_K output.
      const int64_t n =
          std::min(hi - lo, front ? std::max(chunk, (hi - lo) / kOwnerShare) : chunk);
      const uint64_t want = front ? pack(lo + n, hi) : pack(lo, hi - n);
      // Relaxed: a claim only decides who computes which rows; the weights are read-only and the
      // outputs are published by the pool's completion barrier.
      if (b.compare_exchange_weak(cur, want, std::memory_order_relaxed)) {
        begin = front ? lo : hi - n;
        end = front ? lo + n : hi;
        return true;
      }
    }
  }


  static constexpr int64_t kOwnerShare = 4;

  std::unique_ptr<Range[]> ranges_;
  int capacity_ = 0;
  int n_threads_ = 0;
};

}  // namespace ag::kernels
