// The engine over the real model (stories260K): greedy output equals llama.cpp's reference tokens
// alone and with 16 other requests in flight, and the logprobs agree with the reference.
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "engine/model_backend.h"
#include "gguf/gguf.h"

namespace ag::engine {
namespace {

using namespace std::chrono_literals;

struct Case {
  std::vector<int32_t> prompt, completion;
  std::string text;
  std::vector<float> logprobs;
};

std::vector<Case> load_cases() {
  std::ifstream in(std::string(AUTOGLM_SHARED_DIR) + "/reference/stories260K/greedy.json");
  const auto j = nlohmann::json::parse(in);
  std::vector<Case> cases;
  for (const auto& c : j.at("cases")) {
    Case k;
    k.prompt = c.at("prompt_tokens").get<std::vector<int32_t>>();
    k.completion = c.at("completion_tokens").get<std::vector<int32_t>>();
    k.text = c.at("completion_text").get<std::string>();
    for (const auto& s : c.at("steps")) k.logprobs.push_back(s.at("logprob").get<float>());
    cases.push_back(std::move(k));
  }
  return cases;
}

struct Fixture {
  std::unique_ptr<Model> model;
  std::unique_ptr<KvCache> kv;
  tok::Tokenizer tokenizer;
  std::unique_ptr<ModelBackend> backend;
  std::unique_ptr<Engine> engine;
};

std::unique_ptr<Fixture> make(int n_blocks, int block_size, int max_batch_tokens) {
  const std::string path = std::string(AUTOGLM_SHARED_DIR) + "/models/stories260K.gguf";
  auto model = Model::load(path, ModelOptions{1, DType::F16});
  if (!model.ok()) {
    ADD_FAILURE() << model.error().message;
    return nullptr;
  }
  auto tokenizer = tok::Tokenizer::from_gguf((*model)->file());
  if (!tokenizer.ok()) {
    ADD_FAILURE() << tokenizer.error().message;
    return nullptr;
  }
  auto f = std::unique_ptr<Fixture>(new Fixture{std::move(*model), nullptr, std::move(*tokenizer), nullptr, nullptr});
  auto kv = KvCache::create(f->model->hparams(), n_blocks, block_size, DType::F16);
  if (!kv.ok()) {
    ADD_FAILURE() << kv.error().message;
    return nullptr;
  }
  f->kv = std::move(*kv);
  f->backend = std::make_unique<ModelBackend>(*f->model, *f->kv);
  EngineConfig c;
  c.scheduler.max_batch_tokens = max_batch_tokens;
  c.scheduler.max_running = 32;
  c.n_ctx = 256;
  auto engine = Engine::create(c, *f->backend, f->tokenizer);
  if (!engine.ok()) {
    ADD_FAILURE() << engine.error().message;
    return nullptr;
  }
  f->engine = std::move(*engine);
  return f;
}

struct Result {
  std::vector<int32_t> tokens;
  std::vector<float> logprobs;
  std::string text;
  FinishReason finish = FinishReason::Cancelled;
};

Result collect(RequestHandle& h) {
  Result r;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto e = h.next(100ms);
    if (!e) continue;
    for (const auto& t : e->tokens) {
      r.tokens.push_back(t.id);
      r.logprobs.push_back(t.logprob);
    }
    r.text += e->text;
    if (e->kind != Event::Kind::Delta) {
      EXPECT_EQ(e->kind, Event::Kind::Done) << e->message;
      r.finish = e->finish;
      return r;
    }
  }
  ADD_FAILURE() << "request did not end";
  return r;
}

GenerateRequest greedy(const std::vector<int32_t>& prompt, int n) {
  GenerateRequest r;
  r.prompt = prompt;
  r.max_tokens = n;
  r.sampling.temperature = 0;
  r.n_logprobs = 0;
  return r;
}

TEST(EngineModel, GreedyMatchesReferenceAloneAndUnderLoad) {
  const auto cases = load_cases();
  ASSERT_FALSE(cases.empty());
  auto f = make(512, 4, 64);
  ASSERT_TRUE(f);
  for (const auto& c : cases) {
    auto s = f->engine->submit(greedy(c.prompt, static_cast<int>(c.completion.size())));
    ASSERT_TRUE(s.ok()) << s.message;
    Result alone = collect(*s.handle);
    EXPECT_EQ(alone.tokens, c.completion);
    EXPECT_EQ(alone.text, c.text);
    ASSERT_EQ(alone.logprobs.size(), c.logprobs.size());
    for (size_t i = 0; i < c.logprobs.size(); ++i) EXPECT_NEAR(alone.logprobs[i], c.logprobs[i], 1e-3) << i;
  }

  // Each reference prompt again, each among 16 other requests (sampled and greedy, of varied
  // lengths, started before it so that it joins a running batch).
  for (const auto& c : cases) {
    std::vector<std::unique_ptr<RequestHandle>> others;
    for (int i = 0; i < 16; ++i) {
      GenerateRequest r = greedy({1, 403, 407, static_cast<int32_t>(300 + i)}, 20 + 3 * i);
      if (i % 2) {
        r.sampling.temperature = 0.9f;
        r.sampling.seed = static_cast<uint64_t>(i);
      }
      auto s = f->engine->submit(std::move(r));
      ASSERT_TRUE(s.ok()) << s.message;
      others.push_back(std::move(s.handle));
    }
    std::this_thread::sleep_for(2ms);
    auto s = f->engine->submit(greedy(c.prompt, static_cast<int>(c.completion.size())));
    ASSERT_TRUE(s.ok());
    Result loaded = collect(*s.handle);
    EXPECT_EQ(loaded.tokens, c.completion);
    EXPECT_EQ(loaded.text, c.text);
    for (auto& h : others) collect(*h);
  }
  EngineStats st = f->engine->stats();
  EXPECT_EQ(st.kv_blocks_free, 512);
  EXPECT_GT(st.prefix_hit_tokens, 0u);
}

}  // namespace
}  // namespace ag::engine
