// Each stage of the sampler chain, and the seeded draw.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "sampling/logprobs.h"
#include "sampling/sampler.h"

namespace ag {
namespace {

SamplingParams greedy() {
  SamplingParams p;
  p.temperature = 0.0f;
  return p;
}

// Draw frequencies over n samples with a fresh seed per draw sequence.
std::map<int32_t, double> frequencies(const SamplingParams& params, const std::vector<float>& logits,
                                      int n) {
  Sampler s(params, static_cast<int>(logits.size()));
  std::map<int32_t, double> f;
  for (int i = 0; i < n; ++i) f[s.sample(logits)] += 1.0 / n;
  return f;
}

std::vector<float> logits_of(const std::vector<double>& probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(static_cast<float>(std::log(p)));
  return l;
}

TEST(Greedy, ArgmaxLowestIdOnTies) {
  Sampler s(greedy(), 5);
  EXPECT_EQ(s.sample(std::vector<float>{0.1f, 3.0f, -1.0f, 3.0f, 2.9f}), 1);
  EXPECT_EQ(s.sample(std::vector<float>{5.0f, 5.0f, 5.0f, 5.0f, 5.0f}), 0);
  EXPECT_EQ(s.sample(std::vector<float>{-9.0f, -8.0f, -7.0f, -6.0f, -5.0f}), 4);
}

TEST(LogitBias, ShiftsAndBans) {
  auto p = greedy();
  p.logit_bias = {{2, 10.0f}};
  Sampler s(p, 3);
  EXPECT_EQ(s.sample(std::vector<float>{1.0f, 2.0f, 0.0f}), 2);
  p.logit_bias = {{1, -INFINITY}};
  Sampler banned(p, 3);
  EXPECT_EQ(banned.sample(std::vector<float>{1.0f, 2.0f, 0.0f}), 0);
  p.temperature = 1.0f;
  for (const auto& [id, f] : frequencies(p, {1.0f, 5.0f, 0.0f}, 200)) EXPECT_NE(id, 1);
  // out-of-range ids are ignored, not a crash
  p.logit_bias = {{-4, 1.0f}, {99, 1.0f}};
  Sampler odd(p, 3);
  EXPECT_GE(odd.sample(std::vector<float>{1.0f, 2.0f, 0.0f}), 0);
}

TEST(Penalties, RepeatDividesPositiveMultipliesNegative) {
  auto p = greedy();
  p.repeat_penalty = 1.1f;
  Sampler s(p, 2);
  s.accept(0);
  EXPECT_EQ(s.sample(std::vector<float>{2.0f, 1.9f}), 1);     // 2 / 1.1 = 1.82 < 1.9
  EXPECT_EQ(s.sample(std::vector<float>{2.0f, 1.8f}), 0);     // 1.82 > 1.8
  EXPECT_EQ(s.sample(std::vector<float>{-1.0f, -1.05f}), 1);  // -1 * 1.1 = -1.1 < -1.05
  EXPECT_EQ(s.sample(std::vector<float>{-1.0f, -1.15f}), 0);
}

TEST(Penalties, FrequencyCountsPresenceOnce) {
  auto p = greedy();
  p.frequency_penalty = 0.3f;
  Sampler freq(p, 2);
  freq.accept(0);
  EXPECT_EQ(freq.sample(std::vector<float>{2.0f, 1.5f}), 0);  // 2 - 0.3 = 1.7
  freq.accept(0);
  EXPECT_EQ(freq.sample(std::vector<float>{2.0f, 1.5f}), 1);  // 2 - 0.6 = 1.4
  p.frequency_penalty = 0.0f;
  p.presence_penalty = 0.4f;
  Sampler pres(p, 2);
  pres.accept(0);
  pres.accept(0);
  pres.accept(0);
  EXPECT_EQ(pres.sample(std::vector<float>{2.0f, 1.5f}), 0);  // 2 - 0.4 = 1.6, not per count
  EXPECT_EQ(pres.sample(std::vector<float>{2.0f, 1.65f}), 1);
}

TEST(Penalties, WindowOfLastN) {
  auto p = greedy();
  p.repeat_penalty = 2.0f;
  p.repeat_last_n = 2;
  Sampler s(p, 4);
  s.accept(0);
  s.accept(2);
  s.accept(3);  // 0 has left the window
  EXPECT_EQ(s.sample(std::vector<float>{2.0f, 1.5f, 0.0f, 0.0f}), 0);
  s.accept(0);
  EXPECT_EQ(s.sample(std::vector<float>{2.0f, 1.5f, 0.0f, 0.0f}), 1);
  s.reset();
  EXPECT_EQ(s.sample(std::vector<float>{2.0f, 1.5f, 0.0f, 0.0f}), 0);
  p.repeat_last_n = 0;  // off
  Sampler off(p, 2);
  off.accept(0);
  EXPECT_EQ(off.sample(std::vector<float>{2.0f, 1.5f}), 0);
}

TEST(TopK, KeepsOnlyTheKMostLikely) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 2;
  const auto f = frequencies(p, logits_of({0.3, 0.1, 0.35, 0.25}), 2000);
  EXPECT_EQ(f.size(), 2u);
  EXPECT_TRUE(f.count(0) && f.count(2));
  EXPECT_NEAR(f.at(2), 0.35 / 0.65, 0.04);
  p.top_k = 1;
  const auto one = frequencies(p, logits_of({0.3, 0.1, 0.35, 0.25}), 100);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one.begin()->first, 2);
}

TEST(TopP, SmallestPrefixReachingP) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_p = 0.6f;
  auto f = frequencies(p, logits_of({0.2, 0.5, 0.3}), 2000);
  EXPECT_EQ(f.size(), 2u);  // 0.5 + 0.3 >= 0.6
  EXPECT_FALSE(f.count(0));
  EXPECT_NEAR(f[1], 0.5 / 0.8, 0.04);
  p.top_p = 0.45f;  // 0.5 alone reaches it
  f = frequencies(p, logits_of({0.2, 0.5, 0.3}), 200);
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f.begin()->first, 1);
}

TEST(MinP, DropsBelowFractionOfMax) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.min_p = 0.5f;
  const auto f = frequencies(p, logits_of({0.5, 0.3, 0.2}), 2000);  // keep p >= 0.25
  EXPECT_EQ(f.size(), 2u);
  EXPECT_FALSE(f.count(2));
  EXPECT_NEAR(f.at(0), 0.5 / 0.8, 0.04);
}

TEST(Temperature, SharpensAndFlattens) {
  SamplingParams p;
  p.temperature = 1.0f;
  const std::vector<float> l = logits_of({0.5, 0.3, 0.2});
  auto f = frequencies(p, l, 20000);
  EXPECT_NEAR(f[0], 0.5, 0.015);
  EXPECT_NEAR(f[1], 0.3, 0.015);
  EXPECT_NEAR(f[2], 0.2, 0.015);
  p.temperature = 0.5f;  // p^2 normalised: .25/.38, .09/.38, .04/.38
  f = frequencies(p, l, 20000);
  EXPECT_NEAR(f[0], 0.25 / 0.38, 0.015);
  EXPECT_NEAR(f[2], 0.04 / 0.38, 0.015);
  p.temperature = 100.0f;
  f = frequencies(p, l, 20000);
  EXPECT_NEAR(f[2], 1.0 / 3, 0.02);
}

TEST(Seed, SameSeedSameDrawsDifferentSeedDifferent) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 1234;
  std::vector<float> l(50);
  for (size_t i = 0; i < l.size(); ++i) l[i] = static_cast<float>(i % 7) * 0.3f;
  auto draws = [&](uint64_t seed) {
    p.seed = seed;
    Sampler s(p, 50);
    std::vector<int32_t> out;
    for (int i = 0; i < 40; ++i) out.push_back(s.sample(l));
    return out;
  };
  EXPECT_EQ(draws(1234), draws(1234));
  EXPECT_NE(draws(1234), draws(1235));
  p.seed = 99;
  Sampler s(p, 50);
  const int32_t first = s.sample(l);
  s.sample(l);
  s.reset();
  EXPECT_EQ(s.sample(l), first);
}

TEST(Chain, AllBannedStaysDefined) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.logit_bias = {{0, -INFINITY}, {1, -INFINITY}};
  Sampler s(p, 2);
  const int32_t id = s.sample(std::vector<float>{1.0f, 2.0f});
  EXPECT_TRUE(id == 0 || id == 1);
}

TEST(Logprobs, LogSoftmaxAndTopK) {
  const std::vector<float> l = {1.0f, 3.0f, 2.0f, 3.0f};
  double z = std::exp(1.0) + 2 * std::exp(3.0) + std::exp(2.0);
  EXPECT_NEAR(token_logprob(l, 2), 2.0 - std::log(z), 1e-6);
  const auto top = top_logprobs(l, 3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].first, 1);  // ties: lower id first
  EXPECT_EQ(top[1].first, 3);
  EXPECT_EQ(top[2].first, 2);
  EXPECT_NEAR(top[0].second, 3.0 - std::log(z), 1e-6);
  EXPECT_EQ(top_logprobs(l, 10).size(), 4u);
  EXPECT_TRUE(top_logprobs(l, 0).empty());
}

}  // namespace
}  // namespace ag
