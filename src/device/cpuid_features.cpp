#include "device/cpuid_features.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#elif defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace ag::device {

std::vector<std::string> cpuid_simd_features() {
  std::vector<std::string> out;
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return out;
  const bool sse42 = (c >> 20) & 1, fma = (c >> 12) & 1, f16c = (c >> 29) & 1;
  const bool osxsave = (c >> 27) & 1, avx_hw = (c >> 28) & 1;
  // The OS must save YMM (and for AVX-512, opmask and ZMM) state or the instructions fault.
  uint64_t xcr0 = 0;
  if (osxsave) {
    unsigned lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    xcr0 = (static_cast<uint64_t>(hi) << 32) | lo;
  }
  const bool ymm = (xcr0 & 0x6) == 0x6;
  const bool zmm = (xcr0 & 0xe6) == 0xe6;
  const bool amx_os = (xcr0 & 0x60000) == 0x60000;
  if (sse42) out.emplace_back("sse4_2");
  if (avx_hw && ymm) out.emplace_back("avx");
  unsigned a7 = 0, b7 = 0, c7 = 0, d7 = 0;
  const bool leaf7 = __get_cpuid_count(7, 0, &a7, &b7, &c7, &d7);
  if (leaf7 && ymm && ((b7 >> 5) & 1)) out.emplace_back("avx2");
  if (fma && ymm) out.emplace_back("fma");
  if (f16c && ymm) out.emplace_back("f16c");
  if (leaf7 && zmm) {
    if ((b7 >> 16) & 1) out.emplace_back("avx512f");
    if ((b7 >> 30) & 1) out.emplace_back("avx512bw");
    if ((b7 >> 31) & 1) out.emplace_back("avx512vl");
    if ((c7 >> 11) & 1) out.emplace_back("avx512_vnni");
    if ((d7 >> 23) & 1) out.emplace_back("avx512_fp16");
  }
  unsigned a71 = 0, b71 = 0, c71 = 0, d71 = 0;
  if (leaf7 && __get_cpuid_count(7, 1, &a71, &b71, &c71, &d71)) {
    if (zmm && ((a71 >> 5) & 1)) out.emplace_back("avx512_bf16");
    if (ymm && ((a71 >> 4) & 1)) out.emplace_back("avx_vnni");
  }
  if (leaf7 && amx_os) {
    if ((d7 >> 24) & 1) out.emplace_back("amx_tile");
    if ((d7 >> 25) & 1) out.emplace_back("amx_int8");
    if ((d7 >> 22) & 1) out.emplace_back("amx_bf16");
  }
#elif defined(__aarch64__) && defined(__linux__)
  const unsigned long hw = getauxval(AT_HWCAP);
  out.emplace_back("neon");  // mandatory on AArch64
#ifdef HWCAP_ASIMDDP
  if (hw & HWCAP_ASIMDDP) out.emplace_back("dotprod");
#endif
#ifdef HWCAP_ASIMDHP
  if (hw & HWCAP_ASIMDHP) out.emplace_back("asimdhp");
#endif
#ifdef HWCAP_SVE
  if (hw & HWCAP_SVE) out.emplace_back("sve");
#endif
  (void)hw;
#elif defined(__aarch64__)
  out.emplace_back("neon");
#endif
  return out;
}

}  // namespace ag::device
