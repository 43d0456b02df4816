#include "device/cgroup.h"

#include <algorithm>
#include <charconv>
#include <vector>

#include <fmt/format.h>

namespace ag::device {

namespace {

struct Mount {
  std::string root;         // the path inside the hierarchy that is mounted (field 4)
  std::string mount_point;  // where (field 5)
  std::string fs_type;      // "cgroup2" or "cgroup"
  std::vector<std::string> options;  // super options: v1 controllers ("cpu", "cpuacct")
};

// mountinfo: "id parent maj:min root mount_point opts [optional...] - fstype source superopts"
std::vector<Mount> cgroup_mounts(const SysRoot& root) {
  std::vector<Mount> out;
  auto text = root.read("/proc/self/mountinfo");
  if (!text) return out;
  for (std::string_view line : split(*text, '\n')) {
    auto sep = line.find(" - ");
    if (sep == std::string_view::npos) continue;
    auto left = split(line.substr(0, sep), ' ');
    auto right = split(line.substr(sep + 3), ' ');
    if (left.size() < 5 || right.size() < 3) continue;
    if (right[0] != "cgroup" && right[0] != "cgroup2") continue;
    Mount m;
    m.root = std::string(left[3]);
    m.mount_point = std::string(left[4]);
    m.fs_type = std::string(right[0]);
    for (auto o : split(right[2], ',')) m.options.emplace_back(o);
    out.push_back(std::move(m));
  }
  return out;
}

struct Membership {
  std::string v2_path;                                       // "0::/path"
  std::vector<std::pair<std::string, std::string>> v1;       // controllers list -> path
};

Membership memberships(const SysRoot& root) {
  Membership m;
  auto text = root.read("/proc/self/cgroup");
  if (!text) return m;
  for (std::string_view line : split(*text, '\n')) {
    line = trim(line);
    if (line.empty()) continue;
    auto first = line.find(':');
    auto second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    std::string_view id = line.substr(0, first);
    std::string_view controllers = line.substr(first + 1, second - first - 1);
    std::string_view path = line.substr(second + 1);
    if (id == "0" && controllers.empty()) m.v2_path = std::string(path);
    else m.v1.emplace_back(std::string(controllers), std::string(path));
  }
  return m;
}

// The directory of `cgroup_path` under a mount whose root is `m.root`; the mount point itself
// when the path lies outside the mounted subtree (a cgroup namespace shows "/").
std::string cgroup_dir(const SysRoot& root, const Mount& m, const std::string& cgroup_path) {
  std::string rel = cgroup_path;
  if (m.root != "/" && rel.starts_with(m.root)) rel = rel.substr(m.root.size());
  std::string dir = m.mount_point;
  if (!rel.empty() && rel != "/") dir += rel.front() == '/' ? rel : "/" + rel;
  if (!root.exists(dir)) return m.mount_point;
  return dir;
}

// Directories from `dir` up to and including `top`.
std::vector<std::string> up_to(std::string dir, const std::string& top) {
  std::vector<std::string> out;
  while (true) {
    out.push_back(dir);
    if (dir == top || dir.size() <= top.size()) break;
    auto slash = dir.rfind('/');
    if (slash == std::string::npos || slash == 0) break;
    dir = dir.substr(0, slash);
  }
  return out;
}

std::optional<double> parse_double(std::string_view s) {
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// v1 reports "no limit" as a huge page-rounded number (9223372036854771712 on x86-64).
constexpr uint64_t kNoLimitV1 = uint64_t{1} << 60;

void take_cpu(CgroupLimits& out, double cpus, std::string source) {
  if (cpus <= 0) return;
  if (out.cpu_quota == 0 || cpus < out.cpu_quota) {
    out.cpu_quota = cpus;
    out.cpu_source = std::move(source);
  }
}

void take_memory(CgroupLimits& out, uint64_t limit, std::optional<int64_t> usage,
                 std::string source) {
  if (limit == 0) return;
  if (out.memory_limit == 0 || limit < out.memory_limit) {
    out.memory_limit = limit;
    out.memory_usage = usage && *usage > 0 ? static_cast<uint64_t>(*usage) : 0;
    out.memory_source = std::move(source);
  }
}

bool has_option(const Mount& m, std::string_view opt) {
  return std::find(m.options.begin(), m.options.end(), opt) != m.options.end();
}

}  // namespace

CgroupLimits probe_cgroup(const SysRoot& root) {
  CgroupLimits out;
  std::vector<Mount> mounts = cgroup_mounts(root);
  const Membership member = memberships(root);
  // Without mountinfo, assume the usual places.
  if (mounts.empty()) {
    if (root.exists("/sys/fs/cgroup/cgroup.controllers"))
      mounts.push_back({"/", "/sys/fs/cgroup", "cgroup2", {}});
    for (const char* c : {"cpu", "cpu,cpuacct", "memory"})
      if (root.exists(fmt::format("/sys/fs/cgroup/{}", c)))
        mounts.push_back({"/", fmt::format("/sys/fs/cgroup/{}", c), "cgroup",
                          [&] {
                            std::vector<std::string> o;
                            for (auto x : split(c, ',')) o.emplace_back(x);
                            return o;
                          }()});
  }
  bool has_v1 = false, has_v2 = false;
  for (const Mount& m : mounts) {
    if (m.fs_type == "cgroup2") {
      const std::string path = member.v2_path.empty() ? "/" : member.v2_path;
      const std::string dir = cgroup_dir(root, m, path);
      for (const std::string& d : up_to(dir, m.mount_point)) {
        if (auto cpu = root.read_line(d + "/cpu.max")) {
          auto parts = split(*cpu, ' ');
          if (parts.size() == 2 && parts[0] != "max") {
            auto q = parse_double(parts[0]), p = parse_double(parts[1]);
            if (q && p && *p > 0) take_cpu(out, *q / *p, "cgroup v2 " + d + "/cpu.max");
          }
        }
        if (auto mem = root.read_line(d + "/memory.max"); mem && *mem != "max") {
          if (auto v = parse_double(*mem); v && *v > 0)
            take_memory(out, static_cast<uint64_t>(*v), root.read_int(d + "/memory.current"),
                        "cgroup v2 " + d + "/memory.max");
        }
      }
      has_v2 = true;
      continue;
    }
    // v1: one hierarchy per controller set; find this process's path in it.
    for (const auto& [controllers, path] : member.v1.empty()
                                               ? std::vector<std::pair<std::string, std::string>>{
                                                     {"cpu,memory", "/"}}
                                               : member.v1) {
      bool match = false;
      for (auto c : split(controllers, ','))
        if (has_option(m, c)) match = true;
      if (!match) continue;
      const std::string dir = cgroup_dir(root, m, path);
      for (const std::string& d : up_to(dir, m.mount_point)) {
        if (has_option(m, "cpu")) {
          auto quota = root.read_int(d + "/cpu.cfs_quota_us");
          auto period = root.read_int(d + "/cpu.cfs_period_us");
          if (quota && period && *quota > 0 && *period > 0)
            take_cpu(out, static_cast<double>(*quota) / static_cast<double>(*period),
                     "cgroup v1 " + d + "/cpu.cfs_quota_us");
        }
        if (has_option(m, "memory")) {
          auto limit = root.read_int(d + "/memory.limit_in_bytes");
          if (limit && *limit > 0 && static_cast<uint64_t>(*limit) < kNoLimitV1)
            take_memory(out, static_cast<uint64_t>(*limit),
                        root.read_int(d + "/memory.usage_in_bytes"),
                        "cgroup v1 " + d + "/memory.limit_in_bytes");
        }
      }
      has_v1 = true;
    }
  }
  // A hybrid system (v1 controllers plus an empty unified hierarchy) limits through v1.
  out.version = has_v1 ? 1 : has_v2 ? 2 : 0;
  return out;
}

}  // namespace ag::device
