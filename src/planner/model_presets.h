#pragma once
// Exact shapes of real models, as their published config.json files give them, for `autoglm plan
// --preset` and `autoglm synth --preset`. Shapes are ag::HParams (model/hparams.h), the same struct
// the engine reads from GGUF metadata, so a preset and a real file of that model agree field by
// field.
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "model/hparams.h"

namespace ag::planner {

// Llama-3.x "llama3" rope scaling: per-dimension frequency divisors, stored in GGUF files as the
// rope_freqs.weight tensor ([head_dim / 2] F32) rather than as metadata.
struct Llama3RopeScaling {
  float factor = 0.0f;  // 0 = not used
  float low_freq_factor = 1.0f;
  float high_freq_factor = 4.0f;
  int n_ctx_orig = 8192;
};

struct ModelPreset {
  std::string_view name;      // "qwen2.5-0.5b" (what --preset takes)
  std::string_view hf_repo;   // "Qwen/Qwen2.5-0.5B": the numbers are its config.json's
  HParams hparams;            // n_vocab is the embedding rows (Qwen pads it past the tokenizer)
  int n_vocab_tokens = 0;     // tokens the published tokenizer has (<= hparams.n_vocab)
  Llama3RopeScaling llama3_rope;
  uint64_t n_params = 0;      // parameter count of the published model (tests check the shapes)
};

// All presets, in a stable order (small to large within a family).
std::span<const ModelPreset> model_presets();

// The preset called `name` (case-insensitive); the error lists the known names.
Result<const ModelPreset*> find_preset(std::string_view name);

// The rope_freqs.weight values ([head_dim / 2] divisors) for Llama-3 rope scaling, computed as
// llama.cpp's converter does (smooth interpolation between the low- and high-frequency bands).
std::vector<float> llama3_rope_freqs(const HParams& hp, const Llama3RopeScaling& scaling);

}  // namespace ag::planner
