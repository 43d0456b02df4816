#pragma once
// Tiny random llama / qwen2 / qwen3 models written with the project's GGUF writer, for tests.
#include <cstdint>
#include <string>

#include "core/result.h"
#include "tensor/dtype.h"

namespace ag::test {

struct TinySpec {
  std::string arch = "llama";  // llama | qwen2 | qwen3
  int n_layer = 2;
  int n_embd = 64;
  int n_head = 4;
  int n_head_kv = 2;
  int head_dim = 16;  // written as attention.key_length when != n_embd / n_head
  int n_rot = 0;      // 0: head_dim (rope.dimension_count not written)
  int n_ff = 96;
  int n_vocab = 80;
  int n_ctx_train = 512;
  float rms_eps = 1e-5f;
  float rope_base = 10000.0f;
  std::string rope_scaling;  // "", "linear" or "yarn"
  float rope_factor = 1.0f;
  int rope_n_ctx_orig = 0;   // written when > 0
  bool rope_freqs = false;   // Llama-3 style rope_freqs.weight
  bool tied = false;         // no output.weight
  DType matrix_type = DType::F32;  // type of the 2-D weights (norms and biases stay F32)
  // Quantize the matrices to this type and write them back dequantized as F32 (F32 = off): the F32
  // twin of a quantized model, differing from it only by activation rounding in the dot products.
  DType dequantized_from = DType::F32;
  uint64_t seed = 1;
  float weight_std = 0.15f;
};

// Writes the model described by `spec` (weights drawn from a seeded normal distribution: the same
// spec and seed give the same weights whatever matrix_type).
Status write_tiny_model(const TinySpec& spec, const std::string& path);

// A fresh path under the test's temporary directory.
std::string temp_path(const std::string& name);

}  // namespace ag::test
