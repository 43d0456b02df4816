#include "kernels/matmul.h"

#include <algorithm>

#include "core/check.h"
#include "core/cpu_features.h"
#include "kernels/parallel.h"
#include "kernels/vec.h"
#include "tensor/type_traits.h"
#include "tensor/x86/float_tile_avx2.h"
#include "tensor/x86/legacy_avx2.h"

namespace ag::kernels {

namespace {

// Weight rows processed together against every activation row: small enough to stay in L1/L2
// while the activation rows stream past (prefill), large enough to amortise the loop overhead.
constexpr int64_t kRowBlock = 16;
static_assert(kRowBlock % kPackRows == 0, "thread ranges must start on packed row groups");
// Weights a thread claims at a time (kernels/row_ranges.h): a few dozen chunks per thread per
// decode matmul, so the last chunks are short and the claims cost nothing next to the stream.
constexpr int64_t kChunkBytes = 32 * 1024;
// Below this many activation rows, quantizing them on the calling thread beats a dispatch.
constexpr int64_t kParallelQuantizeRows = 8;

struct QuantizedInput {
  DType type;
  bool widened;         // F32 values rounded to `type` (the F16 / BF16 tiles' input), else `type`'s rows
  const uint8_t* data;  // [n_rows][row_bytes]
  size_t row_bytes;
};

// F32 weights take the input rows as they are and use the dot product of kernels/vec.h, which sums
// in ggml's order: F32 models are the ones compared token for token with llama.cpp, and there a
// different summation order shows up as F16 rounding flips in the attention inputs.
float vec_dot_f32_ggml_order(int64_t n, const void* row, const void* act) {
  return vec_kernels().dot_f32(static_cast<int>(n), static_cast<const float*>(row),
                               static_cast<const float*>(act));
}

// Weight rows x activation rows in one pass over the blocks (see legacy_avx2.h): same results as
// one vec_dot per output, fewer loads and unpacks. Tile shapes are per type and measured (single
// thread, Zen 5): with one activation row, interleaving several Q8_0 / Q5_0 weight rows block by
// block runs at 40-50% of the single-row speed while Q4_0 gains ~15% from 4 rows, so decode takes
// one row at a time for those two; with several activation rows, 4 x 4 tiles run 1.4-1.6x faster
// than one output at a time for all three. The F16 / BF16 tiles (tensor/x86/float_tile_avx2.h)
// take the activations widened to F32.
struct DotTile {
  void (*fn)(int64_t n, const void* w, size_t w_stride, int n_w, const void* a, size_t a_stride,
             int n_a, float* y, size_t y_stride, int max_rows, int max_cols) = nullptr;
  int rows_decode = 1;  // weight rows per pass when there is one activation row
  int rows = 1;         // weight rows per pass otherwise
  int cols = 1;         // activation rows per pass
  bool widened = false;  // takes the activations as F32 values rounded to the vec_dot_type
};

DotTile dot_tile_for(DType type) {
#if defined(AUTOGLM_HAVE_X86_KERNELS)
  if (cpu_has_avx2_fma()) {
    switch (type) {
      case DType::Q4_0: return {legacy_avx2::dot_tile_q4_0, 4, 4, 4};
      case DType::Q5_0: return {legacy_avx2::dot_tile_q5_0, 1, 4, 4};
      case DType::Q8_0: return {legacy_avx2::dot_tile_q8_0, 1, 4, 4};
      case DType::F16: return {float_tile::dot_tile_f16, 8, 4, 3, true};
      case DType::BF16: return {float_tile::dot_tile_bf16, 8, 4, 3, true};
      default: break;
    }
  }
#endif
  (void)type;
  return {};
}

}  // namespace

void get_row(const WeightView& w, int64_t row, float* dst) {
  AG_CHECK(row >= 0 && row < w.n_out, "row %lld of %lld", static_cast<long long>(row),
           static_cast<long long>(w.n_out));
  type_traits(w.type).to_float(w.data + static_cast<size_t>(row) * w.row_bytes, dst, w.n_in);
}

void matmul(ThreadPool& pool, MatmulScratch& scratch, const float* x, int64_t n_rows, int64_t n_in,
            std::span<const MatmulJob> jobs) {
  if (n_rows == 0 || jobs.empty()) return;

  // Quantize the input once per distinct vec_dot_type among the jobs (usually one).
  QuantizedInput inputs[4];
  int n_inputs = 0;
  constexpr size_t kMaxJobs = 8;
  AG_CHECK(jobs.size() <= kMaxJobs, "%zu matmul jobs", jobs.size());
  int input_of_job[kMaxJobs] = {};
  for (size_t j = 0; j < jobs.size(); ++j) {
    AG_CHECK(jobs[j].w.n_in == n_in, "matmul job %zu has n_in %lld, input has %lld", j,
             static_cast<long long>(jobs[j].w.n_in), static_cast<long long>(n_in));
    const DType vdt = type_traits(jobs[j].w.type).vec_dot_type;
    int found = -1;
    if (jobs[j].w.type == DType::F32) {
      for (int i = 0; i < n_inputs; ++i)
        if (inputs[i].data == reinterpret_cast<const uint8_t*>(x)) found = i;
      if (found < 0) {
        AG_CHECK(n_inputs < 4, "too many activation types");
        inputs[n_inputs] = {DType::F32, false, reinterpret_cast<const uint8_t*>(x),
                            sizeof(float) * static_cast<size_t>(n_in)};
        found = n_inputs++;
      }
      input_of_job[j] = found;
      continue;
    }
    // F16 / BF16: the dot tiles and the packed kernels both take the widened rows.
    const bool widened = dot_tile_for(jobs[j].w.type).widened;
    for (int i = 0; i < n_inputs; ++i)
      if (inputs[i].type == vdt && inputs[i].widened == widened) found = i;
    if (found < 0) {
      AG_CHECK(n_inputs < 4, "too many activation types");
      const size_t rb = widened ? sizeof(float) * static_cast<size_t>(n_in) : row_bytes(vdt, static_cast<uint64_t>(n_in));
      auto& buf = widened ? scratch.widened_buffer(vdt) : scratch.buffer(vdt);
      if (buf.size() < rb * static_cast<size_t>(n_rows)) buf.resize(rb * static_cast<size_t>(n_rows));
      const auto from_float = type_traits(vdt).from_float;
      const auto to_float = type_traits(vdt).to_float;
      uint8_t* dst = buf.data();
      auto quantize_rows = [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          const float* src = x + r * n_in;
          if (!widened) {
            from_float(src, dst + static_cast<size_t>(r) * rb, n_in);
            continue;
          }
          // Through the type and back: exactly the values the type's vec_dot would multiply.
          auto* out = reinterpret_cast<float*>(dst + static_cast<size_t>(r) * rb);
          constexpr int64_t kChunk = 256;
          uint8_t narrow[kChunk * 2];
          for (int64_t i = 0; i < n_in; i += kChunk) {
            const int64_t m = std::min(kChunk, n_in - i);
            from_float(src + i, narrow, m);
            to_float(narrow, out + i, m);
          }
        }
      };
      if (n_rows >= kParallelQuantizeRows && worth_parallel(pool.size(), n_rows * n_in * 8)) {
        pool.parallel_for(n_rows, 1, quantize_rows);
      } else {
        quantize_rows(0, n_rows);
      }
      inputs[n_inputs] = {vdt, widened, dst, rb};
      found = n_inputs++;
    }
    input_of_job[j] = found;
  }

  int64_t total_rows = 0;
  for (const auto& job : jobs) total_rows += job.w.n_out;

  // Packed weights also need each Q8_0 activation block's scale and sum (tensor/packed.h).
  const ActBlockInfo* act_info = nullptr;
  const int64_t n_blocks = n_in / 32;
  for (size_t j = 0; j < jobs.size() && act_info == nullptr; ++j) {
    // (Q4_K takes Q8_K rows and F16 / BF16 widened rows: both carry what their kernels need.)
    const QuantizedInput& in = inputs[input_of_job[j]];
    if (jobs[j].w.packed == nullptr || in.widened || in.type != DType::Q8_0) continue;
    auto& info = scratch.act_info();
    if (info.size() < static_cast<size_t>(n_rows * n_blocks)) info.resize(static_cast<size_t>(n_rows * n_blocks));
    for (int64_t r = 0; r < n_rows; ++r)
      act_block_info(in.data + static_cast<size_t>(r) * in.row_bytes, n_in, info.data() + r * n_blocks);
    act_info = info.data();
  }

  // Threads take contiguous ranges of the concatenated weight rows of all jobs.
  auto compute = [&](int64_t begin, int64_t end) {
    int64_t job_start = 0;
    for (size_t j = 0; j < jobs.size(); ++j) {
      const MatmulJob& job = jobs[j];
      const int64_t lo = std::max(begin, job_start) - job_start;
      const int64_t hi = std::min(end, job_start + job.w.n_out) - job_start;
      job_start += job.w.n_out;
      if (lo >= hi) continue;
      const QuantizedInput& in = inputs[input_of_job[j]];
      if (job.w.packed != nullptr) {
        packed_matmul({job.w.type, job.w.packed, n_in, lo, hi, in.data, in.row_bytes, act_info,
                       static_cast<size_t>(n_blocks), static_cast<int>(n_rows), job.y,
                       static_cast<size_t>(job.y_stride)});
        continue;
      }
      if (const DotTile tile = dot_tile_for(job.w.type); tile.fn != nullptr) {
        const int max_rows = n_rows == 1 ? tile.rows_decode : tile.rows;
        for (int64_t o0 = lo; o0 < hi; o0 += kRowBlock) {
          const int64_t o1 = std::min(hi, o0 + kRowBlock);
          tile.fn(n_in, job.w.data + static_cast<size_t>(o0) * job.w.row_bytes, job.w.row_bytes,
                  static_cast<int>(o1 - o0), in.data, in.row_bytes, static_cast<int>(n_rows),
                  job.y + o0, static_cast<size_t>(job.y_stride), max_rows, tile.cols);
        }
        continue;
      }
      const auto vec_dot =
          job.w.type == DType::F32 ? vec_dot_f32_ggml_order : type_traits(job.w.type).vec_dot;
      for (int64_t o0 = lo; o0 < hi; o0 += kRowBlock) {
        const int64_t o1 = std::min(hi, o0 + kRowBlock);
        for (int64_t r = 0; r < n_rows; ++r) {
          const uint8_t* act = in.data + static_cast<size_t>(r) * in.row_bytes;
          float* y = job.y + r * job.y_stride;
          for (int64_t o = o0; o < o1; ++o)
            y[o] = vec_dot(n_in, job.w.data + static_cast<size_t>(o) * job.w.row_bytes, act);
        }
      }
    }
  };
  if (!worth_parallel(pool.size(), total_rows * n_rows * n_in)) {
    compute(0, total_rows);
    return;
  }
  // Each thread streams its own range in chunks of about kChunkBytes of weights, then helps with
  // the ends of the others' ranges.
  size_t weight_bytes = 0;
  for (const auto& job : jobs) weight_bytes += job.w.row_bytes * static_cast<size_t>(job.w.n_out);
  const int64_t n_units = (total_rows + kRowBlock - 1) / kRowBlock;
  const int64_t unit_bytes = std::max<int64_t>(1, static_cast<int64_t>(weight_bytes) / n_units);
  const int64_t chunk_units = std::max<int64_t>(1, kChunkBytes / unit_bytes);
  RowRanges& ranges = scratch.row_ranges();
  ranges.reset(n_units, pool.size());
  pool.run([&](int ith, int) {
    int64_t begin = 0, end = 0;
    while (ranges.next(ith, chunk_units, begin, end))
      compute(begin * kRowBlock, std::min(total_rows, end * kRowBlock));
  });
}

}  // namespace ag::kernels
