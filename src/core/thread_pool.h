#pragma once
// A persistent pool for the many small parallel ops of a forward pass.
//
// Decode runs hundreds of ops per token, each a few microseconds long, so dispatch must be cheap:
// workers spin on an atomic generation counter for a short while and only then sleep (futex via
// std::atomic::wait). The calling thread is worker 0 and does its share of every job.
//
// A job's nth shares are claimed, not assigned: each waking worker claims the next unclaimed share,
// and the caller, once done with share 0, claims and runs whatever no worker has started. On a
// machine with more runnable threads than cores a worker may not be scheduled for a whole time
// slice (milliseconds); with fixed assignment every one of the hundreds of ops per token would wait
// for it (measured: 2 threads 6x slower than 1 under a load average of 10). With claiming, the op
// finishes at worst at single-thread speed. Which thread runs a share never changes what it
// computes, so results are unchanged.
#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace ag {

class ThreadPool {
 public:
  // n_threads >= 1 counts the caller. n_threads == 1 runs everything inline.
  // pin_threads: thread i (the caller is 0) is bound to the i-th CPU of the process's affinity
  // mask (wrapping around), so the scheduler never migrates a thread and its caches (--pin-threads,
  // like llama.cpp's --cpu-strict); the creating thread's own mask is restored when the pool is destroyed (that thread must outlive
  // the pool, as the thread that loads a model does).
  explicit ThreadPool(int n_threads, bool pin_threads = false);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }
  // Threads that were bound to one CPU (0 without pin_threads or where the OS refused). Final once
  // the constructor returns: with pin_threads it waits for every worker's attempt.
  int n_pinned() const { return n_pinned_.load(std::memory_order_acquire); }

  // Calls fn(ith, nth) once for each ith in 0..nth-1 (nth = size()) and returns when all are done.
  // Different ith may run on the same OS thread one after the other, so fn must not wait for
  // another ith (no barriers inside a job). Jobs must not be submitted concurrently from two
  // threads.
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
  void worker_loop();

  int n_threads_;
  std::vector<std::thread> workers_;
  // Atomic because a worker may read them while the caller publishes the next job (it then finds
  // no share to claim, or claims a share of the new job after the fields are written).
  std::atomic<JobFn> job_fn_{nullptr};
  std::atomic<void*> job_ctx_{nullptr};
  alignas(64) std::atomic<uint32_t> generation_{0};  // bumped once per job; workers wait on it
  alignas(64) std::atomic<int> next_share_{0};       // next unclaimed ith of the current job
  alignas(64) std::atomic<int> n_done_{0};           // shares of the current job finished
  std::atomic<bool> stop_{false};
  std::atomic<int> n_pinned_{0};
  std::atomic<int> n_pin_attempts_{0};  // workers that have tried to pin themselves
  std::vector<int> pin_cpus_;            // [n_threads] CPU of thread i; empty: not pinned
  std::vector<uint8_t> caller_mask_;     // the caller's affinity mask before pinning (cpu_set_t)
  pthread_t caller_{};                   // the thread that made the pool (thread 0)
};

}  // namespace ag
