#pragma once
// Causal multi-head attention over a paged KV cache, one query row at a time.
//
// For a row of sequence s at position p and query head h (KV head h / (n_head / n_head_kv)):
//   score[t] = scale * q_h · K[t]   for t in 0..p, K[t] read through s's block table
//   out_h    = sum_t softmax(score)[t] * V[t]
// Arithmetic follows llama.cpp's CPU attention (the non-flash path) so F32 models agree with it
// closely: with an F16 cache, q is rounded to F16 before q·K and the softmax weights are rounded to
// F16 before they weight V, as ggml's mul_mat does when it converts its right operand to the F16
// cache's vec_dot_type; sums run in ggml's lane order (see vec.h). Every sum is over one row's own
// positions in a fixed order, so a row's output does not depend on the other rows or on the thread
// count.
#include <cstdint>
#include <span>
#include <vector>

#include "core/thread_pool.h"
#include "kv/kv_cache.h"

namespace ag::kernels {

struct AttentionArgs {
  const float* q = nullptr;  // [n_rows][n_head * head_dim], rope applied
  float* out = nullptr;      // [n_rows][n_head * head_dim]
  int64_t n_rows = 0;
  const int32_t* positions = nullptr;  // [n_rows]
  const int32_t* seq_index = nullptr;  // [n_rows] into block_tables
  const std::vector<std::vector<int32_t>>* block_tables = nullptr;  // [n_seqs][n_blocks]
  int layer = 0;
  int n_head = 0;
  float scale = 1.0f;  // usually 1 / sqrt(head_dim)
};

// Per-thread buffers, grow-only.
struct AttentionThreadScratch {
  std::vector<float> scores;      // [group][n_pos] scores, then exp, then weights
  std::vector<uint16_t> q_f16;    // [group][head_dim] q rounded to F16 (F16 cache)
  std::vector<uint16_t> p_f16;    // [n_pos] softmax weights rounded to F16 (F16 cache)
  std::vector<float> partial;     // [32][head_dim] lane partial sums of the weighted V
  std::vector<float> q_rounded;   // [group][head_dim] q_f16 as floats (fused F16 path)
};
class AttentionScratch {
 public:
  std::vector<AttentionThreadScratch>& per_thread() { return per_thread_; }

 private:
  std::vector<AttentionThreadScratch> per_thread_;
};

// Reads K/V of positions 0..positions[r] for each row from `kv` (which must already hold them).
void attention(ThreadPool& pool, AttentionScratch& scratch, const KvCache& kv,
               const AttentionArgs& args);

// The fused path of an F16 cache (AVX2, head_dim a multiple of 8 up to 256): each K row is
// converted once per GQA group and nothing is called per position and head; every output bit is
// that of the generic path through vec_kernels(). Exposed for the tests that check so.
namespace detail {
bool fused_f16_applies(const KvCache& kv);
// scores[g * (positions[row] + 1) + t] = scale * q_g · K[t] for the query heads g of kv_head,
// q rounded to F16 first.
void fused_f16_scores(const KvCache& kv, const AttentionArgs& args, int64_t row, int kv_head,
                      float* scores);
}  // namespace detail

}  // namespace ag::kernels
