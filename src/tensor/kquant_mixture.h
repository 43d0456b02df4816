#pragma once
// Which type each tensor of a model gets when it is quantized to a llama.cpp "file type"
// (Q4_K_M, Q5_K_S, Q8_0, …): the rules of llama.cpp's llama_tensor_get_type for its non-IQ file
// types, so a model quantized here has the same tensor types as one from llama-quantize. Pure
// logic over names, shapes and a few hyper-parameters: no file access.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "tensor/dtype.h"

namespace ag::quant {

// llama.cpp's llama_ftype ids, stored as general.file_type.
enum class FileType : uint32_t {
  ALL_F32 = 0,
  MOSTLY_F16 = 1,
  MOSTLY_Q4_0 = 2,
  MOSTLY_Q4_1 = 3,
  MOSTLY_Q8_0 = 7,
  MOSTLY_Q5_0 = 8,
  MOSTLY_Q5_1 = 9,
  MOSTLY_Q2_K = 10,
  MOSTLY_Q3_K_S = 11,
  MOSTLY_Q3_K_M = 12,
  MOSTLY_Q3_K_L = 13,
  MOSTLY_Q4_K_S = 14,
  MOSTLY_Q4_K_M = 15,
  MOSTLY_Q5_K_S = 16,
  MOSTLY_Q5_K_M = 17,
  MOSTLY_Q6_K = 18,
  MOSTLY_BF16 = 32,
};

struct Scheme {
  std::string_view name;  // as llama-quantize spells it: "Q4_K_M"
  FileType file_type;
  DType default_type;  // the type of every quantizable tensor the rules do not single out
};

// Looks a scheme up by name, case-insensitively; "Q3_K", "Q4_K", "Q5_K" are llama-quantize's
// aliases of the _M mixtures. nullopt for anything else.
std::optional<Scheme> find_scheme(std::string_view name);
// "F32, F16, BF16, Q8_0, …" for help texts and errors.
std::string scheme_names();

// The hyper-parameters the rules read (from `<arch>.*` metadata).
struct ModelFacts {
  std::string arch;       // general.architecture: "llama", "qwen2", …
  int64_t n_layer = 0;    // block_count
  int64_t n_head = 0;     // attention.head_count
  int64_t n_head_kv = 0;  // attention.head_count_kv (n_head when absent)
  int64_t n_expert = 0;   // expert_count (0 for dense models)
};

struct TensorSpec {
  std::string name;
  std::vector<uint64_t> shape;  // ne[0] (row length) first
  DType type;                   // as stored in the input
};

struct TypeChoice {
  DType type;              // output type
  bool quantized = false;  // the rules applied (false: the tensor is kept as stored)
  bool fallback = false;   // the row length forced a compatible type (see `note`)
  std::string note;        // why a fallback happened, for the log
};

// Output type of each tensor (same order as `tensors`). `pure`: every quantizable tensor gets the
// scheme's default type (llama-quantize --pure), only the row-length fallback still applies.
// Rules as llama.cpp: 2-D+ tensors whose name ends in "weight" (not norms, not MoE routers, …) are
// quantized; output.weight (and token_embd.weight of models that tie it as the output) gets
// Q6_K, attn_v / ffn_down get more bits in some layers by the mixture's recipe; rows that are not
// a multiple of the type's block fall back Q2_K/Q3_K->Q4_0, Q4_K->Q5_0, Q5_K->Q5_1,
// Q6_K->Q8_0, and to F16 when even that does not fit (llama.cpp refuses a legacy type that does
// not fit; we fall back to F16 too).
Result<std::vector<TypeChoice>> choose_tensor_types(const std::vector<TensorSpec>& tensors,
                                                    const ModelFacts& model, const Scheme& scheme,
                                                    bool pure);

}  // namespace ag::quant
