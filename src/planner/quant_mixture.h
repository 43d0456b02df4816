#pragma once
// llama.cpp's file types ("ftype": Q4_0, Q4_K_M, ...) as the planner and `synth` name them, and
// the element type each tensor of a model gets in such a file. The per-tensor rules are the
// quantizer's (tensor/kquant_mixture.h, after llama.cpp's llama_tensor_get_type): a planned Q4_K_M
// model has the exact bytes a Q4_K_M file from `autoglm quantize` (or llama.cpp) has.
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "model/hparams.h"
#include "planner/model_tensors.h"
#include "tensor/dtype.h"

namespace ag::planner {

// Values of general.file_type (llama.cpp's enum llama_ftype).
enum class FileType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q8_0 = 7,
  Q5_0 = 8,
  Q5_1 = 9,
  Q2_K = 10,
  Q3_K_S = 11,
  Q3_K_M = 12,
  Q3_K_L = 13,
  Q4_K_S = 14,
  Q4_K_M = 15,
  Q5_K_S = 16,
  Q5_K_M = 17,
  Q6_K = 18,
  BF16 = 32,
};

// "q4_k_m", "Q4_K_M", "f16", ...; "q3_k", "q4_k", "q5_k" mean the _M mixtures as in llama.cpp's
// quantize tool. The error lists the accepted names.
Result<FileType> file_type_from_name(std::string_view name);
std::string_view file_type_name(FileType ftype);  // upper case, llama.cpp's spelling: "Q4_K_M"
std::optional<FileType> file_type_from_id(uint32_t id);
// The type most matrices get (Q4_K for Q4_K_M).
DType file_type_base(FileType ftype);
// Every accepted name, for help texts.
std::vector<std::string_view> file_type_names();

// The element type of each of `tensors` (same order) in a `ftype` file of a model with `hp`:
// 1-D tensors (norms, biases, rope_freqs) stay F32; matrices get the mixture's type, adjusted per
// role and layer as llama.cpp does (e.g. Q4_K_M: output Q6_K; attn_v and ffn_down Q6_K in the
// layers use_more_bits picks); a tied token_embd is treated as the output; a row length that is
// not a multiple of the type's block falls back (Q4_K→Q5_0, Q5_K→Q5_1, Q6_K→Q8_0, Q2_K/Q3_K→Q4_0,
// then F16).
std::vector<DType> assign_types(const HParams& hp, const std::vector<TensorSpec>& tensors,
                                FileType ftype);

}  // namespace ag::planner
