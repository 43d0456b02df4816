#pragma once
// The tensors a model of given hyper-parameters has, with llama.cpp's GGUF names and shapes
// (ne[0] first: the row length). Used by `synth` to write a model and by the planner to size one
// that exists only as a preset or a config.json.
#include <cstdint>
#include <string>
#include <vector>

#include "model/hparams.h"

namespace ag::planner {

// What a tensor is for; the quantization mixture rules and the speed model key on it.
enum class TensorRole {
  TokenEmbd,   // token_embd.weight [n_embd, n_vocab]
  Output,      // output.weight [n_embd, n_vocab] (absent when tied)
  OutputNorm,  // output_norm.weight [n_embd]
  RopeFreqs,   // rope_freqs.weight [n_rot / 2] (Llama-3 rope scaling)
  AttnNorm,    // blk.N.attn_norm.weight [n_embd]
  AttnQ,       // blk.N.attn_q.weight [n_embd, n_head * head_dim]
  AttnK,       // blk.N.attn_k.weight [n_embd, n_head_kv * head_dim]
  AttnV,       // blk.N.attn_v.weight [n_embd, n_head_kv * head_dim]
  AttnQBias,   // blk.N.attn_q.bias (qwen2)
  AttnKBias,
  AttnVBias,
  AttnQNorm,   // blk.N.attn_q_norm.weight [head_dim] (qwen3)
  AttnKNorm,
  AttnOutput,  // blk.N.attn_output.weight [n_head * head_dim, n_embd]
  FfnNorm,     // blk.N.ffn_norm.weight [n_embd]
  FfnGate,     // blk.N.ffn_gate.weight [n_embd, n_ff]
  FfnUp,       // blk.N.ffn_up.weight [n_embd, n_ff]
  FfnDown,     // blk.N.ffn_down.weight [n_ff, n_embd]
  Other,       // a tensor of a GGUF file that none of the above names
};

struct TensorSpec {
  std::string name;
  TensorRole role = TensorRole::Other;
  int layer = -1;               // block index, -1 for global tensors
  std::vector<uint64_t> shape;  // ne[0] first

  uint64_t n_elements() const {
    uint64_t n = 1;
    for (uint64_t d : shape) n *= d;
    return n;
  }
  // Weight matrices (2-D, name ends in ".weight", not a norm): the tensors quantization applies to.
  bool is_matrix() const;
};

// The tensors of a llama / qwen2 / qwen3 model in llama.cpp's file order: token_embd,
// [rope_freqs], output_norm, [output], then per block attn_norm, q, [q bias], k, [k bias], v,
// [v bias], [q_norm, k_norm], attn_output, ffn_norm, ffn_gate, ffn_up, ffn_down.
std::vector<TensorSpec> model_tensors(const HParams& hp);

// Role and layer of a tensor found in a GGUF file, from its name.
TensorRole tensor_role(std::string_view name, int* layer);

uint64_t count_parameters(const std::vector<TensorSpec>& tensors);

}  // namespace ag::planner
