#pragma once
// Log-probabilities of raw logits: log-softmax over the full vocabulary, as reported by
// `generate --json` and the OpenAI `logprobs` field (no sampling transforms applied).
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace ag {

// log(sum(exp(logits))) computed stably (max subtracted), in double.
double log_sum_exp(std::span<const float> logits);

// log p(id) = logits[id] - log_sum_exp(logits).
float token_logprob(std::span<const float> logits, int32_t id);

// The k most likely tokens with their log-probabilities, most likely first (lower id first on
// equal logits). k is clamped to the vocabulary size.
std::vector<std::pair<int32_t, float>> top_logprobs(std::span<const float> logits, int k);

}  // namespace ag
