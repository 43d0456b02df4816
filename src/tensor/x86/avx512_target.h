#pragma once
// The target attribute of the AVX-512 VNNI kernels (compiled per function, so the rest of the binary
// keeps the baseline ISA), and the diagnostics they need switched off around them:
// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*(), which its uninitialized-use
// analysis flags once inlined (a false positive: every lane is written).
#define AG_512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512dq,avx512vnni")))

#if defined(__GNUC__) && !defined(__clang__)
#define AG_512_DIAGNOSTICS_BEGIN                                  \
  _Pragma("GCC diagnostic push")                                  \
  _Pragma("GCC diagnostic ignored \"-Wuninitialized\"")           \
  _Pragma("GCC diagnostic ignored \"-Wmaybe-uninitialized\"")
#define AG_512_DIAGNOSTICS_END _Pragma("GCC diagnostic pop")
#else
#define AG_512_DIAGNOSTICS_BEGIN
#define AG_512_DIAGNOSTICS_END
#endif
