#pragma once
// Perplexity with llama.cpp's method (llama-perplexity): consecutive chunks of n_ctx tokens (the
// remainder dropped), BOS put first in each chunk, each chunk evaluated from an empty cache, and
// only the second half scored: logits at positions n_ctx/2 .. n_ctx-2 predicting the next token.
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "core/result.h"
#include "model/model.h"

namespace ag {

struct PerplexityResult {
  double ppl = 0;        // exp(mean_nll)
  double ppl_error = 0;  // standard error of the mean NLL carried through exp (as llama.cpp)
  double mean_nll = 0;
  size_t n_chunks = 0;
  size_t n_scored = 0;
  std::vector<double> chunk_ppl;  // running perplexity after each chunk
};

// The chunks perplexity evaluates: [n_chunks * n_ctx] tokens, the remainder dropped, each chunk's
// first token replaced by bos (unless bos < 0).
std::vector<int32_t> perplexity_chunks(std::span<const int32_t> tokens, int n_ctx, int32_t bos);

// Called for each scored row in order: the row's logits [n_vocab] and the token that follows.
// An error stops the run and is returned.
using PerplexityRowFn = std::function<Status(std::span<const float> logits, int32_t next)>;

// tokens: the whole text tokenized with BOS. bos: the id put first in each chunk, or -1 to keep
// the text's own token. Needs at least 2 * n_ctx tokens (as llama.cpp). progress(chunk, ppl) is
// called after each chunk when given; on_row (KL divergence) sees every scored row.
Result<PerplexityResult> perplexity(Model& model, std::span<const int32_t> tokens, int n_ctx,
                                    int n_batch, int32_t bos,
                                    const std::function<void(size_t, double)>& progress = {},
                                    const PerplexityRowFn& on_row = {});

}  // namespace ag
