#pragma once
// A persistent pool for the many small parallel ops of a forward pass.
//
// Decode runs hundreds of ops per token, each a few microseconds long, so dispatch must be cheap:
// workers spin on an atomic generation counter for a short while and only then sleep (futex via
// std::atomic::wait). The calling thread is worker 0 and does its share of every job.
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace ag {

class ThreadPool {
 public:
  // n_threads >= 1 counts the caller. n_threads == 1 runs everything inline.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(ith, nth) once on each of the nth = size() threads and returns when all are done.
  // Jobs must not be submitted concurrently from two threads.
  template <typename Fn>
  void run(Fn&& fn) {
    run_erased([](void* ctx, int ith, int nth) { (*static_cast<Fn*>(ctx))(ith, nth); }, &fn);
  }

  // Splits [0, n) into contiguous ranges, one per thread, aligned to `grain` items:
  // fn(begin, end) is called for each non-empty range.
  template <typename Fn>
  void parallel_for(int64_t n, int64_t grain, Fn&& fn) {
    run([&](int ith, int nth) {
      const int64_t n_chunks = (n + grain - 1) / grain;
      const int64_t per = (n_chunks + nth - 1) / nth;
      const int64_t begin = std::min<int64_t>(n, ith * per * grain);
      const int64_t end = std::min<int64_t>(n, (ith + 1) * per * grain);
      if (begin < end) fn(begin, end);
    });
  }

 private:
  using JobFn = void (*)(void* ctx, int ith, int nth);
  void run_erased(JobFn fn, void* ctx);
  void worker_loop(int ith);

  int n_threads_;
  std::vector<std::thread> workers_;
  JobFn job_fn_ = nullptr;
  void* job_ctx_ = nullptr;
  alignas(64) std::atomic<uint32_t> generation_{0};  // bumped once per job; workers wait on it
  alignas(64) std::atomic<int> n_pending_{0};        // workers still running the current job
  std::atomic<bool> stop_{false};
};

}  // namespace ag
