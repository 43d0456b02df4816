#pragma once
// Hyper-parameters of a decoder-only transformer, read from GGUF metadata with the key names
// llama.cpp uses (`<arch>.block_count`, `<arch>.attention.head_count`, ...).
#include <cstdint>
#include <string>

#include "core/result.h"

namespace ag {
namespace gguf {
class File;
}

// How query/key dimensions are paired for the rotation.
enum class RopeType {
  Normal,  // adjacent pairs (x[2i], x[2i+1]): llama (GGUF Q/K weights are permuted for it)
  Neox,    // halves (x[i], x[i + n_rot/2]): qwen2, qwen3
};

enum class RopeScalingType { None, Linear, Yarn };

struct RopeScaling {
  RopeScalingType type = RopeScalingType::None;
  float factor = 1.0f;       // context extension factor; positions are divided by it (linear)
  int n_ctx_orig = 0;        // `.rope.scaling.original_context_length` (YaRN), 0 = n_ctx_train
  float attn_factor = 1.0f;  // `.rope.scaling.attn_factor` (YaRN magnitude scale)
};

struct HParams {
  std::string arch;  // "llama", "qwen2", "qwen3"
  int n_layer = 0;
  int n_embd = 0;     // residual stream width
  int n_head = 0;     // query heads
  int n_head_kv = 0;  // key/value heads (GQA: n_head is a multiple of it)
  int head_dim = 0;   // `.attention.key_length`, default n_embd / n_head (= value length)
  int n_rot = 0;      // rotated dimensions per head, `.rope.dimension_count`, default head_dim
  int n_ff = 0;       // feed-forward hidden width
  int n_vocab = 0;    // rows of the output matrix (= logits per row)
  int n_ctx_train = 0;
  float rms_eps = 1e-5f;
  float rope_base = 10000.0f;
  RopeType rope_type = RopeType::Normal;
  RopeScaling rope_scaling;
  bool has_rope_freqs = false;  // Llama-3 style per-dimension frequency divisors (rope_freqs.weight)
  bool tied_output = false;     // output.weight absent: logits use token_embd.weight
  bool qkv_bias = false;        // qwen2: attn_q/k/v.bias
  bool qk_norm = false;         // qwen3: per-head RMS norm of q and k before rope

  int n_embd_q() const { return n_head * head_dim; }
  int n_embd_kv() const { return n_head_kv * head_dim; }
};

// Reads and validates the hyper-parameters of `file` (architecture, counts, divisibility).
// Tensor shapes are checked later, when the weights are bound.
Result<HParams> read_hparams(const gguf::File& file);

// Bytes of KV cache one token position takes over all layers (K and V) for an element type.
inline uint64_t kv_bytes_per_token(const HParams& hp, uint32_t element_bytes) {
  return 2ull * static_cast<uint64_t>(hp.n_layer) * static_cast<uint64_t>(hp.n_embd_kv()) *
         element_bytes;
}

}  // namespace ag
