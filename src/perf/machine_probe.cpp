#include "perf/machine_probe.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "core/cpu_features.h"
#include "core/huge_pages.h"
#include "perf/stats.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define AG_PERF_X86 1
#define AG_AVX2 __attribute__((target("avx2,fma")))
#endif

namespace ag::perf {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Sum of the 64-bit words of [p, p + n_bytes), n_bytes a multiple of 128: four independent
// accumulators so the loop waits on loads, not on an add chain.
uint64_t read_scalar(const uint8_t* p, size_t n_bytes) {
  const auto* w = reinterpret_cast<const uint64_t*>(p);
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (size_t i = 0; i < n_bytes / 8; i += 4) {
    s0 += w[i];
    s1 += w[i + 1];
    s2 += w[i + 2];
    s3 += w[i + 3];
  }
  return s0 + s1 + s2 + s3;
}

#if defined(AG_PERF_X86)
AG_AVX2 uint64_t read_avx2(const uint8_t* p, size_t n_bytes) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = 0; i < n_bytes; i += 128) {
    a0 = _mm256_xor_si256(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_xor_si256(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    a2 = _mm256_xor_si256(a2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    a3 = _mm256_xor_si256(a3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  const __m256i x = _mm256_xor_si256(_mm256_xor_si256(a0, a1), _mm256_xor_si256(a2, a3));
  return static_cast<uint64_t>(_mm256_extract_epi64(x, 0) ^ _mm256_extract_epi64(x, 3));
}

// 10 independent chains of 8-lane FMAs: enough in flight to cover a 4-5 cycle latency on two
// FMA pipes.
AG_AVX2 float fma_chains(int64_t iterations) {
  __m256 acc[10];
  for (int k = 0; k < 10; ++k) acc[k] = _mm256_set1_ps(0.001f * static_cast<float>(k));
  const __m256 a = _mm256_set1_ps(0.999999f);
  const __m256 b = _mm256_set1_ps(1e-7f);
  for (int64_t i = 0; i < iterations; ++i) {
    for (int k = 0; k < 10; ++k) acc[k] = _mm256_fmadd_ps(acc[k], a, b);
  }
  __m256 s = acc[0];
  for (int k = 1; k < 10; ++k) s = _mm256_add_ps(s, acc[k]);
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0] + out[7];
}
#endif

// The same chains on scalars, for CPUs without AVX2+FMA.
float fma_chains_scalar(int64_t iterations) {
  float acc[10];
  for (int k = 0; k < 10; ++k) acc[k] = 0.001f * static_cast<float>(k);
  for (int64_t i = 0; i < iterations; ++i)
    for (int k = 0; k < 10; ++k) acc[k] = acc[k] * 0.999999f + 1e-7f;
  float s = 0;
  for (float v : acc) s += v;
  return s;
}

bool simd_probes() {
#if defined(AG_PERF_X86)
  return cpu_has_avx2_fma();
#else
  return false;
#endif
}

float run_chains(bool simd, int64_t iterations) {
#if defined(AG_PERF_X86)
  if (simd) return fma_chains(iterations);
#endif
  (void)simd;
  return fma_chains_scalar(iterations);
}

uint64_t read_range(const uint8_t* p, size_t n_bytes) {
#if defined(AG_PERF_X86)
  if (simd_probes()) return read_avx2(p, n_bytes);
#endif
  return read_scalar(p, n_bytes);
}

}  // namespace

Result<BandwidthProbe> probe_read_bandwidth(ThreadPool& pool, uint64_t bytes, int passes) {
  constexpr uint64_t kPage = 4096;
  BandwidthProbe r;
  r.n_threads = pool.size();
  r.bytes = bytes / kPage * kPage;
  if (r.bytes == 0) return error("bandwidth probe: {} bytes is less than one page", bytes);
  if (passes < 1) return error("bandwidth probe: {} passes", passes);
  // In huge pages where the kernel gives them, as the repacked weights (core/huge_pages.h): the
  // probe measures the best case of a streaming read, not the page walks of 4 KiB pages.
  auto data = map_huge_buffer(static_cast<size_t>(r.bytes));
  if (!data) return error("bandwidth probe: cannot allocate {} MiB: {}", r.bytes >> 20, data.error().message);
  uint8_t* base = data->get();
  const int64_t n_pages = static_cast<int64_t>(r.bytes / kPage);
  // Each thread reads the same contiguous page range it touched first (NUMA first-touch).
  pool.parallel_for(n_pages, 1, [&](int64_t b, int64_t e) {
    std::memset(base + static_cast<size_t>(b) * kPage, static_cast<int>(b & 0x7f),
                static_cast<size_t>(e - b) * kPage);
  });
  std::atomic<uint64_t> sink{0};  // one update per share: keeps the reads observable
  for (int pass = 0; pass < passes; ++pass) {
    const auto t0 = Clock::now();
    pool.parallel_for(n_pages, 1, [&](int64_t b, int64_t e) {
      const uint64_t s = read_range(base + static_cast<size_t>(b) * kPage,
                                    static_cast<size_t>(e - b) * kPage);
      sink.fetch_xor(s, std::memory_order_relaxed);
    });
    const double s = seconds_since(t0);
    r.pass_gbs.push_back(s > 0 ? static_cast<double>(r.bytes) / s / 1e9 : 0.0);
  }
  const uint64_t total = sink.load();
  asm volatile("" : : "r"(total));  // the reads must happen
  const Summary sum = summarize(r.pass_gbs);
  r.median_gbs = sum.median;
  r.max_gbs = sum.max;
  return r;
}

FmaProbe probe_fma_peak(ThreadPool& pool, double seconds) {
  FmaProbe r;
  r.n_threads = pool.size();
  r.simd = simd_probes();
  // Calibrate the iteration count on one thread so each pass takes about seconds / 4.
  int64_t iterations = 1 << 16;
  for (;;) {
    const auto t0 = Clock::now();
    volatile float sink = run_chains(r.simd, iterations);
    (void)sink;
    const double s = seconds_since(t0);
    if (s > seconds / 16 || iterations > (int64_t{1} << 40)) {
      iterations = static_cast<int64_t>(static_cast<double>(iterations) * (seconds / 4) /
                                        std::max(s, 1e-9));
      break;
    }
    iterations *= 4;
  }
  iterations = std::max<int64_t>(iterations, 1 << 12);
  std::vector<float> sinks(static_cast<size_t>(pool.size()) * 16, 0.0f);
  for (int pass = 0; pass < 3; ++pass) {
    const auto t0 = Clock::now();
    pool.run([&](int ith, int) { sinks[static_cast<size_t>(ith) * 16] += run_chains(r.simd, iterations); });
    const double s = seconds_since(t0);
    const double flops_per_iteration = r.simd ? 10 * 8 * 2 : 10 * 2;
    const double flops =
        static_cast<double>(iterations) * flops_per_iteration * static_cast<double>(pool.size());
    if (s > 0) r.gflops = std::max(r.gflops, flops / s / 1e9);
  }
  float total = 0;
  for (float s : sinks) total += s;
  asm volatile("" : : "x"(total));
  return r;
}

}  // namespace ag::perf
