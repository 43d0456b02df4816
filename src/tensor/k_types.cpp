// Registers the K-quant family: Q2_K … Q6_K as weight types (dot products against Q8_K
// activations) and Q8_K as their activation type.
#include "core/cpu_features.h"
#include "tensor/kquant.h"
#include "tensor/type_registry.h"
#include "tensor/x86/kquant_avx512.h"

namespace ag {

namespace {

struct KTypeKernels {
  DType type;
  void (*to_float)(const void*, float*, int64_t);
  void (*from_float)(const float*, void*, int64_t);
  float (*vec_dot)(int64_t, const void*, const void*);
  QuantizeWeightsFn quantize_weights;
  // AVX2 versions; null where the reference is used as is.
  void (*to_float_avx2)(const void*, float*, int64_t);
  float (*vec_dot_avx2)(int64_t, const void*, const void*);
  // AVX-512 VNNI version, preferred over AVX2 where the CPU has it; null where there is none.
  float (*vec_dot_avx512)(int64_t, const void*, const void*) = nullptr;
};

}  // namespace

void register_k_types(TypeRegistry& registry) {
  using namespace kquant;
  const KTypeKernels kernels[] = {
      {DType::Q2_K, dequantize_q2_k, quantize_row_q2_k, vec_dot_q2_k_q8_k, quantize_q2_k, nullptr,
       avx2::vec_dot_q2_k_q8_k},
      {DType::Q3_K, dequantize_q3_k, quantize_row_q3_k, vec_dot_q3_k_q8_k, quantize_q3_k, nullptr,
       avx2::vec_dot_q3_k_q8_k},
      {DType::Q4_K, dequantize_q4_k, quantize_row_q4_k, vec_dot_q4_k_q8_k, quantize_q4_k,
       avx2::dequantize_q4_k, avx2::vec_dot_q4_k_q8_k,
#if defined(AUTOGLM_HAVE_KQUANT_AVX512)
       avx512::vec_dot_q4_k_q8_k
#else
       nullptr
#endif
      },
      {DType::Q5_K, dequantize_q5_k, quantize_row_q5_k, vec_dot_q5_k_q8_k, quantize_q5_k,
       avx2::dequantize_q5_k, avx2::vec_dot_q5_k_q8_k},
      {DType::Q6_K, dequantize_q6_k, quantize_row_q6_k, vec_dot_q6_k_q8_k, quantize_q6_k,
       avx2::dequantize_q6_k, avx2::vec_dot_q6_k_q8_k,
#if defined(AUTOGLM_HAVE_KQUANT_AVX512)
       avx512::vec_dot_q6_k_q8_k
#else
       nullptr
#endif
      },
  };
  const bool avx2 = cpu_has_avx2_fma();
  const bool avx512 = cpu_has_avx512_vnni();
  for (const auto& k : kernels) {
    TypeEntry& e = registry.at(k.type);
    e.present = true;
    e.reference = TypeTraits{k.type, DType::Q8_K, k.to_float, k.from_float, k.vec_dot};
    e.fast = e.reference;
    if (avx2) {
      if (k.to_float_avx2) e.fast.to_float = k.to_float_avx2;
      if (k.vec_dot_avx2) e.fast.vec_dot = k.vec_dot_avx2;
    }
    if (avx512 && k.vec_dot_avx512) e.fast.vec_dot = k.vec_dot_avx512;
    e.quantize_weights = k.quantize_weights;
  }

  // Activation-only: no dot product of its own and never stored as weights.
  TypeEntry& q8k = registry.at(DType::Q8_K);
  q8k.present = true;
  q8k.reference = TypeTraits{DType::Q8_K, DType::Q8_K, dequantize_q8_k, quantize_q8_k, nullptr};
  q8k.fast = q8k.reference;
  q8k.quantize_weights = nullptr;
}

}  // namespace ag
