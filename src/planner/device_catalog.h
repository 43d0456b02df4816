#pragma once
// The accelerators `autoglm plan` knows, read from device_catalog.json (compiled into the binary;
// --catalog FILE reads another), plus `cpu`: this machine as `autoglm doctor` measures it.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace ag::planner {

// A figure from the seed document that the sources contradict, kept so docs and output show it.
struct SeedCorrection {
  std::string field;
  double seed = 0;
  double corrected = 0;
  std::string why;
};

struct Device {
  std::string name;     // "h100-sxm" (what --device takes)
  std::string display;  // "NVIDIA H100 SXM5 80GB"
  std::string kind;     // "gpu" | "apple" | "cpu"
  bool scalar_kernels = false;  // a CPU without the fast kernels (x86 AVX2 + FMA + F16C): ARM, old x86
  uint64_t memory_bytes = 0;
  double usable_fraction = 1.0;  // of memory_bytes a model may use (Apple: GPU wired limit)
  double bandwidth_gbs = 0;      // peak, 1e9 B/s
  double fp16_tflops = 0;        // dense matrix peak used for prefill (CPU: FP32 FMA peak)
  double fp32_tflops = 0;
  double tdp_w = 0;              // 0 = unknown
  bool estimate = false;         // some figures derived rather than published
  std::string source;
  std::vector<SeedCorrection> seed_corrections;
};

struct Efficiency {
  double decode = 1.0;   // achieved / bandwidth bound
  double prefill = 1.0;  // achieved / compute peak
  std::string source;
};

struct DeviceCatalog {
  std::vector<Device> devices;
  Efficiency cpu, gpu, apple;
  Efficiency cpu_scalar;  // CPUs where only the scalar reference kernels run (optional in a file)

  const Device* find(std::string_view name) const;  // case-insensitive
  const Efficiency& efficiency_for(const Device& d) const;
};

// Parses a catalog; errors name `label` and the entry and field at fault.
Result<DeviceCatalog> parse_device_catalog(std::string_view json, const std::string& label);
Result<DeviceCatalog> load_device_catalog(const std::string& path);
// The catalog compiled into the binary (src/planner/device_catalog.json).
const DeviceCatalog& builtin_device_catalog();
std::string_view builtin_device_catalog_json();

// This machine as a device: usable cores, clock, SIMD width and measured (or assumed) bandwidth.
struct CpuMachine {
  std::string model_name;    // "AMD EPYC 7B13"
  int n_cores = 1;           // usable cores (affinity and cgroup quota applied)
  double ghz = 0;            // 0 = unknown (2.5 assumed)
  int flops_per_cycle = 8;   // FP32 per core per cycle: 32 for AVX2+FMA (2 FMA units x 8 x 2)
  bool fast_kernels = true;  // false: this engine runs its scalar kernels here (no AVX2+FMA+F16C)
  uint64_t memory_bytes = 0; // effective memory (cgroup limit applied)
  double bandwidth_gbs = 0;  // measured read bandwidth
  std::string bandwidth_source;
};
Device cpu_device(const CpuMachine& m);

}  // namespace ag::planner
