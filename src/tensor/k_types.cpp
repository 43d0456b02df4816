// Placeholder until the K-quant family lands: registers nothing yet.
#include "tensor/type_registry.h"
namespace ag {
void register_k_types(TypeRegistry&) {}
}  // namespace ag
