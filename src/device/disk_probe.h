#pragma once
// Disk where models live: free space (statvfs of the directory itself) and whether the block
// device under it is an SSD (queue/rotational of the device that the mount table names).
#include <cstdint>
#include <string>

#include "device/sysroot.h"

namespace ag::device {

struct DiskReport {
  std::string path;         // the models directory asked about
  std::string stat_path;    // the nearest existing directory, where space was measured
  uint64_t free_bytes = 0;  // available to this (unprivileged) user
  uint64_t total_bytes = 0;
  bool space_known = false;
  std::string mount_point;  // from /proc/self/mountinfo
  std::string fs_type;
  std::string source;       // "/dev/vda1", "overlay", ...
  std::string device;       // "254:0"
  std::string storage = "unknown";  // "ssd" | "hdd" | "unknown"
  std::string storage_reason;       // how storage was decided
};

DiskReport probe_disk(const SysRoot& root, const std::string& models_dir);

}  // namespace ag::device
