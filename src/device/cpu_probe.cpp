#include "device/cpu_probe.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "device/cpuid_features.h"

namespace ag::device {

namespace {

// Flags worth reporting, as /proc/cpuinfo spells them (x86 "flags", ARM "Features").
constexpr std::string_view kInterestingFlags[] = {
    "sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
    "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16",
    // ARM
    "asimd", "asimddp", "fphp", "asimdhp", "sve", "sve2", "i8mm", "bf16"};

std::string arm_name(std::string_view flag) {
  if (flag == "asimd") return "neon";
  if (flag == "asimddp") return "dotprod";
  return std::string(flag);
}

uint64_t parse_cache_size(std::string_view s) {
  s = trim(s);
  // "32K" (sysfs), "1024 KB" (cpuinfo), "1 MiB"
  if (s.ends_with("iB")) s.remove_suffix(2);
  else if (s.ends_with("B")) s.remove_suffix(1);
  s = trim(s);
  uint64_t mult = 1;
  if (!s.empty() && (s.back() == 'K' || s.back() == 'k')) mult = 1024, s.remove_suffix(1);
  else if (!s.empty() && (s.back() == 'M' || s.back() == 'm')) mult = 1024 * 1024, s.remove_suffix(1);
  s = trim(s);
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return 0;
  return v * mult;
}

}  // namespace

bool CpuReport::has(std::string_view feature) const {
  return std::find(simd.begin(), simd.end(), feature) != simd.end();
}

int CpuReport::flops_per_cycle() const {
  // Two FMA units, each lanes x 2 FLOPs: AVX-512 16 lanes, AVX2 8, NEON/SSE 4.
  if (has("avx512f")) return 64;
  if (has("avx2") && has("fma")) return 32;
  if (has("neon")) return 16;
  return 8;
}

CpuReport probe_cpu(const SysRoot& root, const CgroupLimits& cgroup, bool use_cpuid) {
  CpuReport r;
#if defined(__x86_64__)
  r.arch = "x86_64";
#elif defined(__aarch64__)
  r.arch = "aarch64";
#else
  r.arch = "unknown";
#endif
  const auto cpuinfo = root.read("/proc/cpuinfo");
  std::set<std::pair<std::string, std::string>> cores;  // (physical id, core id)
  int processors = 0;
  std::string flags_line;
  if (cpuinfo) {
    std::string phys, core;
    for (std::string_view line : split(*cpuinfo, '\n')) {
      auto colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      std::string_view key = trim(line.substr(0, colon));
      std::string_view value = trim(line.substr(colon + 1));
      if (key == "processor") {
        ++processors;
        phys.clear();
        core.clear();
      } else if (key == "model name" && r.model_name.empty()) {
        r.model_name = std::string(value);
      } else if (key == "Hardware" && r.model_name.empty()) {
        r.model_name = std::string(value);
      } else if (key == "cpu MHz" && r.mhz == 0) {
        double v = 0;
        std::from_chars(value.data(), value.data() + value.size(), v);
        r.mhz = v;
      } else if ((key == "flags" || key == "Features") && flags_line.empty()) {
        flags_line = std::string(value);
      } else if (key == "physical id") {
        phys = std::string(value);
      } else if (key == "core id") {
        core = std::string(value);
        cores.insert({phys, core});
      }
    }
  }
  // Logical CPUs: the online mask, else cpuinfo's processor entries.
  if (auto online = root.read_line("/sys/devices/system/cpu/online")) {
    if (auto n = count_cpu_list(*online)) r.n_logical = *n;
  }
  if (r.n_logical == 0) r.n_logical = processors;
  // Physical cores: cpuinfo core ids, else sysfs topology, else logical.
  if (!cores.empty()) {
    r.n_physical = static_cast<int>(cores.size());
  } else {
    std::set<std::pair<int64_t, int64_t>> topo;
    for (const auto& name : root.list("/sys/devices/system/cpu")) {
      if (!name.starts_with("cpu") || name.size() < 4 || !std::isdigit(static_cast<unsigned char>(name[3])))
        continue;
      const std::string base = "/sys/devices/system/cpu/" + name + "/topology/";
      auto core = root.read_int(base + "core_id");
      auto pkg = root.read_int(base + "physical_package_id");
      if (core) topo.insert({pkg.value_or(0), *core});
    }
    r.n_physical = topo.empty() ? r.n_logical : static_cast<int>(topo.size());
  }
  if (r.n_physical > r.n_logical && r.n_logical > 0) r.n_physical = r.n_logical;

  // Usable: the affinity mask, capped by the cgroup quota (rounded down: 1.5 CPUs of quota run
  // one thread at full speed; two would be throttled), at least one.
  if (auto status = root.read("/proc/self/status")) {
    if (auto allowed = field(*status, "Cpus_allowed_list"))
      if (auto n = count_cpu_list(*allowed)) r.n_allowed = *n;
  }
  r.quota_cpus = cgroup.cpu_quota;
  r.quota_source = cgroup.cpu_source;
  int usable = r.n_allowed > 0 ? r.n_allowed : r.n_logical;
  r.usable_reason = r.n_allowed > 0 ? "affinity mask" : "online CPUs";
  if (usable == 0) {
    usable = 1;
    r.usable_reason = "unknown (no /proc/cpuinfo or /sys)";
  }
  if (cgroup.cpu_quota > 0) {
    const int q = std::max(1, static_cast<int>(std::floor(cgroup.cpu_quota + 1e-9)));
    if (q < usable) {
      usable = q;
      r.usable_reason = fmt::format("cgroup CPU quota {:.2f} CPUs", cgroup.cpu_quota);
    }
  }
  r.n_usable = usable;

  if (use_cpuid) {
    r.simd = cpuid_simd_features();
    r.simd_source = "cpuid";
  }
  if (r.simd.empty() && !flags_line.empty()) {
    std::set<std::string_view> flags;
    for (auto f : split(flags_line, ' ')) flags.insert(trim(f));
    for (auto f : kInterestingFlags)
      if (flags.count(f)) r.simd.push_back(arm_name(f));
    r.simd_source = "/proc/cpuinfo";
  }

  // Caches of cpu0.
  const std::string cache_dir = "/sys/devices/system/cpu/cpu0/cache";
  for (const auto& idx : root.list(cache_dir)) {
    if (!idx.starts_with("index")) continue;
    const std::string base = cache_dir + "/" + idx + "/";
    CacheInfo c;
    c.level = static_cast<int>(root.read_int(base + "level").value_or(0));
    c.type = root.read_line(base + "type").value_or("");
    c.bytes = parse_cache_size(root.read_line(base + "size").value_or(""));
    if (auto shared = root.read_line(base + "shared_cpu_list"))
      c.shared_by = count_cpu_list(*shared).value_or(0);
    if (c.level > 0 && c.bytes > 0) r.caches.push_back(std::move(c));
  }
  if (r.caches.empty() && cpuinfo) {
    // Some VMs hide sysfs caches; cpuinfo's "cache size" is the last-level cache (x86).
    if (auto size = field(*cpuinfo, "cache size"))
      if (uint64_t b = parse_cache_size(*size); b > 0)
        r.caches.push_back({0, "last level (from /proc/cpuinfo)", b, 0});
  }
  return r;
}

}  // namespace ag::device
