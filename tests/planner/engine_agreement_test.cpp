// The plan against the engine itself: the same model read by both, the KV the engine allocates for
// a context and batch, and the bytes of the file it maps.
#include <gtest/gtest.h>

#include "kv/kv_cache.h"
#include "model/model.h"
#include "model/session.h"
#include "planner/memory_model.h"
#include "planner/model_spec.h"

namespace ag::planner {
namespace {

const std::string kModel = std::string(AUTOGLM_SHARED_DIR) + "/models/stories260K.gguf";

TEST(EngineAgreement, HyperParametersMatchTheLoader) {
  auto spec = spec_from_gguf(kModel);
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  auto model = Model::load(kModel, {});
  ASSERT_TRUE(model.ok()) << model.error().message;
  const HParams& hp = (*model)->hparams();
  EXPECT_EQ(spec->hp.arch, hp.arch);
  EXPECT_EQ(spec->hp.n_layer, hp.n_layer);
  EXPECT_EQ(spec->hp.n_embd, hp.n_embd);
  EXPECT_EQ(spec->hp.n_head, hp.n_head);
  EXPECT_EQ(spec->hp.n_head_kv, hp.n_head_kv);
  EXPECT_EQ(spec->hp.head_dim, hp.head_dim);
  EXPECT_EQ(spec->hp.n_ff, hp.n_ff);
  EXPECT_EQ(spec->hp.n_vocab, hp.n_vocab);
  EXPECT_EQ(spec->hp.tied_output, hp.tied_output);
  // The mapped file is the weights plus the header the planner counts as overhead.
  EXPECT_EQ(spec->file_bytes, (*model)->file().file_size());
  uint64_t tensor_bytes = 0;
  for (const auto& t : (*model)->file().tensors()) tensor_bytes += t.n_bytes;
  EXPECT_EQ(spec->weights_bytes, tensor_bytes);
}

TEST(EngineAgreement, KvBytesAreWhatTheCacheAllocates) {
  auto spec = spec_from_gguf(kModel);
  auto model = Model::load(kModel, {});
  ASSERT_TRUE(spec.ok() && model.ok());
  const HParams& hp = (*model)->hparams();
  for (int ctx : {128, 1000, 4096}) {
    for (int batch : {1, 4}) {
      RunConfig run;
      run.n_ctx = ctx;
      run.n_batch = batch;
      EngineConstants engine;
      const MemoryEstimate m = estimate_memory(*spec, run, engine);
      const int blocks_per_seq = (ctx + engine.kv_block_size - 1) / engine.kv_block_size;
      EXPECT_EQ(m.kv_bytes, KvCache::bytes_for(hp, blocks_per_seq * batch, engine.kv_block_size,
                                               DType::F16))
          << ctx << " x " << batch;
    }
  }
  // Session (generate, perplexity) makes its cache with the same block size.
  auto session = Session::create(**model, 1000);
  ASSERT_TRUE(session.ok());
  auto kv = KvCache::create(hp, (1000 + 15) / 16, 16, DType::F16);
  ASSERT_TRUE(kv.ok());
  RunConfig run;
  run.n_ctx = 1000;
  EXPECT_EQ(estimate_memory(*spec, run).kv_bytes, (*kv)->bytes());
}

}  // namespace
}  // namespace ag::planner
