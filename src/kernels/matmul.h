#pragma once
// y = x · Wᵀ for weights stored as GGUF matrices [n_out rows, n_in per row] of any computable type.
//
// As in ggml, the activation rows are quantized once to the weight type's vec_dot_type and every
// output element is one vec_dot(weight row, activation row). Threads split the weight rows into
// contiguous ranges; each output element is computed by exactly one call whose arithmetic depends
// only on the two rows, so results are bit-identical whatever the batch size or thread count (or
// which thread took which rows: kernels/row_ranges.h).
// Several matrices that read the same input (Q, K, V; gate, up) run in one job, sharing the
// quantized input and one thread dispatch. A matrix repacked at load (WeightView::packed) runs the
// packed kernel of tensor/packed.h instead, which has the same per-output property.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/row_ranges.h"
#include "tensor/dtype.h"
#include "tensor/packed.h"

namespace ag::kernels {

// A weight matrix in place in the mapped file.
struct WeightView {
  const uint8_t* data = nullptr;  // [n_out][row_bytes]
  DType type = DType::F32;
  int64_t n_in = 0;   // elements per row (GGUF ne[0])
  int64_t n_out = 0;  // rows (GGUF ne[1])
  size_t row_bytes = 0;
  // The same matrix repacked at load into 16-row interleaved blocks (tensor/packed.h), or null.
  // When set, matmul reads only this copy.
  const uint8_t* packed = nullptr;
};

struct MatmulJob {
  WeightView w;
  float* y = nullptr;    // [n_rows][y_stride]; row r, output o at y[r * y_stride + o]
  int64_t y_stride = 0;  // >= w.n_out
};

// Reusable buffers for quantized activations (grow-only, so steady-state steps never allocate).
class MatmulScratch {
 public:
  // Buffer for activations quantized to `type`.
  std::vector<uint8_t>& buffer(DType type) { return buffers_[static_cast<uint32_t>(type) % kSlots]; }
  // Buffer for activations rounded to `type` (F16 or BF16) and widened back to F32.
  std::vector<uint8_t>& widened_buffer(DType type) { return widened_[type == DType::BF16 ? 1 : 0]; }
  // Per-block scale and sum of the Q8_0 activations, for packed weights (tensor/packed.h).
  std::vector<ActBlockInfo>& act_info() { return act_info_; }
  // Which thread takes which weight rows (kernels/row_ranges.h).
  RowRanges& row_ranges() { return row_ranges_; }

 private:
  static constexpr uint32_t kSlots = 40;
  std::vector<uint8_t> buffers_[kSlots];
  std::vector<uint8_t> widened_[2];
  std::vector<ActBlockInfo> act_info_;
  RowRanges row_ranges_;
};

// x: [n_rows][n_in] floats (contiguous). Every job's weight has the same n_in. The weight types
// (and their vec_dot_types) must have kernels: callers check at load (has_type_traits).
void matmul(ThreadPool& pool, MatmulScratch& scratch, const float* x, int64_t n_rows, int64_t n_in,
            std::span<const MatmulJob> jobs);

// Dequantizes row `row` of `w` into dst [n_in] (embedding lookup).
void get_row(const WeightView& w, int64_t row, float* dst);

}  // namespace ag::kernels
