// vec_dot throughput per weight type (every computable type), fast kernels against the scalar references, in GB/s of
// weight bytes read (the unit that decode speed is limited by). One benchmark multiplies an
// activation row, quantized once to the type's vec_dot_type, by every row of a ~1 MiB weight
// matrix: the matrix stays in L2, so this measures the kernel, not DRAM.
//   tensor_bench --benchmark_filter='q4_0'    one type
//   AUTOGLM_FORCE_SCALAR=1 tensor_bench       "fast" falls back to the reference (sanity check)
// The prefill cases (dot_tiles/...) run the quantized matmul of a 128-row prompt on one thread as
// kernels/matmul.cpp does (16 weight rows at a time against all activation rows, 4 x 4 tiles), on
// each instruction set this CPU has, for the Qwen2.5-0.5B shapes (n_in x n_out): the A/B of a tile
// change within one binary, in multiply-adds per second (items) and ms per matmul.
//   tensor_bench --benchmark_filter=dot_tiles --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// The packed cases (packed/TYPE/ISA/ROWS) run the repacked kernels (tensor/packed.h) on one thread
// over a 896 x 1024 matrix (K-quants: 2048 x 512) (~0.5-1 MiB: in L2, so the kernel's compute ceiling, not DRAM) against 1
// activation row (decode: GB/s of weight bytes) or 128 (prefill: multiply-adds per second).
//   tensor_bench --benchmark_filter=packed/q4_0 --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// The float_tiles cases run the F16 / BF16 tiles (tensor/x86/float_tile_avx2.h) on GGUF rows, in L2:
// decode with 1, 4 or 8 rows per pass, prefill 4 x 3.
//   tensor_bench --benchmark_filter=float_tiles
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "tensor/dtype.h"
#include "tensor/packed.h"
#include "tensor/type_traits.h"
#include "tensor/x86/float_tile_avx2.h"
#include "tensor/x86/legacy_avx2.h"

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

#if defined(AUTOGLM_HAVE_X86_KERNELS)
constexpr int64_t kPrefillRows = 128;  // activation rows: a 128-token prompt
constexpr int64_t kRowBlock = 16;      // weight rows per task, as kernels/matmul.cpp

void bm_dot_tiles(benchmark::State& state, ag::DType type, ag::legacy_avx2::TileIsa isa,
                  int64_t n_in, int64_t n_out) {
  const uint64_t wb = ag::row_bytes(type, static_cast<uint64_t>(n_in));
  const uint64_t ab = ag::row_bytes(ag::DType::Q8_0, static_cast<uint64_t>(n_in));
  std::vector<uint8_t> weights(static_cast<size_t>(n_out) * wb);  // [n_out, wb]
  const auto w = random_floats(n_out * n_in, 1);
  ag::quantize_weights(type, w.data(), weights.data(), n_out, n_in, nullptr);
  std::vector<uint8_t> act(static_cast<size_t>(kPrefillRows) * ab);  // [kPrefillRows, ab]
  const auto a = random_floats(kPrefillRows * n_in, 2);
  for (int64_t r = 0; r < kPrefillRows; ++r)
    ag::type_traits(ag::DType::Q8_0).from_float(a.data() + r * n_in, act.data() + static_cast<size_t>(r) * ab, n_in);
  std::vector<float> y(static_cast<size_t>(kPrefillRows * n_out));  // [kPrefillRows, n_out]
  for (auto _ : state) {
    for (int64_t o0 = 0; o0 < n_out; o0 += kRowBlock) {
      const int n_w = static_cast<int>(std::min(kRowBlock, n_out - o0));
      ag::legacy_avx2::dot_tile_isa(type, isa, n_in, weights.data() + static_cast<size_t>(o0) * wb, wb,
                                    n_w, act.data(), ab, static_cast<int>(kPrefillRows),
                                    y.data() + o0, static_cast<size_t>(n_out), 4, 4);
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kPrefillRows * n_out * n_in);
}
#endif

#if defined(AUTOGLM_HAVE_X86_KERNELS)
// F16 / BF16 weights (tensor/x86/float_tile_avx2.h), 896 x 1024 in L2, one thread, as matmul runs
// them: 16 weight rows at a time against 1 activation row (decode, tiles of max_rows x 1) or 128
// (prefill, 4 x 3 tiles).
void bm_float_tiles(benchmark::State& state, ag::DType type, int n_a, int max_rows) {
  constexpr int64_t kIn = 896, kOut = 1024;
  const uint64_t wb = ag::row_bytes(type, kIn);
  std::vector<uint8_t> weights(static_cast<size_t>(kOut) * wb);  // [kOut, wb]
  const auto w = random_floats(kOut * kIn, 1);
  ag::quantize_weights(type, w.data(), weights.data(), kOut, kIn, nullptr);
  auto a = random_floats(n_a * kIn, 2);  // [n_a, kIn]: any floats (rounding does not change speed)
  std::vector<float> y(static_cast<size_t>(n_a * kOut));  // [n_a, kOut]
  const auto tile = type == ag::DType::F16 ? ag::float_tile::dot_tile_f16 : ag::float_tile::dot_tile_bf16;
  for (auto _ : state) {
    for (int64_t o0 = 0; o0 < kOut; o0 += kRowBlock)
      tile(kIn, weights.data() + static_cast<size_t>(o0) * wb, wb, static_cast<int>(kRowBlock), a.data(),
           sizeof(float) * kIn, n_a, y.data() + o0, static_cast<size_t>(kOut), n_a == 1 ? max_rows : 4, 3);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * kOut * static_cast<int64_t>(wb));
  state.SetItemsProcessed(state.iterations() * n_a * kOut * kIn);
}
#endif

void bm_packed(benchmark::State& state, ag::DType type, ag::PackedIsa isa, int n_a) {
  // The K-quants take Q8_K activations and whole 256-column blocks (2048 x 512: also ~1 MiB).
  const bool k_quant = ag::type_traits(type).vec_dot_type == ag::DType::Q8_K;
  const int64_t kIn = k_quant ? 2048 : 896, kOut = k_quant ? 512 : 1024;
  const ag::DType act_type = k_quant ? ag::DType::Q8_K : ag::DType::Q8_0;
  const uint64_t wb = ag::row_bytes(type, kIn), ab = ag::row_bytes(act_type, kIn);
  std::vector<uint8_t> weights(static_cast<size_t>(kOut) * wb);  // [kOut, wb] GGUF rows
  const auto w = random_floats(kOut * kIn, 1);
  ag::quantize_weights(type, w.data(), weights.data(), kOut, kIn, nullptr);
  std::vector<uint8_t> packed(ag::packed_bytes(type, kIn, kOut));
  ag::pack_groups(type, weights.data(), wb, kIn, kOut, 0, kOut / ag::kPackRows, packed.data());
  std::vector<uint8_t> act(static_cast<size_t>(n_a) * ab);  // [n_a, ab]
  std::vector<ag::ActBlockInfo> info(static_cast<size_t>(n_a * kIn / 32));
  const auto a = random_floats(n_a * kIn, 2);
  for (int r = 0; r < n_a; ++r) {
    uint8_t* row = act.data() + static_cast<size_t>(r) * ab;
    ag::type_traits(act_type).from_float(a.data() + r * kIn, row, kIn);
    if (!k_quant) ag::act_block_info(row, kIn, info.data() + static_cast<size_t>(r * kIn / 32));
  }
  std::vector<float> y(static_cast<size_t>(n_a * kOut));  // [n_a, kOut]
  const ag::PackedMatmulArgs args{type, packed.data(), kIn, 0, kOut, act.data(), ab, info.data(),
                                  static_cast<size_t>(kIn / 32), n_a, y.data(), static_cast<size_t>(kOut)};
  for (auto _ : state) {
    ag::packed_matmul_on(isa, args);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(packed.size()));
  state.SetItemsProcessed(state.iterations() * n_a * kOut * kIn);
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
#if defined(AUTOGLM_HAVE_X86_KERNELS)
  if (ag::cpu_has_avx2_fma()) {
    namespace x86 = ag::legacy_avx2;
    const std::pair<int64_t, int64_t> shapes[] = {{896, 896}, {896, 128}, {896, 4864}, {4864, 896}};
    for (ag::DType t : {ag::DType::Q4_0, ag::DType::Q8_0}) {
      for (x86::TileIsa isa : {x86::TileIsa::kAvx2, x86::TileIsa::kAvxVnni, x86::TileIsa::kAvx512Vnni}) {
        if (!x86::dot_tile_isa_available(isa)) continue;
        for (const auto& [n_in, n_out] : shapes) {
          const std::string name = "dot_tiles/" + std::string(ag::dtype_name(t)) + "/" +
                                   x86::tile_isa_name(isa) + "/" + std::to_string(n_in) + "x" +
                                   std::to_string(n_out);
          benchmark::RegisterBenchmark(name.c_str(), bm_dot_tiles, t, isa, n_in, n_out)
              ->Unit(benchmark::kMillisecond);
        }
      }
    }
  }
#endif
#if defined(AUTOGLM_HAVE_X86_KERNELS)
  if (ag::cpu_has_avx2_fma()) {
    for (ag::DType t : {ag::DType::F16, ag::DType::BF16}) {
      for (const auto& [n_a, rows] : {std::pair{1, 1}, std::pair{1, 4}, std::pair{1, 8}, std::pair{128, 4}}) {
        const std::string name = "float_tiles/" + std::string(ag::dtype_name(t)) + "/" + std::to_string(n_a) +
                                 "/rows:" + std::to_string(rows);
        benchmark::RegisterBenchmark(name.c_str(), bm_float_tiles, t, n_a, rows)->Unit(benchmark::kMicrosecond);
      }
    }
  }
#endif
  for (ag::DType t : {ag::DType::Q4_0, ag::DType::Q5_0, ag::DType::Q8_0, ag::DType::Q4_K, ag::DType::Q5_K,
                      ag::DType::Q6_K}) {
    for (ag::PackedIsa isa : {ag::PackedIsa::kAvx2, ag::PackedIsa::kAvxVnni, ag::PackedIsa::kAvx512Vnni}) {
      if (!ag::packed_kernel_available(isa, t)) continue;
      for (int n_a : {1, 128}) {
        const std::string name = "packed/" + std::string(ag::dtype_name(t)) + "/" + ag::packed_isa_name(isa) + "/" +
                                 std::to_string(n_a);
        benchmark::RegisterBenchmark(name.c_str(), bm_packed, t, isa, n_a)->Unit(benchmark::kMicrosecond);
      }
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
