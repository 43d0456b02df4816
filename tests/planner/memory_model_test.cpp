#include <gtest/gtest.h>

#include "planner/memory_model.h"
#include "planner/model_presets.h"
#include "planner/model_spec.h"

namespace ag::planner {
namespace {

TEST(MemoryModel, KvCacheScalesWithContextBatchAndType) {
  auto spec = spec_from_preset("qwen2.5-7b", FileType::Q4_K_M);
  ASSERT_TRUE(spec.ok());
  RunConfig run;
  run.n_ctx = 4096;
  run.n_batch = 1;
  MemoryEstimate m1 = estimate_memory(*spec, run);
  EXPECT_EQ(m1.kv_bytes_per_token, 57344u);
  EXPECT_EQ(m1.kv_bytes, 57344u * 4096);
  run.n_batch = 16;
  MemoryEstimate m16 = estimate_memory(*spec, run);
  EXPECT_EQ(m16.kv_bytes, 16 * m1.kv_bytes);
  EXPECT_EQ(m16.weights_bytes, m1.weights_bytes);
  // Paged KV: a context that is not a whole number of blocks still takes whole blocks.
  run.n_batch = 1;
  run.n_ctx = 4097;
  EngineConstants e;
  e.kv_block_size = 16;
  EXPECT_EQ(estimate_memory(*spec, run, e).kv_bytes, 57344u * 4112);
  // Q8_0 KV: 34 bytes per 32 elements; Q4_0: 18.
  run.n_ctx = 1024;
  run.kv_type = DType::Q8_0;
  EXPECT_EQ(estimate_memory(*spec, run).kv_bytes_per_token, 2u * 28 * (512 / 32 * 34));
  run.kv_type = DType::Q4_0;
  EXPECT_EQ(estimate_memory(*spec, run).kv_bytes_per_token, 2u * 28 * (512 / 32 * 18));
}

TEST(MemoryModel, TotalIsTheSumOfItems) {
  auto spec = spec_from_preset("qwen2.5-0.5b", FileType::Q4_0);
  ASSERT_TRUE(spec.ok());
  RunConfig run;
  run.n_threads = 2;
  MemoryEstimate m = estimate_memory(*spec, run);
  uint64_t compute = 0, overhead = 0;
  for (const auto& i : m.compute_items) compute += i.bytes;
  for (const auto& i : m.overhead_items) overhead += i.bytes;
  EXPECT_EQ(compute, m.compute_bytes);
  EXPECT_EQ(overhead, m.overhead_bytes);
  EXPECT_EQ(m.total_bytes, m.weights_bytes + m.kv_bytes + m.compute_bytes + m.overhead_bytes);
  EXPECT_GT(m.compute_bytes, 151936u * 4);  // at least one logits row
}

TEST(MemoryModel, TrainingState) {
  // FP32 Adam: 16 bytes per parameter (weights, gradients, m, v) + activations.
  auto spec = spec_from_params("1B", FileType::F32);
  ASSERT_TRUE(spec.ok());
  RunConfig run;
  run.n_ctx = 2048;
  run.n_batch = 1;
  TrainingEstimate t = estimate_training(*spec, TrainMode::Adam, run);
  EXPECT_EQ(t.trainable_params, 1000000000u);
  EXPECT_EQ(t.weights_bytes + t.gradient_bytes + t.optimizer_bytes, 16000000000u);
  EXPECT_DOUBLE_EQ(t.state_bytes_per_param, 16.0);
  EXPECT_GT(t.activation_bytes, 0u);
  EXPECT_EQ(t.total_bytes, 16000000000u + t.activation_bytes);
  // Activations grow with tokens.
  run.n_batch = 2;
  EXPECT_GT(estimate_training(*spec, TrainMode::Adam, run).activation_bytes, t.activation_bytes);

  TrainingEstimate mixed = estimate_training(*spec, TrainMode::AdamMixed, run);
  EXPECT_DOUBLE_EQ(mixed.state_bytes_per_param, 16.0);
  EXPECT_NE(mixed.note.find("20"), std::string::npos);

  auto q = spec_from_preset("llama-3.1-8b", FileType::Q4_K_M);
  ASSERT_TRUE(q.ok());
  TrainingEstimate lora = estimate_training(*q, TrainMode::Lora, run, 16);
  // Rank-16 adapters on 7 matrices x 32 layers: r · (in + out) each.
  const uint64_t per_layer = 16u * ((4096 + 4096) * 2 + (4096 + 1024) * 2 + (4096 + 14336) * 3);
  EXPECT_EQ(lora.trainable_params, 32 * per_layer);
  EXPECT_EQ(lora.weights_bytes, q->weights_bytes + 4 * lora.trainable_params);
  EXPECT_DOUBLE_EQ(lora.state_bytes_per_param, 16.0);
}

}  // namespace
}  // namespace ag::planner
