#pragma once
// CPU: model, logical / physical / usable cores, SIMD features, caches, clock.
#include <cstdint>
#include <string>
#include <vector>

#include "device/cgroup.h"
#include "device/sysroot.h"

namespace ag::device {

struct CacheInfo {
  int level = 0;
  std::string type;  // "Data", "Instruction", "Unified"
  uint64_t bytes = 0;
  int shared_by = 0;  // logical CPUs sharing it (0 = unknown)
};

struct CpuReport {
  std::string model_name;       // "AMD EPYC 7B13"; "" when unknown
  std::string arch;             // "x86_64", "aarch64"
  int n_logical = 0;            // online logical CPUs
  int n_physical = 0;           // distinct cores (SMT siblings counted once)
  int n_allowed = 0;            // in this process's affinity mask (0 = unknown)
  double quota_cpus = 0;        // cgroup CPU quota in CPUs (0 = none)
  std::string quota_source;
  int n_usable = 0;             // what inference threads should use
  std::string usable_reason;    // which limit decided n_usable
  double mhz = 0;               // current clock of cpu0 as /proc/cpuinfo reports (0 = unknown)
  std::vector<std::string> simd;  // "avx2", "fma", "f16c", "avx512f", "avx512_vnni", "amx_int8",
                                  // "neon", "sve", "dotprod", ...
  std::string simd_source;      // "cpuid" or "/proc/cpuinfo"
  std::vector<CacheInfo> caches;

  bool has(std::string_view feature) const;
  // FP32 FLOPs per cycle per core of the widest FMA path (two FMA ports assumed).
  int flops_per_cycle() const;
};

// `use_cpuid`: read SIMD features with the cpuid instruction (this machine) instead of the
// cpuinfo flags under the sysroot (tests).
CpuReport probe_cpu(const SysRoot& root, const CgroupLimits& cgroup, bool use_cpuid);

}  // namespace ag::device
