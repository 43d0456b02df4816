#pragma once
// SIMD features of the running CPU read with cpuid (x86) or the auxiliary vector (ARM), beyond
// what core/cpu_features.h needs for kernel dispatch: AVX-512 subsets, AVX-VNNI, AMX, SVE.
#include <string>
#include <vector>

namespace ag::device {

// Names as /proc/cpuinfo spells them ("avx2", "avx512_vnni", "amx_int8"; ARM: "neon", "sve",
// "dotprod"), only those that are present. Includes the OS-support check (XGETBV) for AVX/AVX-512.
std::vector<std::string> cpuid_simd_features();

}  // namespace ag::device
