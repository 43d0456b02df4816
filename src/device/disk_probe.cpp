#include "device/disk_probe.h"

#include <sys/statvfs.h>

#include <filesystem>
#include <system_error>

#include <fmt/format.h>

namespace ag::device {

namespace fs = std::filesystem;

namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape(std::string_view s) {
  auto oct = [](char c) { return c >= '0' && c <= '7'; };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && oct(s[i + 1]) && oct(s[i + 2]) && oct(s[i + 3])) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
      continue;
    }
    out += s[i];
  }
  return out;
}

bool under(const std::string& path, const std::string& mount) {
  if (mount == "/") return true;
  return path == mount || (path.starts_with(mount) && path[mount.size()] == '/');
}

}  // namespace

DiskReport probe_disk(const SysRoot& root, const std::string& models_dir) {
  DiskReport r;
  r.path = models_dir;
  std::error_code ec;
  fs::path p = fs::absolute(models_dir.empty() ? "." : models_dir, ec);
  // The directory may not exist yet: measure where it would be created.
  while (!p.empty() && !fs::exists(p, ec) && p != p.root_path()) p = p.parent_path();
  fs::path canon = fs::weakly_canonical(p, ec);
  if (!ec) p = canon;
  r.stat_path = p.string();
  struct statvfs st {};
  if (::statvfs(r.stat_path.c_str(), &st) == 0) {
    r.free_bytes = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
    r.total_bytes = static_cast<uint64_t>(st.f_blocks) * st.f_frsize;
    r.space_known = true;
  }

  // The mount holding the directory: the longest mount point that is a prefix of it.
  auto mountinfo = root.read("/proc/self/mountinfo");
  if (!mountinfo) {
    r.storage_reason = "no /proc/self/mountinfo";
    return r;
  }
  size_t best = 0;
  bool found = false;
  for (std::string_view line : split(*mountinfo, '\n')) {
    auto sep = line.find(" - ");
    if (sep == std::string_view::npos) continue;
    auto left = split(line.substr(0, sep), ' ');
    auto right = split(line.substr(sep + 3), ' ');
    if (left.size() < 5 || right.size() < 2) continue;
    std::string mp = unescape(left[4]);
    if (!under(r.stat_path, mp) || (found && mp.size() < best)) continue;
    best = mp.size();
    found = true;
    r.mount_point = mp;
    r.device = std::string(left[2]);
    r.fs_type = std::string(right[0]);
    r.source = unescape(right[1]);
  }
  if (!found) {
    r.storage_reason = "mount not found in /proc/self/mountinfo";
    return r;
  }
  if (r.device.starts_with("0:")) {
    r.storage_reason = fmt::format("{} filesystem: no block device visible (container layer, "
                                   "network or RAM)", r.fs_type);
    return r;
  }
  const std::string dev = "/sys/dev/block/" + r.device;
  std::optional<int64_t> rotational = root.read_int(dev + "/queue/rotational");
  if (!rotational && root.exists(dev + "/partition"))
    rotational = root.read_int(dev + "/../queue/rotational");  // a partition: ask its disk
  if (!rotational) {
    r.storage_reason = fmt::format("{}/queue/rotational not readable", dev);
    return r;
  }
  // Virtual disks (virtio-blk, Xen) report rotational=1 whatever backs them.
  std::string name = r.source.substr(r.source.rfind('/') + 1);
  const std::string uevent = root.read(dev + "/uevent").value_or("");
  for (std::string_view line : split(uevent, '\n'))
    if (line.starts_with("DEVNAME=")) name = std::string(trim(line.substr(8)));
  const bool virtual_disk = name.starts_with("vd") || name.starts_with("xvd") ||
                            root.resolve(dev).find("/virtio") != std::string::npos;
  if (*rotational == 0) {
    r.storage = "ssd";
    r.storage_reason = fmt::format("{} ({}) queue/rotational = 0", name, r.device);
  } else if (virtual_disk) {
    r.storage = "unknown";
    r.storage_reason = fmt::format("{} is a virtual disk: it reports rotational = 1 whatever "
                                   "backs it", name);
  } else {
    r.storage = "hdd";
    r.storage_reason = fmt::format("{} ({}) queue/rotational = 1", name, r.device);
  }
  return r;
}

}  // namespace ag::device
