#include "model/perplexity.h"

#include <algorithm>
#include <cmath>

#include "model/session.h"

namespace ag {

namespace {

// -log softmax(row)[target], in double.
double nll(std::span<const float> row, int32_t target) {
  const float max = *std::max_element(row.begin(), row.end());
  double sum = 0.0;
  for (float l : row) sum += std::exp(static_cast<double>(l) - max);
  return std::log(sum) - (static_cast<double>(row[static_cast<size_t>(target)]) - max);
}

}  // namespace

std::vector<int32_t> perplexity_chunks(std::span<const int32_t> tokens, int n_ctx, int32_t bos) {
  const auto n = static_cast<size_t>(n_ctx);
  std::vector<int32_t> chunks(tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(tokens.size() / n * n));
  if (bos >= 0)
    for (size_t c = 0; c < chunks.size(); c += n) chunks[c] = bos;
  return chunks;
}

Result<PerplexityResult> perplexity(Model& model, std::span<const int32_t> tokens, int n_ctx,
                                    int n_batch, int32_t bos,
                                    const std::function<void(size_t, double)>& progress,
                                    const PerplexityRowFn& on_row) {
  if (n_ctx < 4) return error("perplexity needs a context of at least 4 tokens, got {}", n_ctx);
  if (static_cast<int64_t>(tokens.size()) < 2 * static_cast<int64_t>(n_ctx))
    return error("{} tokens, but perplexity with a context of {} needs at least {}", tokens.size(),
                 n_ctx, 2 * n_ctx);
  const int n_vocab = model.hparams().n_vocab;
  for (int32_t id : tokens)
    if (id < 0 || id >= n_vocab)
      return error("token id {} is outside the model's vocabulary of {}", id, n_vocab);
  AG_TRY(Session session, Session::create(model, n_ctx));

  PerplexityResult r;
  const std::vector<int32_t> chunks = perplexity_chunks(tokens, n_ctx, bos);
  r.n_chunks = chunks.size() / static_cast<size_t>(n_ctx);
  const int first = n_ctx / 2;
  double sum = 0.0, sum2 = 0.0;
  std::vector<float> logits;
  for (size_t c = 0; c < r.n_chunks; ++c) {
    const std::span<const int32_t> chunk(chunks.data() + c * static_cast<size_t>(n_ctx), static_cast<size_t>(n_ctx));
    session.reset();
    AG_TRY_STATUS(session.eval(chunk, true, logits, n_batch));
    for (int j = first; j < n_ctx - 1; ++j) {
      const std::span<const float> row(logits.data() + static_cast<size_t>(j) * static_cast<size_t>(n_vocab),
                                       static_cast<size_t>(n_vocab));
      const int32_t next = chunk[static_cast<size_t>(j) + 1];
      if (on_row) AG_TRY_STATUS(on_row(row, next));
      const double v = nll(row, next);
      sum += v;
      sum2 += v * v;
      ++r.n_scored;
    }
    r.chunk_ppl.push_back(std::exp(sum / static_cast<double>(r.n_scored)));
    if (progress) progress(c, r.chunk_ppl.back());
  }
  const auto n = static_cast<double>(r.n_scored);
  r.mean_nll = sum / n;
  r.ppl = std::exp(r.mean_nll);
  const double var = std::max(0.0, sum2 / n - r.mean_nll * r.mean_nll);
  r.ppl_error = r.n_scored > 1 ? r.ppl * std::sqrt(var / (n - 1)) : 0.0;
  return r;
}

}  // namespace ag
