#pragma once
// `autoglm synth`: a GGUF model with random weights and the exact tensor names, shapes, types and
// metadata a real model of a preset has, so speed and memory can be measured without downloads.
// Weights are N(0, 0.02) (norm weights 1.0), quantized with the project's own quantizers to the
// types llama.cpp's mixture rules give; tensors are generated in parallel and streamed to disk one
// at a time, so a file never sits in memory whole.
#include <cstdint>
#include <cstdio>
#include <string>

#include "core/result.h"
#include "planner/model_presets.h"
#include "planner/quant_mixture.h"

namespace ag::planner {

struct SynthOptions {
  std::string preset;       // model_presets.h name
  FileType ftype = FileType::Q4_0;
  std::string vocab_path;   // GGUF whose tokenizer.* keys are copied; "" = a byte vocabulary
  std::string output_path;
  uint64_t seed = 0;        // same seed, same bytes (whatever the thread count)
  int n_threads = 1;
  std::FILE* log = nullptr;  // progress lines; null for silence
};

struct SynthReport {
  uint64_t n_params = 0;
  uint64_t n_tensors = 0;
  uint64_t tensor_bytes = 0;
  uint64_t file_bytes = 0;
  int n_vocab_tokens = 0;  // tokens written before padding
  int n_padding = 0;       // "[PAD{id}]" tokens added to reach the preset's vocabulary
  double seconds = 0;
};

// Errors: unknown preset, unreadable vocab file or one whose size does not fit the preset, write
// failures (nothing is left at output_path then).
Result<SynthReport> synth_model(const SynthOptions& options);
// Same for a shape given directly (options.preset is ignored): tests use tiny shapes.
Result<SynthReport> synth_model(const SynthOptions& options, const ModelPreset& preset);

}  // namespace ag::planner
