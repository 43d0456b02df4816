#pragma once
// A stand-in model for engine tests that still exercises the paged KV contract: forward() writes
// each row's token into its KV slot (through the block table) and derives the next token from
// every token of the sequence read back from KV. A wrong block table, a block shared or reused
// while still needed, or a prefix hit with the wrong content changes the output.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

#include "engine/backend.h"

namespace ag::engine::testing {

class FakeBackend final : public Backend {
 public:
  FakeBackend(int n_vocab, int n_blocks, int block_size, int32_t eos = -1)
      : n_vocab_(n_vocab), n_blocks_(n_blocks), block_size_(block_size), eos_(eos),
        kv_(static_cast<size_t>(n_blocks) * block_size, -1) {}

  int n_vocab() const override { return n_vocab_; }
  int n_kv_blocks() const override { return n_blocks_; }
  int kv_block_size() const override { return block_size_; }

  // The token that follows a sequence (what a greedy request generates).
  int32_t next_token(const std::vector<int32_t>& seq) const {
    uint64_t h = 1469598103934665603ull;
    for (int32_t t : seq) h = (h ^ static_cast<uint64_t>(t)) * 1099511628211ull;
    const int32_t pos = static_cast<int32_t>(seq.size());
    if (eos_ >= 0 && eos_at_ > 0 && pos >= eos_at_) return eos_;
    int32_t t = static_cast<int32_t>((h >> 17) % static_cast<uint64_t>(n_vocab_ - first_token_)) +
                first_token_;
    if (t == eos_) t = first_token_ + 1;  // EOS only when asked for
    return t;
  }

  Status forward(const ForwardBatch& batch, std::vector<float>& logits) override {
    if (fail_) return error("injected failure");
    while (hold_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (delay_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_.load()));
    ++n_forward_;
    max_rows_ = std::max<int>(max_rows_, static_cast<int>(batch.n_rows()));
    logits.clear();
    for (size_t r = 0; r < batch.n_rows(); ++r) {
      const auto& table = batch.block_tables[static_cast<size_t>(batch.seq_index[r])];
      const int32_t pos = batch.positions[r];
      if (pos / block_size_ >= static_cast<int>(table.size())) return error("position not covered");
      kv_[slot(table, pos)] = batch.tokens[r];
      if (!batch.want_logits[r]) continue;
      std::vector<int32_t> seq;
      for (int32_t p = 0; p <= pos; ++p) {
        const int32_t t = kv_[slot(table, p)];
        if (t < 0) return error("reading an unwritten KV slot");
        seq.push_back(t);
      }
      const int32_t next = next_token(seq);
      const size_t base = logits.size();
      logits.resize(base + static_cast<size_t>(n_vocab_), 0.0f);
      for (int v = 0; v < n_vocab_; ++v) logits[base + static_cast<size_t>(v)] = -static_cast<float>(v % 7);
      logits[base + static_cast<size_t>(next)] = 12.0f;
    }
    return {};
  }

  std::atomic<int> delay_ms_{0};
  std::atomic<bool> hold_{false};  // true: forward() waits (a test queues requests meanwhile)
  std::atomic<bool> fail_{false};
  std::atomic<int> n_forward_{0};
  std::atomic<int> max_rows_{0};
  int32_t eos_at_ = 0;       // > 0: emit EOS once a sequence reaches this length
  int32_t first_token_ = 3;  // generated ids are in [first_token_, n_vocab)

 private:
  size_t slot(const std::vector<int32_t>& table, int32_t pos) const {
    return static_cast<size_t>(table[static_cast<size_t>(pos / block_size_)]) * block_size_ +
           static_cast<size_t>(pos % block_size_);
  }
  int n_vocab_, n_blocks_, block_size_;
  int32_t eos_;
  std::vector<int32_t> kv_;  // [n_blocks * block_size] token written at each slot
};

}  // namespace ag::engine::testing
