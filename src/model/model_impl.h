#pragma once
// Internal state of a Model: the mapped file, bound weights, the thread pool and the scratch
// buffers of the forward pass (grow-only, so steady-state steps allocate nothing).
#include <vector>

#include "core/thread_pool.h"
#include "gguf/gguf.h"
#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/rope.h"
#include "model/model.h"
#include "model/packed_weights.h"
#include "model/weights.h"

namespace ag {

class ModelImpl {
 public:
  ModelImpl(gguf::File file, HParams hp, ModelWeights weights, const ModelOptions& options);

  Status forward(const ForwardBatch& batch, KvCache& kv, std::vector<float>& logits);
  Status reserve_step(int64_t n_rows);  // see Model::reserve_step
  int n_pinned_threads() const { return pool_.n_pinned(); }
  // Repacks the weights for the packed kernels (model/packed_weights.h) on the pool's threads.
  Status repack();

  gguf::File file;  // owns the mapping the weights point into
  HParams hp;
  ModelWeights w;
  ModelOptions options;

 private:
  Status validate(const ForwardBatch& batch, const KvCache& kv);
  void reserve(int64_t n_rows, int64_t n_want);
  // Runs fn(row) for rows [0, n): on the calling thread for a few rows, else on the pool.
  template <typename Fn>
  void for_rows(int64_t n, Fn&& fn);
  void layer_attention(int il, const ForwardBatch& batch, KvCache& kv, int64_t n);
  void layer_ffn(int il, int64_t n);

  ThreadPool pool_;
  kernels::RopeParams rope_;
  kernels::MatmulScratch matmul_scratch_;
  kernels::AttentionScratch attention_scratch_;
  // Activations, one row per batch row.
  std::vector<float> x_;          // [n_rows, n_embd] residual stream
  std::vector<float> cur_;        // [n_rows, n_embd] normed input of a block / block output
  std::vector<float> q_;          // [n_rows, n_head * head_dim]
  std::vector<float> k_;          // [n_rows, n_head_kv * head_dim]
  std::vector<float> v_;          // [n_rows, n_head_kv * head_dim]
  std::vector<float> attn_out_;   // [n_rows, n_head * head_dim]
  std::vector<float> gate_;       // [n_rows, n_ff]
  std::vector<float> up_;         // [n_rows, n_ff]
  std::vector<float> rope_cos_;   // [n_rows, n_rot / 2]
  std::vector<float> rope_sin_;   // [n_rows, n_rot / 2]
  std::vector<float> out_in_;     // [n_want, n_embd] final-normed rows that want logits
  std::vector<int32_t> seq_last_pos_;   // [n_seqs] validation: last position seen per sequence
  std::vector<int64_t> slots_written_;  // [n_rows] validation: block * block_size + slot
};

}  // namespace ag
