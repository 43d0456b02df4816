// Batch invariance: a row's logits are bit-identical whatever else shares its forward step, whatever
// the thread count, and wherever its KV blocks physically live.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <numeric>
#include <random>

#include "kernels/parallel.h"
#include "kv/kv_cache.h"
#include "model/model.h"
#include "model/session.h"
#include "tensor/packed.h"
#include "tiny_model.h"

namespace ag {
namespace {

constexpr int kBlockSize = 4;

struct Sequence {
  std::vector<int32_t> tokens;
  std::vector<int32_t> blocks;  // physical block of each logical block
  size_t done = 0;              // tokens already evaluated
};

// Logits of every position of `tokens` evaluated alone, one row per step.
std::vector<std::vector<float>> run_alone(Model& model, const std::vector<int32_t>& tokens) {
  auto session = Session::create(model, 64, kBlockSize);
  EXPECT_TRUE(session.ok());
  std::vector<std::vector<float>> rows;
  std::vector<float> logits;
  for (int32_t t : tokens) {
    EXPECT_TRUE(session->eval({&t, 1}, true, logits).ok());
    rows.push_back(logits);
  }
  return rows;
}

void expect_bit_identical(const std::vector<float>& a, const std::vector<float>& b,
                          const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * sizeof(float))) << what;
}

class BatchInvariance : public ::testing::TestWithParam<std::string> {};

TEST_P(BatchInvariance, MixedBatchesEqualSequencesAlone) {
  test::TinySpec spec;
  spec.arch = GetParam();
  spec.n_layer = 2;
  const std::string path = test::temp_path("batch_" + spec.arch + ".gguf");
  ASSERT_TRUE(test::write_tiny_model(spec, path).ok());

  std::mt19937_64 rng(42);
  const std::vector<int> lengths = {13, 1, 7, 22};
  std::vector<Sequence> seqs(lengths.size());
  // physical blocks handed out in a scrambled order across sequences
  int n_blocks_total = 0;
  for (size_t s = 0; s < seqs.size(); ++s) {
    for (int i = 0; i < lengths[s]; ++i)
      seqs[s].tokens.push_back(static_cast<int32_t>(rng() % static_cast<uint64_t>(spec.n_vocab)));
    n_blocks_total += (lengths[s] + kBlockSize - 1) / kBlockSize;
  }
  std::vector<int32_t> physical(static_cast<size_t>(n_blocks_total) + 3);
  std::iota(physical.begin(), physical.end(), 0);
  std::shuffle(physical.begin(), physical.end(), rng);
  size_t next_block = 0;
  for (auto& s : seqs)
    for (size_t i = 0; i < (s.tokens.size() + kBlockSize - 1) / kBlockSize; ++i)
      s.blocks.push_back(physical[next_block++]);

  for (int n_threads : {1, 3}) {
    SCOPED_TRACE("threads " + std::to_string(n_threads));
    // every op through the pool, however small (restored below)
    kernels::set_min_parallel_work(n_threads > 1 ? 0 : kernels::kDefaultMinParallelWork);
    auto model = Model::load(path, {.n_threads = n_threads, .kv_type = DType::F16});
    ASSERT_TRUE(model.ok()) << model.error().message;
    // reference: every sequence alone, one token per step, single-threaded model
    auto single = Model::load(path, {.n_threads = 1, .kv_type = DType::F16});
    ASSERT_TRUE(single.ok());
    std::vector<std::vector<std::vector<float>>> alone;
    for (const auto& s : seqs) alone.push_back(run_alone(**single, s.tokens));

    KvCache kv((*model)->hparams(), static_cast<int>(physical.size()), kBlockSize, DType::F16);
    for (auto& s : seqs) s.done = 0;
    // steps: each sequence advances by a chunk size drawn per step (prefill chunks and decodes
    // mixed), some sequences sit out some steps
    std::map<std::pair<size_t, size_t>, std::vector<float>> got;  // (seq, pos) -> logits
    std::vector<float> logits;
    for (int step = 0; step < 64; ++step) {
      ForwardBatch batch;
      std::vector<std::pair<size_t, size_t>> wanted;
      for (size_t si = 0; si < seqs.size(); ++si) {
        Sequence& s = seqs[si];
        if (s.done == s.tokens.size() || rng() % 4 == 0) continue;
        const size_t chunk = std::min<size_t>(s.tokens.size() - s.done, 1 + rng() % 6);
        const int32_t seq_index = static_cast<int32_t>(batch.block_tables.size());
        batch.block_tables.push_back(s.blocks);
        for (size_t i = 0; i < chunk; ++i) {
          const size_t pos = s.done + i;
          batch.tokens.push_back(s.tokens[pos]);
          batch.positions.push_back(static_cast<int32_t>(pos));
          batch.seq_index.push_back(seq_index);
          const bool want = rng() % 3 != 0 || i + 1 == chunk;
          batch.want_logits.push_back(want ? 1 : 0);
          if (want) wanted.emplace_back(si, pos);
        }
        s.done += chunk;
      }
      if (batch.n_rows() == 0) continue;
      ASSERT_TRUE((*model)->forward(batch, kv, logits).ok());
      ASSERT_EQ(logits.size(), wanted.size() * static_cast<size_t>(spec.n_vocab));
      for (size_t j = 0; j < wanted.size(); ++j)
        got[wanted[j]].assign(logits.begin() + static_cast<std::ptrdiff_t>(j * spec.n_vocab),
                              logits.begin() + static_cast<std::ptrdiff_t>((j + 1) * spec.n_vocab));
    }
    for (const auto& s : seqs) ASSERT_EQ(s.done, s.tokens.size()) << "test schedule too short";
    ASSERT_GT(got.size(), 20u);
    for (const auto& [key, row] : got)
      expect_bit_identical(row, alone[key.first][key.second],
                           "sequence " + std::to_string(key.first) + " position " +
                               std::to_string(key.second));
  }
  kernels::set_min_parallel_work(kernels::kDefaultMinParallelWork);
}

TEST_P(BatchInvariance, WholePromptEqualsTokenByToken) {
  test::TinySpec spec;
  spec.arch = GetParam();
  const std::string path = test::temp_path("prompt_" + spec.arch + ".gguf");
  ASSERT_TRUE(test::write_tiny_model(spec, path).ok());
  kernels::set_min_parallel_work(0);
  auto model = Model::load(path, {.n_threads = 2, .kv_type = DType::F32});
  ASSERT_TRUE(model.ok());
  std::vector<int32_t> tokens;
  for (int i = 0; i < 30; ++i) tokens.push_back((i * 37 + 11) % spec.n_vocab);
  auto session = Session::create(**model, 64, 16);
  ASSERT_TRUE(session.ok());
  std::vector<float> whole, one;
  ASSERT_TRUE(session->eval(tokens, true, whole).ok());
  session->reset();
  std::vector<float> stepwise;
  for (int32_t t : tokens) {
    ASSERT_TRUE(session->eval({&t, 1}, true, one).ok());
    stepwise.insert(stepwise.end(), one.begin(), one.end());
  }
  expect_bit_identical(whole, stepwise, "whole prompt vs token by token");
  kernels::set_min_parallel_work(kernels::kDefaultMinParallelWork);
}

// Weights repacked at load (tensor/packed.h) keep the invariance: a 30-row prompt runs the packed
// kernel 8 (zmm) or 4 (ymm) activation rows at a time (F16 / BF16: 3), a decode step one row, with the same
// float operations per output; n_vocab 80 and n_ff 96 leave a padded last row group.
TEST(BatchInvarianceRepacked, WholePromptEqualsTokenByToken) {
  for (DType type : {DType::Q4_0, DType::Q5_0, DType::Q8_0, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::F16, DType::BF16}) {
    test::TinySpec spec;
    spec.matrix_type = type;
    spec.tied = true;
    if (type == DType::Q4_K || type == DType::Q5_K || type == DType::Q6_K) {  // rows of whole 256-column super-blocks; ffn_down's 256 as well
      spec.n_embd = 256;
      spec.head_dim = 64;
      spec.n_ff = 256;
    }  // the output matrix is token_embd: packed for matmul, looked up in the file
    const std::string path = test::temp_path(std::string("prompt_packed_") + std::string(dtype_name(type)) + ".gguf");
    ASSERT_TRUE(test::write_tiny_model(spec, path).ok());
    kernels::set_min_parallel_work(0);
    auto model = Model::load(path, {.n_threads = 2, .kv_type = DType::F32});
    ASSERT_TRUE(model.ok());
    if (packed_kernels_available(type)) {
      EXPECT_EQ((*model)->n_packed_matrices(), 2 * 7 + 1) << dtype_name(type);
    }
    std::vector<int32_t> tokens;
    for (int i = 0; i < 30; ++i) tokens.push_back((i * 37 + 11) % spec.n_vocab);
    auto session = Session::create(**model, 64, 16);
    ASSERT_TRUE(session.ok());
    std::vector<float> whole, one, stepwise;
    ASSERT_TRUE(session->eval(tokens, true, whole).ok());
    session->reset();
    for (int32_t t : tokens) {
      ASSERT_TRUE(session->eval({&t, 1}, true, one).ok());
      stepwise.insert(stepwise.end(), one.begin(), one.end());
    }
    expect_bit_identical(whole, stepwise, std::string("repacked ") + std::string(dtype_name(type)));
    kernels::set_min_parallel_work(kernels::kDefaultMinParallelWork);
  }
}

INSTANTIATE_TEST_SUITE_P(Architectures, BatchInvariance,
                         ::testing::Values("llama", "qwen2", "qwen3"));

}  // namespace
}  // namespace ag
