#pragma once
// When an op is worth a thread dispatch. Waking the pool costs microseconds on an idle machine and
// up to a scheduler time slice on a busy one, so ops smaller than min_parallel_work() multiply-adds
// (tens of microseconds of one core) run on the calling thread. Which thread computes an element
// never changes its value, so this choice cannot change results.
#include <atomic>
#include <cstdint>

namespace ag::kernels {

constexpr int64_t kDefaultMinParallelWork = int64_t{1} << 17;

inline std::atomic<int64_t>& min_parallel_work_setting() {
  static std::atomic<int64_t> value{kDefaultMinParallelWork};
  return value;
}
inline int64_t min_parallel_work() { return min_parallel_work_setting().load(std::memory_order_relaxed); }
// Tests set 0 to force every op through the pool; benchmarks tune it.
inline void set_min_parallel_work(int64_t work) {
  min_parallel_work_setting().store(work, std::memory_order_relaxed);
}

inline bool worth_parallel(int n_threads, int64_t work) {
  return n_threads > 1 && work >= min_parallel_work();
}

}  // namespace ag::kernels
