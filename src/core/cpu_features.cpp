#include "core/cpu_features.h"

#include <cstdlib>
#include <cstring>

namespace ag {

static CpuFeatures detect() {
  CpuFeatures f;
  const char* force = std::getenv("AUTOGLM_FORCE_SCALAR");
  if (force != nullptr && std::strcmp(force, "0") != 0 && force[0] != '\0') return f;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  f.avx = __builtin_cpu_supports("avx");
  f.avx2 = __builtin_cpu_supports("avx2");
  f.fma = __builtin_cpu_supports("fma");
  f.f16c = true;  // refined below via cpuid leaf 1 ECX bit 29
  unsigned eax, ebx, ecx, edx;
  __asm__ volatile("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(1), "c"(0));
  f.f16c = (ecx >> 29) & 1u;
  f.avx512f = __builtin_cpu_supports("avx512f");
  f.avx512bw = __builtin_cpu_supports("avx512bw");
  f.avx512vnni = __builtin_cpu_supports("avx512vnni");
  __asm__ volatile("cpuid" : "=a"(eax), "=b"(ebx), "=c"(ecx), "=d"(edx) : "a"(7), "c"(1));
  f.avxvnni = (eax >> 4) & 1u;
#elif defined(__aarch64__)
  f.neon = true;
#endif
  // AUTOGLM_MAX_ISA caps the instruction sets, to run (and measure) the kernels another CPU would
  // get: "avx2" is a Zen 3 / Haswell-class CPU (no AVX-512, no AVX-VNNI), "avx-vnni" one without
  // AVX-512, "scalar" the references. Other values change nothing.
  if (const char* cap = std::getenv("AUTOGLM_MAX_ISA"); cap != nullptr) {
    if (std::strcmp(cap, "scalar") == 0) return CpuFeatures{};
    const bool avx2 = std::strcmp(cap, "avx2") == 0, avx_vnni = std::strcmp(cap, "avx-vnni") == 0;
    if (avx2 || avx_vnni) f.avx512f = f.avx512bw = f.avx512vnni = false;
    if (avx2) f.avxvnni = false;
  }
  return f;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

}  // namespace ag
