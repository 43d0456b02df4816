// User-controlled input never crashes: bad model files and malformed batches are errors that name
// the file, tensor, key or row.
#include <gtest/gtest.h>

#include <cstring>

#include "gguf/gguf.h"
#include "kv/kv_cache.h"
#include "model/model.h"
#include "model/session.h"
#include "tiny_model.h"

namespace ag {
namespace {

// Rewrites the tiny model with one tensor or key changed. `edit` may drop a tensor by returning
// false, or replace its type/shape/data.
struct TensorEdit {
  std::string name;
  bool drop = false;
  std::optional<DType> type;
  std::optional<std::vector<uint64_t>> shape;
};

std::string write_edited(const std::string& tag, const TensorEdit& edit,
                         const std::vector<std::pair<std::string, gguf::Value>>& meta = {},
                         const std::vector<std::string>& drop_keys = {}) {
  const std::string base = test::temp_path("errors_base.gguf");
  EXPECT_TRUE(test::write_tiny_model({}, base).ok());
  auto file = gguf::File::open(base);
  EXPECT_TRUE(file.ok());
  gguf::Writer w;
  for (const auto& [key, value] : file->metadata()) {
    if (key == "general.alignment") continue;
    if (std::find(drop_keys.begin(), drop_keys.end(), key) != drop_keys.end()) continue;
    w.set(key, value);
  }
  for (const auto& [key, value] : meta) w.set(key, value);
  for (const auto& t : file->tensors()) {
    if (t.name == edit.name && edit.drop) continue;
    DType type = t.type;
    std::vector<uint64_t> shape = t.shape;
    if (t.name == edit.name) {
      if (edit.type) type = *edit.type;
      if (edit.shape) shape = *edit.shape;
    }
    uint64_t n = 1;
    for (uint64_t d : shape) n *= d;
    std::vector<uint8_t> bytes(row_bytes(type, shape[0]) * (n / shape[0]), 0);
    std::memcpy(bytes.data(), t.data, std::min<size_t>(bytes.size(), t.n_bytes));
    EXPECT_TRUE(w.add_tensor(t.name, type, shape, bytes).ok());
  }
  const std::string path = test::temp_path("errors_" + tag + ".gguf");
  EXPECT_TRUE(w.write(path).ok());
  return path;
}

void expect_load_error(const std::string& path, const std::string& needle) {
  auto model = Model::load(path, {});
  ASSERT_FALSE(model.ok()) << "loaded a bad model: " << path;
  const std::string& msg = model.error().message;
  EXPECT_NE(msg.find(needle), std::string::npos) << msg;
  EXPECT_NE(msg.find(path), std::string::npos) << "error should name the file: " << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
}

TEST(LoadErrors, MissingTensor) {
  expect_load_error(write_edited("missing", {.name = "blk.1.ffn_up.weight", .drop = true}),
                    "'blk.1.ffn_up.weight' is missing");
}

TEST(LoadErrors, WrongShape) {
  expect_load_error(write_edited("shape", {.name = "blk.0.attn_k.weight", .shape = {{64, 16}}}),
                    "'blk.0.attn_k.weight' has shape [64, 16], expected [64, 32]");
  expect_load_error(write_edited("shape1d", {.name = "output_norm.weight", .shape = {{32}}}),
                    "'output_norm.weight' has shape [32], expected [64]");
}

TEST(LoadErrors, WrongType) {
  expect_load_error(write_edited("type", {.name = "blk.0.attn_q.weight", .type = DType::I32}),
                    "'blk.0.attn_q.weight' has type i32");
  expect_load_error(write_edited("normtype", {.name = "blk.0.attn_norm.weight", .type = DType::Q8_0,
                                              .shape = {{64}}}),
                    "'blk.0.attn_norm.weight' has type q8_0");
}

TEST(LoadErrors, UnsupportedArchitecture) {
  expect_load_error(write_edited("arch", {}, {{"general.architecture", std::string("gpt2")}}),
                    "unsupported architecture 'gpt2'");
}

TEST(LoadErrors, MissingOrBadMetadata) {
  expect_load_error(write_edited("nolayers", {}, {}, {"llama.block_count"}), "llama.block_count");
  expect_load_error(write_edited("badheads", {}, {{"llama.attention.head_count_kv", uint32_t{3}}}),
                    "not a multiple");
  expect_load_error(write_edited("zeroembd", {}, {{"llama.embedding_length", uint32_t{0}}}),
                    "out of range");
  expect_load_error(
      write_edited("badrope", {}, {{"llama.rope.scaling.type", std::string("longrope")}}),
      "rope.scaling.type 'longrope'");
}

TEST(LoadErrors, NotAFile) {
  auto model = Model::load(test::temp_path("does_not_exist.gguf"), {});
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.error().message.find("does_not_exist.gguf"), std::string::npos);
}

TEST(LoadErrors, BadOptions) {
  const std::string path = test::temp_path("options.gguf");
  ASSERT_TRUE(test::write_tiny_model({}, path).ok());
  EXPECT_FALSE(Model::load(path, {.n_threads = 0}).ok());
  EXPECT_FALSE(Model::load(path, {.n_threads = 1, .kv_type = DType::Q8_0}).ok());
}

class BadBatch : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string path = test::temp_path("batch_errors.gguf");
    ASSERT_TRUE(test::write_tiny_model({}, path).ok());
    auto m = Model::load(path, {});
    ASSERT_TRUE(m.ok());
    model_ = std::move(*m);
    kv_ = std::make_unique<KvCache>(model_->hparams(), 4, 4, DType::F16);
  }
  ForwardBatch good() const {
    ForwardBatch b;
    b.tokens = {1, 2, 3};
    b.positions = {0, 1, 2};
    b.seq_index = {0, 0, 0};
    b.want_logits = {0, 0, 1};
    b.block_tables = {{2}};
    return b;
  }
  void expect_error(const ForwardBatch& b, const std::string& needle) {
    std::vector<float> logits;
    Status s = model_->forward(b, *kv_, logits);
    ASSERT_FALSE(s.ok()) << needle;
    EXPECT_NE(s.error().message.find(needle), std::string::npos) << s.error().message;
  }
  std::unique_ptr<Model> model_;
  std::unique_ptr<KvCache> kv_;
};

TEST_F(BadBatch, GoodBatchRuns) {
  std::vector<float> logits;
  ASSERT_TRUE(model_->forward(good(), *kv_, logits).ok());
  EXPECT_EQ(logits.size(), static_cast<size_t>(model_->hparams().n_vocab));
  ForwardBatch empty;
  ASSERT_TRUE(model_->forward(empty, *kv_, logits).ok());
  EXPECT_TRUE(logits.empty());
}

TEST_F(BadBatch, Rejected) {
  auto b = good();
  b.tokens[1] = model_->hparams().n_vocab;
  expect_error(b, "outside the vocabulary");
  b = good();
  b.tokens[0] = -1;
  expect_error(b, "outside the vocabulary");
  b = good();
  b.positions.pop_back();
  expect_error(b, "3 tokens but 2 positions");
  b = good();
  b.positions = {0, 2, 1};
  expect_error(b, "does not follow");
  b = good();
  b.positions = {3, 4, 5};  // block table covers positions 0..3 only
  expect_error(b, "block table has 1 blocks");
  b = good();
  b.block_tables = {{7}};
  expect_error(b, "the cache has 4 blocks");
  b = good();
  b.seq_index = {0, 1, 0};
  expect_error(b, "sequence index 1");
  b = good();
  b.positions = {-1, 0, 1};
  expect_error(b, "negative position");
  b = good();  // two sequences writing into one shared block
  b.block_tables = {{2}, {2}};
  b.seq_index = {0, 0, 1};
  b.positions = {0, 1, 1};
  expect_error(b, "same KV slot");
}

TEST_F(BadBatch, KvCacheOfAnotherModel) {
  HParams other = model_->hparams();
  other.n_layer += 1;
  KvCache wrong(other, 4, 4, DType::F16);
  std::vector<float> logits;
  Status s = model_->forward(good(), wrong, logits);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("KV cache is shaped"), std::string::npos);
}

TEST(SessionErrors, ContextOverflow) {
  const std::string path = test::temp_path("session.gguf");
  ASSERT_TRUE(test::write_tiny_model({}, path).ok());
  auto model = Model::load(path, {});
  ASSERT_TRUE(model.ok());
  auto session = Session::create(**model, 8, 4);
  ASSERT_TRUE(session.ok());
  std::vector<int32_t> tokens(9, 1);
  std::vector<float> logits;
  Status s = session->eval(tokens, false, logits);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("do not fit in the context of 8"), std::string::npos);
  EXPECT_EQ(session->n_past(), 0);
}

}  // namespace
}  // namespace ag
