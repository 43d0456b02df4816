// Engine loop over a fake backend (paged-KV contract checked, see fake_backend.h) and the real
// stories260K tokenizer: greedy output alone vs under load with preemption, stop conditions,
// streaming hold-back, logprobs, cancellation, queue policy, shutdown.
#include "engine/engine.h"

#include <future>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "fake_backend.h"
#include "gguf/gguf.h"

namespace ag::engine {
namespace {

using namespace std::chrono_literals;
using testing::FakeBackend;

// stories260K ids from 259 on are text pieces (below: control and byte tokens).
constexpr int32_t kFirstTextToken = 259;

const tok::Tokenizer& stories_tokenizer() {
  static const tok::Tokenizer tokenizer = [] {
    auto file = gguf::File::open(std::string(AUTOGLM_SHARED_DIR) + "/models/stories260K.gguf");
    if (!file.ok()) throw std::runtime_error(file.error().message);
    auto t = tok::Tokenizer::from_gguf(*file);
    if (!t.ok()) throw std::runtime_error(t.error().message);
    return std::move(*t);
  }();
  return tokenizer;
}

struct Output {
  std::vector<int32_t> tokens;
  std::string text;
  std::vector<std::string> deltas;
  FinishReason finish = FinishReason::Stop;
  Usage usage;
  RejectReason error = RejectReason::None;
  std::string message;
  std::vector<TokenOutput> token_info;
};

Output collect(RequestHandle& h, std::chrono::milliseconds limit = 20s) {
  Output out;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    auto e = h.next(100ms);
    if (!e) continue;
    for (auto& t : e->tokens) {
      out.tokens.push_back(t.id);
      out.token_info.push_back(t);
    }
    out.text += e->text;
    if (!e->text.empty()) out.deltas.push_back(e->text);
    if (e->kind == Event::Kind::Done) {
      out.finish = e->finish;
      out.usage = e->usage;
      return out;
    }
    if (e->kind == Event::Kind::Error) {
      out.error = e->reason;
      out.message = e->message;
      return out;
    }
  }
  ADD_FAILURE() << "request did not end";
  return out;
}

GenerateRequest greedy(std::vector<int32_t> prompt, int max_tokens) {
  GenerateRequest r;
  r.prompt = std::move(prompt);
  r.max_tokens = max_tokens;
  r.sampling.temperature = 0;
  return r;
}

std::vector<int32_t> expected_greedy(const FakeBackend& b, std::vector<int32_t> seq, int n) {
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(b.next_token(seq));
    seq.push_back(out.back());
  }
  return out;
}

EngineConfig small_config(int max_batch_tokens = 32, int max_running = 8, int n_ctx = 256) {
  EngineConfig c;
  c.scheduler.max_batch_tokens = max_batch_tokens;
  c.scheduler.max_running = max_running;
  c.n_ctx = n_ctx;
  return c;
}

TEST(Engine, GreedyMatchesTheModelAlone) {
  const auto& tok = stories_tokenizer();
  FakeBackend backend(tok.n_tokens(), 64, 4);
  backend.first_token_ = kFirstTextToken;
  auto engine = Engine::create(small_config(), backend, tok);
  ASSERT_TRUE(engine.ok()) << engine.error().message;
  std::vector<int32_t> prompt = {1, 400, 401, 402, 403, 404};
  auto sub = (*engine)->submit(greedy(prompt, 20));
  ASSERT_TRUE(sub.ok()) << sub.message;
  Output out = collect(*sub.handle);
  EXPECT_EQ(out.tokens, expected_greedy(backend, prompt, 20));
  EXPECT_EQ(out.finish, FinishReason::Length);
  EXPECT_EQ(out.usage.prompt_tokens, 6);
  EXPECT_EQ(out.usage.completion_tokens, 20);
  // Text deltas add up to the detokenized output.
  EXPECT_EQ(out.text, tok.decode(out.tokens));
  EngineStats st = (*engine)->stats();
  EXPECT_EQ(st.kv_blocks_free, 64);
  EXPECT_EQ(st.generation_tokens, 20u);
  EXPECT_EQ(st.prompt_tokens, 6u);
  EXPECT_EQ(st.time_to_first_token.count, 1u);
  EXPECT_EQ(st.time_per_output_token.count, 19u);
  EXPECT_EQ(st.request_duration.count, 1u);
}

// The same greedy request gives the same tokens alone and among 16 others, with a pool small
// enough that requests are preempted and recomputed, and shared prefixes hit the cache.
TEST(Engine, SameOutputAloneAndUnderLoadWithPreemption) {
  const auto& tok = stories_tokenizer();
  FakeBackend backend(tok.n_tokens(), 40, 4);
  auto engine = Engine::create(small_config(24, 12, 160), backend, tok);
  ASSERT_TRUE(engine.ok()) << engine.error().message;
  std::vector<int32_t> prompt = {1, 10, 11, 12, 13, 14, 15, 16, 17, 18};
  auto alone = (*engine)->submit(greedy(prompt, 30));
  ASSERT_TRUE(alone.ok());
  const Output ref = collect(*alone.handle);
  ASSERT_EQ(ref.tokens, expected_greedy(backend, prompt, 30));

  std::vector<std::unique_ptr<RequestHandle>> handles;
  std::vector<std::vector<int32_t>> prompts;
  // All 17 requests are queued before the engine steps again: otherwise, on a slow or loaded
  // machine, the first ones could finish before the last are submitted and nothing be preempted.
  backend.hold_ = true;
  struct Release {  // also when an assertion returns early, before the engine is destroyed
    FakeBackend& b;
    ~Release() { b.hold_ = false; }
  } release{backend};
  for (int i = 0; i < 16; ++i) {
    std::vector<int32_t> p = {1, 10, 11, 12, 13, 14, 15, 16};  // shared prefix (2 blocks)
    for (int j = 0; j <= i % 5; ++j) p.push_back(100 + i * 7 + j);
    prompts.push_back(p);
    auto s = (*engine)->submit(greedy(p, 20 + i));
    ASSERT_TRUE(s.ok()) << s.message;
    handles.push_back(std::move(s.handle));
  }
  auto again = (*engine)->submit(greedy(prompt, 30));
  backend.hold_ = false;
  ASSERT_TRUE(again.ok());
  for (size_t i = 0; i < handles.size(); ++i) {
    Output o = collect(*handles[i]);
    EXPECT_EQ(o.tokens, expected_greedy(backend, prompts[i], 20 + static_cast<int>(i))) << i;
  }
  const Output loaded = collect(*again.handle);
  EXPECT_EQ(loaded.tokens, ref.tokens);
  EXPECT_EQ(loaded.text, ref.text);
  EngineStats st = (*engine)->stats();
  EXPECT_GT(st.n_preempted, 0u);
  EXPECT_GT(st.prefix_hit_tokens, 0u);
  EXPECT_GT(backend.max_rows_.load(), 1);
  EXPECT_EQ(st.kv_blocks_free, 40);
  EXPECT_EQ(st.n_running, 0);
}

TEST(Engine, StopStringsEndTheOutputAndNeverLeakPartially) {
  const auto& tok = stories_tokenizer();
  FakeBackend backend(tok.n_tokens(), 64, 4);
  backend.first_token_ = kFirstTextToken;
  auto engine = Engine::create(small_config(), backend, tok);
  ASSERT_TRUE(engine.ok());
  std::vector<int32_t> prompt = {1, 300, 301};
  auto s = (*engine)->submit(greedy(prompt, 40));
  const Output full = collect(*s.handle);
  ASSERT_GT(full.text.size(), 20u);
  // A stop string from the middle of the text, spanning a token boundary when possible.
  const std::string stop = full.text.substr(full.text.size() / 2, 3);
  const size_t at = full.text.find(stop);
  GenerateRequest r = greedy(prompt, 40);
  r.stop = {stop, "never-appears-xyz"};
  s = (*engine)->submit(std::move(r));
  const Output cut = collect(*s.handle);
  EXPECT_EQ(cut.finish, FinishReason::Stop);
  EXPECT_EQ(cut.text, full.text.substr(0, at));
  for (const auto& d : cut.deltas) EXPECT_EQ(d.find(stop), std::string::npos);
  EXPECT_LT(cut.usage.completion_tokens, 40);
}

TEST(Engine, EndOfGenerationUnlessIgnoreEos) {
  const auto& tok = stories_tokenizer();
  const int32_t eos = tok.special().eos;
  ASSERT_GE(eos, 0);
  FakeBackend backend(tok.n_tokens(), 64, 4, eos);
  backend.eos_at_ = 8;  // sequences of 8 tokens and more are followed by EOS
  auto engine = Engine::create(small_config(), backend, tok);
  ASSERT_TRUE(engine.ok());
  auto s = (*engine)->submit(greedy({1, 50, 51}, 30));
  Output o = collect(*s.handle);
  EXPECT_EQ(o.finish, FinishReason::Stop);
  EXPECT_EQ(o.tokens.size(), 5u);  // EOS itself is not output...
  EXPECT_EQ(o.usage.completion_tokens, 6);  // ...but was generated
  GenerateRequest r = greedy({1, 50, 51}, 30);
  r.ignore_eos = true;
  s = (*engine)->submit(std::move(r));
  o = collect(*s.handle);
  EXPECT_EQ(o.finish, FinishReason::Length);
  EXPECT_EQ(o.usage.completion_tokens, 30);
}

TEST(Engine, LogprobsOfRawLogits) {
  const auto& tok = stories_tokenizer();
  FakeBackend backend(tok.n_tokens(), 64, 4);
  auto engine = Engine::create(small_config(), backend, tok);
  ASSERT_TRUE(engine.ok());
  GenerateRequest r = greedy({1, 5, 6}, 3);
  r.n_logprobs = 3;
  auto s = (*engine)->submit(std::move(r));
  Output o = collect(*s.handle);
  ASSERT_EQ(o.token_info.size(), 3u);
  for (const auto& t : o.token_info) {
    ASSERT_EQ(t.top.size(), 3u);
    EXPECT_EQ(t.top[0].id, t.id);
    EXPECT_FLOAT_EQ(t.top[0].logprob, t.logprob);
    EXPECT_EQ(t.top[0].piece, t.piece);
    EXPECT_GE(t.top[0].logprob, t.top[1].logprob);
    EXPECT_LT(t.logprob, 0.0f);
    EXPECT_GT(t.logprob, -0.01f);  // one logit at 12, the rest <= 0
    EXPECT_EQ(t.piece, tok.token_to_piece(t.id));
  }
}

TEST(Engine, SubmitValidationNamesTheProblem) {
  const auto& tok = stories_tokenizer();
  FakeBackend backend(tok.n_tokens(), 64, 4);
  EngineConfig c = small_config(32, 8, 64);
  c.scheduler.priority_levels = 2;
  auto engine = Engine::create(c, backend, tok);
  ASSERT_TRUE(engine.ok());
  auto s = (*engine)->submit(greedy(std::vector<int32_t>(64, 5), 1));
  EXPECT_EQ(s.reason, RejectReason::Invalid);
  EXPECT_NE(s.message.find("64 tokens"), std::string::npos) << s.message;
  s = (*engine)->submit(greedy(std::vector<int32_t>(60, 5), 10));
  EXPECT_NE(s.message.find("60"), std::string::npos);
  EXPECT_NE(s.message.find("64"), std::string::npos);
  s = (*engine)->submit(greedy({}, 1));
  EXPECT_EQ(s.reason, RejectReason::Invalid);
  s = (*engine)->submit(greedy({1, 100000}, 1));
  EXPECT_NE(s.message.find("100000"), std::string::npos);
  GenerateRequest r = greedy({1, 2}, 1);
  r.priority = 3;
  s = (*engine)->submit(std::move(r));
  EXPECT_NE(s.message.find("priority"), std::string::npos);
  r = greedy({1, 2}, 1);
  r.timeout_us = 1000;  // no override allowed by default
  s = (*engine)->submit(std::move(r));
  EXPECT_NE(s.message.find("timeout"), std::string::npos);
  // max_tokens -1: until the context is full.
  s = (*engine)->submit(greedy({1, 2, 3, 4}, -1));
  ASSERT_TRUE(s.ok());
  Output o = collect(*s.handle);
  EXPECT_EQ(o.usage.completion_tokens, 60);
  EXPECT_EQ(o.finish, FinishReason::Length);

  FakeBackend tiny(tok.n_tokens(), 4, 4);
  auto bad = Engine::create(small_config(32, 8, 64), tiny, tok);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("KV pool"), std::string::npos);
}

TEST(Engine, CancelFreesBlocksWithinAStep) {
  const auto& tok = stories_tokenizer();
  FakeBackend backend(tok.n_tokens(), 64, 4);
  backend.delay_ms_ = 5;
  auto engine = Engine::create(small_config(), backend, tok);
  ASSERT_TRUE(engine.ok());
  auto s = (*engine)->submit(greedy({1, 2, 3, 4, 5, 6, 7, 8, 9}, 200));
  ASSERT_TRUE(s.ok());
  auto first = s.handle->next(5s);
  ASSERT_TRUE(first.has_value());
  EXPECT_LT((*engine)->stats().kv_blocks_free, 64);
  s.handle->cancel();
  Output o = collect(*s.handle, 2s);
  EXPECT_EQ(o.finish, FinishReason::Cancelled);
  EXPECT_EQ((*engine)->stats().kv_blocks_free, 64);
  // Dropping a handle cancels too.
  auto t = (*engine)->submit(greedy({1, 2, 3}, 200));
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(t.handle->next(5s).has_value());
  t.handle.reset();
  for (int i = 0; i < 200 && !(*engine)->idle(); ++i) std::this_thread::sleep_for(5ms);
  EXPECT_TRUE((*engine)->idle());
  EXPECT_EQ((*engine)->stats().kv_blocks_free, 64);
}

TEST(Engine, QueueFullAndQueueTimeout) {
  const auto& tok = stories_tokenizer();
  FakeBackend backend(tok.n_tokens(), 64, 4);
  backend.delay_ms_ = 10;
  EngineConfig c = small_config(32, 1);
  c.scheduler.levels = {{1, 30'000, TimeoutAction::Reject, false}};
  auto engine = Engine::create(c, backend, tok);
  ASSERT_TRUE(engine.ok());
  auto a = (*engine)->submit(greedy({1, 2}, 30));  // runs ~300 ms
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(a.handle->next(5s).has_value());     // a is running now
  auto b = (*engine)->submit(greedy({1, 3}, 5));   // waits: the only queue place
  ASSERT_TRUE(b.ok());
  auto full = (*engine)->submit(greedy({1, 4}, 5));
  EXPECT_EQ(full.reason, RejectReason::QueueFull);
  EXPECT_NE(full.message.find("full"), std::string::npos);
  Output ob = collect(*b.handle, 5s);  // b times out after 30 ms
  EXPECT_EQ(ob.error, RejectReason::QueueTimeout);
  EXPECT_NE(ob.message.find("30 ms"), std::string::npos) << ob.message;
  Output oa = collect(*a.handle, 10s);
  EXPECT_EQ(oa.finish, FinishReason::Length);
}

TEST(Engine, ForwardFailureIsAnError) {
  const auto& tok = stories_tokenizer();
  FakeBackend backend(tok.n_tokens(), 64, 4);
  backend.fail_ = true;
  auto engine = Engine::create(small_config(), backend, tok);
  ASSERT_TRUE(engine.ok());
  auto s = (*engine)->submit(greedy({1, 2}, 5));
  Output o = collect(*s.handle);
  EXPECT_EQ(o.error, RejectReason::Internal);
  EXPECT_NE(o.message.find("injected"), std::string::npos);
  EXPECT_EQ((*engine)->stats().kv_blocks_free, 64);
}

TEST(Engine, ShutdownDrainsThenRefuses) {
  const auto& tok = stories_tokenizer();
  FakeBackend backend(tok.n_tokens(), 64, 4);
  backend.delay_ms_ = 2;
  auto engine = Engine::create(small_config(), backend, tok);
  ASSERT_TRUE(engine.ok());
  auto quick = (*engine)->submit(greedy({1, 2}, 5));
  auto slow = (*engine)->submit(greedy({1, 3}, 200));
  ASSERT_TRUE(quick.ok() && slow.ok());
  auto done = std::async(std::launch::async, [&] { (*engine)->shutdown(100ms); });
  Output q = collect(*quick.handle, 5s);
  EXPECT_EQ(q.finish, FinishReason::Length);  // finished within the drain time
  Output sl = collect(*slow.handle, 5s);
  EXPECT_EQ(sl.finish, FinishReason::Cancelled);  // cut at the drain deadline
  done.get();
  auto late = (*engine)->submit(greedy({1, 2}, 5));
  EXPECT_EQ(late.reason, RejectReason::ShuttingDown);
}

}  // namespace
}  // namespace ag::engine
