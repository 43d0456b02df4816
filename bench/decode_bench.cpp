// The matmuls of decode alone, streaming from DRAM through the thread pool: kernels::matmul over
// the weight matrices of several transformer layers, one activation row, as a decode step runs
// them (Q+K+V in one call, then the output projection, gate+up in one call, then down). The
// layers together are far larger than the last-level cache, so every weight byte comes from
// memory, as in `autoglm bench`'s tg — without the serial work between matmuls (norms, RoPE,
// attention, SiLU), which that figure includes. Reported in GB/s of weight bytes and as a share of
// the bandwidth probe of `autoglm bench --membw` (perf/machine_probe.h): each timed pass follows
// one probe pass over as many bytes, because the host's bandwidth moves by tens of percent within
// seconds and only neighbouring measurements compare (pct_of_probe: median of the pairs' ratios).
//   decode_bench --benchmark_filter=threads:2
// Shapes are TinyLlama-1.1B's and Qwen2.5-0.5B's (n_embd, n_ff, n_embd_kv) with Q4_0 or Q8_0
// layers, repacked as a model repacks them at load where this CPU has the packed kernel, and
// TinyLlama's Q6_K output projection (n_embd -> n_vocab: the matrix a Q4_0 file from llama.cpp's
// quantizer keeps in Q6_K), which runs the K-quant dot product row by row.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/huge_pages.h"
#include "core/thread_pool.h"
#include "kernels/matmul.h"
#include "perf/machine_probe.h"
#include "tensor/packed.h"
#include "tensor/type_traits.h"

namespace {

// One kernels::matmul call: matrices (n_in x n_out) that read the same activation row.
struct CallSpec {
  ag::DType type;
  std::vector<std::pair<int64_t, int64_t>> matrices;  // (n_in, n_out)
};

struct Shape {
  int64_t n_embd, n_ff, n_embd_kv, n_vocab;
};
constexpr Shape kTinyLlama{2048, 5632, 256, 32000};
constexpr Shape kQwen05B{896, 4864, 128, 151936};

// A transformer layer's matmuls in decode order: Q+K+V, output projection, gate+up, down.
std::vector<CallSpec> layer_calls(const Shape& s, ag::DType type) {
  const int64_t e = s.n_embd, f = s.n_ff, kv = s.n_embd_kv;
  return {{type, {{e, e}, {e, kv}, {e, kv}}}, {type, {{e, e}}}, {type, {{e, f}, {e, f}}},
          {type, {{f, e}}}};
}
// The output projection alone.
std::vector<CallSpec> output_calls(const Shape& s, ag::DType type) {
  return {{type, {{s.n_embd, s.n_vocab}}}};
}

constexpr uint64_t kMinStreamBytes = 256ull << 20;  // well past any last-level cache

// The calls repeated until their weights reach kMinStreamBytes, in memory the way a loaded model
// holds them: one huge-page arena, each matrix on a cache line, repacked where the model would.
class DecodeMatmuls {
 public:
  explicit DecodeMatmuls(const std::vector<CallSpec>& calls) {
    uint64_t round_bytes = 0;
    for (const CallSpec& c : calls)
      for (const auto& [n_in, n_out] : c.matrices) round_bytes += stored_bytes(c.type, n_in, n_out) + 64;
    const uint64_t rounds = (kMinStreamBytes + round_bytes - 1) / round_bytes;
    auto arena = ag::map_huge_buffer(round_bytes * rounds);
    if (!arena) throw std::runtime_error(arena.error().message);
    arena_ = std::move(arena.value());
    uint8_t* at = arena_.get();
    int64_t widest = 0;
    for (uint64_t r = 0; r < rounds; ++r) {
      for (const CallSpec& c : calls) {
        Call call;
        for (const auto& [n_in, n_out] : c.matrices) {
          const ag::kernels::WeightView v = place_matrix(c.type, n_in, n_out, at);
          const uint64_t bytes = stored_bytes(c.type, n_in, n_out);
          at += (bytes + 63) / 64 * 64;
          total_bytes_ += bytes;
          outputs_.emplace_back(static_cast<size_t>(n_out));
          call.jobs.push_back({v, outputs_.back().data(), n_out});
          widest = std::max(widest, n_in);
        }
        call.n_in = c.matrices.front().first;
        calls_.push_back(std::move(call));
      }
    }
    x_.assign(static_cast<size_t>(widest), 0.5f);
  }

  // One pass over every call.
  void run(ag::ThreadPool& pool, ag::kernels::MatmulScratch& scratch) {
    for (const Call& c : calls_) ag::kernels::matmul(pool, scratch, x_.data(), 1, c.n_in, c.jobs);
  }

  uint64_t total_bytes() const { return total_bytes_; }

 private:
  struct Call {
    int64_t n_in = 0;
    std::vector<ag::kernels::MatmulJob> jobs;
  };

  static bool packs(ag::DType type) {
    return ag::packed_kernels_available(type);
  }
  static uint64_t stored_bytes(ag::DType type, int64_t n_in, int64_t n_out) {
    return packs(type) ? ag::packed_bytes(type, n_in, n_out)
                       : ag::row_bytes(type, static_cast<uint64_t>(n_in)) * static_cast<uint64_t>(n_out);
  }

  // Random values quantized once per shape (the values do not change the speed, only the bytes).
  ag::kernels::WeightView place_matrix(ag::DType type, int64_t n_in, int64_t n_out, uint8_t* at) {
    const size_t rb = ag::row_bytes(type, static_cast<uint64_t>(n_in));
    std::vector<uint8_t>& q = quantized_[{n_in, n_out}];
    if (q.empty()) {
      std::vector<float> w(static_cast<size_t>(n_in * n_out));
      uint32_t s = 1;
      for (auto& v : w) {
        s = s * 1664525u + 1013904223u;
        v = static_cast<float>(s >> 8) / 8388608.0f - 1.0f;
      }
      q.resize(rb * static_cast<size_t>(n_out));
      ag::quantize_weights(type, w.data(), q.data(), n_out, n_in, nullptr);
    }
    ag::kernels::WeightView v{nullptr, type, n_in, n_out, rb, nullptr};
    if (packs(type)) {
      ag::pack_groups(type, q.data(), rb, n_in, n_out, 0, n_out / ag::kPackRows, at);
      v.packed = at;
    } else {
      std::memcpy(at, q.data(), q.size());
      v.data = at;
    }
    return v;
  }

  std::shared_ptr<uint8_t> arena_;
  std::vector<Call> calls_;
  std::map<std::pair<int64_t, int64_t>, std::vector<uint8_t>> quantized_;
  std::vector<std::vector<float>> outputs_;  // one per matrix: [n_out]
  std::vector<float> x_;                     // the activation row
  uint64_t total_bytes_ = 0;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

void bm_decode_matmuls(benchmark::State& state, const std::vector<CallSpec>& calls) {
  DecodeMatmuls m(calls);
  ag::ThreadPool pool(static_cast<int>(state.range(0)));
  ag::kernels::MatmulScratch scratch;
  m.run(pool, scratch);  // warm: page faults, scratch growth
  const auto bytes = static_cast<double>(m.total_bytes());
  std::vector<double> probe_gbs, ratios;
  for (auto _ : state) {
    auto probe = ag::perf::probe_read_bandwidth(pool, m.total_bytes(), 1);
    if (!probe) {
      state.SkipWithError(probe.error().message.c_str());
      return;
    }
    // One untimed pass first: the first matmuls after a probe (which maps, fills and unmaps its
    // own array) ran at 60-65% of the probe against 78-96% for the next pass.
    m.run(pool, scratch);
    const auto t0 = std::chrono::steady_clock::now();
    m.run(pool, scratch);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    state.SetIterationTime(s);
    probe_gbs.push_back(probe->median_gbs);
    ratios.push_back(bytes / s / 1e9 / probe->median_gbs);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(m.total_bytes()));
  state.counters["MiB/pass"] = bytes / (1 << 20);
  state.counters["probe_GB/s"] = median(probe_gbs);
  state.counters["pct_of_probe"] = 100.0 * median(ratios);
}

void register_benchmark(const std::string& name, std::vector<CallSpec> calls) {
  benchmark::RegisterBenchmark(("decode_matmuls/" + name).c_str(),
                               [calls](benchmark::State& st) { bm_decode_matmuls(st, calls); })
      ->ArgName("threads")
      ->Arg(1)
      ->Arg(2)
      ->UseManualTime()
      ->Iterations(25)  // each with a probe pass: allocating and filling its array takes longest
      ->Unit(benchmark::kMillisecond);
}

}  // namespace

int main(int argc, char** argv) {
  for (ag::DType t : {ag::DType::Q4_0, ag::DType::Q8_0}) {
    const std::string type(ag::dtype_name(t));
    register_benchmark("tinyllama/layers/" + type, layer_calls(kTinyLlama, t));
    register_benchmark("qwen2.5-0.5b/layers/" + type, layer_calls(kQwen05B, t));
  }
  register_benchmark("tinyllama/output/q6_K", output_calls(kTinyLlama, ag::DType::Q6_K));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
