#pragma once
// Internal: the table behind type_traits(). Each family of types registers itself from its own
// file: register_float_and_legacy_types (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1) and
// register_k_types (Q2_K … Q6_K, Q8_K). Registration runs once, on first use.
#include <array>
#include <cstdint>

#include "tensor/type_traits.h"

namespace ag {

using QuantizeWeightsFn = void (*)(const float* src, void* dst, int64_t n_rows, int64_t n_per_row,
                                   const float* importance);

struct TypeEntry {
  bool present = false;
  TypeTraits reference{};  // scalar
  TypeTraits fast{};       // best for this CPU (equal to reference when no SIMD path applies)
  QuantizeWeightsFn quantize_weights = nullptr;  // null for activation-only types
};

struct TypeRegistry {
  std::array<TypeEntry, 40> entries{};  // indexed by DType id
  TypeEntry& at(DType t) { return entries[static_cast<uint32_t>(t)]; }
};

void register_float_and_legacy_types(TypeRegistry& registry);
void register_k_types(TypeRegistry& registry);

}  // namespace ag
