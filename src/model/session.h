#pragma once
// One sequence over its own KV cache: the simple driver of `generate`, `perplexity` and tests.
// Positions 0..n_ctx-1 map to blocks 0..n_blocks-1 in order (the serving engine instead builds
// batches of many sequences over a shared block pool).
#include <memory>
#include <span>
#include <vector>

#include "core/result.h"
#include "kv/kv_cache.h"
#include "model/model.h"

namespace ag {

class Session {
 public:
  // A cache for n_ctx positions of `model` (kv type from the model's options). `model` must
  // outlive the session.
  static Result<Session> create(Model& model, int n_ctx, int block_size = 16);

  // Appends `tokens` at positions n_past().. in forward steps of at most n_batch rows.
  // logits receives [n, n_vocab]: one row per token when all_logits, else only the last token's
  // row. An error when the tokens do not fit in n_ctx (nothing is evaluated then).
  Status eval(std::span<const int32_t> tokens, bool all_logits, std::vector<float>& logits,
              int n_batch = 512);

  int n_past() const { return n_past_; }
  int n_ctx() const { return n_ctx_; }
  void reset() { n_past_ = 0; }  // the cache is reused from position 0
  Model& model() { return *model_; }

 private:
  Session(Model& model, std::unique_ptr<KvCache> kv, int n_ctx);
  Model* model_;
  std::unique_ptr<KvCache> kv_;
  int n_ctx_;
  int n_past_ = 0;
  ForwardBatch batch_;
  std::vector<float> step_logits_;  // [rows wanting logits in one step, n_vocab]
};

}  // namespace ag
