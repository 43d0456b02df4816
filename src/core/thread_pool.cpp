#include "core/thread_pool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define AG_CPU_RELAX() _mm_pause()
#else
#define AG_CPU_RELAX() ((void)0)
#endif

namespace ag {

namespace {
// About 20-50 µs of spinning on current x86 cores: long enough to bridge the gap between two ops
// of one forward pass, short enough not to burn a core while the server is idle.
constexpr int kSpinIterations = 1 << 14;
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
  workers_.reserve(static_cast<size_t>(n_threads_ - 1));
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::run_erased(JobFn fn, void* ctx) {
  if (n_threads_ == 1) {
    fn(ctx, 0, 1);
    return;
  }
  job_fn_ = fn;
  job_ctx_ = ctx;
  n_pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);  // publishes job_fn_/job_ctx_
  generation_.notify_all();
  fn(ctx, 0, n_threads_);
  // Wait for the others: spin first (they usually finish within microseconds), then sleep.
  for (int spin = 0;; ++spin) {
    int pending = n_pending_.load(std::memory_order_acquire);
    if (pending == 0) break;
    if (spin < kSpinIterations) {
      AG_CPU_RELAX();
    } else {
      n_pending_.wait(pending, std::memory_order_acquire);
    }
  }
}

void ThreadPool::worker_loop(int ith) {
  uint32_t seen = 0;
  for (;;) {
    uint32_t gen;
    for (int spin = 0;; ++spin) {
      gen = generation_.load(std::memory_order_acquire);
      if (gen != seen) break;
      if (spin < kSpinIterations) {
        AG_CPU_RELAX();
      } else {
        generation_.wait(seen, std::memory_order_acquire);
      }
    }
    seen = gen;
    if (stop_.load(std::memory_order_acquire)) return;
    job_fn_(job_ctx_, ith, n_threads_);
    if (n_pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) n_pending_.notify_one();
  }
}

}  // namespace ag
