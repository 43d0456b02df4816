#pragma once
// What the planner knows about a model: its shape and every tensor with its element type and
// exact byte size. Four ways in, from most to least exact:
//   - a GGUF file (header only: metadata and tensor infos; no weight is read),
//   - a preset (model_presets.h) quantized to a named mixture with llama.cpp's rules,
//   - a Hugging Face config.json, likewise,
//   - a bare parameter count ("7B"), which borrows the shape of the nearest preset.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "model/hparams.h"
#include "planner/model_tensors.h"
#include "planner/quant_mixture.h"
#include "tensor/dtype.h"

namespace ag::planner {

struct PlannedTensor {
  TensorSpec spec;
  DType type = DType::F32;
  uint64_t n_bytes = 0;  // exact: n_elements / block_size * type_size
};

struct ModelSpec {
  std::string name;          // file path, preset name, config path or "7B"
  std::string source;        // "gguf" | "preset" | "hf-config" | "params"
  std::string type_label;    // "Q4_K_M", "F16", or "mixed" for a file of unknown ftype
  HParams hp;                // n_vocab, head_dim, n_head_kv ... as the engine reads them
  std::vector<PlannedTensor> tensors;
  uint64_t n_params = 0;        // elements of all tensors
  uint64_t weights_bytes = 0;   // sum of tensor bytes
  uint64_t metadata_bytes = 0;  // file bytes before the tensor data (exact for GGUF, else estimated)
  uint64_t file_bytes = 0;      // exact for GGUF; weights + metadata estimate otherwise
  uint64_t n_merges = 0;        // BPE merges of the tokenizer (exact for GGUF, else estimated)
  std::vector<std::string> notes;  // assumptions a reader should know about
  // --params only: the real parameter count over the borrowed preset's (tensor bytes are scaled
  // by it, tensor shapes are the preset's).
  double shape_scale = 1.0;

  // Average bits per weight over all tensors.
  double bits_per_weight() const {
    return n_params == 0 ? 0.0 : 8.0 * static_cast<double>(weights_bytes) / n_params;
  }
  // Bytes of weights one decoded token reads: every matrix, except that an untied token_embd
  // only gives up one row per token.
  uint64_t weights_read_per_token() const;
  // Multiply-adds per token of the matrices a token passes through (2 FLOPs each), without the
  // output projection when `with_output` is false (prefill rows that need no logits).
  double matmul_flops_per_token(bool with_output) const;
};

Result<ModelSpec> spec_from_gguf(const std::string& path);
Result<ModelSpec> spec_from_preset(std::string_view preset, FileType ftype);
// `ftype` nullopt: the checkpoint's own torch_dtype (BF16/F16/F32).
Result<ModelSpec> spec_from_hf_config(const std::string& path, std::optional<FileType> ftype);
// "7B", "1.5b", "500M", "13000000000".
Result<ModelSpec> spec_from_params(std::string_view params, FileType ftype);
Result<double> parse_param_count(std::string_view text);

// Builds a spec from a shape: tensors from model_tensors(), types from assign_types().
ModelSpec spec_from_hparams(const HParams& hp, FileType ftype, std::string name,
                            std::string source);

}  // namespace ag::planner
