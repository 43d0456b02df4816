#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_map>

#include "core/check.h"

namespace ag {

namespace {

// Most likely first; the lower id first on equal logits, so every sort is deterministic.
bool more_likely(float la, int32_t ia, float lb, int32_t ib) {
  return la > lb || (la == lb && ia < ib);
}

int32_t argmax_lowest_id(const std::vector<float>& logits) {
  int32_t best = 0;
  for (int32_t i = 1; i < static_cast<int32_t>(logits.size()); ++i)
    if (logits[static_cast<size_t>(i)] > logits[static_cast<size_t>(best)]) best = i;
  return best;
}

}  // namespace

Sampler::Sampler(const SamplingParams& params, int n_vocab)
    : params_(params), n_vocab_(n_vocab), rng_(params.seed) {
  AG_CHECK(n_vocab > 0, "empty vocabulary");
  work_.reserve(static_cast<size_t>(n_vocab));
  candidates_.reserve(static_cast<size_t>(n_vocab));
}

void Sampler::reset() {
  recent_.clear();
  rng_.seed(params_.seed);
}

void Sampler::accept(int32_t id) {
  if (params_.repeat_last_n == 0) return;
  recent_.push_back(id);
  if (params_.repeat_last_n > 0 && recent_.size() > static_cast<size_t>(params_.repeat_last_n))
    recent_.pop_front();
}

// llama.cpp's penalties: each distinct token of the window is penalised once for repetition
// (a positive logit divided by the penalty, a negative one multiplied, so both move down), then
// by count * frequency_penalty + presence_penalty.
void Sampler::apply_penalties(std::vector<float>& logits) const {
  const bool any = params_.repeat_penalty != 1.0f || params_.frequency_penalty != 0.0f ||
                   params_.presence_penalty != 0.0f;
  if (!any || recent_.empty()) return;
  std::unordered_map<int32_t, int> counts;
  for (int32_t id : recent_) ++counts[id];
  for (const auto& [id, count] : counts) {
    if (id < 0 || id >= n_vocab_) continue;
    float& l = logits[static_cast<size_t>(id)];
    if (l <= 0.0f) {
      l *= params_.repeat_penalty;
    } else {
      l /= params_.repeat_penalty;
    }
    l -= static_cast<float>(count) * params_.frequency_penalty + params_.presence_penalty;
  }
}

int32_t Sampler::sample(std::span<const float> logits) {
  AG_CHECK(logits.size() == static_cast<size_t>(n_vocab_), "logits row has %zu entries, not %d",
           logits.size(), n_vocab_);
  work_.assign(logits.begin(), logits.end());
  for (const auto& [id, bias] : params_.logit_bias)
    if (id >= 0 && id < n_vocab_) work_[static_cast<size_t>(id)] += bias;
  apply_penalties(work_);

  if (params_.temperature <= 0.0f) return argmax_lowest_id(work_);

  candidates_.clear();
  for (int32_t i = 0; i < n_vocab_; ++i) {
    const float l = work_[static_cast<size_t>(i)];
    if (l > -std::numeric_limits<float>::infinity()) candidates_.push_back({i, l});  // drops NaN too
  }
  if (candidates_.empty()) return argmax_lowest_id(work_);  // every token banned: stay defined
  auto by_likelihood = [](const Candidate& a, const Candidate& b) {
    return more_likely(a.logit, a.id, b.logit, b.id);
  };
  bool sorted = false;

  // top-k
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < candidates_.size()) {
    std::partial_sort(candidates_.begin(), candidates_.begin() + params_.top_k, candidates_.end(),
                      by_likelihood);
    candidates_.resize(static_cast<size_t>(params_.top_k));
    sorted = true;
  }

  // top-p: the smallest most-likely prefix whose probability reaches top_p (at least one token)
  if (params_.top_p < 1.0f && candidates_.size() > 1) {
    if (!sorted) std::sort(candidates_.begin(), candidates_.end(), by_likelihood);
    sorted = true;
    const float max_logit = candidates_.front().logit;
    double sum = 0.0;
    for (const auto& c : candidates_) sum += std::exp(static_cast<double>(c.logit - max_logit));
    double cumulative = 0.0;
    size_t keep = candidates_.size();
    for (size_t i = 0; i < candidates_.size(); ++i) {
      cumulative += std::exp(static_cast<double>(candidates_[i].logit - max_logit)) / sum;
      if (cumulative >= static_cast<double>(params_.top_p)) {
        keep = i + 1;
        break;
      }
    }
    candidates_.resize(keep);
  }

  // min-p: drop tokens whose probability is below min_p times the most likely one's
  if (params_.min_p > 0.0f && candidates_.size() > 1) {
    float max_logit = candidates_.front().logit;
    for (const auto& c : candidates_) max_logit = std::max(max_logit, c.logit);
    const float threshold = max_logit + std::log(params_.min_p);
    std::erase_if(candidates_, [&](const Candidate& c) { return c.logit < threshold; });
  }

  // temperature
  for (auto& c : candidates_) c.logit /= params_.temperature;
  return draw(candidates_);
}

int32_t Sampler::draw(std::vector<Candidate>& candidates) {
  float max_logit = candidates.front().logit;
  for (const auto& c : candidates) max_logit = std::max(max_logit, c.logit);
  double sum = 0.0;
  for (const auto& c : candidates) sum += std::exp(static_cast<double>(c.logit - max_logit));
  // 53 random bits -> a double uniform in [0, 1): the same on every platform for a given seed
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  const double target = u * sum;
  double cumulative = 0.0;
  for (const auto& c : candidates) {
    cumulative += std::exp(static_cast<double>(c.logit - max_logit));
    if (target < cumulative) return c.id;
  }
  return candidates.back().id;  // rounding left target at the very end
}

}  // namespace ag
