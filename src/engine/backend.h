#pragma once
// What runs a batch for the engine: the model over its paged KV cache (model_backend.h), or a
// stand-in in tests. The engine only needs logits rows for a ForwardBatch.
#include <vector>

#include "core/result.h"
#include "model/forward_batch.h"

namespace ag::engine {

class Backend {
 public:
  virtual ~Backend() = default;
  virtual int n_vocab() const = 0;
  // KV geometry the backend's storage was made with; the engine's block pool must match it.
  virtual int n_kv_blocks() const = 0;
  virtual int kv_block_size() const = 0;
  // One step: logits resized to [rows with want_logits, n_vocab], in row order.
  // Batch-invariant: a row's logits do not depend on the other rows.
  virtual Status forward(const ForwardBatch& batch, std::vector<float>& logits) = 0;
};

}  // namespace ag::engine
