#pragma once
// Element types of GGUF tensors. The numeric ids are GGML's `ggml_type` values, exactly as they are
// stored in GGUF tensor infos, so a DType can be read straight from a file.
#include <cstdint>
#include <optional>
#include <string_view>

namespace ag {

enum class DType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
};

struct DTypeInfo {
  DType type;
  std::string_view name;  // GGML's name, lower case: "q4_k"
  uint32_t block_size;    // elements per block
  uint32_t type_size;     // bytes per block
  bool computable;        // this project has dequantize + dot kernels for it
};

// nullopt for an id GGML never assigned (or removed): callers report "unknown tensor type N".
std::optional<DTypeInfo> dtype_info(uint32_t id);
const DTypeInfo& dtype_info(DType type);  // for a valid DType

inline std::string_view dtype_name(DType t) { return dtype_info(t).name; }
// Parses "q4_k", "Q4_K", "f16", ... (case-insensitive).
std::optional<DType> dtype_from_name(std::string_view name);

// Bytes of a row of n elements; n must be a multiple of the block size (checked by callers that
// read files; see row_bytes_checked).
inline uint64_t row_bytes(DType t, uint64_t n) {
  const auto& info = dtype_info(t);
  return n / info.block_size * info.type_size;
}

}  // namespace ag
