#pragma once
// Instruction-set features of the running CPU, read once. Kernels are chosen from these at start-up
// so one binary runs everywhere (scalar fallback) and fast where it can.
namespace ag {

struct CpuFeatures {
  bool avx = false;
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vnni = false;
  bool avxvnni = false;
  bool neon = false;
};

// The features of this CPU. With the environment variable AUTOGLM_FORCE_SCALAR=1 every SIMD
// feature reads false, which forces the scalar reference kernels (tests, bisecting kernel bugs);
// AUTOGLM_MAX_ISA=avx2 | avx-vnni | scalar caps them at that level (cpu_features.cpp).
const CpuFeatures& cpu_features();

// True when the AVX2+FMA+F16C kernels may run.
inline bool cpu_has_avx2_fma() {
  const auto& f = cpu_features();
  return f.avx2 && f.fma && f.f16c;
}

// True when the AVX-512 (F, BW) + VNNI kernels may run (they also use AVX2, FMA and F16C).
inline bool cpu_has_avx512_vnni() {
  const auto& f = cpu_features();
  return cpu_has_avx2_fma() && f.avx512f && f.avx512bw && f.avx512vnni;
}

}  // namespace ag
