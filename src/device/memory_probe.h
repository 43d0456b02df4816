#pragma once
// Memory: what the machine has and what this process may use (the cgroup limit binds first).
#include <cstdint>
#include <string>

#include "device/cgroup.h"
#include "device/sysroot.h"

namespace ag::device {

struct MemoryReport {
  uint64_t total_bytes = 0;      // MemTotal (0 = unknown)
  uint64_t available_bytes = 0;  // MemAvailable (kernel's estimate without swapping)
  uint64_t swap_total_bytes = 0;
  uint64_t cgroup_limit_bytes = 0;  // 0 = no limit
  uint64_t cgroup_usage_bytes = 0;
  std::string cgroup_source;
  uint64_t effective_total_bytes = 0;      // min(total, limit)
  uint64_t effective_available_bytes = 0;  // min(available, limit - usage)
};

MemoryReport probe_memory(const SysRoot& root, const CgroupLimits& cgroup);

}  // namespace ag::device
