#pragma once
// The weight tensors of a llama-family model, bound in place from the mapped GGUF file.
// GGUF shapes list ne[0] (the contiguous row) first: a matrix [n_in, n_out] is n_out rows of n_in.
#include <memory>
#include <vector>

#include "core/result.h"
#include "gguf/gguf.h"
#include "kernels/matmul.h"
#include "model/hparams.h"

namespace ag {

struct LayerWeights {
  const float* attn_norm = nullptr;  // [n_embd]
  kernels::WeightView wq;            // [n_embd] -> [n_head * head_dim]
  kernels::WeightView wk;            // [n_embd] -> [n_head_kv * head_dim]
  kernels::WeightView wv;            // [n_embd] -> [n_head_kv * head_dim]
  kernels::WeightView wo;            // [n_head * head_dim] -> [n_embd]
  const float* bq = nullptr;         // [n_head * head_dim]    qwen2 only
  const float* bk = nullptr;         // [n_head_kv * head_dim] qwen2 only
  const float* bv = nullptr;         // [n_head_kv * head_dim] qwen2 only
  const float* q_norm = nullptr;     // [head_dim] qwen3 only
  const float* k_norm = nullptr;     // [head_dim] qwen3 only
  const float* ffn_norm = nullptr;   // [n_embd]
  kernels::WeightView w_gate;        // [n_embd] -> [n_ff]
  kernels::WeightView w_up;          // [n_embd] -> [n_ff]
  kernels::WeightView w_down;        // [n_ff] -> [n_embd]
};

struct ModelWeights {
  kernels::WeightView token_embd;      // [n_embd] x n_vocab rows
  const float* output_norm = nullptr;  // [n_embd]
  kernels::WeightView output;          // [n_embd] -> [n_vocab]; token_embd when tied
  const float* rope_freqs = nullptr;   // [n_rot / 2] or null
  std::vector<LayerWeights> layers;    // [n_layer]
  // Vectors stored as F16/BF16 in the file, converted to float at load (a few KB per layer).
  std::vector<std::unique_ptr<float[]>> converted;
  // Matrices repacked at load (model/packed_weights.h), one after another in one anonymous
  // mapping (2 MiB aligned, transparent huge pages asked for) that the views' `packed` point into.
  std::shared_ptr<uint8_t> packed_arena;  // unmapped when the last owner goes
  size_t packed_bytes = 0;                // bytes of it in use, from packed_arena.get()
};

// Every matrix the forward pass multiplies by (each layer's seven, then the output matrix, which
// with tied embeddings is a view of token_embd's bytes). token_embd itself is only looked up.
std::vector<kernels::WeightView*> multiplied_matrices(ModelWeights& w);

// Binds every tensor the architecture needs, checking presence, shape and type. Errors name the
// file and the tensor.
Result<ModelWeights> bind_weights(const gguf::File& file, const HParams& hp);

}  // namespace ag
