#pragma once
// Container limits from cgroups, v1 and v2, as the kernel applies them to this process: the
// process's cgroup path from /proc/self/cgroup, the hierarchy's mount from /proc/self/mountinfo,
// then the limit files from that cgroup up to the hierarchy's root (a parent's limit binds its
// children, so the smallest one on the way up is the effective one).
#include <cstdint>
#include <string>

#include "device/sysroot.h"

namespace ag::device {

struct CgroupLimits {
  double cpu_quota = 0;       // CPUs the quota allows (quota / period); 0 = no quota
  std::string cpu_source;     // the file that set it, "cgroup v2 /sys/fs/cgroup/cpu.max"
  uint64_t memory_limit = 0;  // bytes; 0 = no limit
  uint64_t memory_usage = 0;  // bytes the cgroup uses now (0 = unknown)
  std::string memory_source;
  int version = 0;            // 2, 1, or 0 when no cgroup hierarchy is visible
};

CgroupLimits probe_cgroup(const SysRoot& root);

}  // namespace ag::device
