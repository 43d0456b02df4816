#include "core/thread_pool.h"

#include <pthread.h>
#include <sched.h>

#include <cstring>

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

// The CPUs this process may run on, in increasing order (empty when the mask cannot be read).
std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  return cpus;
}

bool pin_current_thread(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
}
}  // namespace

ThreadPool::ThreadPool(int n_threads, bool pin_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
  next_share_.store(n_threads_, std::memory_order_relaxed);  // nothing to claim before a job
  if (pin_threads) {
    const std::vector<int> cpus = allowed_cpus();
    cpu_set_t mask;
    if (!cpus.empty() && pthread_getaffinity_np(pthread_self(), sizeof(mask), &mask) == 0) {
      caller_ = pthread_self();
      caller_mask_.resize(sizeof(mask));
      std::memcpy(caller_mask_.data(), &mask, sizeof(mask));
      for (int i = 0; i < n_threads_; ++i) pin_cpus_.push_back(cpus[static_cast<size_t>(i) % cpus.size()]);
      if (pin_current_thread(pin_cpus_[0])) n_pinned_.fetch_add(1, std::memory_order_acq_rel);
    }
  }
  workers_.reserve(static_cast<size_t>(n_threads_ - 1));
  for (int i = 1; i < n_threads_; ++i) {
    const int cpu = pin_cpus_.empty() ? -1 : pin_cpus_[static_cast<size_t>(i)];
    workers_.emplace_back([this, cpu] {
      if (cpu >= 0) {
        if (pin_current_thread(cpu)) n_pinned_.fetch_add(1, std::memory_order_acq_rel);
        n_pin_attempts_.fetch_add(1, std::memory_order_acq_rel);
        n_pin_attempts_.notify_one();
      }
      worker_loop();
    });
  }
  // A worker pins itself when it first runs, which on a busy machine can be after a short job has
  // finished without it (the caller takes every share it finds unclaimed): n_pinned() read right
  // after construction said 1 of 2 in 7 of 12 runs beside a build. So wait for every attempt.
  if (!pin_cpus_.empty()) {
    for (int seen = n_pin_attempts_.load(std::memory_order_acquire); seen < n_threads_ - 1;
         seen = n_pin_attempts_.load(std::memory_order_acquire))
      n_pin_attempts_.wait(seen, std::memory_order_acquire);
  }
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  for (auto& t : workers_) t.join();
  if (!caller_mask_.empty()) {
    cpu_set_t mask;
    std::memcpy(&mask, caller_mask_.data(), sizeof(mask));
    pthread_setaffinity_np(caller_, sizeof(mask), &mask);
  }
}

void ThreadPool::run_erased(JobFn fn, void* ctx) {
  if (n_threads_ == 1) {
    fn(ctx, 0, 1);
    return;
  }
  // Publish the job. A worker still looking at the previous job can only take part in this one by
  // claiming a share through next_share_, whose release store below orders the fields before it.
  job_fn_.store(fn, std::memory_order_relaxed);
  job_ctx_.store(ctx, std::memory_order_relaxed);
  n_done_.store(0, std::memory_order_relaxed);
  next_share_.store(1, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();
  fn(ctx, 0, n_threads_);
  int done = 1;
  // Shares no worker has claimed yet run here.
  for (int ith = next_share_.fetch_add(1, std::memory_order_acq_rel); ith < n_threads_;
       ith = next_share_.fetch_add(1, std::memory_order_acq_rel)) {
    fn(ctx, ith, n_threads_);
    ++done;
  }
  // Wait for the shares workers claimed: spin first (they usually finish within microseconds),
  // then sleep.
  const int claimed_by_workers = n_threads_ - done;
  for (int spin = 0;; ++spin) {
    const int finished = n_done_.load(std::memory_order_acquire);
    if (finished == claimed_by_workers) break;
    if (spin < kSpinIterations) {
      AG_CPU_RELAX();
    } else {
      n_done_.wait(finished, std::memory_order_acquire);
    }
  }
}

void ThreadPool::worker_loop() {
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
    // Claim shares until none is left. A share claimed here belongs to the job published last
    // (the caller resets next_share_ only after every claimed share of the previous job is done),
    // so fn and ctx are read after the claim.
    for (;;) {
      const int ith = next_share_.fetch_add(1, std::memory_order_acq_rel);
      if (ith >= n_threads_) break;
      job_fn_.load(std::memory_order_relaxed)(job_ctx_.load(std::memory_order_relaxed), ith,
                                              n_threads_);
      n_done_.fetch_add(1, std::memory_order_acq_rel);
      n_done_.notify_one();
    }
  }
}

}  // namespace ag
