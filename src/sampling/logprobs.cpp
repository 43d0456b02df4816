#include "sampling/logprobs.h"

#include <algorithm>
#include <cmath>

namespace ag {

double log_sum_exp(std::span<const float> logits) {
  if (logits.empty()) return -INFINITY;
  float max_logit = logits[0];
  for (float l : logits) max_logit = std::max(max_logit, l);
  if (std::isinf(max_logit)) return max_logit;
  double sum = 0.0;
  for (float l : logits) sum += std::exp(static_cast<double>(l) - max_logit);
  return max_logit + std::log(sum);
}

float token_logprob(std::span<const float> logits, int32_t id) {
  return static_cast<float>(static_cast<double>(logits[static_cast<size_t>(id)]) -
                            log_sum_exp(logits));
}

std::vector<std::pair<int32_t, float>> top_logprobs(std::span<const float> logits, int k) {
  const size_t n = std::min(logits.size(), static_cast<size_t>(std::max(k, 0)));
  std::vector<int32_t> ids(logits.size());
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(i);
  std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(n), ids.end(),
                    [&](int32_t a, int32_t b) {
                      const float la = logits[static_cast<size_t>(a)];
                      const float lb = logits[static_cast<size_t>(b)];
                      return la > lb || (la == lb && a < b);
                    });
  const double lse = log_sum_exp(logits);
  std::vector<std::pair<int32_t, float>> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i)
    out.emplace_back(ids[i],
                     static_cast<float>(static_cast<double>(logits[static_cast<size_t>(ids[i])]) - lse));
  return out;
}

}  // namespace ag
