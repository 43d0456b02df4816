// Registers the float and legacy quant types: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and the
// activation-only Q8_1. Each gets its scalar reference and, on CPUs with AVX2+FMA+F16C, the fast
// kernels (any kernel without a fast version stays the reference one).
#include "core/cpu_features.h"
#include "tensor/legacy_quantize.h"
#include "tensor/legacy_ref.h"
#include "tensor/type_registry.h"
#include "tensor/x86/float_tile_avx2.h"
#include "tensor/x86/legacy_avx2.h"

namespace ag {

namespace {

void add(TypeRegistry& registry, const TypeTraits& reference, QuantizeWeightsFn quantize) {
  TypeEntry& e = registry.at(reference.type);
  e.present = true;
  e.reference = reference;
  e.fast = reference;
  e.quantize_weights = quantize;
}

#if defined(AUTOGLM_HAVE_X86_KERNELS)
void use_avx2(TypeRegistry& r) {
  namespace k = legacy_avx2;
  auto set = [&](DType t, auto to_float, auto from_float, auto vec_dot) {
    TypeTraits& f = r.at(t).fast;
    if (to_float) f.to_float = to_float;
    if (from_float) f.from_float = from_float;
    if (vec_dot) f.vec_dot = vec_dot;
  };
  using ToFloat = void (*)(const void*, float*, int64_t);
  using FromFloat = void (*)(const float*, void*, int64_t);
  using VecDot = float (*)(int64_t, const void*, const void*);
  set(DType::F32, ToFloat{}, FromFloat{}, &k::vec_dot_f32);
  set(DType::F16, &k::to_float_f16, &k::from_float_f16, &float_tile::vec_dot_f16);
  set(DType::BF16, &k::to_float_bf16, &k::from_float_bf16, &float_tile::vec_dot_bf16);
  set(DType::Q4_0, &k::to_float_q4_0, FromFloat{}, &k::vec_dot_q4_0);
  set(DType::Q4_1, &k::to_float_q4_1, FromFloat{}, &k::vec_dot_q4_1);
  set(DType::Q5_0, &k::to_float_q5_0, FromFloat{}, &k::vec_dot_q5_0);
  set(DType::Q5_1, &k::to_float_q5_1, FromFloat{}, &k::vec_dot_q5_1);
  set(DType::Q8_0, &k::to_float_q8_0, &k::from_float_q8_0, &k::vec_dot_q8_0);
  set(DType::Q8_1, &k::to_float_q8_1, &k::from_float_q8_1, VecDot{});
}
#endif

}  // namespace

void register_float_and_legacy_types(TypeRegistry& r) {
  namespace ref = legacy_ref;
  namespace q = legacy_quant;
  add(r, {DType::F32, DType::F32, ref::to_float_f32, ref::from_float_f32, ref::vec_dot_f32}, q::quantize_f32);
  add(r, {DType::F16, DType::F16, ref::to_float_f16, ref::from_float_f16, ref::vec_dot_f16}, q::quantize_f16);
  add(r, {DType::BF16, DType::BF16, ref::to_float_bf16, ref::from_float_bf16, ref::vec_dot_bf16}, q::quantize_bf16);
  add(r, {DType::Q4_0, DType::Q8_0, ref::to_float_q4_0, ref::from_float_q4_0, ref::vec_dot_q4_0}, q::quantize_q4_0);
  add(r, {DType::Q4_1, DType::Q8_1, ref::to_float_q4_1, ref::from_float_q4_1, ref::vec_dot_q4_1}, q::quantize_q4_1);
  add(r, {DType::Q5_0, DType::Q8_0, ref::to_float_q5_0, ref::from_float_q5_0, ref::vec_dot_q5_0}, q::quantize_q5_0);
  add(r, {DType::Q5_1, DType::Q8_1, ref::to_float_q5_1, ref::from_float_q5_1, ref::vec_dot_q5_1}, q::quantize_q5_1);
  add(r, {DType::Q8_0, DType::Q8_0, ref::to_float_q8_0, ref::from_float_q8_0, ref::vec_dot_q8_0}, q::quantize_q8_0);
  // Q8_1 only carries activations for Q4_1/Q5_1: no dot of its own, never stored as weights.
  add(r, {DType::Q8_1, DType::Q8_1, ref::to_float_q8_1, ref::from_float_q8_1, nullptr}, nullptr);
#if defined(AUTOGLM_HAVE_X86_KERNELS)
  if (cpu_has_avx2_fma()) use_avx2(r);
#endif
}

}  // namespace ag
