// The stories260K model against llama.cpp's outputs (../shared/reference/stories260K): greedy
// decoding token for token with top-5 log-probabilities within 1e-3, and perplexity.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/model.h"
#include "model/session.h"
#include "sampling/logprobs.h"

namespace ag {
namespace {

const std::string kShared = AUTOGLM_SHARED_DIR;
const std::string kModelPath = kShared + "/models/stories260K.gguf";

nlohmann::json load_json(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  return nlohmann::json::parse(in);
}

int32_t argmax(std::span<const float> v) {
  int32_t best = 0;
  for (size_t i = 1; i < v.size(); ++i)
    if (v[i] > v[static_cast<size_t>(best)]) best = static_cast<int32_t>(i);
  return best;
}

TEST(Golden, Stories260KGreedyMatchesLlamaCpp) {
  // llama.cpp's default cache type, whose roundings the attention reproduces (kernels/attention.h)
  auto model = Model::load(kModelPath, {.n_threads = 1, .kv_type = DType::F16});
  ASSERT_TRUE(model.ok()) << model.error().message;
  const auto ref = load_json(kShared + "/reference/stories260K/greedy.json");
  ASSERT_FALSE(ref["cases"].empty());
  const int n_vocab = (*model)->hparams().n_vocab;
  for (const auto& c : ref["cases"]) {
    SCOPED_TRACE(c["prompt"].get<std::string>());
    auto session = Session::create(**model, 256);
    ASSERT_TRUE(session.ok()) << session.error().message;
    std::vector<int32_t> prompt = c["prompt_tokens"].get<std::vector<int32_t>>();
    std::vector<float> logits;
    ASSERT_TRUE(session->eval(prompt, false, logits).ok());
    const auto& steps = c["steps"];
    const auto expected = c["completion_tokens"].get<std::vector<int32_t>>();
    ASSERT_EQ(expected.size(), steps.size());
    double max_err = 0.0;
    for (size_t i = 0; i < expected.size(); ++i) {
      ASSERT_EQ(logits.size(), static_cast<size_t>(n_vocab));
      const int32_t id = argmax(logits);
      ASSERT_EQ(id, expected[i]) << "step " << i;
      EXPECT_NEAR(token_logprob(logits, id), steps[i]["logprob"].get<double>(), 1e-3);
      for (const auto& top : steps[i]["top"]) {
        const int32_t tid = top[0].get<int32_t>();
        const double lp = top[1].get<double>();
        const double got = token_logprob(logits, tid);
        max_err = std::max(max_err, std::abs(got - lp));
        EXPECT_NEAR(got, lp, 1e-3) << "step " << i << " token " << tid;
      }
      const int32_t next = id;
      ASSERT_TRUE(session->eval({&next, 1}, false, logits).ok());
    }
    ::testing::Test::RecordProperty("max_logprob_error", std::to_string(max_err));
  }
}

// The thread count never changes a result; an F32 cache only moves logits by F16 rounding noise.
TEST(Golden, Stories260KThreadsAndCacheType) {
  const auto ref = load_json(kShared + "/reference/stories260K/greedy.json");
  const auto prompt = ref["cases"][0]["prompt_tokens"].get<std::vector<int32_t>>();
  std::vector<std::vector<float>> results;
  for (auto [n_threads, kv_type] : {std::pair{1, DType::F16}, std::pair{2, DType::F16},
                                    std::pair{2, DType::F32}}) {
    auto model = Model::load(kModelPath, {.n_threads = n_threads, .kv_type = kv_type});
    ASSERT_TRUE(model.ok()) << model.error().message;
    auto session = Session::create(**model, 64);
    ASSERT_TRUE(session.ok());
    std::vector<float> all, logits;
    ASSERT_TRUE(session->eval(prompt, true, logits).ok());
    all = logits;
    for (int i = 0; i < 16; ++i) {  // greedy continuation, logits of every step appended
      const int32_t next = argmax({logits.data() + logits.size() - 512, 512});
      ASSERT_TRUE(session->eval({&next, 1}, false, logits).ok());
      all.insert(all.end(), logits.begin(), logits.end());
    }
    results.push_back(std::move(all));
  }
  ASSERT_EQ(results[0].size(), results[1].size());
  EXPECT_EQ(0, std::memcmp(results[0].data(), results[1].data(), results[0].size() * 4));
  ASSERT_EQ(results[0].size(), results[2].size());
  for (size_t i = 0; i < results[0].size(); ++i) ASSERT_NEAR(results[0][i], results[2][i], 0.05);
}

}  // namespace
}  // namespace ag
