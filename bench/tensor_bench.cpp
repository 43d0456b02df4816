// vec_dot throughput per weight type (every computable type), fast kernels against the scalar references, in GB/s of
// weight bytes read (the unit that decode speed is limited by). One benchmark multiplies an
// activation row, quantized once to the type's vec_dot_type, by every row of a ~1 MiB weight
// matrix: the matrix stays in L2, so this measures the kernel, not DRAM.
//   tensor_bench --benchmark_filter='q4_0'    one type
//   AUTOGLM_FORCE_SCALAR=1 tensor_bench       "fast" falls back to the reference (sanity check)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/dtype.h"
#include "tensor/type_traits.h"

namespace {

constexpr int64_t kRowLength = 4096;        // elements per row: a typical hidden size
constexpr uint64_t kMatrixBytes = 1u << 20;  // weight bytes per benchmark iteration

// Deterministic normal-ish values in [-1, 1] (sum of uniforms): data values do not change the
// speed of these kernels, only their layout does.
std::vector<float> random_floats(int64_t n, uint32_t seed) {
  std::vector<float> x(static_cast<size_t>(n));
  uint32_t s = seed;
  const auto next = [&s] {
    s = s * 1664525u + 1013904223u;
    return static_cast<float>(s >> 8) / 16777216.0f;
  };
  for (auto& v : x) v = (next() + next() + next() - 1.5f) / 1.5f;
  return x;
}

void bm_vec_dot(benchmark::State& state, ag::DType type, bool fast) {
  const ag::TypeTraits& k = fast ? ag::type_traits(type) : ag::type_traits_reference(type);
  const uint64_t row_bytes = ag::row_bytes(type, kRowLength);
  const int64_t n_rows = static_cast<int64_t>(std::max<uint64_t>(1, kMatrixBytes / row_bytes));

  std::vector<uint8_t> weights(static_cast<size_t>(n_rows) * row_bytes);  // [n_rows, row_bytes]
  const auto w = random_floats(n_rows * kRowLength, 1);
  ag::quantize_weights(type, w.data(), weights.data(), n_rows, kRowLength, nullptr);
  std::vector<uint8_t> act(ag::row_bytes(k.vec_dot_type, kRowLength));  // one activation row
  const auto a = random_floats(kRowLength, 2);
  ag::type_traits(k.vec_dot_type).from_float(a.data(), act.data(), kRowLength);

  for (auto _ : state) {
    float sum = 0;
    for (int64_t r = 0; r < n_rows; ++r)
      sum += k.vec_dot(kRowLength, weights.data() + static_cast<size_t>(r) * row_bytes, act.data());
    benchmark::DoNotOptimize(sum);
  }
  state.SetBytesProcessed(state.iterations() * n_rows * static_cast<int64_t>(row_bytes));
  state.counters["bits/weight"] = 8.0 * static_cast<double>(row_bytes) / kRowLength;
}

}  // namespace

int main(int argc, char** argv) {
  // Every weight type the project computes with (the K-quants included), in GGML id order.
  for (uint32_t id = 0; id < 64; ++id) {
    const auto info = ag::dtype_info(id);
    if (!info || !info->computable || !ag::has_type_traits(info->type)) continue;
    const ag::DType t = info->type;
    for (bool fast : {true, false}) {
      const std::string name = "vec_dot/" + std::string(ag::dtype_name(t)) + (fast ? "/fast" : "/reference");
      benchmark::RegisterBenchmark(name.c_str(), bm_vec_dot, t, fast);
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
