#include "perf/model_bench.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <string_view>

#include "kv/kv_cache.h"
#include "model/session.h"

namespace ag::perf {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::vector<int32_t> random_tokens(int n, int n_vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> dist(0, n_vocab - 1);
  std::vector<int32_t> t(static_cast<size_t>(n));
  for (auto& id : t) id = dist(rng);
  return t;
}

constexpr int kBlockSize = 16;

}  // namespace

ModelCost model_cost(const gguf::File& file) {
  ModelCost c;
  const bool tied = file.tensor("output.weight") == nullptr;
  for (const auto& t : file.tensors()) {
    c.n_params += t.n_elements;
    const std::string_view name = t.name;
    const bool is_embd = name == "token_embd.weight";
    if (!is_embd || tied) c.weights_bytes += t.n_bytes;
    if (name.starts_with("blk.") && t.shape.size() == 2) {
      c.layer_matmul_params += t.n_elements;
    }
    if (name == "output.weight" || (tied && is_embd)) c.output_params = t.n_elements;
  }
  return c;
}

double prompt_flops(const ModelCost& cost, int n_prompt) {
  return 2.0 * static_cast<double>(cost.layer_matmul_params) * n_prompt +
         2.0 * static_cast<double>(cost.output_params);
}

Result<std::vector<double>> bench_prompt(Model& model, int n_prompt, int reps) {
  if (n_prompt < 1) return error("prompt length must be at least 1, got {}", n_prompt);
  AG_TRY(Session session, Session::create(model, n_prompt, kBlockSize));
  const auto tokens = random_tokens(n_prompt, model.hparams().n_vocab, 1234);
  std::vector<float> logits;
  std::vector<double> rates;
  for (int rep = -1; rep < reps; ++rep) {  // rep -1: warm-up
    session.reset();
    const auto t0 = Clock::now();
    AG_TRY_STATUS(session.eval(tokens, false, logits, n_prompt));
    const double s = seconds_since(t0);
    if (rep >= 0) rates.push_back(n_prompt / s);
  }
  return rates;
}

Result<std::vector<double>> bench_generate(Model& model, int n_gen, int reps) {
  if (n_gen < 1) return error("generation length must be at least 1, got {}", n_gen);
  AG_TRY(Session session, Session::create(model, n_gen, kBlockSize));
  const auto tokens = random_tokens(n_gen, model.hparams().n_vocab, 5678);
  std::vector<float> logits;
  std::vector<double> rates;
  for (int rep = -1; rep < reps; ++rep) {
    session.reset();
    // The warm-up runs a few steps only: it exists to fault in the weights and grow the buffers.
    const int n = rep < 0 ? std::min(n_gen, 4) : n_gen;
    const auto t0 = Clock::now();
    for (int i = 0; i < n; ++i)
      AG_TRY_STATUS(session.eval({&tokens[static_cast<size_t>(i)], 1}, false, logits));
    const double s = seconds_since(t0);
    if (rep >= 0) rates.push_back(n / s);
  }
  return rates;
}

Result<std::vector<SweepRep>> bench_sweep(Model& model, int batch, int n_gen, int reps) {
  if (batch < 1) return error("sweep batch size must be at least 1, got {}", batch);
  if (n_gen < 1) return error("generation length must be at least 1, got {}", n_gen);
  const HParams& hp = model.hparams();
  const int blocks_per_seq = (n_gen + kBlockSize - 1) / kBlockSize;
  AG_TRY(auto kv, KvCache::create(hp, batch * blocks_per_seq, kBlockSize, model.options().kv_type));
  ForwardBatch fb;
  fb.block_tables.resize(static_cast<size_t>(batch));
  for (int s = 0; s < batch; ++s) {
    auto& table = fb.block_tables[static_cast<size_t>(s)];
    for (int b = 0; b < blocks_per_seq; ++b) table.push_back(s * blocks_per_seq + b);
  }
  fb.seq_index.resize(static_cast<size_t>(batch));
  for (int s = 0; s < batch; ++s) fb.seq_index[static_cast<size_t>(s)] = s;
  fb.want_logits.assign(static_cast<size_t>(batch), 1);  // every sequence samples its next token
  fb.positions.resize(static_cast<size_t>(batch));
  const auto tokens = random_tokens(batch * n_gen, hp.n_vocab, 4321);
  std::vector<float> logits;
  std::vector<SweepRep> out;
  for (int rep = -1; rep < reps; ++rep) {
    const int n = rep < 0 ? std::min(n_gen, 2) : n_gen;
    const auto t0 = Clock::now();
    for (int step = 0; step < n; ++step) {
      fb.tokens.assign(tokens.begin() + static_cast<std::ptrdiff_t>(step) * batch,
                       tokens.begin() + static_cast<std::ptrdiff_t>(step + 1) * batch);
      for (auto& p : fb.positions) p = step;
      AG_TRY_STATUS(model.forward(fb, *kv, logits));
    }
    const double s = seconds_since(t0);
    if (rep >= 0) out.push_back({1e3 * s / n, batch * static_cast<double>(n) / s});
  }
  return out;
}

}  // namespace ag::perf
