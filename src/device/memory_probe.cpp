#include "device/memory_probe.h"

#include <algorithm>
#include <charconv>

namespace ag::device {

namespace {

// "24683620 kB" -> bytes
uint64_t kb_field(std::string_view text, std::string_view key) {
  auto v = field(text, key);
  if (!v) return 0;
  std::string_view s = *v;
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc()) return 0;
  std::string_view unit = trim(std::string_view(end, static_cast<size_t>(s.data() + s.size() - end)));
  return unit == "kB" || unit == "KB" || unit == "kb" ? n * 1024 : n;
}

}  // namespace

MemoryReport probe_memory(const SysRoot& root, const CgroupLimits& cgroup) {
  MemoryReport m;
  if (auto meminfo = root.read("/proc/meminfo")) {
    m.total_bytes = kb_field(*meminfo, "MemTotal");
    m.available_bytes = kb_field(*meminfo, "MemAvailable");
    if (m.available_bytes == 0)  // kernels before 3.14
      m.available_bytes = kb_field(*meminfo, "MemFree") + kb_field(*meminfo, "Cached");
    m.swap_total_bytes = kb_field(*meminfo, "SwapTotal");
  }
  m.cgroup_limit_bytes = cgroup.memory_limit;
  m.cgroup_usage_bytes = cgroup.memory_usage;
  m.cgroup_source = cgroup.memory_source;
  m.effective_total_bytes = m.total_bytes;
  m.effective_available_bytes = m.available_bytes;
  if (cgroup.memory_limit > 0) {
    if (m.effective_total_bytes == 0 || cgroup.memory_limit < m.effective_total_bytes)
      m.effective_total_bytes = cgroup.memory_limit;
    const uint64_t room = cgroup.memory_limit > cgroup.memory_usage
                              ? cgroup.memory_limit - cgroup.memory_usage
                              : 0;
    if (m.effective_available_bytes == 0 || room < m.effective_available_bytes)
      m.effective_available_bytes = room;
  }
  return m;
}

}  // namespace ag::device
