#pragma once
// The sampler chain, in llama.cpp's order:
//   logit bias -> repetition / frequency / presence penalties (over the last repeat_last_n accepted
//   tokens) -> top-k -> top-p -> min-p -> temperature -> seeded draw.
// temperature <= 0 is greedy: the argmax after bias and penalties, the lowest id on ties.
// The draw uses std::mt19937_64 seeded with `seed` and a 53-bit uniform double built from one
// output (not std::uniform_real_distribution), so the same seed gives the same text everywhere.
#include <cstdint>
#include <deque>
#include <random>
#include <span>
#include <utility>
#include <vector>

namespace ag {

struct SamplingParams {
  float temperature = 0.8f;
  float top_p = 1.0f;  // 1 = off
  float min_p = 0.0f;  // 0 = off
  int top_k = 0;       // 0 = off
  float repeat_penalty = 1.0f;     // 1 = off; > 1 penalises repeats
  float frequency_penalty = 0.0f;  // subtracted count times
  float presence_penalty = 0.0f;   // subtracted once if present
  int repeat_last_n = 64;  // window of accepted tokens the penalties look at; 0 = off, -1 = all
  uint64_t seed = 0;
  std::vector<std::pair<int32_t, float>> logit_bias;  // added to a token's logit; -inf bans it
};

class Sampler {
 public:
  Sampler(const SamplingParams& params, int n_vocab);

  // Picks the next token from one logits row [n_vocab]; does not change `logits`.
  // Does not record the token: call accept() with the token actually used.
  int32_t sample(std::span<const float> logits);
  // Records a token (prompt tokens too, so penalties see them, as llama-server does).
  void accept(int32_t id);
  // Forgets accepted tokens and reseeds the generator.
  void reset();

  const SamplingParams& params() const { return params_; }

 private:
  struct Candidate {
    int32_t id;
    float logit;
  };
  void apply_penalties(std::vector<float>& logits) const;
  int32_t draw(std::vector<Candidate>& candidates);

  SamplingParams params_;
  int n_vocab_;
  std::mt19937_64 rng_;
  std::deque<int32_t> recent_;           // last repeat_last_n accepted tokens, oldest first
  std::vector<float> work_;              // [n_vocab] logits after bias and penalties
  std::vector<Candidate> candidates_;    // survivors of the truncation stages
};

}  // namespace ag
