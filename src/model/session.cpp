#include "model/session.h"

#include <algorithm>

namespace ag {

Session::Session(Model& model, std::unique_ptr<KvCache> kv, int n_ctx)
    : model_(&model), kv_(std::move(kv)), n_ctx_(n_ctx) {}

Result<Session> Session::create(Model& model, int n_ctx, int block_size) {
  if (n_ctx < 1) return error("context size must be at least 1, got {}", n_ctx);
  if (block_size < 1) return error("block size must be at least 1, got {}", block_size);
  const int n_blocks = (n_ctx + block_size - 1) / block_size;
  AG_TRY(auto kv, KvCache::create(model.hparams(), n_blocks, block_size, model.options().kv_type));
  Session s(model, std::move(kv), n_ctx);
  s.batch_.block_tables.assign(1, std::vector<int32_t>(static_cast<size_t>(n_blocks)));
  for (int i = 0; i < n_blocks; ++i) s.batch_.block_tables[0][static_cast<size_t>(i)] = i;
  return s;
}

Status Session::eval(std::span<const int32_t> tokens, bool all_logits, std::vector<float>& logits,
                     int n_batch) {
  if (n_batch < 1) return error("batch size must be at least 1, got {}", n_batch);
  if (static_cast<int64_t>(n_past_) + static_cast<int64_t>(tokens.size()) > n_ctx_)
    return error("{} tokens after {} do not fit in the context of {}", tokens.size(), n_past_,
                 n_ctx_);
  logits.clear();
  for (size_t start = 0; start < tokens.size(); start += static_cast<size_t>(n_batch)) {
    const size_t end = std::min(tokens.size(), start + static_cast<size_t>(n_batch));
    batch_.tokens.assign(tokens.begin() + static_cast<std::ptrdiff_t>(start),
                         tokens.begin() + static_cast<std::ptrdiff_t>(end));
    batch_.positions.resize(end - start);
    batch_.seq_index.assign(end - start, 0);
    batch_.want_logits.assign(end - start, all_logits ? 1 : 0);
    for (size_t i = start; i < end; ++i)
      batch_.positions[i - start] = n_past_ + static_cast<int32_t>(i - start);
    if (!all_logits && end == tokens.size()) batch_.want_logits.back() = 1;
    AG_TRY_STATUS(model_->forward(batch_, *kv_, step_logits_));
    n_past_ += static_cast<int>(end - start);
    logits.insert(logits.end(), step_logits_.begin(), step_logits_.end());
  }
  return {};
}

}  // namespace ag
