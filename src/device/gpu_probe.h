#pragma once
// NVIDIA GPUs through NVML, loaded at run time with dlopen so the binary needs no CUDA or driver
// library to build or run: no library, no GPU, or a driver that fails to initialise are all
// normal outcomes reported as such, never errors.
#include <cstdint>
#include <string>
#include <vector>

namespace ag::device {

struct GpuInfo {
  int index = 0;  // NVML index (PCI bus order)
  std::string name;
  std::string uuid;
  uint64_t memory_total_bytes = 0;
  uint64_t memory_free_bytes = 0;
  int cc_major = 0, cc_minor = 0;  // compute capability (0.0 = unknown)
};

struct GpuReport {
  std::string library;       // what was dlopen'ed
  bool nvml_loaded = false;  // library found and nvmlInit succeeded
  std::string status;        // why there are no GPUs ("libnvidia-ml.so.1 not found", ...)
  std::string driver_version;    // "550.54.15"
  int cuda_driver_version = 0;   // highest CUDA the driver supports: 12040 = 12.4
  int n_total = 0;               // GPUs NVML sees
  std::vector<GpuInfo> gpus;     // those CUDA_VISIBLE_DEVICES leaves visible
  std::string visibility_note;   // how CUDA_VISIBLE_DEVICES was applied

  std::string cuda_version_string() const;  // "12.4" or ""
};

// `library`: path or soname to dlopen ("" = $AUTOGLM_NVML_LIBRARY, else libnvidia-ml.so.1).
// `cuda_visible_devices`: the variable's value, or nullptr when unset.
GpuReport probe_gpus(const std::string& library, const char* cuda_visible_devices);

}  // namespace ag::device
