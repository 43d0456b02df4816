// Placeholder until the float/legacy quant family lands: registers nothing yet.
#include "tensor/type_registry.h"
namespace ag {
void register_float_and_legacy_types(TypeRegistry&) {}
}  // namespace ag
