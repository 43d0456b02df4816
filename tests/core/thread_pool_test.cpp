#include "core/thread_pool.h"

#include <gtest/gtest.h>

#include <sched.h>

#include <atomic>
#include <chrono>
#include <numeric>
#include <thread>
#include <vector>

TEST(ThreadPool, EveryThreadRunsEachJobOnce) {
  for (int n : {1, 2, 3, 5}) {
    ag::ThreadPool pool(n);
    for (int job = 0; job < 200; ++job) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      pool.run([&](int ith, int nth) {
        ASSERT_EQ(nth, n);
        hits[static_cast<size_t>(ith)].fetch_add(1);
      });
      for (auto& h : hits) ASSERT_EQ(h.load(), 1);
    }
  }
}

TEST(ThreadPool, ParallelForCoversRangeExactlyOnce) {
  ag::ThreadPool pool(3);
  for (int64_t n : {0, 1, 7, 64, 1000, 1001}) {
    std::vector<int> seen(static_cast<size_t>(n), 0);
    pool.parallel_for(n, 8, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) seen[static_cast<size_t>(i)] += 1;
    });
    for (int v : seen) ASSERT_EQ(v, 1);
  }
}

// More threads than cores (this machine has 2): workers are often not scheduled when a job starts,
// so the caller runs their shares. Every share must still run exactly once per job, and jobs that
// follow one another must never see a share of the previous one.
TEST(ThreadPool, OversubscribedSharesRunExactlyOnce) {
  ag::ThreadPool pool(8);
  std::vector<std::atomic<int>> hits(8);
  for (int job = 1; job <= 300; ++job) {
    std::atomic<int> in_job{0};
    pool.run([&](int ith, int nth) {
      ASSERT_EQ(nth, 8);
      in_job.fetch_add(1);
      hits[static_cast<size_t>(ith)].fetch_add(1);
      if (ith % 3 == 1) std::this_thread::yield();  // uneven shares
    });
    ASSERT_EQ(in_job.load(), 8);
    for (auto& h : hits) ASSERT_EQ(h.load(), job);
  }
}

TEST(ThreadPool, ParallelForSumsUnderOversubscription) {
  ag::ThreadPool pool(6);
  std::vector<int64_t> v(10007);
  std::iota(v.begin(), v.end(), 0);
  for (int rep = 0; rep < 100; ++rep) {
    std::atomic<int64_t> sum{0};
    pool.parallel_for(static_cast<int64_t>(v.size()), 16, [&](int64_t b, int64_t e) {
      int64_t s = 0;
      for (int64_t i = b; i < e; ++i) s += v[static_cast<size_t>(i)];
      sum.fetch_add(s);
    });
    ASSERT_EQ(sum.load(), int64_t{10007} * 10006 / 2);
  }
}

namespace {
int affinity_count() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return -1;  // 0: the calling thread
  return CPU_COUNT(&set);
}
}  // namespace

TEST(ThreadPool, PinnedThreadsRunOnOneCpuAndTheCallersMaskComesBack) {
  const int before = affinity_count();
  ASSERT_GT(before, 0);
  {
    ag::ThreadPool pool(2, /*pin_threads=*/true);
    // Workers pin themselves as they start: wait for both (the caller pins in the constructor).
    for (int i = 0; i < 2000 && pool.n_pinned() < 2; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    ASSERT_EQ(pool.n_pinned(), 2);
    std::atomic<int> unpinned{0};
    for (int job = 0; job < 50; ++job)
      pool.run([&](int, int) {
        if (affinity_count() != 1) unpinned.fetch_add(1);
      });
    EXPECT_EQ(unpinned.load(), 0);
    EXPECT_EQ(affinity_count(), 1) << "the caller is thread 0 of the pool";
  }
  EXPECT_EQ(affinity_count(), before) << "the caller's mask is restored with the pool";
  ag::ThreadPool unpinned_pool(2);
  EXPECT_EQ(unpinned_pool.n_pinned(), 0);
}
