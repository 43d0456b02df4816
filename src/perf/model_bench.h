#pragma once
// llama-bench style timings of a loaded model, driven through Model::forward:
// - prompt processing (pp): n_prompt tokens in one forward step into an empty cache;
// - token generation (tg): n_gen forward steps of one token each from an empty cache;
// - sweep: `batch` sequences decoding in lockstep, one token of each per forward step (the batched
//   decode the serving engine runs), from an empty cache each.
// Tokens are pseudo-random ids (speed does not depend on them). Every measurement is preceded by
// one untimed warm-up of the same shape.
#include <cstdint>
#include <vector>

#include "core/result.h"
#include "gguf/gguf.h"
#include "model/model.h"

namespace ag::perf {

// What one forward step reads and computes, from the file's tensors.
struct ModelCost {
  uint64_t n_params = 0;        // all tensors' elements
  uint64_t layer_matmul_params = 0;  // elements of the 2-D weights of the blocks (blk.*)
  uint64_t output_params = 0;   // elements of the output projection (token_embd when tied)
  // Bytes of weights a decode step reads: every tensor except token_embd, which is read as a
  // whole only when it is also the output projection (one row per token otherwise).
  uint64_t weights_bytes = 0;
};
ModelCost model_cost(const gguf::File& file);

// Matmul FLOPs of a prompt step: 2 x layer matmul params per token plus the output projection of
// the one row that wants logits (attention scores and weighting not counted).
double prompt_flops(const ModelCost& cost, int n_prompt);

// Tokens per second of each timed repetition.
Result<std::vector<double>> bench_prompt(Model& model, int n_prompt, int reps);
Result<std::vector<double>> bench_generate(Model& model, int n_gen, int reps);

struct SweepRep {
  double step_ms = 0;    // mean wall time of one forward step (each sequence gains one token)
  double tok_per_s = 0;  // batch * n_gen / total time
};
Result<std::vector<SweepRep>> bench_sweep(Model& model, int batch, int n_gen, int reps);

}  // namespace ag::perf
