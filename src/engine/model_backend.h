#pragma once
// The real backend: a loaded Model running over a KvCache it does not own.
#include "engine/backend.h"
#include "kv/kv_cache.h"
#include "model/model.h"

namespace ag::engine {

class ModelBackend final : public Backend {
 public:
  ModelBackend(Model& model, KvCache& kv) : model_(model), kv_(kv) {}
  int n_vocab() const override { return model_.hparams().n_vocab; }
  int n_kv_blocks() const override { return kv_.n_blocks(); }
  int kv_block_size() const override { return kv_.block_size(); }
  Status forward(const ForwardBatch& batch, std::vector<float>& logits) override {
    return model_.forward(batch, kv_, logits);
  }

 private:
  Model& model_;
  KvCache& kv_;
};

}  // namespace ag::engine
