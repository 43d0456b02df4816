#pragma once
// Every probe reads /proc and /sys through a SysRoot, so tests point it at a fake tree built in a
// temporary directory (cgroup v1 and v2 limits, containers, missing files) and the same code runs
// against "/" in production. A file that is missing or unreadable is an absent value, never an
// error: doctor reports "unknown" for what it cannot see.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ag::device {

class SysRoot {
 public:
  explicit SysRoot(std::string root = "/");

  const std::string& root() const { return root_; }
  bool is_live() const { return root_ == "/"; }  // probing this machine itself
  // `abs` is an absolute path inside the root ("/proc/meminfo").
  std::string path(std::string_view abs) const;
  // Whole file (small files only: /proc and /sys entries); nullopt when absent or unreadable.
  std::optional<std::string> read(std::string_view abs) const;
  // First line without the newline, trimmed.
  std::optional<std::string> read_line(std::string_view abs) const;
  std::optional<int64_t> read_int(std::string_view abs) const;
  bool exists(std::string_view abs) const;
  // Names in a directory (no "." / ".."), sorted; empty when absent.
  std::vector<std::string> list(std::string_view abs) const;
  // Where a symlink inside the root points, resolved within the root ("" when not a link).
  std::string resolve(std::string_view abs) const;

 private:
  std::string root_;
};

// Text helpers shared by the probes.
std::string_view trim(std::string_view s);
std::vector<std::string_view> split(std::string_view s, char sep);
// "0-3,6,8-9" -> 7; nullopt when malformed.
std::optional<int> count_cpu_list(std::string_view list);
// "key: value" lines (cpuinfo, meminfo, status): the value of the first `key`.
std::optional<std::string> field(std::string_view text, std::string_view key);

}  // namespace ag::device
