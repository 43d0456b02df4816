#include "tensor/type_traits.h"

#include <string>

#include "core/check.h"
#include "tensor/type_registry.h"

namespace ag {

static const TypeRegistry& registry() {
  static const TypeRegistry instance = [] {
    TypeRegistry r;
    register_float_and_legacy_types(r);
    register_k_types(r);
    return r;
  }();
  return instance;
}

static const TypeEntry& entry(DType type) {
  const uint32_t id = static_cast<uint32_t>(type);
  AG_CHECK(id < registry().entries.size() && registry().entries[id].present,
           "no kernels for type %s", std::string(dtype_name(type)).c_str());
  return registry().entries[id];
}

bool has_type_traits(DType type) {
  const uint32_t id = static_cast<uint32_t>(type);
  return id < registry().entries.size() && registry().entries[id].present;
}

const TypeTraits& type_traits(DType type) { return entry(type).fast; }
const TypeTraits& type_traits_reference(DType type) { return entry(type).reference; }

void quantize_weights(DType type, const float* src, void* dst, int64_t n_rows, int64_t n_per_row,
                      const float* importance) {
  const auto& e = entry(type);
  AG_CHECK(e.quantize_weights != nullptr, "type %s cannot hold weights",
           std::string(dtype_name(type)).c_str());
  e.quantize_weights(src, dst, n_rows, n_per_row, importance);
}

}  // namespace ag
